#!/usr/bin/python3
"""`mailferry batch verify NAME --kafka ... --wait` through the fleet
(issue 11 section 6): one verify job per mailbox, run by real
`mailferry-worker` processes, the verdicts stored in the batch.

Private pipeline (tests/support/pipeline.py: Dovecot pair, redis-server,
Kafka dev broker), users 43-45: the batch is migrated by two workers
(Synced); one INBOX message of user44 is replaced on the target by an
altered copy (same flags and INTERNALDATE, a line added, so its size
differs); `batch verify --kafka --wait --json` exits 1 with user44's
difference and user43/user45 verified equal; `batch report --format json`
shows the same (a "bytes" difference of the message's source UID for
user44); the mailboxes and the batch are still Synced (a verify job
changes no migration state); the jobs ran on the workers and compared
every body (--deep travels in the job; the workers' logs). Without
--wait the command returns once the jobs are queued.
"""
import imaplib
import os
import re
import sys

sys.path.insert(0, os.path.join(
    os.environ.get("MF_SOURCE_DIR",
                   os.path.join(os.path.dirname(__file__), "..", "..", "..")),
    "tests", "support"))

from pipeline import Fail, Pipeline, check, log, user  # noqa: E402

USERS = [43, 44, 45]
FETCH_RE = re.compile(rb'INTERNALDATE "([^"]+)"')
FLAGS_RE = re.compile(rb'FLAGS \(([^)]*)\)')


def alter_one(p, n):
    """Replaces user n's first INBOX message on the target by an altered
    copy; returns its Message-ID."""
    u, pw = user(n)
    c = imaplib.IMAP4("127.0.0.1", p.tgt_port)
    c.login(u, pw)
    c.select("INBOX")
    typ, data = c.uid("SEARCH", "ALL")
    uid = data[0].split()[0].decode()
    typ, data = c.uid("FETCH", uid, "(FLAGS INTERNALDATE BODY.PEEK[])")
    meta, body = data[0][0], data[0][1]
    flags = " ".join(f for f in FLAGS_RE.search(meta).group(1).decode()
                     .split() if f.lower() != "\\recent")
    date = '"' + FETCH_RE.search(meta).group(1).decode() + '"'
    mid = re.search(rb"^Message-ID:\s*(\S+)", body, re.I | re.M)
    check(c.append("INBOX", f"({flags})", date,
                   body + b"\r\naltered on the target\r\n")[0] == "OK",
          "APPEND of the altered copy")
    c.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)")
    c.expunge()
    c.logout()
    return mid.group(1).decode() if mid else None


def main():
    with Pipeline("bverify", users=max(USERS), deadline=280) as p:
        b = "bv"
        p.corpus(USERS[0], len(USERS), 20)
        p.create(b, p.csv("bv.csv", USERS))
        p.serve()
        # A short claim TTL: the verify jobs' claims are renewed while
        # they run (every 2/3 s).
        ws = p.workers(2, slots=2, claim_ttl="2s")
        p.start(b)
        st = p.wait_state(b, ["Synced", "SyncedWithErrors"], timeout=150)
        check(st["state"] == "Synced", f"first pass: {st['state']}")
        alter_one(p, 44)

        r = p.mfj("batch", "verify", b, *p.kafka_args(), "--wait",
                  "--timeout", "120", "--deep", expect=1, timeout=180)
        got = {m["email"]: m for m in r["mailboxes"]}
        log(f"batch verify: {got}")
        for n in (43, 45):
            m = got[user(n)[0]]
            check(m["verification"] == "verified equal" and
                  m["differences"] == 0, f"user{n}: {m}")
        m44 = got[user(44)[0]]
        check(m44["verification"] == "differences" and
              m44["differences"] >= 1, f"user44: {m44}")

        rep = {m["email"]: m for m in p.report(b, "json")["mailboxes"]}
        for n in (43, 45):
            v = rep[user(n)[0]]["verification"]
            check(v["status"] == "verified equal" and v["items"] == [],
                  f"report user{n}: {v}")
        v = rep[user(44)[0]]["verification"]
        kinds = sorted(d["kind"] for d in v["items"])
        check(v["status"] == "differences" and "bytes" in kinds and
              all(d["folder"] == "INBOX" for d in v["items"]),
              f"report user44: {v}")

        st = p.status(b)
        check(st["state"] == "Synced" and
              all(p.mailbox(st, n)["state"] == "Synced" for n in USERS),
              f"a verify changes no state: {st['state']} "
              f"{[p.mailbox(st, n)['state'] for n in USERS]}")
        logs = "".join(open(w.logpath, errors="replace").read()
                       for w in ws)
        done = re.findall(r"verify: [^\n]*\((\d+) source, \d+ target "
                          r"messages, (\d+) bodies compared\)", logs)
        # (the altered message differs in size: its body is not hashed)
        check(len(done) == 3 and all(int(c) > 0 for s, c in done) and
              sum(int(s) == int(c) for s, c in done) >= 2,
              f"the verify jobs ran on the workers, --deep: {done}")

        # Without --wait: the jobs are queued and the command returns.
        r = p.mfj("batch", "verify", b, *p.kafka_args())
        check(r["jobs"] == 3, f"without --wait: {r}")


if __name__ == "__main__":
    try:
        main()
    except Fail as e:
        print(f"FAIL: {e}")
        sys.exit(1)
    print("PASS")
