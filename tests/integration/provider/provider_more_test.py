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
            hidden) presenting Exchange's folder names; --source-profile
            exchange-onprem with only --admin: the admin logs in through
            the profile's template "{domain}/{admin}/{user}" over SASL
            PLAIN (the emulator counts the impersonations), "Sent Items",
            "Deleted Items", "Junk E-Mail" and "Drafts" land in the
            target's special-use folders ("Junk Email" there), Outbox,
            Sync Issues (and its subfolders) and Conversation History
            under their own names, and Calendar, Contacts, Tasks, Notes
            and Journal not at all.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import provider_test as pt  # noqa: E402

mt = pt.mt
check, migrate, mailbox = pt.check, pt.migrate, pt.mailbox
TMP, RUN_ID, SRC_PORT, TGT_PORT = pt.TMP, pt.RUN_ID, pt.SRC_PORT, pt.TGT_PORT
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


CASES = {
    "fetchpause": case_fetchpause,
    "onprem": case_onprem,
}

if __name__ == "__main__":
    pt.main(CASES)
