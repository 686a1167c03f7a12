#!/usr/bin/python3
"""What an empty mailbox costs on the wire (issue 14 item 1: per-job
overhead, measured with empty mailboxes), pinned by Dovecot's rawlog.

A private Dovecot pair (tests/support/pipeline.py) and a private
redis-server; user01's source holds the folders Dovecot makes for a new
user plus two of its own ("Empty", and "Projects" with "2026" below it),
subscribed, none with a message. Each pass is the embedded default
(`mailferry migrate` on one batch in that Redis, as the incremental
passes of a user run it), and the transcripts of both servers are read
after it:

  first    the first pass: per side CAPABILITY, NAMESPACE, LIST, one
           STATUS per folder (pipelined), LOGOUT, and on the target the
           CREATE and SUBSCRIBE of the folders it lacks: no SELECT,
           EXAMINE or FETCH, since STATUS says every source folder is
           empty. The target then has every source folder, empty ones
           included, subscribed as on the source (the comparer: EQUAL).
  again    nothing changed: the same commands less CREATE and SUBSCRIBE.
  mail     a message in "Empty" (settled empty by the first pass), and
           "Projects/2026" deleted and made again on the source (a new
           UIDVALIDITY) with a message: both folders are selected and
           copied, no other folder is, and the comparer says EQUAL.

The counts are exact: a change that sends more for an empty mailbox
fails here. One test, about 5 s.
"""
import imaplib
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)),
                                "support"))

from pipeline import Fail, Pipeline, check, log, user  # noqa: E402

SIDES = ("SOURCE", "TARGET")


def rawlog_dirs(p, n, create):
    """Dovecot's transcript directories of user n on both servers
    (<home>/rawlog, the fixture's rawlog_dir), emptied (create) or
    removed."""
    local, domain = user(n)[0].split("@")
    dirs = {}
    for side in SIDES:
        d = os.path.join(p.dov[side + "_MAIL_DIR"], domain, local, "rawlog")
        shutil.rmtree(d, ignore_errors=True)
        if create:
            os.makedirs(d)
            os.chown(d, int(p.dov["MAIL_UID"]), -1)
        dirs[side] = d
    return dirs


def verbs(d):
    """{verb: count} of the commands the client sent in every session of
    one transcript directory (UID FETCH counted as FETCH)."""
    out = {}
    for name in os.listdir(d):
        if not name.endswith(".in"):
            continue
        with open(os.path.join(d, name), "rb") as f:
            for line in f.read().split(b"\r\n"):
                # "<unix time> <tag> <command> ...", as the rawlog writes.
                words = line.split(b" ")
                if len(words) < 3 or not words[1].isalnum():
                    continue  # a literal's lines (APPEND)
                v = words[2].upper()
                if v == b"UID" and len(words) > 3:
                    v = words[3].upper()
                v = v.decode()
                out[v] = out.get(v, 0) + 1
    return out


def login(port, n):
    c = imaplib.IMAP4("127.0.0.1", port)
    c.login(*user(n))
    return c


def selectable(port, n):
    c = login(port, n)
    try:
        names = []
        for x in c.list('""', "*")[1]:
            text = x.decode()
            if "\\noselect" not in text.lower() and \
                    "\\nonexistent" not in text.lower():
                names.append(text)
        return names
    finally:
        c.logout()


def delimiter(c):
    line = c.list('""', '""')[1][0].decode()
    return line.split(" ")[-2].strip('"')


def put(c, folder, subject):
    c.append(folder, "(\\Seen)", imaplib.Time2Internaldate(1700000000),
             f"Subject: {subject}\r\nMessage-ID: <{subject}@example.test>"
             f"\r\n\r\n{subject}\r\n".encode())


class Run:
    def __init__(self, p):
        self.p = p
        self.csv = p.csv("one.csv", [1])
        self.n = 0

    def migrate(self):
        """One pass of the batch; the transcripts of both sides."""
        self.n += 1
        dirs = rawlog_dirs(self.p, 1, True)
        doc = self.p.mfj("migrate", self.csv, "--source", self.p.source_url(),
                         "--target", self.p.target_url(), "--redis",
                         self.p.redis_url, "--batch", "emptyjob",
                         "--master-key-file", self.p.key(), "--report-dir",
                         self.p.path(f"report-{self.n}"), timeout=120)
        got = {side: verbs(d) for side, d in dirs.items()}
        rawlog_dirs(self.p, 1, False)
        mb = doc["mailboxes"][0]
        check(mb["state"] == "Synced", f"pass {self.n}: {mb}")
        log(f"pass {self.n}: source {got['SOURCE']}, target {got['TARGET']}")
        return mb, got


def exactly(got, want, what):
    check(got == {k: v for k, v in want.items() if v},
          f"{what}: sent {got}, want exactly {want}")


def main():
    with Pipeline("emptyjob", users=1, kafka=False, deadline=100) as p:
        # The homes exist (first login), then the source's own folders.
        login(p.tgt_port, 1).logout()
        c = login(p.src_port, 1)
        sep = delimiter(c)
        for f in ("Empty", "Projects", f"Projects{sep}2026"):
            c.create(f)
            c.subscribe(f)
        c.logout()
        folders = len(selectable(p.src_port, 1))
        tgt_before = len(selectable(p.tgt_port, 1))
        check(folders >= 8, f"source folders: {folders}")
        r = Run(p)

        mb, got = r.migrate()
        base = {"CAPABILITY": 1, "NAMESPACE": 1, "LIST": 1,
                "STATUS": folders, "LOGOUT": 1}
        exactly(got["SOURCE"], base, "first pass, source")
        created = got["TARGET"].get("CREATE", 0)
        check(created == 3 and len(selectable(p.tgt_port, 1)) ==
              tgt_before + 3, f"first pass: {created} CREATE, target "
              f"folders {tgt_before} -> {len(selectable(p.tgt_port, 1))}")
        exactly(got["TARGET"], dict(base, CREATE=3,
                                    SUBSCRIBE=got["TARGET"].get("SUBSCRIBE")),
                "first pass, target")
        check(1 <= got["TARGET"].get("SUBSCRIBE", 0) <= folders,
              f"first pass SUBSCRIBE: {got['TARGET']}")
        p.assert_equal([1])

        mb, got = r.migrate()
        exactly(got["SOURCE"], base, "unchanged pass, source")
        exactly(got["TARGET"], base, "unchanged pass, target")

        c = login(p.src_port, 1)
        put(c, "Empty", "into-empty")
        c.delete(f"Projects{sep}2026")
        c.create(f"Projects{sep}2026")
        put(c, f"Projects{sep}2026", "into-recreated")
        c.logout()
        mb, got = r.migrate()
        check(mb["copied_messages"] == 2, f"mail pass: {mb}")
        check(got["SOURCE"].get("EXAMINE") == 2 and
              got["TARGET"].get("SELECT") == 2 and
              got["SOURCE"].get("STATUS") == folders,
              f"mail pass: only the two folders selected: {got}")
        p.assert_equal([1])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Fail as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
