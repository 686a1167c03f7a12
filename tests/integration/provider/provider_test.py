#!/usr/bin/python3
"""Provider profiles against faithful emulations (issue 13): the Dovecot
pair behind tests/support/provideremu.py, which speaks like Exchange
Online or Gmail. Users 81-86, Redis database 14.

    provider_test.py CASE

  profiles  user 81: `endpoint test` names exchange-online, gmail and
            dovecot from what each server says; an unknown profile word is
            a usage error; `migrate --direct --target-profile
            exchange-online` into the Exchange emulator copies everything
            with one APPEND per message (the emulator refuses MULTIAPPEND
            as Exchange would), EQUAL by the comparer; the embedded
            pipeline stores both profiles in the batch (batch status)
            and its worker copies user 82 the same way.
  throttle  users 83-84: the Exchange emulator throttles every 200th
            APPEND for 2 s; the embedded pipeline (two mailboxes at once,
            Redis database 14) pauses the endpoint for both mailboxes
            (no APPEND reaches the emulator during a pause), loses and
            duplicates nothing (EQUAL).
  repair    user 85: the Exchange emulator refuses messages with a line
            over 998 bytes or a header line without a field name ("BAD
            Command Argument Error. 11"); without --repair each fails
            alone as MESSAGE_MALFORMED naming its defect, the rest is
            copied; with --repair they are fixed, copied, and listed in
            report.json's repaired_items with what was changed. Each
            failed and repaired message is listed with what finds it in
            the source mailbox: its RFC822.SIZE, INTERNALDATE, decoded
            Subject and Message-ID as the source has them (one Subject is
            RFC 2047 encoded), in report.json and report.html; the
            refused run goes through --direct and again through the
            embedded pipeline (Kafka, Redis, the batch report).
  reencode  user 86: the Exchange emulator stores every message
            re-encoded (other bytes, other RFC822.SIZE); with
            --target-profile exchange-online (lenient fingerprints) a
            second run without checkpoints recognises every message and
            copies none, and the target holds each message once.
  gmail     user 81: a Gmail-like source (the Gmail emulator in front of
            a Dovecot mailbox laid out as Gmail shows labels: one
            message in up to three label folders and in [Gmail]/All
            Mail) with --source-profile gmail: every message lands
            exactly once (in its first label folder), archived mail
            (only in All Mail) in --gmail-archive-folder, Spam and the
            Important view not at all; a second run copies nothing;
            with --gmail-labels-as-keywords (user 82) a message carries
            its other labels as keywords. The comparer's Gmail mode
            (imapcompare.py --gmail-archive) checks each run.
  gmailfp   user 72, no Redis: a Gmail-like source without X-GM-EXT-1
            (the Dovecot source itself), every message in three labels
            and All Mail, or only in All Mail, Spam or Trash;
            --source-profile gmail without --gmail-archive-folder: told
            apart by fingerprint, each message lands once (the
            comparer's Gmail mode), archived mail in "Archive", nothing
            from Spam or Trash; a second run copies nothing.
"""
import calendar
import email
import email.policy
import imaplib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

# The Dovecot pair, the corpus, the CSV and the comparer: the helpers of
# the migrate tests (tests/integration/migrate/migrate_test.py).
sys.path.insert(0, os.path.join(os.environ["MF_SOURCE_DIR"], "tests",
                                "integration", "migrate"))
import migrate_test as mt  # noqa: E402

SUPPORT, MAILFERRY, TMP, RUN_ID = mt.SUPPORT, mt.MAILFERRY, mt.TMP, mt.RUN_ID
REDIS_URL = mt.REDIS["REDIS_URL"] + "/14"
SRC_PORT, TGT_PORT = mt.SRC_PORT, mt.TGT_PORT
fail, user, csv_for, corpus = mt.fail, mt.user, mt.csv_for, mt.corpus
clean_target, mailbox = mt.clean_target, mt.mailbox


def url(port):
    return f"imap://127.0.0.1:{port}/?tls=off"


def check(cond, msg):
    mt.check(cond, msg)
    print("ok   " + msg.split("\n")[0][:100])


class Emulator:
    """provideremu.py in front of one Dovecot (see its docstring)."""

    def __init__(self, provider, upstream_port, *extra):
        # A directory of its own: a name from id(self) came back for the
        # next Emulator once the last was freed, and that one read the
        # dead emulator's port file (throttlelimit's second run could not
        # connect, in the final CI run).
        here = tempfile.mkdtemp(prefix=f"emu-{provider}-", dir=TMP)
        self.port_file = os.path.join(here, "port")
        self.stats_file = os.path.join(here, "stats")
        self.p = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(SUPPORT, "provideremu.py"),
             "--upstream", f"127.0.0.1:{upstream_port}", "--provider",
             provider, "--port-file", self.port_file, "--stats-file",
             self.stats_file, *extra], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.port_file) and \
                time.monotonic() < deadline and self.p.poll() is None:
            time.sleep(0.05)
        with open(self.port_file) as f:
            self.port = int(f.read())
        self.url = url(self.port)

    def stats(self):
        with open(self.stats_file) as f:
            return json.load(f)

    def stop(self):
        self.p.kill()
        self.p.wait()


def mf(*args, check_exit=None, timeout=300):
    p = subprocess.run([MAILFERRY, *args], capture_output=True, text=True,
                       timeout=timeout)
    if check_exit is not None and p.returncode != check_exit:
        fail(f"mailferry {' '.join(args)}: exit {p.returncode}\n"
             f"{p.stdout}\n{p.stderr}")
    return p


def migrate(csv, source, target, *extra, direct=True, check_exit=0):
    p = mf("migrate", csv, "--source", source, "--target", target, "--json",
           "--report-dir", os.path.join(TMP, "report"),
           *(["--direct"] if direct else []), *extra, check_exit=check_exit)
    return json.loads(p.stdout)


def compare(n):
    return mt.compare(n)


def endpoint_profile(endpoint, n):
    u, p = user(n)
    pw = os.path.join(TMP, "pw")
    with open(pw, "w") as f:
        f.write(p)
    out = mf("endpoint", "test", "--source", endpoint, "--user", u,
             "--password-file", pw, "--json")
    doc = json.loads(out.stdout)
    src = doc.get("source", doc)
    return src.get("profile") or {}


# ------------------------------------------------------------------ #


def case_profiles():
    ex = Emulator("exchange-online", TGT_PORT)
    gm = Emulator("gmail", SRC_PORT)
    try:
        prof = endpoint_profile(ex.url, 81)
        check(prof.get("name") == "exchange-online",
              f"endpoint test names the Exchange emulator: {prof}")
        prof = endpoint_profile(gm.url, 81)
        check(prof.get("name") == "gmail" and prof.get("certain"),
              f"endpoint test names the Gmail emulator: {prof}")
        prof = endpoint_profile(url(SRC_PORT), 81)
        check(prof.get("name") == "dovecot",
              f"endpoint test names Dovecot: {prof}")

        corpus(81, 2, messages=40)
        clean_target(81, 82)
        csv = csv_for([81], "profiles")
        p = mf("migrate", csv, "--source", url(SRC_PORT), "--target",
               ex.url, "--direct", "--target-profile", "exchange-onlin")
        check(p.returncode == 2 and "exchange-online" in p.stderr,
              f"an unknown profile is a usage error naming the known "
              f"ones: {p.returncode} {p.stderr}")
        doc = migrate(csv, url(SRC_PORT), ex.url, "--target-profile",
                      "exchange-online")
        m = mailbox(doc, 81)
        check(m["state"] == "Synced", f"user81 through Exchange: {m}")
        st = ex.stats()
        check(st["appends"] >= 40,
              f"one APPEND per message into Exchange: {st}")
        c = compare(81)
        check(c["equal"], f"user81 EQUAL: {c.get('problems', [])[:5]}")

        # The pipeline: profiles stored in the batch and carried in the
        # jobs to the worker, which copies through the emulator too.
        csv = csv_for([82], "profiles-batch")
        key = os.path.join(TMP, "k.key")
        mf("key", "generate", key, check_exit=0)
        batch = f"t-prof-{RUN_ID}"
        before = ex.stats()["appends"]
        doc = migrate(csv, url(SRC_PORT), ex.url, "--source-profile",
                      "dovecot", "--target-profile", "exchange-online",
                      "--redis", REDIS_URL, "--batch", batch,
                      "--master-key-file", key, direct=False)
        check(mailbox(doc, 82)["state"] == "Synced", f"user82: {doc}")
        check(ex.stats()["appends"] - before >= 40,
              f"the worker appended one by one: {ex.stats()}")
        st = json.loads(mf("batch", "status", batch, "--redis", REDIS_URL,
                           "--json", check_exit=0).stdout)
        check(st["source_profile"] == "dovecot" and
              st["target_profile"] == "exchange-online",
              f"batch status shows the profiles: {st.get('source_profile')}"
              f" {st.get('target_profile')}")
        c = compare(82)
        check(c["equal"], f"user82 EQUAL: {c.get('problems', [])[:5]}")
    finally:
        ex.stop()
        gm.stop()


def pipeline(users, source, target, emu, redis_url, batch, *extra):
    """The embedded pipeline over users, two at once: its JSON document,
    how long it took, and the emulator's stats; every mailbox Synced."""
    key = os.path.join(TMP, batch + ".key")
    mf("key", "generate", key, check_exit=0)
    csv = csv_for(users, batch)
    t0 = time.monotonic()
    doc = migrate(csv, source, target, *extra, "--concurrency", "2",
                  "--redis", redis_url, "--batch", batch,
                  "--master-key-file", key, direct=False)
    took = time.monotonic() - t0
    st = emu.stats()
    print(f"     {took:.1f} s, emulator: {st}")
    for n in users:
        m = mailbox(doc, n)
        check(m["state"] == "Synced", f"user{n} Synced: {m}")
    return doc, took, st


def case_throttle():
    users = (83, 84)
    corpus(83, 2, messages=220)
    clean_target(*users)
    ex = Emulator("exchange-online", TGT_PORT, "--throttle-every", "200",
                  "--throttle-ms", "2000")
    try:
        batch = f"t-thr-{RUN_ID}"
        doc, took, st = pipeline(users, url(SRC_PORT), ex.url, ex, REDIS_URL,
                                 batch, "--target-profile", "exchange-online")
        check(st["throttled"] >= 2, f"the emulator throttled: {st}")
        check(st["violations"] == 0,
              f"no APPEND reached the throttled endpoint during a pause "
              f"from either mailbox: {st}")
        check(took >= 2 * st["throttled"] - 1,
              f"the pauses were kept: {took:.1f} s for {st['throttled']}")
        for n in users:
            c = compare(n)
            check(c["equal"], f"user{n} EQUAL after throttling: "
                  f"{c.get('problems', [])[:5]}")
        bs = json.loads(mf("batch", "status", batch, "--redis", REDIS_URL,
                           "--json", check_exit=0).stdout)
        thr = sum(m.get("throttles", 0) for m in bs["mailboxes"])
        waited = sum(m.get("throttle_wait_ms", 0) for m in bs["mailboxes"])
        check(thr >= st["throttled"] and waited >= 1000,
              f"batch status counts the throttling: {thr} answers, "
              f"{waited} ms paused")
    finally:
        ex.stop()


def report_mailbox(n):
    with open(os.path.join(TMP, "report", "report.json")) as f:
        rep = json.load(f)
    u, _ = user(n)
    for m in rep["mailboxes"]:
        if m["email"] == u:
            return m
    fail(f"{u} not in report.json")


def source_headers(n, folder, uid):
    """What the source says of one message: RFC822.SIZE, INTERNALDATE (Unix
    time), its decoded Subject (blanks folded) and Message-ID."""
    c = mt.imap_login(SRC_PORT, n)
    try:
        c.select(f'"{folder}"', readonly=True)
        typ, data = c.uid("FETCH", str(uid), "(RFC822.SIZE INTERNALDATE "
                          "BODY.PEEK[HEADER.FIELDS (SUBJECT MESSAGE-ID)])")
    finally:
        c.logout()
    meta, hdr = data[0][0].decode(), data[0][1]
    size = int(re.search(r"RFC822\.SIZE (\d+)", meta).group(1))
    date = time.mktime(imaplib.Internaldate2tuple(data[0][0]))
    msg = email.message_from_bytes(hdr, policy=email.policy.default)
    subject = " ".join(str(msg["subject"]).split()) if msg["subject"] else None
    mid = str(msg["message-id"]).strip() if msg["message-id"] else None
    return size, int(date), subject, mid


def check_found(n, items, what):
    """Every item of report.json's list names its message as the source
    has it."""
    for f in items:
        size, date, subject, mid = source_headers(n, f["folder"], f["uid"])
        when = f["internal_date"]
        got = (calendar.timegm(time.strptime(when, "%Y-%m-%dT%H:%M:%SZ"))
               if when else None)
        check(f["size"] == size and got == date and
              f["subject"] == subject and f["message_id"] == mid,
              f"{what} UID {f['uid']} as the source has it: {f} against "
              f"{(size, date, subject, mid)}")


def case_repair():
    corpus(85, 1, messages=6)
    clean_target(85)
    c = mt.imap_login(SRC_PORT, 85)
    long_body = ("word " * 400).replace(" ", "", 1).encode()  # ~2000 bytes
    c.append("INBOX", None, None,
             b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= long\r\n\tline\r\n"
             b"Message-ID: <long-%s@example.test>\r\n"
             b"\r\n" % RUN_ID.encode() + long_body + b"\r\nend\r\n")
    c.append("INBOX", None, None,
             b"Subject: broken header\r\nMessage-ID: <hdr-%s@example.test>"
             b"\r\nthis line is no field\r\n\r\nbody\r\n" % RUN_ID.encode())
    c.select("INBOX")
    typ, data = c.uid("SEARCH", "ALL")
    uids = [int(x) for x in data[0].split()][-2:]
    c.logout()
    ex = Emulator("exchange-online", TGT_PORT, "--refuse-malformed")
    try:
        csv = csv_for([85], "repair")
        doc = migrate(csv, url(SRC_PORT), ex.url, "--target-profile",
                      "exchange-online", check_exit=1)
        m = report_mailbox(85)
        mine = {f["uid"]: f for f in m["failed_items"]
                if f["folder"] == "INBOX" and f["uid"] in (uids[0], uids[1])}
        check(len(mine) == 2 and
              all(f["error"]["code"] == 314 for f in mine.values()),
              f"without --repair ours fail alone as MESSAGE_MALFORMED: "
              f"{m['failed_items']}")
        texts = " ".join(f["error"]["text"] for f in mine.values())
        check("over 998 bytes" in texts and "without a field name" in texts
              and "Command Argument Error. 11" in texts,
              f"each names its defect and the server's words: {texts}")
        # What finds them: the Subject decoded and unfolded.
        check(mine[uids[0]]["subject"] == "Grüße long line" and
              mine[uids[0]]["message_id"] == f"<long-{RUN_ID}@example.test>"
              and mine[uids[1]]["subject"] == "broken header",
              f"the refused messages' subjects: {mine}")
        check_found(85, m["failed_items"], "failed (--direct)")
        with open(os.path.join(TMP, "report", "report.html"),
                  encoding="utf-8") as f:
            html = f.read()
        check("Grüße long line" in html and
              f"&lt;long-{RUN_ID}@example.test&gt;" in html,
              "report.html lists the refused message by subject and "
              "Message-ID")
        # The corpus has long lines of its own (some in messages big
        # enough to be streamed, which cannot be looked at: IMAP_BAD).
        nfail = len(m["failed_items"])
        check(all(f["error"]["code"] in (314, 205)
                  for f in m["failed_items"]) and
              ex.stats()["refused"] == nfail,
              f"every refused message failed alone: {m['failed_items']}")
        check(mt.total_messages(TGT_PORT, 85) ==
              mt.total_messages(SRC_PORT, 85) - nfail,
              "everything else was copied")

        # The same refusals through the embedded pipeline: the items go
        # through the worker's result, Kafka, Redis and the batch report.
        key = os.path.join(TMP, "repair.key")
        mf("key", "generate", key, check_exit=0)
        migrate(csv, url(SRC_PORT), ex.url, "--target-profile",
                "exchange-online", "--redis", REDIS_URL, "--batch",
                f"t-repair-{RUN_ID}", "--master-key-file", key,
                direct=False, check_exit=None)
        m = report_mailbox(85)
        check(len(m["failed_items"]) == nfail,
              f"the pipeline lists the same refusals: {m['failed_items']}")
        check_found(85, m["failed_items"], "failed (pipeline)")

        doc = migrate(csv, url(SRC_PORT), ex.url, "--target-profile",
                      "exchange-online", "--repair")
        check(mailbox(doc, 85)["state"] == "Synced", f"{mailbox(doc, 85)}")
        m = report_mailbox(85)
        rep = sorted(m["repaired_items"], key=lambda x: x["changes"])
        check(len(rep) == nfail and not m["failed_items"],
              f"with --repair every one is copied and listed: {m}")
        check_found(85, rep, "repaired")
        ours = {r["uid"]: r["changes"] for r in rep if r["folder"] == "INBOX"}
        check("1 lines over 998 bytes (first: line 5) folded" in
              ours.get(uids[0], "") and "made continuations" in
              ours.get(uids[1], ""), f"what was changed: {rep}")
        check(mt.total_messages(TGT_PORT, 85) ==
              mt.total_messages(SRC_PORT, 85),
              "the repaired messages are on the target, nothing twice")
        check(ex.stats()["refused"] == 3 * nfail, f"{ex.stats()}")
    finally:
        ex.stop()


def case_reencode():
    corpus(86, 1, messages=30)
    clean_target(86)
    ex = Emulator("exchange-online", TGT_PORT, "--reencode")
    try:
        csv = csv_for([86], "reencode")
        n = mt.total_messages(SRC_PORT, 86)
        doc = migrate(csv, url(SRC_PORT), ex.url, "--target-profile",
                      "exchange-online")
        m = mailbox(doc, 86)
        check(m["state"] == "Synced" and ex.stats()["reencoded"] == n,
              f"first run through the re-encoding target: {m} {ex.stats()}")
        doc = migrate(csv, url(SRC_PORT), ex.url, "--target-profile",
                      "exchange-online")
        m = mailbox(doc, 86)
        check(m["state"] == "Synced" and ex.stats()["reencoded"] == n,
              f"a second run without checkpoints copies nothing: {m} "
              f"{ex.stats()}")
        check(mt.total_messages(TGT_PORT, 86) == n,
              f"each message once on the target ({n})")
    finally:
        ex.stop()


def folders_of(port, n):
    c = mt.imap_login(port, n)
    typ, data = c.list('""', "*")
    names = []
    for line in data:
        m = mt.LIST_RE.match(line.decode()) if isinstance(line, bytes) \
            else None
        if m and "\\noselect" not in m.group(1).lower():
            names.append(m.group(3))
    return c, names


def placement(port, n):
    """{Message-ID: sorted folders holding it, once per copy} of user n,
    in one login: a test that asks where several messages landed reads
    the mailbox once."""
    c, names = folders_of(port, n)
    out = {}
    for name in names:
        typ, d = c.select(name, readonly=True)
        if typ != "OK" or int(d[0] or 0) == 0:
            continue
        typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        for item in data:
            if not isinstance(item, tuple):
                continue
            head = item[1].decode(errors="replace")
            mid = head.split(":", 1)[1].strip() if ":" in head else ""
            out.setdefault(mid, []).append(name.strip('"'))
    c.logout()
    return {k: sorted(v) for k, v in out.items()}


def where_is(port, n, mid):
    """The folders holding Message-ID mid, once per copy."""
    return placement(port, n).get(mid, [])


# Gmail's folders as the Dovecot source shows them (its separator is '.').
GMAIL_FOLDERS = ("Work", "Travel", "Family", "[Gmail]", '"[Gmail].All Mail"',
                 "[Gmail].Spam", "[Gmail].Trash", "[Gmail].Important")
ALL_MAIL = '"[Gmail].All Mail"'


def gmail_source(n, layout):
    """User n's source mailbox made anew as Gmail shows labels: layout
    {key: [(folder, INTERNALDATE), ...]} (one message per key, the same
    bytes in each of its folders; \\Seen where the key ends in "s"); its
    target emptied. Returns {key:
    Message-ID}."""
    c, names = folders_of(SRC_PORT, n)
    for name in names:  # an empty mailbox, Gmail's folders made anew
        if name.strip('"') not in ("INBOX", "Sent", "Drafts", "Trash",
                                   "Junk", "Archive"):
            c.delete(name)
            continue
        typ, d = c.select(name)
        if typ == "OK" and int(d[0]) > 0:
            c.store("1:*", "+FLAGS.SILENT", "(\\Deleted)")
            c.expunge()
    for f in GMAIL_FOLDERS:
        c.create(f)
    mids = {}
    for k, places in layout.items():
        mids[k] = f"<gmail-{k}-{RUN_ID}@example.test>"
        body = (f"Subject: message {k}\r\nFrom: a@example.test\r\n"
                f"Message-ID: {mids[k]}\r\n\r\nbody {k}\r\n").encode()
        for f, when in places:
            typ, d = c.append(f, "(\\Seen)" if k.endswith("s") else None,
                              imaplib.Time2Internaldate(when), body)
            check(typ == "OK", f"append {k} to {f}: {d}")
    c.logout()
    clean_target(n)
    return mids


def gmail_source_remove(n):
    """Gmail's folders go, lest another case of user n copy them."""
    c = mt.imap_login(SRC_PORT, n)
    for f in reversed(GMAIL_FOLDERS):
        c.delete(f)
    c.logout()


def gmail_equal(n, archive, what, exclude=()):
    """The comparer's Gmail mode (imapcompare.py --gmail-archive): each
    source message once on the target, in one of its label folders or,
    archived, in archive; nothing from Spam or Trash."""
    c = mt.compare(n, gmail_archive=archive, exclude=exclude)
    check(c["equal"], f"{what}: the comparer finds each message once: "
          f"{c.get('problems', [])[:5]}")


def case_gmail():
    n = 81
    t = 1700000000
    labels = {"A": ["INBOX", "Work"], "B": ["Work", "Travel"],
              "C": ["INBOX", "Work", "Travel"], "D": [], "F": ["INBOX"]}
    layout = {}
    for k in "ABCDEFG":
        when = t + ord(k)
        folders = labels.get(k, [])[:] + [ALL_MAIL]
        if k == "E":
            folders = ["[Gmail].Spam"]
        if k == "F":
            folders.append("[Gmail].Important")
        layout[k] = [(f, when) for f in folders]
    # Another date in its label Work: only X-GM-MSGID tells it is the same
    # message (a fingerprint would not).
    layout["G"] = [("INBOX", t + ord("G")), ("Work", 1600000000)]
    mids = gmail_source(n, layout)
    gm = Emulator("gmail", SRC_PORT)
    try:
        csv = csv_for([n], "gmail")
        for run_no in (1, 2):
            doc = migrate(csv, gm.url, url(TGT_PORT), "--source-profile",
                          "gmail", "--gmail-archive-folder", "Archived")
            m = mailbox(doc, n)
            check(m["state"] == "Synced", f"run {run_no}: {m}")
            got = {k: where_is(TGT_PORT, n, mids[k]) for k in "ABCDEFG"}
            check(got["A"] == ["INBOX"] and got["C"] == ["INBOX"] and
                  got["F"] == ["INBOX"] and len(got["B"]) == 1 and
                  got["B"][0] in ("Travel", "Work"),
                  f"run {run_no}: each message once, in a label folder of "
                  f"its own: {got}")
            check(got["D"] == ["Archived"],
                  f"run {run_no}: archived mail in the archive folder: {got}")
            check(got["E"] == [], f"run {run_no}: no Spam: {got}")
            check(got["G"] == ["INBOX"] and gm.stats()["gm_msgids"] > 0,
                  f"run {run_no}: told apart by X-GM-MSGID: {got} "
                  f"{gm.stats()}")
            gmail_equal(n, "Archived", f"run {run_no}")
        # The same mailbox to user 82 with its labels as keywords.
        clean_target(82)
        csv = csv_for([82], "gmail-kw")
        with open(csv, "w") as f:
            u, p = user(n)
            f.write(f"EmailAddress,UserName,Password,TargetUserName,"
                    f"TargetPassword\n{u},{u},{p},{user(82)[0]},"
                    f"{user(82)[1]}\n")
        migrate(csv, gm.url, url(TGT_PORT), "--source-profile", "gmail",
                "--gmail-archive-folder", "Archived",
                "--gmail-labels-as-keywords")
        c = mt.imap_login(TGT_PORT, 82)
        c.select("INBOX", readonly=True)
        typ, d = c.search(None, "HEADER", "Message-ID", mids["C"])
        typ, fl = c.fetch(d[0].split()[0], "(FLAGS)")
        c.logout()
        check(b"Work" in fl[0] and b"Travel" in fl[0],
              f"message C in INBOX carries its labels Work and Travel: {fl}")
    finally:
        gm.stop()
        gmail_source_remove(n)


def case_gmailfp():
    """user 72: a Gmail-like source without X-GM-EXT-1 (the Dovecot
    source itself, laid out as Gmail shows labels), every message in
    three labels and All Mail, or archived (only in All Mail), or in Spam
    or Trash: with --source-profile gmail and no --gmail-archive-folder,
    messages are told apart by their fingerprint, each lands once (the
    comparer's Gmail mode), archived mail in "Archive", nothing from Spam
    or Trash; a second run copies nothing and changes nothing."""
    n = 72
    t = 1710000000
    three = {"Ks": ["INBOX", "Work", "Travel"], "L": ["Work", "Travel",
             "Family"], "Ms": ["INBOX", "Travel", "Family"],
             "N": ["INBOX", "Work", "Family"]}
    layout = {k: [(f, t + i) for f in v + [ALL_MAIL]]
              for i, (k, v) in enumerate(three.items())}
    layout["N"].append(("[Gmail].Important", t + 3))
    layout.update({"Ps": [(ALL_MAIL, t + 10)], "Q": [(ALL_MAIL, t + 11)],
                   "S": [("[Gmail].Spam", t + 12)],
                   "T": [("[Gmail].Trash", t + 13)]})
    mids = gmail_source(n, layout)
    try:
        c = mt.imap_login(SRC_PORT, n)
        typ, caps = c.capability()
        c.logout()
        check(b"X-GM-EXT-1" not in caps[0], f"no X-GM-EXT-1: {caps}")
        csv = csv_for([n], "gmailfp")
        for run_no in (1, 2):
            # The Dovecot source's own Archive folder is no Gmail
            # folder: left out, as a Gmail mailbox has none (a label of
            # that name would make the archive "Archive (2)").
            doc = migrate(csv, url(SRC_PORT), url(TGT_PORT),
                          "--source-profile", "gmail", "--exclude",
                          "Archive")
            m = mailbox(doc, n)
            check(m["state"] == "Synced" and
                  m["messages_copied"] == (6 if run_no == 1 else 0),
                  f"run {run_no}: {m}")
            gmail_equal(n, "Archive", f"run {run_no}", exclude=["Archive"])
            c = mt.compare(n, gmail_archive="Elsewhere", exclude=["Archive"])
            check(not c["equal"] and len(c["problems"]) == 2,
                  f"run {run_no}: the comparer sees the archived mail "
                  f"outside another archive folder: {c['problems'][:5]}")
            got = placement(TGT_PORT, n)
            check(got.get(mids["Ps"]) == ["Archive"] and
                  got.get(mids["Q"]) == ["Archive"] and
                  mids["S"] not in got and mids["T"] not in got,
                  f"run {run_no}: archived mail in Archive, no Spam or "
                  f"Trash: {got}")
    finally:
        gmail_source_remove(n)


CASES = {
    "gmail": case_gmail,
    "gmailfp": case_gmailfp,
    "reencode": case_reencode,
    "repair": case_repair,
    "profiles": case_profiles,
    "throttle": case_throttle,
}

def main(cases):
    """Runs the case named by the one argument."""
    if len(sys.argv) != 2 or sys.argv[1] not in cases:
        print(f"usage: {os.path.basename(sys.argv[0])} " + "|".join(cases))
        sys.exit(2)
    cases[sys.argv[1]]()
    print("ok: " + sys.argv[1])


if __name__ == "__main__":
    main(CASES)
