#!/usr/bin/python3
"""Pre-staging and deletions (issue 16 section 3) against the Dovecot pair
and redis-server (database 5), judged by the independent comparer
(tests/support/imapcompare.py). Helpers come from migrate_test.py.

  window  users 46-47: `plan --since` shows the sizes inside and outside
          (JSON and text); `migrate --direct --since` copies only the recent
          messages and counts the old ones as outside_window (JSON output,
          report CSV); an incremental pass with the same window copies only
          the new recent one; a pass without the window copies the rest
          once: EQUAL. The embedded pipeline (user 47, a shared Redis):
          `batch create`-style --since stored in the batch, shown by
          `batch status`, cleared by `batch set --since none`, after which
          the next pass copies the rest: EQUAL.
"""
import csv as csvmod
import glob
import imaplib
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import migrate_test as mt  # noqa: E402

REDIS5 = mt.REDIS["REDIS_URL"].rstrip("/") + "/5"
OLD = '"15-Jan-2024 10:00:00 +0000"'
RECENT = '"10-Mar-2026 12:00:00 -0800"'


def add(port, n, folder, tag, date, flags=None):
    c = mt.imap_login(port, n)
    if folder != "INBOX":
        c.create(folder)
    msg = (f"From: a@example.test\r\nSubject: {tag}\r\n"
           f"Message-ID: <{tag}-{mt.RUN_ID}@example.test>\r\n\r\n"
           f"body of {tag}\r\n").encode()
    typ, _ = c.append(folder, flags, date, msg)
    mt.check(typ == "OK", f"APPEND {tag}")
    c.logout()


def fill(n):
    mt.clean_target(n, port=mt.SRC_PORT)
    mt.clean_target(n)
    # Old and recent interleaved, in two folders.
    for i in range(6):
        add(mt.SRC_PORT, n, "INBOX" if i % 2 else "Archive", f"old{i}", OLD,
            "(\\Seen)" if i % 3 == 0 else None)
        if i % 2 == 0:
            add(mt.SRC_PORT, n, "INBOX", f"recent{i}", RECENT)


def target_dates(n):
    c = mt.imap_login(mt.TGT_PORT, n)
    dates = []
    for folder in ("INBOX", "Archive"):
        typ, d = c.select(folder, readonly=True)
        if typ != "OK" or int(d[0]) == 0:
            continue
        typ, data = c.fetch("1:*", "(INTERNALDATE)")
        for item in data or []:
            if isinstance(item, bytes) and b"INTERNALDATE" in item:
                dates.append(item.decode().split('"')[1])
    c.logout()
    return dates


def report_csv_row(email):
    rows = []
    for path in glob.glob(os.path.join(mt.REPORT, "**", "*.csv"),
                          recursive=True):
        with open(path) as f:
            rows += [r for r in csvmod.DictReader(f)
                     if r.get("EmailAddress") == email]
    return rows[-1] if rows else None


def case_window():
    for n in (46, 47):
        fill(n)

    # user46: the engine alone, checkpoints in Redis database 5.
    csv = mt.csv_for([46], "window46")
    p = subprocess.run([mt.MAILFERRY, "plan", csv, "--source", mt.SRC,
                        "--since", "2026-03-01", "--json"],
                       capture_output=True, text=True, timeout=120)
    mt.check(p.returncode == 0, f"plan --since: {p.stderr}")
    plan = json.loads(p.stdout)["plan"]
    t = plan["mailboxes"][0]["totals"]
    mt.check(plan["since"] == "2026-03-01" and t["copy_messages"] == 3 and
             t["outside_messages"] == 6 and t["outside_bytes"] > 0,
             f"plan inside/outside: {t}")
    p = subprocess.run([mt.MAILFERRY, "plan", csv, "--source", mt.SRC,
                        "--since", "2026-03-01"], capture_output=True,
                       text=True, timeout=120)
    mt.check("outside the window (since 2026-03-01): 6 messages" in p.stdout,
             f"plan text: {p.stdout}")
    args = ["--redis", REDIS5, "--batch", f"t-window46-{mt.RUN_ID}"]
    rc, doc = mt.migrate(csv, *args, "--since", "2026-03-01")
    m = mt.mailbox(doc, 46)
    mt.check(m["messages_copied"] == 3 and m["outside_window"] == 6 and
             m["failed"] == 0 and m["bytes_outside_window"] > 0, f"{m}")
    dates = target_dates(46)
    mt.check(len(dates) == 3 and all("2026" in d for d in dates),
             f"only the recent messages on the target: {dates}")
    row = report_csv_row("user46@example.test")
    mt.check(row is not None and row["OutsideWindow"] == "6",
             f"report CSV OutsideWindow: {row}")

    add(mt.SRC_PORT, 46, "INBOX", "old-late", OLD)
    add(mt.SRC_PORT, 46, "INBOX", "recent-late", RECENT)
    rc, doc = mt.migrate(csv, *args, "--since", "2026-03-01")
    m = mt.mailbox(doc, 46)
    mt.check(m["messages_copied"] == 1 and m["outside_window"] == 7, f"{m}")

    rc, doc = mt.migrate(csv, *args)  # MX switched: the rest
    m = mt.mailbox(doc, 46)
    mt.check(m["messages_copied"] == 7 and m["outside_window"] == 0 and
             m["failed"] == 0, f"{m}")
    mt.assert_equal(46)
    rc, doc = mt.migrate(csv, *args)
    mt.check(mt.mailbox(doc, 46)["messages_copied"] == 0, f"{doc}")

    # user47: the embedded pipeline; the window lives in the batch.
    key = os.path.join(mt.TMP, "window.key")
    subprocess.run([mt.MAILFERRY, "key", "generate", key], check=True,
                   stdout=subprocess.DEVNULL)
    batch = f"t-window47-{mt.RUN_ID}"
    csv = mt.csv_for([47], "window47")
    args = ["--redis", REDIS5, "--batch", batch, "--master-key-file", key]
    rc, doc = mt.migrate(csv, *args, "--since", "2026-03-01", direct=False)
    mt.check(len(target_dates(47)) == 3, f"embedded --since: {doc}")

    def status():
        p = subprocess.run([mt.MAILFERRY, "batch", "status", batch, "--redis",
                            REDIS5, "--json"], capture_output=True, text=True,
                           timeout=60)
        mt.check(p.returncode == 0, f"batch status: {p.stderr}")
        return json.loads(p.stdout)

    st = status()
    mb = st["mailboxes"][0]
    mt.check(st["since"] == "2026-03-01" and st["before"] is None and
             mb["outside_window"] == 6 and
             st["totals"]["outside_window"] == 6, f"batch status: {st}")
    p = subprocess.run([mt.MAILFERRY, "batch", "set", batch, "--redis", REDIS5,
                        "--since", "2026-13-01"], capture_output=True,
                       text=True, timeout=60)
    mt.check(p.returncode == 2 and "YYYY-MM-DD" in p.stderr,
             f"a bad day is refused: {p.returncode} {p.stderr}")
    p = subprocess.run([mt.MAILFERRY, "batch", "set", batch, "--redis", REDIS5,
                        "--since", "none"], capture_output=True, text=True,
                       timeout=60)
    mt.check(p.returncode == 0, f"batch set --since none: {p.stderr}")
    rc, doc = mt.migrate(csv, *args, direct=False)
    mt.assert_equal(47)
    st = status()
    mt.check(st["since"] is None and
             [(x["option"], x["old"], x["new"]) for x in st["changes"]] ==
             [("since", "2026-03-01", "none")] and
             st["mailboxes"][0]["outside_window"] == 0, f"status: {st}")


CASES = {"window": case_window}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print("usage: window_test.py " + "|".join(CASES))
        sys.exit(2)
    CASES[sys.argv[1]]()
    print("ok: " + sys.argv[1])
