#!/usr/bin/python3
"""`mailferry migrate` to a target that advertises exactly Exchange
Online's capabilities (no MULTIAPPEND), judged by the independent comparer.

Starts a PRIVATE Dovecot pair whose target advertises

    IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID
    UNSELECT CHILDREN IDLE NAMESPACE LITERAL+

(MF_DOVECOT_TARGET_CAPABILITY, Dovecot's imap_capability), so mailferry
sends its batches as single APPENDs pipelined with LITERAL+ literals
(core/src/migrate/store_imap_append.c). Users 61-64 (the append rows of
tests/support/dovecot/README.md). Two cases, `exchange_caps_test.py
direct|embedded`:

  * user61, user62: the small corpus (nested and non-ASCII folders, flags,
    dates, two 2-5 MB messages that stream) through `migrate --direct`
    at concurrency 2: EQUAL; a re-run copies nothing;
  * (embedded, run by hand: not in ctest, to keep the suite's time
    budget; the store code is the same) user63: the same through the
    embedded default (the pipeline): EQUAL;
  * user64: with checkpoints in the redis fixture (database 13, the
    append helper's), messages appended to the source after a first pass,
    and flags changed there, carry over on the next pass: EQUAL.
"""
import imaplib
import json
import os
import subprocess
import sys
import time

SRC_DIR = os.environ["MF_SOURCE_DIR"]
BUILD = os.environ["MF_BUILD_DIR"]
MF = os.path.join(BUILD, "bin", "mailferry")
SUPPORT = os.path.join(SRC_DIR, "tests", "support")
sys.path.insert(0, SUPPORT)
from itestlib import (FAILURES, check, csv_for, fixture_env,  # noqa: E402
                      private_dovecot, user, verdict)
EXCHANGE = ("IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID "
            "UNSELECT CHILDREN IDLE NAMESPACE LITERAL+")


def main(case):
    redis_url = fixture_env("redis")["REDIS_URL"] + "/13"
    batch = "exchange-%d-%d" % (os.getpid(), int(time.time()))
    with private_dovecot(
            "mailferry-exchange.", MF_DOVECOT_USERS="64",
            MF_DOVECOT_TARGET_CAPABILITY=EXCHANGE) as (run, env, d):
        sport, tport = int(d["SOURCE_IMAP_PORT"]), int(d["TARGET_IMAP_PORT"])
        src = "imap://127.0.0.1:%d/?tls=off" % sport
        dst = "imap://127.0.0.1:%d/?tls=off" % tport

        c = imaplib.IMAP4("127.0.0.1", tport)
        c.login(*user(61))
        typ, data = c.capability()
        caps = data[0].decode().upper().split()
        c.logout()
        check("MULTIAPPEND" not in caps and "LITERAL+" in caps
              and "UIDPLUS" in caps,
              "the target advertises Exchange Online's list: %s" % caps)

        subprocess.run(
            ["/usr/bin/python3", os.path.join(SUPPORT, "dovecot",
                                              "gen_corpus.py"),
             "--server", "source", "--first-user",
             "63" if case == "embedded" else "61",
             "--users", "1" if case == "embedded" else "4",
             "--profile", "small", "--clean", "-j", "2"],
            env=env, check=True, stdout=subprocess.DEVNULL)

        def migrate(csv, *extra):
            p = subprocess.run(
                [MF, "migrate", csv, "--source", src, "--target", dst,
                 "--json", "--report-dir", os.path.join(run, "report"),
                 *extra], capture_output=True, text=True, timeout=120,
                cwd=run, env=env)
            try:
                doc = json.loads(p.stdout)
            except ValueError:
                doc = {"mailboxes": []}
            return p, doc

        def mailbox(doc, n):
            for m in doc.get("mailboxes", []):
                if m.get("email") == user(n)[0]:
                    return m
            return {}

        def compare(n, what):
            u, p = user(n)
            c = subprocess.run(
                ["/usr/bin/python3", os.path.join(SUPPORT, "imapcompare.py"),
                 "--source", "127.0.0.1:%d" % sport,
                 "--target", "127.0.0.1:%d" % tport, "--user", u,
                 "--password", p, "--special-use", "--subscriptions"],
                capture_output=True, text=True, timeout=120)
            check(c.returncode == 0, "%s: user%02d EQUAL\n%s%s" % (
                what, n, c.stdout[-2000:], c.stderr[-2000:]))

        if case == "embedded":
            p, doc = migrate(csv_for(run, [63], "embedded"))
            check(p.returncode == 0, "the embedded migrate exits 0\n"
                  + p.stdout[-3000:] + p.stderr[-3000:])
            compare(63, "the embedded migrate")
            return 1 if FAILURES else 0

        csv = csv_for(run, [61, 62], "direct")
        p, doc = migrate(csv, "--direct", "--concurrency", "2")
        check(p.returncode == 0, "migrate --direct exits 0\n" + p.stdout[-3000:]
              + p.stderr[-3000:])
        for n in (61, 62):
            m = mailbox(doc, n)
            check(m.get("messages_copied", 0) > 40,
                  "user%02d: messages copied: %s" % (n, m))
            compare(n, "migrate --direct")
        p, doc = migrate(csv, "--direct", "--concurrency", "2")
        check(p.returncode == 0 and all(
            mailbox(doc, n).get("messages_copied") == 0 and
            mailbox(doc, n).get("messages_present", 0) > 40
            for n in (61, 62)),
            "a re-run recognises everything and copies nothing: %s"
            % [mailbox(doc, n) for n in (61, 62)])

        csv = csv_for(run, [64], "incremental")
        ckpt = ("--redis", redis_url, "--batch", batch)
        p, doc = migrate(csv, "--direct", *ckpt)
        check(p.returncode == 0, "first pass of user64 exits 0\n"
              + p.stdout[-3000:] + p.stderr[-3000:])
        c = imaplib.IMAP4("127.0.0.1", sport)
        c.login(*user(64))
        c.select("INBOX")
        typ, data = c.uid("SEARCH", None, "ALL")
        uids = data[0].split()
        c.uid("STORE", uids[0], "+FLAGS", "(\\Flagged $MfExchange)")
        for i in range(3):
            c.append("INBOX", "(\\Seen)",
                     imaplib.Time2Internaldate(1700000000 + i),
                     b"Subject: after the first pass %d\r\n"
                     b"Message-ID: <exch-%d@example.test>\r\n\r\nnew\r\n"
                     % (i, i))
        c.logout()
        p, doc = migrate(csv, "--direct", *ckpt)
        m = mailbox(doc, 64)
        check(p.returncode == 0 and m.get("messages_copied") == 3 and
              m.get("flags_updated") == 1,
              "the next pass copies the 3 new messages and one flag "
              "change: %s" % m)
        compare(64, "the next pass")
    return verdict()


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("direct", "embedded"):
        sys.exit("usage: exchange_caps_test.py direct|embedded")
    sys.exit(main(sys.argv[1]))
