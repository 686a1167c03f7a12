#!/usr/bin/python3
"""Scrape mailferry-http-demo with urllib like Kubernetes and Prometheus do.

Starts the demo program (argv[1]) on 127.0.0.1 with a free port, checks
/healthz, /readyz, 404, 405 and HEAD, then fetches /metrics and parses it
with a minimal, strict parser of the Prometheus text format 0.0.4 (HELP and
TYPE lines, metric and label names, escaped label values, float values):
every sample must belong to a declared family, histograms must be
cumulative and end in +Inf == _count, and the label values must come back
exactly as the program set them. A second scrape must show the counters
moving. The demo is stopped with "quit" (killed if it hangs).
"""
import math
import re
import subprocess
import sys
import urllib.error
import urllib.request

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ParseError(Exception):
    pass


def unescape(s, quote):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            if i + 1 >= len(s):
                raise ParseError("dangling backslash")
            n = s[i + 1]
            if n == "n":
                out.append("\n")
            elif n == "\\":
                out.append("\\")
            elif n == '"' and quote:
                out.append('"')
            else:
                raise ParseError("bad escape \\" + n)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_labels(s, pos):
    """Parses {a="x",b="y"} starting at s[pos] == '{'; returns (dict, end)."""
    labels = {}
    pos += 1
    while True:
        if s[pos] == "}":
            return labels, pos + 1
        m = LABEL.match(s, pos)
        if not m:
            raise ParseError("bad label name at %r" % s[pos:])
        name = m.group(0)
        pos = m.end()
        if s[pos : pos + 2] != '="':
            raise ParseError("expected =\" after label " + name)
        pos += 2
        start = pos
        while s[pos] != '"':
            pos += 2 if s[pos] == "\\" else 1
            if pos >= len(s):
                raise ParseError("unterminated label value")
        if name in labels:
            raise ParseError("label %s twice" % name)
        labels[name] = unescape(s[start:pos], True)
        pos += 1
        if s[pos] == ",":
            pos += 1
        elif s[pos] != "}":
            raise ParseError("expected , or } at %r" % s[pos:])


def parse(text):
    """Returns {family: {"type", "help", "samples": [(name, labels, value)]}}."""
    if not text.endswith("\n"):
        raise ParseError("text must end with a newline")
    families = {}
    seen = set()
    for line in text.split("\n")[:-1]:
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not NAME.fullmatch(name):
                    raise ParseError("bad metric name " + name)
                fam = families.setdefault(
                    name, {"type": None, "help": None, "samples": []}
                )
                rest = parts[3] if len(parts) > 3 else ""
                if parts[1] == "HELP":
                    fam["help"] = unescape(rest, False)
                else:
                    if rest not in ("counter", "gauge", "histogram",
                                    "summary", "untyped"):
                        raise ParseError("bad type " + rest)
                    if fam["samples"]:
                        raise ParseError("TYPE after samples of " + name)
                    fam["type"] = rest
            continue
        m = NAME.match(line)
        if not m:
            raise ParseError("bad sample line %r" % line)
        name, pos = m.group(0), m.end()
        labels = {}
        if line[pos] == "{":
            labels, pos = parse_labels(line, pos)
        if line[pos] != " ":
            raise ParseError("expected space in %r" % line)
        fields = line[pos + 1 :].split(" ")
        if len(fields) not in (1, 2):
            raise ParseError("bad value in %r" % line)
        value = float(fields[0])  # accepts +Inf, -Inf, NaN
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[: -len(suffix)]
            if name.endswith(suffix) and families.get(base, {}).get(
                "type"
            ) == "histogram":
                family = base
        if family not in families or families[family]["type"] is None:
            raise ParseError("sample %s without TYPE" % name)
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            raise ParseError("duplicate series %r" % (key,))
        seen.add(key)
        families[family]["samples"].append((name, labels, value))
    return families


def check_histogram(fam, name):
    groups = {}
    for sname, labels, value in fam["samples"]:
        rest = {k: v for k, v in labels.items() if k != "le"}
        g = groups.setdefault(tuple(sorted(rest.items())), {"buckets": []})
        if sname == name + "_bucket":
            g["buckets"].append((float(labels["le"]), value))
        else:
            g[sname[len(name) + 1 :]] = value
    for g in groups.values():
        bounds = [b for b, _ in g["buckets"]]
        counts = [c for _, c in g["buckets"]]
        assert bounds == sorted(bounds) and bounds[-1] == math.inf, bounds
        assert counts == sorted(counts), counts
        assert counts[-1] == g["count"], (counts, g)
        assert "sum" in g


def fetch(url, method="GET"):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode("utf-8")


def command(proc, line):
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    assert proc.stdout.readline() == "ok\n", line


def series(fams, family, **labels):
    for name, l, v in fams[family]["samples"]:
        if l == labels:
            return v
    raise AssertionError("no series %s %r" % (family, labels))


def run(base, proc):
    assert fetch(base + "/healthz")[:3:2] == (200, "ok\n")
    command(proc, "dead")
    assert fetch(base + "/healthz")[0] == 503
    command(proc, "alive")
    assert fetch(base + "/readyz")[:3:2] == (200, "ready\n")
    command(proc, "notready kafka: broker down")
    st, _, body = fetch(base + "/readyz")
    assert (st, body) == (503, "not ready: kafka: broker down\n"), body
    command(proc, "ready")
    assert fetch(base + "/nope")[0] == 404
    st, hdr, _ = fetch(base + "/metrics", "POST")
    assert st == 405 and hdr["Allow"] == "GET, HEAD"
    st, hdr, body = fetch(base + "/metrics", "HEAD")
    assert st == 200 and body == "" and int(hdr["Content-Length"]) > 0

    st, hdr, text = fetch(base + "/metrics")
    assert st == 200, st
    assert hdr["Content-Type"] == CONTENT_TYPE, hdr["Content-Type"]
    fams = parse(text)
    assert fams["mailferry_mailboxes"]["help"] == (
        "Mailboxes by state.\nSecond line with a \\ too."
    )
    types = {n: f["type"] for n, f in fams.items()}
    assert types == {
        "demo_scrapes_total": "counter",
        "mailferry_jobs_total": "counter",
        "mailferry_mailboxes": "gauge",
        "mailferry_errors_total": "counter",
        "mailferry_lag": "gauge",
        "mailferry_append_seconds": "histogram",
    }, types
    assert series(fams, "mailferry_jobs_total", outcome="synced") == 3
    assert series(fams, "mailferry_mailboxes", state="paused") == 0.25
    assert series(fams, "mailferry_errors_total", code="IMAP_NO",
                  detail='quote " backslash \\ newline \n end') == 2
    assert series(fams, "mailferry_errors_total", code="TIMEOUT",
                  detail="\u00e9t\u00e9, {braces}=x") == 1
    assert series(fams, "mailferry_lag", partition="0") == -math.inf
    assert series(fams, "mailferry_lag", partition="1") == 1e21
    check_histogram(fams["mailferry_append_seconds"],
                    "mailferry_append_seconds")
    assert series(fams, "mailferry_append_seconds",
                  server="target", le="+Inf") == 5
    scrapes = series(fams, "demo_scrapes_total")

    # The metrics move: the program counts, the next scrape sees it.
    command(proc, "add 2.5")
    fams = parse(fetch(base + "/metrics")[2])
    assert series(fams, "mailferry_jobs_total", outcome="synced") == 5.5
    assert series(fams, "demo_scrapes_total") == scrapes + 1


def main():
    demo = sys.argv[1]
    proc = subprocess.Popen([demo, "127.0.0.1:0"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline().split()
        assert len(first) == 2 and first[0] == "port", first
        run("http://127.0.0.1:%s" % first[1], proc)
        proc.stdin.write("quit\n")
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # The parser itself rejects what it should.
    for bad in ['x{a="1} 1\n', "x 1\n", "# TYPE x counter\nx{a=\"\\q\"} 1\n",
                "# TYPE x counter\nx 1\nx 2\n", "# TYPE x counter\nx 1"]:
        try:
            parse(bad)
        except (ParseError, IndexError, ValueError):
            continue
        raise AssertionError("parser accepted %r" % bad)
    print("ok")


if __name__ == "__main__":
    main()
