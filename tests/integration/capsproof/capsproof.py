#!/usr/bin/python3
"""The fleet-wide caps, proven at the server (issue 5), with the real
pipeline: `mailferry batch create` with the caps, one `mailferry serve`,
and `mailferry-worker` processes with 4 slots each bound to 127.0.0.1,
127.0.0.2 and 127.0.0.3 (three "hosts" on loopback) sharing the caps
through Redis.

Each case has private servers (tests/support/pipeline.py: a Dovecot pair,
so that its mail_max_userip_connections can be set, a redis-server and a
Kafka dev broker); a connection-counting proxy of our own
(tests/support/connproxy) sits in front of the source and records the
peak of concurrent connections, in total and per client IP. The batch's
source is the proxy; the comparer reads the source directly.

  peers     30 mailboxes, per-user logins, caps total 5 and per IP 2:
            peak <= 5 overall and <= 2 per IP, 3 client IPs seen; every
            mailbox EQUAL
  admin     the same with admin credentials (every connection is the
            admin's), per-user cap 3 and Dovecot's own
            mail_max_userip_connections 3: peak <= 3, Dovecot refuses
            nothing (its log has no "Maximum number of connections");
            EQUAL
  killed    cap total 2, workers with --lease-ttl 3s: a worker killed -9
            while holding leases; the other worker holds both slots
            within the lease TTL + 1 s; the killed worker's jobs are
            reclaimed (claim TTL 5 s); EQUAL
  bandwidth a fleet-wide bytes-per-second cap, 3 mailboxes on the 3
            workers: the measured rate (bytes copied over the span from
            the first job start to the last job end, from the workers'
            logs) within +-10 % of it; EQUAL
  lowered   the embedded migrate (no Kafka) copies 4 mailboxes at once
            under caps of 4 connections a side and a bandwidth cap that
            makes it last; once more than one connection is open on each
            side, `batch set --max-connections 1 --target-max-connections
            1`: within 3 s the proxy sees at most 1 source connection and
            Redis holds at most 1 live target lease, and it stays so to
            the end; the jobs that gave theirs up say why in the log
            (caps.lowered); every mailbox Synced and EQUAL

Prints the measured peaks and rates.
"""
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(
    os.environ.get("MF_SOURCE_DIR",
                   os.path.join(os.path.dirname(__file__), "..", "..", "..")),
    "tests", "support"))

from pipeline import SUPPORT, Fail, Pipeline, check, log  # noqa: E402

BINDS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")


class Proxy:
    """connproxy in front of the pipeline's source Dovecot."""

    def __init__(self, p):
        self.stats = p.path("proxy.json")
        portfile = p.path("proxy.port")
        p.spawn("connproxy", [os.path.join(SUPPORT, "connproxy", "connproxy"),
                              "--listen-port-file", portfile, "--upstream",
                              f"127.0.0.1:{p.src_port}", "--stats",
                              self.stats])
        p.wait(lambda: os.path.exists(portfile) and
               open(portfile).read().strip(), 10, "connproxy listening")
        self.port = int(open(portfile).read())
        self.url = p.source_url(self.port)

    def read(self):
        for _ in range(10):
            try:
                with open(self.stats) as f:
                    return json.load(f)
            except (OSError, ValueError):
                time.sleep(0.01)
        raise Fail("cannot read the proxy's stats")

    def current(self, ip):
        return self.read()["per_ip"].get(ip, {}).get("current", 0)


def fleet(p, n=3, **kw):
    """n workers, 4 slots each, one per loopback address."""
    ws = [p.worker(f"w{i + 1}", slots=4, bind=BINDS[i], **kw)
          for i in range(n)]
    for w in ws:
        w.wait_assigned()
    return ws


def run_batch(p, b, users, proxy, *caps, admin=False, timeout=150):
    p.create(b, p.csv(b + ".csv", users, admin=admin), *caps,
             source=proxy.url)
    p.start(b)
    st = p.wait_state(b, ["Synced", "SyncedWithErrors"], timeout=timeout)
    check(st["state"] == "Synced" and st["counts"]["Synced"] == len(users),
          f"batch {b}: every mailbox Synced ({st['counts']})")
    return st


def case_peers(p):
    users = list(range(1, 31))
    p.corpus(1, 30, 40)
    proxy = Proxy(p)
    p.serve()
    fleet(p)
    run_batch(p, "peers", users, proxy, "--max-connections", "5",
              "--max-connections-per-ip", "2")
    st = proxy.read()
    per_ip = {ip: v["peak"] for ip, v in st["per_ip"].items()}
    print(f"peers: peak {st['peak']} (cap 5), per IP {per_ip} (cap 2), "
          f"{st['accepted']} connections")
    check(st["peak"] <= 5, f"total peak {st['peak']} <= 5")
    check(len(per_ip) == 3, f"3 client IPs: {sorted(per_ip)}")
    check(all(v <= 2 for v in per_ip.values()), "per-IP peaks <= 2")
    check(st["peak"] >= 2, "the caps were approached")
    check(st["upstream_errors"] == 0, "no upstream error at the proxy")
    # 12 slots against 5 connections: the waiting shows in batch status.
    doc = p.status("peers")
    waited = doc["totals"]["lease_wait_ms"]
    print(f"peers: waited {waited} ms in all for connection slots")
    check(waited > 0, "batch status shows the time waited for slots")
    p.assert_equal(users)


def case_admin(p):
    users = list(range(1, 31))
    p.corpus(1, 30, 20)
    proxy = Proxy(p)
    pw = p.path("admin.pw")
    with open(pw, "w") as f:
        f.write(p.dov["MASTER_PASSWORD"])
    p.serve()
    fleet(p)
    # The source is the admin's for every mailbox (SASL PLAIN with an
    # authorization identity); the target logs in per user (TargetPassword).
    run_batch(p, "admin", users, proxy, "--admin", p.dov["MASTER_USER"],
              "--admin-password-file", pw, "--max-connections-per-user", "3",
              admin=True)
    st = proxy.read()
    per_ip = {ip: v["peak"] for ip, v in st["per_ip"].items()}
    print(f"admin: peak {st['peak']} (per-user cap 3, Dovecot "
          f"mail_max_userip_connections 3), per IP {per_ip}, "
          f"{st['accepted']} connections")
    check(st["peak"] <= 3, f"peak {st['peak']} <= 3")
    check(len(per_ip) == 3, f"3 client IPs: {sorted(per_ip)}")
    with open(p.dov["SOURCE_LOG"], errors="replace") as f:
        dlog = f.read()
    check("Maximum number of connections" not in dlog,
          "Dovecot refused no connection")
    p.assert_equal(users)


def case_killed(p):
    users = list(range(1, 13))
    ttl = 3
    b = "killed"
    p.corpus(1, 12, 200)
    proxy = Proxy(p)
    p.serve()
    ws = fleet(p, 2, lease_ttl=f"{ttl}s", claim_ttl="5s")
    ip = {w.id: BINDS[i] for i, w in enumerate(ws)}
    p.create(b, p.csv("k.csv", users), "--max-connections", "2",
             "--max-bytes-per-second", "6000000", source=proxy.url)
    p.start(b)

    def waiting(w):
        """Mailboxes claimed by w that are not finished."""
        st = p.status(b)
        return [m["email"] for m in st["mailboxes"]
                if m["claimed_by"] == w.id]

    # Best: one worker holds both slots while the other has jobs waiting;
    # else (after 5 s) one that holds at least one. The whole batch takes
    # about 17 s now that jobs start at once, and the two workers' leases
    # often alternate one each, so waiting longer for the best case let
    # the batch finish first (it failed so once).
    victim = None
    start = time.time()
    end = start + 60
    while time.time() < end and not victim:
        for w in ws:
            other = ws[1] if w is ws[0] else ws[0]
            need = 2 if time.time() < start + 5 else 1
            if proxy.current(ip[w.id]) >= need and \
                    len(waiting(other)) >= 2:
                victim, survivor = w, other
                break
        time.sleep(0.05)
    check(victim is not None, "a worker holds the slots while the other "
          "has jobs waiting")
    held = proxy.current(ip[victim.id])
    before = proxy.read()["peak"]
    os.kill(victim.pid, signal.SIGKILL)
    victim.proc.wait()
    killed = time.time()
    log(f"kill -9 {victim.id} holding {held} of the 2 slots (peak so far "
        f"{before})")
    check(before <= 2, f"cap 2 held before the kill (peak {before})")
    first = full = None
    sip = ip[survivor.id]
    lingering = None
    while time.time() < killed + 30:
        cur = proxy.current(sip)
        if lingering is None and time.time() > killed + 0.5:
            lingering = proxy.current(ip[victim.id])
        if cur >= 1 and first is None:
            first = time.time() - killed
        if cur == 2:
            full = time.time() - killed
            break
        time.sleep(0.02)
    if lingering is None:
        lingering = proxy.current(ip[victim.id])
    print(f"killed: first slot on the survivor after {first} s")
    check(full is not None, "the survivor got both slots")
    print(f"killed: both slots back {full:.2f} s after kill -9 "
          f"(lease TTL {ttl} s; the victim held {held})")
    # The dead leases expire at most a TTL after the kill; the waiters
    # notice within a sixth of it.
    check(full <= ttl + 1.0, f"slots back within the lease TTL + 1 s "
          f"({full:.2f} s)")
    st = p.wait_state(b, ["Synced", "SyncedWithErrors"], timeout=120)
    check(st["state"] == "Synced", f"batch Synced: {st['counts']}")
    stats = proxy.read()
    speak = stats["per_ip"][sip]["peak"]
    # connproxy keeps a connection open (and counted) when its client
    # dies with unread data (a reset: one direction ends in an error and
    # the upstream half is never closed). Those connections of the dead
    # process are the proxy's, not the fleet's; they are counted apart.
    print(f"killed: peak {stats['peak']} (cap 2), survivor peak {speak}; "
          f"{lingering} connection(s) of the killed worker held open by "
          f"the proxy after its reset")
    check(speak <= 2, "the survivor never exceeded cap 2")
    check(stats["peak"] <= 2 + lingering,
          "cap 2 never exceeded by live workers")
    p.assert_equal(users)


def log_times(w, event):
    """(mailbox, epoch seconds) of the worker's `event` log lines."""
    out = []
    for line in w.text().splitlines():
        m = re.match(r"(\S+Z) \w+\s+" + re.escape(event) +
                     r" .*mailbox=(\S+)", line)
        if m:
            ts = datetime.datetime.strptime(m.group(1),
                                            "%Y-%m-%dT%H:%M:%S.%fZ")
            out.append((m.group(2), ts.replace(
                tzinfo=datetime.timezone.utc).timestamp()))
    return out


def case_bandwidth(p):
    users = [1, 2, 3]
    rate = 3 * 1024 * 1024
    b = "bandwidth"
    p.corpus(1, 3, 300)
    proxy = Proxy(p)
    p.serve()
    ws = fleet(p)
    run_batch(p, b, users, proxy, "--max-bytes-per-second", str(rate))
    rep = p.report(b, "json")
    total = sum(m["copied_bytes"] for m in rep["mailboxes"])
    starts = [t for w in ws for _, t in log_times(w, "job.start")]
    ends = [t for w in ws for _, t in log_times(w, "job.done")]
    check(len(starts) == 3 and len(ends) == 3,
          f"3 jobs started and done ({len(starts)}, {len(ends)})")
    span = max(ends) - min(starts)
    measured = total / span
    on = sorted({m["worker"] for m in rep["mailboxes"]})
    for m in rep["mailboxes"]:
        print(f"bandwidth: {m['email']} on {m['worker']}: "
              f"{m['copied_bytes']} bytes in {m['duration_seconds']:.2f} s")
    print(f"bandwidth: cap {rate} B/s fleet-wide, measured {measured:.0f} "
          f"B/s ({100.0 * (measured - rate) / rate:+.1f} %) over {total} "
          f"bytes in {span:.2f} s on {len(on)} worker(s)")
    check(total > 5 * rate, "enough data to measure")
    check(abs(measured - rate) <= 0.10 * rate, "rate within +-10 %")
    p.assert_equal(users)


def live_leases(r, key):
    """Live leases (expiry after Redis' now) in a cap's ZSET."""
    sec, usec = r.cmd("TIME")
    now = int(sec) * 1000 + int(usec) // 1000
    return int(r.cmd("ZCOUNT", key, f"({now}", "+inf"))


def case_lowered(p):
    users = [1, 2, 3, 4]
    b = "lowered"
    p.corpus(1, 4, 60)
    proxy = Proxy(p)
    r = p.redis_client()
    tkey = f"mf:{{c:dst:127.0.0.1:{p.tgt_port}}}:cap:total"
    out, err = open(p.path("migrate.out"), "w"), open(p.path("migrate.err"),
                                                      "w")
    mig = subprocess.Popen(
        [os.path.join(p.env["MF_BUILD_DIR"], "bin", "mailferry"), "migrate",
         p.csv("l.csv", users), "--source", proxy.url, "--target",
         p.target_url(), "--redis", p.redis_url, "--batch", b,
         "--master-key-file", p.key(), "--concurrency", "4",
         "--max-connections", "4", "--target-max-connections", "4",
         "--max-bytes-per-second", "1M", "--json", "--no-progress",
         "--report-dir", p.path("report")],
        env=p.env, stdout=out, stderr=err)
    try:
        def counts():
            return proxy.read()["current"], live_leases(r, tkey)

        p.wait(lambda: min(counts()) >= 2 or mig.poll() is not None, 30,
               "more than one connection open on each side")
        check(mig.poll() is None, "the migrate still runs")
        before = counts()
        p.mf("batch", "set", b, "--redis", p.redis_url, "--max-connections",
             "1", "--target-max-connections", "1")
        lowered = time.time()
        down = None
        after = (0, 0)
        while mig.poll() is None:
            c = counts()
            t = time.time() - lowered
            if down is None and max(c) <= 1:
                down = t
            if down is not None:
                after = (max(after[0], c[0]), max(after[1], c[1]))
            time.sleep(0.05)
        left = time.time() - lowered
    finally:
        if mig.poll() is None:
            mig.kill()
        mig.wait()
        out.close()
        err.close()
        r.close()
    print(f"lowered: before the change {before[0]} source connections and "
          f"{before[1]} target leases (caps 4); after `batch set` to 1, at "
          f"most 1 of each after {down if down is None else round(down, 2)}"
          f" s; from then on at most {after[0]} source connections and "
          f"{after[1]} target leases; the migrate ran {left:.1f} s more")
    check(mig.returncode == 0, f"migrate exit {mig.returncode}")
    check(down is not None and down <= 3.0,
          "at most 1 connection a side within 3 s of the change")
    check(after[0] <= 1 and after[1] <= 1, "and at most 1 to the end")
    with open(p.path("report/migrate.log")) as f:
        why = [ln for ln in f if "caps.lowered" in ln]
    check(why, "the log says why a connection closed")
    print(f"lowered: {len(why)} connection(s) given up, e.g. "
          f"{why[0].strip()}")
    with open(p.path("migrate.out")) as f:
        doc = json.load(f)
    states = {m["email"]: m["state"] for m in doc["mailboxes"]}
    check(len(states) == 4 and set(states.values()) == {"Synced"},
          f"every mailbox Synced: {states}")
    p.assert_equal(users)


CASES = {"peers": (case_peers, 30, None), "admin": (case_admin, 30, 3),
         "killed": (case_killed, 12, None),
         "bandwidth": (case_bandwidth, 3, None),
         "lowered": (case_lowered, 4, None, False)}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print("usage: capsproof.py " + "|".join(CASES))
        return 2
    name = sys.argv[1]
    fn, users, max_userip, *kafka = CASES[name]
    try:
        with Pipeline("caps-" + name, users=users, max_userip=max_userip,
                      kafka=kafka[0] if kafka else True, deadline=270) as p:
            fn(p)
    except Fail as e:
        print(f"FAIL: {e}", flush=True)
        return 1
    print("ok: " + name, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
