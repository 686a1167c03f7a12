#!/usr/bin/python3
"""More provider rules against the emulator (issue 13, the items the first
provider tests left): users 95, 96 and 34, Redis database 6.

    provider_more_test.py CASE

  fetchpause  users 95-96, each with INBOX (300 messages: six FETCH
            batches of 50) and three small folders: the source is the
            Exchange emulator, which serves each body FETCH after 300 ms
            (a slow source: both copies are still reading when the
            throttle comes) and throttles the 2nd (counted over both
            mailboxes' connections) for 2.5 s. The embedded pipeline
            copies both mailboxes at once (Redis database 6): the
            throttled mailbox pauses the source endpoint fleet-wide and
            the other one, in the middle of its INBOX, sends no FETCH
            during the pause (from the emulator's command log, after a
            grace of 1 s for the pause to reach Redis); both are EQUAL by
            the comparer.
  onprem    user 34: the source is the Exchange Server emulator
            (exchange-onprem: no SPECIAL-USE, AUTH=NTLM and AUTH=GSSAPI
            offered before AUTH=PLAIN, Dovecot's own special folders
            hidden) presenting Exchange's folder names: `endpoint
            test` suggests exchange-onprem (not certain); --source-profile
            exchange-onprem with only --admin: the admin logs in through
            the profile's template "{domain}/{admin}/{user}" over SASL
            PLAIN (the emulator counts the impersonations), "Sent Items",
            "Deleted Items", "Junk E-Mail" and "Drafts" land in the
            target's special-use folders ("Junk Email" there), Outbox,
            Sync Issues (and its subfolders) and Conversation History
            under their own names, and Calendar, Contacts, Tasks, Notes
            and Journal not at all.
  throttleflags  user 94 (no Redis: `migrate --direct`): the
            --throttle-* flags against the emulator's throttling answers,
            seen in the pauses the run reports (case_throttleflags).
  throttlelimit  user 94, a private redis-server: the fleet's lowered
            connection limit and its lifetime under
            --throttle-min-connections and --throttle-window
            (case_throttlelimit).
  throttleconns  a private Dovecot pair and redis-server: the
            exchange-online target profile (no caps of its own, no
            --max-connections flag) lowers its concurrency after
            throttling: connections above the lowered limit close and
            the rest queue for it (case_throttleconns).
  resends  user 127, no Redis: the messages of MULTIAPPENDs the target
            refuses go again one per APPEND within appends_in_flight
            (case_resends).
  multiappend  user 72, no Redis: a target that advertises MULTIAPPEND
            (the emulator passing Dovecot's capabilities on) gets one
            message per APPEND from the gmail and exchange-online
            target profiles (case_multiappend).
  overrides user 96 through the Exchange emulator re-encoding what it
            stores: --fingerprint lenient on a generic target recognises
            every message on a second run (copies none);
            --fingerprint strict wins over exchange-online's lenient
            default (a run without checkpoints copies everything again);
            `batch create --fingerprint` stores the mode (batch status),
            without it the target profile's shows; a wrong word is a
            usage error.
"""
import imaplib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import provider_test as pt  # noqa: E402
from provider_test import TMP, RUN_ID, SRC_PORT, TGT_PORT  # noqa: E402
from provider_test import check, migrate, mailbox, mt  # noqa: E402

REDIS_URL = mt.REDIS["REDIS_URL"] + "/6"
# A FETCH that reaches the emulator this long after its throttling answer
# was sent did not honour the pause (the pause travels through the
# throttled mailbox's writer and Redis to the other mailbox's reader).
GRACE_S = 1.0


def read_log(path):
    """[(t, conn, words)] from the emulator's --log-file."""
    out = []
    with open(path, "rb") as f:
        for line in f:
            t, conn, what = line.rstrip(b"\n").split(b" ", 2)
            out.append((float(t), int(conn), what.decode("latin-1")))
    return out


def fetches_during_pause(log):
    """The FETCH commands sent inside a pause (after the grace)."""
    bad = []
    for t0, _, what in log:
        if not what.startswith("THROTTLE "):
            continue
        until = t0 + int(what.split()[1]) / 1000
        for t, conn, cmd in log:
            words = cmd.upper().split()
            if t0 + GRACE_S < t < until and "FETCH" in words[1:3]:
                bad.append((round(t - t0, 3), conn, cmd))
    return bad


def fill(n, folders):
    """User n's source mailbox made anew: folders {name: messages}, tiny
    ones (no corpus: the test is about FETCH batches, not contents)."""
    mt.clean_target(n, port=SRC_PORT)
    c = mt.imap_login(SRC_PORT, n)
    for folder, count in folders.items():
        if folder != "INBOX":
            c.create(folder)
        for i in range(count):
            c.append(folder, None, None,
                     (f"Subject: {folder} {i}\r\nFrom: a@example.test\r\n"
                      f"Message-ID: <fp-{n}-{folder}-{i}-{RUN_ID}@example."
                      f"test>\r\n\r\nbody {i}\r\n").encode())
    c.logout()


def case_fetchpause():
    users = (95, 96)
    # INBOX: 6 FETCH batches of 50, so the throttle (the 2nd body FETCH,
    # each mailbox's first batch) finds the other copy in the middle of
    # its INBOX; then three small folders, each a FETCH of its own.
    for n in users:
        fill(n, {"INBOX": 300, "Alpha": 5, "Beta": 5, "Gamma": 5})
    mt.clean_target(*users)
    log = os.path.join(TMP, "fetch.log")
    ex = pt.Emulator("exchange-online", SRC_PORT, "--throttle-fetch-at", "2",
                     "--throttle-ms", "2500", "--fetch-delay-ms", "300",
                     "--log-file", log)
    try:
        _, _, st = pt.pipeline(users, ex.url, pt.url(TGT_PORT), ex,
                                    REDIS_URL, f"t-fp-{RUN_ID}")
        check(st["throttled"] == 1, f"the emulator throttled a FETCH: {st}")
        entries = read_log(log)
        conns = {c for _, c, w in entries if "BODY.PEEK[]" in w.upper()}
        check(len(conns) >= 2, f"both mailboxes fetched: {conns}")
        bad = fetches_during_pause(entries)
        check(not bad, f"no FETCH reached the paused source: {bad[:5]}")
        for n in users:
            c = mt.compare(n)
            check(c["equal"], f"user{n} EQUAL after the source's pause: "
                  f"{c.get('problems', [])[:5]}")
    finally:
        ex.stop()


# An Exchange mailbox: its folders (the source's separator is '.'), and
# where each one's message must land on the target (None: nowhere).
ONPREM = {
    "Sent Items": "Sent Items", "Deleted Items": "Deleted Items",
    "Junk E-Mail": "Junk Email", "Drafts": "Drafts", "Outbox": "Outbox",
    "Sync Issues": "Sync Issues",
    "Sync Issues.Conflicts": "Sync Issues/Conflicts",
    "Sync Issues.Local Failures": "Sync Issues/Local Failures",
    "Sync Issues.Server Failures": "Sync Issues/Server Failures",
    "Conversation History": "Conversation History",
    "Calendar": None, "Calendar.Birthdays": None, "Contacts": None,
    "Tasks": None, "Notes": None, "Journal": None,
}


def case_onprem():
    n = 34
    u, p = mt.user(n)
    mt.clean_target(n, port=SRC_PORT)
    mt.clean_target(n)
    c = mt.imap_login(SRC_PORT, n)
    mids = {}
    for i, folder in enumerate(["INBOX"] + list(ONPREM)):
        if folder != "INBOX" and folder != "Drafts":
            typ, d = c.create(f'"{folder}"')
            check(typ == "OK", f"create {folder}: {d}")
        mids[folder] = f"<onprem-{i}-{RUN_ID}@example.test>"
        body = (f"Subject: in {folder}\r\nFrom: a@example.test\r\n"
                f"Message-ID: {mids[folder]}\r\n\r\nbody\r\n").encode()
        typ, d = c.append(f'"{folder}"', None, None, body)
        check(typ == "OK", f"append to {folder}: {d}")
    c.logout()
    pw = os.path.join(TMP, "admin.pw")
    with open(pw, "w") as f:
        f.write(mt.DOV["MASTER_PASSWORD"] + "\n")
    os.chmod(pw, 0o600)
    csv = os.path.join(TMP, "onprem.csv")
    with open(csv, "w") as f:  # no source password: the admin's login
        f.write("EmailAddress,UserName,Password,TargetUserName,"
                f"TargetPassword\n{u},{u},,{u},{p}\n")
    ex = pt.Emulator("exchange-onprem", SRC_PORT, "--hide",
                     "Sent,Trash,Junk,Archive")
    try:
        prof = pt.endpoint_profile(ex.url, n)
        check(prof.get("name") == "exchange-onprem" and
              not prof.get("certain"),
              f"endpoint test suggests exchange-onprem (a guess): {prof}")
        doc = migrate(csv, ex.url, pt.url(TGT_PORT), "--source-profile",
                      "exchange-onprem", "--admin", mt.DOV["MASTER_USER"],
                      "--admin-password-file", pw)
        m = mailbox(doc, n)
        check(m["state"] == "Synced", f"user{n} Synced: {m}")
        st = ex.stats()
        check(st["impersonations"] >= 1,
              f"the admin logged in as {{domain}}/{{admin}}/{{user}}: {st}")
        for folder, want in [("INBOX", "INBOX")] + list(ONPREM.items()):
            got = pt.where_is(TGT_PORT, n, mids[folder])
            check(got == ([want] if want else []),
                  f"{folder}'s message: want {want}, got {got}")
        _, names = pt.folders_of(TGT_PORT, n)
        names = {x.strip('"') for x in names}
        gone = {"Calendar", "Contacts", "Tasks", "Notes", "Journal"}
        check(not names & gone, f"no non-mail folder on the target: {names}")
    finally:
        ex.stop()


def case_overrides():
    n = 96
    fill(n, {"INBOX": 12, "Alpha": 4})
    mt.clean_target(n)
    total = 16
    ex = pt.Emulator("exchange-online", TGT_PORT, "--reencode")
    try:
        csv = mt.csv_for([n], "overrides")
        src = pt.url(SRC_PORT)
        for run_no in (1, 2):
            doc = migrate(csv, src, ex.url, "--fingerprint", "lenient")
            check(mailbox(doc, n)["state"] == "Synced" and
                  ex.stats()["reencoded"] == total,
                  f"run {run_no}, generic target, --fingerprint lenient: "
                  f"{total} copied once in all: {ex.stats()}")
        doc = migrate(csv, src, ex.url, "--target-profile", "exchange-online",
                      "--fingerprint", "strict")
        check(ex.stats()["reencoded"] == 2 * total,
              f"--fingerprint strict over exchange-online's lenient: every "
              f"re-encoded message copied again: {ex.stats()}")
        p = pt.mf("migrate", csv, "--source", src, "--target", ex.url,
                  "--direct", "--fingerprint", "loose")
        check(p.returncode == 2 and "strict or lenient" in p.stderr,
              f"a wrong word is a usage error: {p.returncode} {p.stderr}")
    finally:
        ex.stop()
    key = os.path.join(TMP, "ov.key")
    pt.mf("key", "generate", key, check_exit=0)
    for batch, extra, want in (
            (f"t-ov1-{RUN_ID}", ["--fingerprint", "strict"], "strict"),
            (f"t-ov2-{RUN_ID}", [], "lenient")):
        pt.mf("batch", "create", batch, "--csv", csv, "--source", src,
              "--target", pt.url(TGT_PORT), "--redis", REDIS_URL,
              "--master-key-file", key, "--target-profile",
              "exchange-online", *extra, check_exit=0)
        st = json.loads(pt.mf("batch", "status", batch, "--redis", REDIS_URL,
                              "--json", check_exit=0).stdout)
        check(st.get("fingerprint") == want,
              f"batch {extra or 'without --fingerprint'}: "
              f"{st.get('fingerprint')}")
        pt.mf("batch", "remove", batch, "--redis", REDIS_URL)


def throttled_run(n, provider, suggested_ms, *extra):
    """migrate --direct of user n (its target emptied first) through the
    provider emulator throttling the 5th APPEND (suggesting suggested_ms
    where the provider names a time): the mailbox's JSON line and the
    emulator's stats. 8 messages, so one throttling answer."""
    mt.clean_target(n)
    ex = pt.Emulator(provider, TGT_PORT, "--throttle-every", "5",
                     "--throttle-ms", str(suggested_ms))
    try:
        doc = migrate(mt.csv_for([n], f"thrflags-{n}"), pt.url(SRC_PORT),
                      ex.url, "--target-profile", provider, *extra)
        st = ex.stats()
    finally:
        ex.stop()
    m = mailbox(doc, n)
    print(f"     {' '.join(extra) or 'no flag'}: throttles "
          f"{m['throttles']}, waited {m['throttle_wait_ms']} ms, "
          f"emulator {st}")
    check(m["state"] == "Synced" and m["messages_copied"] == 8 and
          st["throttled"] >= 1 and m["throttles"] == st["throttled"],
          f"{provider} {' '.join(extra)}: Synced through "
          f"{st['throttled']} throttling answer(s): {m}")
    return m, st


def case_throttleflags():
    """user 94: the --throttle-* flags change what the engine does with a
    throttling answer (asserted on the pauses the run reports, never on
    its speed): Exchange suggests 2 s; without a flag the run pauses
    that long (no APPEND reaches the emulator inside the pause), with
    --throttle-pause-max 200 each pause is cut to 200 ms. Gmail's words
    name no time: the profile's pause (60 s) would apply, and
    --throttle-pause 250 makes it 250 ms."""
    n = 94
    fill(n, {"INBOX": 8})
    m, st = throttled_run(n, "exchange-online", 2000)
    check(st["violations"] == 0 and
          m["throttle_wait_ms"] > 200 * m["throttles"],
          f"without a flag the suggested 2 s were kept: "
          f"{m['throttle_wait_ms']} ms over {m['throttles']} answer(s), "
          f"{st['violations']} APPENDs inside a pause")
    m, _ = throttled_run(n, "exchange-online", 2000,
                         "--throttle-pause-max", "200")
    check(m["throttle_wait_ms"] <= 200 * m["throttles"],
          f"--throttle-pause-max 200 cut each pause to 200 ms: "
          f"{m['throttle_wait_ms']} ms over {m['throttles']} answer(s)")
    m, _ = throttled_run(n, "gmail", 2000, "--throttle-pause", "250")
    check(m["throttle_wait_ms"] <= 250 * m["throttles"],
          f"--throttle-pause 250 replaced gmail's 60 s for an answer that "
          f"names no time: {m['throttle_wait_ms']} ms over "
          f"{m['throttles']} answer(s)")


def case_throttlelimit():
    """user 94, `migrate --direct --redis` on a private redis-server
    (tests/support/pipeline.py; no shared database): the fleet's lowered
    connection limit after Exchange's throttling answer (the endpoint's
    mf:{c:EP}:tlimit) is the profile's floor (1) for the default window
    (60 s: its time to live at most that), and with
    --throttle-min-connections 3 --throttle-window 300000 it is 3 and
    lives longer than a minute. Read from Redis, never timed."""
    sys.path.insert(0, mt.SUPPORT)
    import pipeline  # noqa: E402

    n = 94
    fill(n, {"INBOX": 8})
    with pipeline.Pipeline("throttlelimit", dovecot=False, kafka=False,
                           deadline=120) as pl:
        r = pl.redis_client()
        try:
            got = []
            for extra in ((), ("--throttle-min-connections", "3",
                               "--throttle-window", "300000")):
                r.cmd("FLUSHDB")
                throttled_run(n, "exchange-online", 200, "--redis",
                              pl.redis_url, *extra)
                keys = r.keys("*tlimit*")
                check(len(keys) == 1, f"one lowered limit: {keys}")
                got.append((int(r.cmd("GET", keys[0])),
                            int(r.cmd("PTTL", keys[0]))))
            print(f"     tlimit (value, ms to live): {got}")
            check(got[0][0] == 1 and 0 < got[0][1] <= 60000,
                  f"without a flag: the floor 1 for at most 60 s: {got[0]}")
            check(got[1][0] == 3 and 60000 < got[1][1] <= 300000,
                  f"--throttle-min-connections 3 --throttle-window 300000: "
                  f"3 for longer than a minute: {got[1]}")
        finally:
            r.close()


def fill_fast(port, login, folders, count):
    """A fresh mailbox of login (user, password) on the Dovecot at port:
    folders F0.. with count tiny messages each, every APPEND pipelined
    with LITERAL+ (RFC 7888) in one write, so that filling costs no
    round trip per message."""
    c = imaplib.IMAP4("127.0.0.1", port)
    c.login(*login)
    out = []
    for f in range(folders):
        c.create(f"F{f}")
        for i in range(count):
            msg = (f"Subject: {f}/{i}\r\nFrom: a@example.test\r\n"
                   f"Message-ID: <tc-{login[0]}-{f}-{i}-{RUN_ID}@example."
                   f"test>\r\n\r\nbody {i}\r\n").encode()
            out.append(b"x%d APPEND F%d {%d+}\r\n%s\r\n" %
                       (len(out), f, len(msg), msg))
    c.send(b"".join(out))
    done = 0
    while done < len(out):
        line = c.readline()
        if line.startswith(b"x"):
            if line.split()[1] != b"OK":
                mt.fail(f"APPEND: {line}")
            done += 1
    c.logout()


def case_throttleconns():
    """A private Dovecot pair (users 1-4, 40 small messages each) and
    redis-server: the embedded pipeline copies 4 mailboxes at once
    (--concurrency 4) into the Exchange emulator with --target-profile
    exchange-online and no caps flag; the emulator, a slow target (20 ms
    per APPEND), throttles its 40th APPEND for 1.5 s. The endpoint's
    lowered limit (mf:{c:EP}:tlimit, read from Redis) is below the
    connections open at the throttle, and from the end of the pause on
    the emulator never sees more connections open at once than that
    limit (its "phases"); every mailbox is EQUAL by the comparer (each
    message exactly once). Before the limit was enforced without caps,
    the other three mailboxes went on and the limit was 1."""
    sys.path.insert(0, mt.SUPPORT)
    import pipeline  # noqa: E402

    users = range(1, 5)
    with pipeline.Pipeline("throttleconns", users=4, kafka=False,
                           deadline=150) as pl:
        for n in users:
            fill_fast(pl.src_port, pipeline.user(n), 8, 8)
        ex = pt.Emulator("exchange-online", pl.tgt_port,
                         "--throttle-append-at", "60", "--throttle-ms",
                         "1500")
        r = pl.redis_client()
        try:
            p = pl.mf("migrate", pl.csv("tc.csv", users), "--source",
                      pl.source_url(), "--target", ex.url, "--json",
                      "--target-profile", "exchange-online",
                      "--concurrency", "4", "--redis", pl.redis_url,
                      "--batch", f"t-tc-{RUN_ID}", "--master-key-file",
                      pl.key(), "--report-dir", pl.path("report"))
            doc = json.loads(p.stdout)
            st = ex.stats()
            keys = r.keys("*tlimit*")
            check(len(keys) == 1, f"one lowered limit: {keys}")
            lim = int(r.cmd("GET", keys[0]))
            print(f"     lowered limit {lim}, emulator {st}")
            check(st["throttled"] == 1 and len(st["phases"]) == 1,
                  f"one throttling answer: {st}")
            ph = st["phases"][0]
            check(ph["at"] > lim >= 1,
                  f"the limit ({lim}) is below the {ph['at']} connections "
                  f"open at the throttle")
            check(ph["after"] is not None and ph["after"] <= lim,
                  f"after the pause at most {lim} connections at once: "
                  f"{ph['after']}")
            for n in users:
                m = mailbox(doc, n)
                check(m["state"] == "Synced", f"user{n} Synced: {m}")
            pl.assert_equal(users)
            print("ok   every mailbox EQUAL by the comparer")
        finally:
            r.close()
            ex.stop()


def case_multiappend():
    """user 72, no Redis: the emulator in front of the target passes
    Dovecot's own CAPABILITY on, MULTIAPPEND included (as a proxy in
    front of Exchange or Gmail might), and counts the APPENDs of more
    than one message. The generic profile uses MULTIAPPEND there; with
    --target-profile gmail or exchange-online every message is APPENDed
    alone (none of several), and the mailbox is EQUAL by the comparer."""
    n = 72
    fill(n, {"INBOX": 30, "Alpha": 10})
    ex = pt.Emulator("dovecot", TGT_PORT)
    try:
        csv = mt.csv_for([n], "multiappend")
        src = pt.url(SRC_PORT)
        mt.clean_target(n)
        migrate(csv, src, ex.url, check_exit=None)
        check(ex.stats()["multiappends"] > 0,
              f"the generic profile batches APPENDs where MULTIAPPEND is "
              f"advertised: {ex.stats()}")
        for prof in ("gmail", "exchange-online"):
            mt.clean_target(n)
            before = ex.stats()
            doc = migrate(csv, src, ex.url, "--target-profile", prof)
            st = ex.stats()
            check(mailbox(doc, n)["state"] == "Synced" and
                  st["multiappends"] == before["multiappends"] and
                  st["appends"] - before["appends"] == 40,
                  f"{prof}: 40 messages in 40 APPENDs of one: {st}")
            c = mt.compare(n)
            check(c["equal"], f"{prof}: EQUAL: {c.get('problems', [])[:5]}")
    finally:
        ex.stop()


def case_resends():
    """user 127, no Redis: the emulator passes Dovecot's MULTIAPPEND on and
    refuses every APPEND of several messages (BAD), and with
    --refuse-malformed the message with a header line that is no field
    (Dovecot serves bare LFs as CRLF); each APPEND waits
    20 ms there (a slow target: commands queue). The messages of each
    refused MULTIAPPEND go again one per APPEND, and the target never has
    more than appends_in_flight (4, the default; no option sets it) APPENDs
    received and not answered (the emulator's append_queue_max: they went
    out from the answer's callback, all at once, before); every good
    message is on the target once, the bad one is listed as failed."""
    n = 127
    mt.clean_target(n, port=SRC_PORT)
    mt.clean_target(n)
    c = mt.imap_login(SRC_PORT, n)
    for i in range(81):
        bad = b"this line is no field\r\n" if i == 40 else b""
        c.append("INBOX", None, None,
                 b"Subject: resend %d\r\nFrom: a@example.test\r\n"
                 b"Message-ID: <rs-%d-%s@example.test>\r\n%s\r\nbody\r\n"
                 % (i, i, RUN_ID.encode(), bad))
    c.select("INBOX", readonly=True)
    bad = int(c.uid("SEARCH", "SUBJECT", '"resend 40"')[1][0].split()[-1])
    c.logout()
    ex = pt.Emulator("dovecot", TGT_PORT, "--refuse-malformed",
                     "--append-delay-ms", "20")
    try:
        csv = mt.csv_for([n], "resends")
        migrate(csv, pt.url(SRC_PORT), ex.url, check_exit=1)
        st = ex.stats()
        print(f"the emulator's stats: {st}")
        check(st["multiappends"] >= 1 and
              st["appends"] == st["multiappends"] + 81 and
              st["refused"] == 1,
              f"MULTIAPPENDs refused, then each message alone once, the "
              f"bad one refused: {st}")
        check(st["append_queue_max"] <= 4,
              f"at most appends_in_flight (4) APPENDs queued on the "
              f"target: {st['append_queue_max']}")
        m = pt.report_mailbox(n)
        check([(f["uid"], f["error"]["code"]) for f in m["failed_items"]]
              == [(bad, 314)],
              f"the bad message is listed, MESSAGE_MALFORMED: "
              f"{m['failed_items']}")
        t = mt.imap_login(TGT_PORT, n)
        t.select("INBOX", readonly=True)
        typ, data = t.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS "
                                   "(MESSAGE-ID)])")
        t.logout()
        got = sorted(x[1].split(b"<", 1)[1].split(b"-", 2)[1]
                     for x in data if isinstance(x, tuple))
        check(got == sorted(b"%d" % i for i in range(81) if i != 40),
              f"every good message on the target once: {got}")
    finally:
        ex.stop()


def case_profilecaps():
    """user 72, `migrate --direct --redis` on a private redis-server: the
    gmail source profile's cap of 15 connections per login reaches the
    fleet's leases (core/src/migrate/leases.c). The user's cap key is
    filled with 15 live holders first: the run queues for it, and its
    waiter record (the qinfo hash) names that key with the limit 15;
    once the holders are gone it completes. With
    --max-connections-per-user 20 (the flag wins) the same 15 holders
    leave room, and the run completes at once. The embedded pipeline
    (a batch and its worker) waits for the profile's cap as well."""
    sys.path.insert(0, mt.SUPPORT)
    import pipeline  # noqa: E402
    import subprocess
    import time

    n = 72
    u, _ = mt.user(n)
    fill(n, {"INBOX": 5})
    gm = pt.Emulator("gmail", SRC_PORT)
    try:
        with pipeline.Pipeline("profilecaps", dovecot=False, kafka=False,
                               deadline=120) as pl:
            r = pl.redis_client()
            ep = f"mf:{{c:src:127.0.0.1:{gm.port}}}"
            cap = f"{ep}:cap:user:{u}"
            csv = mt.csv_for([n], "profilecaps")
            try:
                key = os.path.join(TMP, "profilecaps.key")
                pt.mf("key", "generate", key, check_exit=0)
                embedded = ("--batch", f"t-pc-{RUN_ID}", "--master-key-file",
                            key)
                for extra, limit in (((), 15),
                                     (("--max-connections-per-user", "20"),
                                      None),
                                     (embedded, 15)):
                    mt.clean_target(n)
                    r.cmd("FLUSHDB")
                    for i in range(15):  # live until the year 2100
                        r.cmd("ZADD", cap, "4102444800000", f"fake-{i}")
                    p = subprocess.Popen(
                        [pt.MAILFERRY, "migrate", csv, "--source", gm.url,
                         "--target", pt.url(TGT_PORT), "--json", "--redis",
                         pl.redis_url, "--source-profile", "gmail",
                         *(extra if extra is embedded else
                           ("--direct", *extra))],
                        stdout=subprocess.PIPE, text=True)
                    seen = ""
                    deadline = time.monotonic() + 30
                    while limit and time.monotonic() < deadline and \
                            p.poll() is None and f"\t{limit}\n" not in seen:
                        got = r.cmd("HGETALL", f"{ep}:qinfo") or []
                        seen = "".join(x.decode() if isinstance(x, bytes)
                                       else str(x) for x in got)
                        time.sleep(0.05)
                    if limit:
                        check(f"{cap}\t{limit}\n" in seen,
                              f"the run waits on its login's cap of {limit}: "
                              f"{seen!r}")
                        r.cmd("DEL", cap)
                    out, _ = p.communicate(timeout=60)
                    m = mailbox(json.loads(out), n)
                    check(m["state"] == "Synced" and
                          (extra is embedded or m["messages_copied"] == 5),
                          f"{' '.join(extra) or 'the profile cap'}: "
                          f"Synced: {m}")
            finally:
                r.close()
    finally:
        gm.stop()


CASES = {
    "multiappend": case_multiappend,
    "resends": case_resends,
    "profilecaps": case_profilecaps,
    "throttleflags": case_throttleflags,
    "throttlelimit": case_throttlelimit,
    "throttleconns": case_throttleconns,
    "overrides": case_overrides,
    "fetchpause": case_fetchpause,
    "onprem": case_onprem,
}

if __name__ == "__main__":
    pt.main(CASES)
