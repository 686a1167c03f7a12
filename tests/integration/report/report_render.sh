#!/usr/bin/env bash
# The report writers end to end: a realistic 30-mailbox report in CSV,
# JSON and HTML (mailferry-report-sample), checked with Python's own csv
# and json parsers, then the HTML rendered to a PNG by headless Chromium.
#
#   report_render.sh PATH/TO/mailferry-report-sample
#
# Exit 77 (SKIP) when chromium is not installed, after the CSV and JSON
# checks passed. MF_REPORT_SCREENSHOT=FILE keeps a copy of the PNG.
set -euo pipefail
sample="$1"
tmp=$(mktemp -d /tmp/mailferry-report.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$sample" "$tmp" >/dev/null || fail "mailferry-report-sample failed"
for f in report.csv report.json report.html; do
    [ -s "$tmp/$f" ] || fail "$f missing or empty"
done
if grep -q 'S3cret' "$tmp"/report.*; then fail "a password leaked"; fi

/usr/bin/python3 - "$tmp" <<'PY'
import csv, json, re, sys

d = sys.argv[1]
with open(f"{d}/report.json", encoding="utf-8") as f:
    r = json.load(f)
assert r["report_version"] == 1
b = r["batch"]
assert b["name"] == "2024-05 Finance & Sales wave 2", b
assert b["source"] == "imaps://imap.old-host.example.net:993", b["source"]
assert b["started"] == "2024-05-13T08:05:00Z" and b["finished"] is None, b
mbs = r["mailboxes"]
assert len(mbs) == 30
t = r["totals"]
assert t["mailboxes"] == 30
assert t["states"] == {"Queued": 3, "Syncing": 0, "Synced": 19,
                       "IncrementalSyncing": 4, "Stopped": 1, "Failed": 3,
                       "Completed": 0}, t["states"]
for k in ("source_messages", "source_bytes", "copied_messages",
          "copied_bytes"):
    assert t[k] == sum(m[k] for m in mbs), k
for k in ("too_large", "excluded", "failed", "vanished"):
    assert t["skipped"][k] == sum(m["skipped"][k] for m in mbs), k
tp = r["throughput"]
assert len(tp) > 100 and tp[-1]["messages"] == t["copied_messages"]
assert all(a["messages"] <= z["messages"] for a, z in zip(tp, tp[1:]))
by = {m["email"]: m for m in mbs}
e = by["elena.rossi@example.com"]
assert e["state"] == "Failed" and e["copied_messages"] == 0
assert e["error"]["code"] == 305 and e["error"]["name"] == "AUTH", e["error"]
assert "AUTHENTICATIONFAILED" in e["error"]["text"]
p = by["jonas.weber@example.com"]
assert [f["uid"] for f in p["failed_items"]] == [2000, 2037, 2074]
assert p["failed_items"][2]["folder"] == "Clients/Acme & Sons"
assert p["failed_items"][0]["error"]["name"] == "MESSAGE_REJECTED"
# A failed message comes with what finds it in the source mailbox.
f = p["failed_items"][1]
assert (f["size"], f["subject"], f["message_id"]) == (
    109000, "Fwd: scanned invoice 4471", "<2037.sample1@mail.example.com>"), f
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", f["internal_date"])
a = by["amelia.hughes@example.com"]
subjects = [s["subject"] for s in a["skipped_items"]]
assert "<script>alert('pwned')</script> Invoice #4711" in subjects
assert 'Re: Angebot f\ufffdr "Gr\u00f6\u00dfe L" & Co' in subjects, subjects
assert all(s["reason"] in ("too_large", "excluded", "failed", "vanished")
           for m in mbs for s in m["skipped_items"])
assert sum(m["error"] is not None for m in mbs) == t["mailboxes_with_errors"] == 4

with open(f"{d}/report.csv", newline="", encoding="utf-8") as f:
    rows = list(csv.reader(f))
assert open(f"{d}/report.csv", "rb").read().count(b"\r\n") == 31
head = rows[0]
assert head == ["EmailAddress", "State", "FoldersCopied", "FoldersExcluded",
                "SourceMessages", "SourceBytes", "CopiedMessages",
                "CopiedBytes", "SkippedTooLarge", "SkippedExcluded",
                "SkippedFailed", "SkippedVanished", "OutsideWindow",
                "DeletedOnTarget", "MovedOnTarget", "ErrorCode", "ErrorName",
                "ErrorText",
                "FirstSync", "LastSync", "DurationSeconds",
                "MessagesPerSecond", "BytesPerSecond", "Attempts",
                "Worker", "Verification", "VerifyDifferences"], head
assert len(rows) == 31 and all(len(x) == len(head) for x in rows)
for row, m in zip(rows[1:], mbs):
    c = dict(zip(head, row))
    assert c["EmailAddress"] == m["email"] and c["State"] == m["state"]
    assert int(c["CopiedMessages"]) == m["copied_messages"]
    assert int(c["SourceBytes"]) == m["source_bytes"]
    assert int(c["SkippedTooLarge"]) == m["skipped"]["too_large"]
    if m["error"]:
        assert int(c["ErrorCode"]) == m["error"]["code"]
        assert c["ErrorName"] == m["error"]["name"]
        assert c["ErrorText"] == m["error"]["text"]
    else:
        assert c["ErrorCode"] == c["ErrorName"] == c["ErrorText"] == ""

html = open(f"{d}/report.html", encoding="utf-8").read()
low = html.lower()
assert low.startswith("<!doctype html>") and low.rstrip().endswith("</html>")
assert "<script" not in low, "unescaped <script>"
assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in html
assert "Projects/&lt;img src=x onerror=alert(1)&gt;" in html
assert ("&lt;script&gt;alert(1)&lt;/script&gt; Status &quot;Acme&quot; "
        "&amp; Sons<div class=\"small mono\">&lt;2074.sample2@mail."
        "example.com&gt;</div>") in html
# No external asset of any kind, and nothing that could fetch one.
assert not re.search(r"<[a-z][^>]*\s(src|href|srcset|action)\s*=", low)
assert "@import" not in low and "<link" not in low and "<iframe" not in low
assert re.findall(r"url\(([^)]*)\)", html) == ["#tpfill"]
assert html.count("<svg") == 2
# Failed mailboxes first, in the order they were added.
emails = re.findall(r'<tr[^>]*><td><div class="em">([^<]*)</div>', html)
assert emails[:3] == ["elena.rossi@example.com", "liam.obrien@example.com",
                      "ximena.lopez@example.com"], emails[:4]
assert len(emails) == 30
print("csv, json, html: ok")
PY

chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
    echo "SKIP: chromium not installed (apt-get install chromium)"
    exit 77
fi
png="$tmp/report.png"
HOME="$tmp" timeout --kill-after=10 90 "$chromium" --headless --no-sandbox \
    --disable-gpu --hide-scrollbars --no-first-run \
    --disable-background-networking --disable-component-update \
    --user-data-dir="$tmp/profile" --window-size=1280,2000 \
    --screenshot="$png" "file://$tmp/report.html" >"$tmp/chromium.log" 2>&1 ||
    { cat "$tmp/chromium.log"; fail "chromium failed"; }
[ -f "$png" ] || { cat "$tmp/chromium.log"; fail "no screenshot"; }
size=$(stat -c %s "$png")
[ "$size" -gt 10240 ] || fail "screenshot is only $size bytes"
/usr/bin/python3 - "$png" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read(24)
assert b[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", b[16:24])
assert (w, h) == (1280, 2000), (w, h)
PY
if [ -n "${MF_REPORT_SCREENSHOT:-}" ]; then
    cp "$png" "$MF_REPORT_SCREENSHOT"
    cp "$tmp/report.html" "${MF_REPORT_SCREENSHOT%.png}.html"
fi
echo "screenshot: $size bytes: ok"
