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
  before  user 125: the other bound, `--before` (exclusive): `plan
          --before` shows the sizes inside and outside; `migrate --direct
          --before` copies only the old messages, counts the recent ones
          as outside_window (JSON, report CSV) and the target holds no
          recent one; a later pass with the same window copies only a new
          old one; a pass without the window copies the recent ones once:
          EQUAL.
  syncdeletes users 48, 55: `--sync-deletes` removes from the target what
          the source expunged since the last pass (listed with subjects),
          and only that: the user's own message and one of mailferry's the
          user marked \\Deleted on the target stay (UID EXPUNGE, never a
          plain EXPUNGE); a message moved to another folder on the source
          is moved there on the target (UID MOVE) and listed as moved;
          without the option nothing
          goes; then EQUAL. Through the embedded pipeline the option is
          stored in the batch and batch status and the report CSV count
          the removal.
  syncdeletes_uid user 126 (Redis database 5) on a PRIVATE Dovecot pair
          whose source advertises Dovecot's list without CONDSTORE and
          QRESYNC (MF_DOVECOT_SOURCE_CAPABILITY): `--sync-deletes` falls
          back to comparing UIDs: the two messages expunged on the source
          are removed from the target and listed, the user's own message
          on the target stays, the source's transcript has no QRESYNC,
          CHANGEDSINCE or VANISHED; then EQUAL.
  syncmoves user 101 (Redis database 5): a message flagged and moved
          (IMAP MOVE) on the source is moved on the target with UID MOVE
          (the target's rawlog has UID MOVE and no APPEND; the source's
          has the QRESYNC "CHANGEDSINCE ... VANISHED" that found it
          gone), is in the new folder once with its flags, and is listed
          as moved (also in the report `migrate` leaves: MovedOnTarget);
          then EQUAL.
  fleetmoves users 102-103 (Redis database 3) through a fleet (`mailferry
          serve`, one `mailferry-worker`, the Kafka dev broker): a batch
          created with --sync-deletes; between passes user102 moves a
          message to another folder and user103 expunges one; after
          `batch sync` the worker's result carries both (and its job.done
          line says "removed from the target 1", "moved on the target
          1"): `batch status`
          (text, JSON, --mailbox) counts the move and the removal per
          mailbox and in the totals, the batch report (JSON, CSV, HTML)
          counts them and lists the moved message (MESSAGE_MOVED, "moved
          from INBOX") and the removed one; both mailboxes EQUAL.
"""
import csv as csvmod
import glob
import shutil
import tempfile
import imaplib
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import migrate_test as mt  # noqa: E402

REDIS5 = mt.REDIS["REDIS_URL"].rstrip("/") + "/5"
OLD = '"15-Jan-2024 10:00:00 +0000"'
RECENT = '"10-Mar-2026 12:00:00 -0800"'
DAY = "2026-03-01"  # the window's bound: OLD before it, RECENT after


def add(port, n, folder, tag, date, flags=None):
    c = mt.imap_login(port, n)
    folder = mt.folder_on(port, folder)
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
        typ, d = c.select(mt.folder_on(mt.TGT_PORT, folder), readonly=True)
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


def plan_window(csv, option, copy, outside):
    """`plan --<option> DAY --json`: copy messages inside the window,
    outside outside it."""
    p = subprocess.run([mt.MAILFERRY, "plan", csv, "--source", mt.SRC,
                        f"--{option}", DAY, "--json"],
                       capture_output=True, text=True, timeout=120)
    mt.check(p.returncode == 0, f"plan --{option}: {p.stderr}")
    plan = json.loads(p.stdout)["plan"]
    t = plan["mailboxes"][0]["totals"]
    mt.check(plan[option] == DAY and t["copy_messages"] == copy and
             t["outside_messages"] == outside and t["outside_bytes"] > 0,
             f"plan inside/outside: {t}")


def first_window_pass(csv, args, n, option, copied, outside, year):
    """The first `migrate --<option> DAY`: the copied messages, all of
    year, on the target; the others counted outside_window in the result
    and the report CSV."""
    rc, doc = mt.migrate(csv, *args, f"--{option}", DAY)
    m = mt.mailbox(doc, n)
    mt.check(m["messages_copied"] == copied and
             m["outside_window"] == outside and m["failed"] == 0 and
             m["bytes_outside_window"] > 0, f"{m}")
    dates = target_dates(n)
    mt.check(len(dates) == copied and all(year in d for d in dates),
             f"only the messages of {year} on the target: {dates}")
    row = report_csv_row(mt.user(n)[0])
    mt.check(row is not None and row["OutsideWindow"] == str(outside),
             f"report CSV OutsideWindow: {row}")


def late_passes(csv, args, n, option, copied, outside):
    """A message on each side of DAY arrives after the first pass (which
    copied copied): a pass with the window copies only the one inside
    (outside now outside it), a pass without the window copies those
    outside, once: EQUAL."""
    add(mt.SRC_PORT, n, "INBOX", "old-late", OLD)
    add(mt.SRC_PORT, n, "INBOX", "recent-late", RECENT)
    rc, doc = mt.migrate(csv, *args, f"--{option}", DAY)
    m = mt.mailbox(doc, n)
    mt.check(m["messages_copied"] == 1 and m["outside_window"] == outside,
             f"{m}")
    mt.check(len(target_dates(n)) == copied + 1,
             "the new message inside the window only")
    rc, doc = mt.migrate(csv, *args)  # no window (MX switched): the rest
    m = mt.mailbox(doc, n)
    mt.check(m["messages_copied"] == outside and m["outside_window"] == 0 and
             m["failed"] == 0, f"{m}")
    mt.assert_equal(n)


def case_window():
    for n in (46, 47):
        fill(n)

    # user46: the engine alone, checkpoints in Redis database 5.
    csv = mt.csv_for([46], "window46")
    plan_window(csv, "since", 3, 6)
    p = subprocess.run([mt.MAILFERRY, "plan", csv, "--source", mt.SRC,
                        "--since", DAY], capture_output=True,
                       text=True, timeout=120)
    mt.check(f"outside the window (since {DAY}): 6 messages" in p.stdout,
             f"plan text: {p.stdout}")
    args = ["--redis", REDIS5, "--batch", f"t-window46-{mt.RUN_ID}"]
    first_window_pass(csv, args, 46, "since", 3, 6, "2026")
    # verify compares what the window covers: equal with it, six missing
    # without.
    for extra, want in ((["--since", DAY], 0), ([], 1)):
        p = subprocess.run([mt.MAILFERRY, "verify", csv, "--source", mt.SRC,
                            "--target", mt.TGT, *extra],
                           capture_output=True, text=True, timeout=120)
        mt.check(p.returncode == want, f"verify {extra}: exit {p.returncode}"
                 f"\n{p.stdout}{p.stderr}")

    late_passes(csv, args, 46, "since", 3, 7)
    rc, doc = mt.migrate(csv, *args)
    mt.check(mt.mailbox(doc, 46)["messages_copied"] == 0, f"{doc}")

    # user47: the embedded pipeline; the window lives in the batch.
    key = os.path.join(mt.TMP, "window.key")
    subprocess.run([mt.MAILFERRY, "key", "generate", key], check=True,
                   stdout=subprocess.DEVNULL)
    batch = f"t-window47-{mt.RUN_ID}"
    csv = mt.csv_for([47], "window47")
    args = ["--redis", REDIS5, "--batch", batch, "--master-key-file", key]
    rc, doc = mt.migrate(csv, *args, "--since", DAY, direct=False)
    mt.check(len(target_dates(47)) == 3, f"embedded --since: {doc}")

    def status():
        p = subprocess.run([mt.MAILFERRY, "batch", "status", batch, "--redis",
                            REDIS5, "--json"], capture_output=True, text=True,
                           timeout=60)
        mt.check(p.returncode == 0, f"batch status: {p.stderr}")
        return json.loads(p.stdout)

    st = status()
    mb = st["mailboxes"][0]
    mt.check(st["since"] == DAY and st["before"] is None and
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
             [("since", DAY, "none")] and
             st["mailboxes"][0]["outside_window"] == 0, f"status: {st}")


def case_before():
    n = 125
    fill(n)
    csv = mt.csv_for([n], "before125")
    plan_window(csv, "before", 6, 3)
    args = ["--redis", REDIS5, "--batch", f"t-before{n}-{mt.RUN_ID}"]
    first_window_pass(csv, args, n, "before", 6, 3, "2024")
    late_passes(csv, args, n, "before", 6, 4)


def search_mid(port, n, folder, tag):
    """UIDs of folder holding the message tagged tag (Message-ID)."""
    c = mt.imap_login(port, n)
    c.select(mt.folder_on(port, folder))
    typ, data = c.uid("SEARCH", None, "HEADER", "Message-ID",
                      f"<{tag}-{mt.RUN_ID}@example.test>")
    c.logout()
    return [int(x) for x in data[0].split()] if typ == "OK" else []


def expunge_tag(n, folder, tag, move_to=None):
    """The user's mail client on the source: deletes (or moves) one."""
    c = mt.imap_login(mt.SRC_PORT, n)
    c.select(mt.folder_on(mt.SRC_PORT, folder))
    typ, data = c.uid("SEARCH", None, "HEADER", "Message-ID",
                      f"<{tag}-{mt.RUN_ID}@example.test>")
    uid = data[0].split()[0].decode()
    if move_to:
        c.uid("COPY", uid, mt.folder_on(mt.SRC_PORT, move_to))
    c.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)")
    c.expunge()
    c.logout()


def pass_with_transcripts(n, csv, args):
    """A `migrate` pass of user n with the servers' transcripts on: its
    JSON, the commands sent to both servers (transcript_commands) and the
    lines sent to the source."""
    dirs = mt.transcript_dirs([n], True)
    try:
        rc, doc = mt.migrate(csv, *args)
        verbs = mt.transcript_commands(dirs)
        kind, d = dirs[0]  # the source's
        sent = [x for f in os.listdir(d)
                for x in mt.sent_lines(kind, os.path.join(d, f))]
    finally:
        mt.transcript_dirs([n], False)
    return doc, verbs, sent


def first_pass_with_deletes(n, tag, inbox):
    """User n's source: inbox messages tag0.. in INBOX and tag-arch in
    Archive; a first `migrate --direct --sync-deletes` pass copies them;
    then the user files a message of their own on the target. Returns the
    CSV and the arguments of the next passes."""
    mt.clean_target(n, port=mt.SRC_PORT)
    mt.clean_target(n)
    for i in range(inbox):
        add(mt.SRC_PORT, n, "INBOX", f"{tag}{i}", RECENT)
    add(mt.SRC_PORT, n, "Archive", f"{tag}-arch", OLD)
    csv = mt.csv_for([n], f"{tag}{n}")
    args = ["--redis", REDIS5, "--batch", f"t-{tag}{n}-{mt.RUN_ID}",
            "--sync-deletes"]
    rc, doc = mt.migrate(csv, *args)
    mt.check(mt.mailbox(doc, n)["messages_copied"] == inbox + 1, f"{doc}")
    add(mt.TGT_PORT, n, "INBOX", "users-own", RECENT)
    return csv, args


def case_syncdeletes():
    n = 48
    csv, args = first_pass_with_deletes(n, "sd", 5)
    # On the target besides the user's own message: one of mailferry's
    # that the user marked \Deleted without expunging (it stays).
    c = mt.imap_login(mt.TGT_PORT, n)
    c.select("INBOX")
    marked = search_mid(mt.TGT_PORT, n, "INBOX", "sd0")
    c.uid("STORE", str(marked[0]), "+FLAGS.SILENT", "(\\Deleted)")
    c.logout()
    # On the source: two expunged, one moved to Archive.
    expunge_tag(n, "INBOX", "sd1")
    expunge_tag(n, "INBOX", "sd2")
    expunge_tag(n, "INBOX", "sd3", move_to="Archive")
    rc, doc = mt.migrate(csv, *args)
    m = mt.mailbox(doc, n)
    # The target has MOVE: sd3 is moved there, not removed and copied.
    mt.check(m["deleted_on_target"] == 2 and m["messages_copied"] == 0 and
             m["moved_on_target"] == 1 and
             sorted(d["subject"] for d in m["deleted"]) == ["sd1", "sd2"] and
             [x["subject"] for x in m["moved"]] == ["sd3"], f"pass 2: {m}")
    mt.check(search_mid(mt.TGT_PORT, n, "INBOX", "users-own") and
             search_mid(mt.TGT_PORT, n, "INBOX", "sd0"),
             "the user's own message and the \\Deleted one stay")
    mt.check(len(search_mid(mt.TGT_PORT, n, "Archive", "sd3")) == 1 and
             not search_mid(mt.TGT_PORT, n, "INBOX", "sd3"),
             "the moved message is in Archive once, not in INBOX")
    # Without --sync-deletes nothing is removed.
    expunge_tag(n, "INBOX", "sd4")
    rc, doc = mt.migrate(csv, *args[:-1])
    mt.check(mt.mailbox(doc, n)["deleted_on_target"] == 0 and
             search_mid(mt.TGT_PORT, n, "INBOX", "sd4"), f"off: {doc}")
    rc, doc = mt.migrate(csv, *args)
    mt.check(mt.mailbox(doc, n)["deleted_on_target"] == 1, f"{doc}")
    # The user's own message aside, the target is the source.
    c = mt.imap_login(mt.TGT_PORT, n)
    c.select("INBOX")
    for uid in search_mid(mt.TGT_PORT, n, "INBOX", "users-own"):
        c.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
    c.uid("STORE", str(marked[0]), "-FLAGS.SILENT", "(\\Deleted)")
    c.expunge()
    c.logout()
    mt.assert_equal(n)

    # The embedded pipeline: the option lives in the batch (user 55).
    n = 55
    mt.clean_target(n, port=mt.SRC_PORT)
    mt.clean_target(n)
    for i in range(3):
        add(mt.SRC_PORT, n, "INBOX", f"e{i}", RECENT)
    key = os.path.join(mt.TMP, "sd.key")
    subprocess.run([mt.MAILFERRY, "key", "generate", key], check=True,
                   stdout=subprocess.DEVNULL)
    batch = f"t-sd55-{mt.RUN_ID}"
    csv = mt.csv_for([n], "syncdeletes55")
    args = ["--redis", REDIS5, "--batch", batch, "--master-key-file", key]
    mt.migrate(csv, *args, "--sync-deletes", direct=False)
    expunge_tag(n, "INBOX", "e1")
    mt.migrate(csv, *args, direct=False)
    p = subprocess.run([mt.MAILFERRY, "batch", "status", batch, "--redis",
                        REDIS5, "--json"], capture_output=True, text=True,
                       timeout=60)
    st = json.loads(p.stdout)
    mt.check(st["sync_deletes"] is True and
             st["mailboxes"][0]["deleted_on_target"] == 1 and
             st["totals"]["deleted_on_target"] == 1, f"status: {st}")
    row = report_csv_row(f"user{n}@example.test")
    mt.check(row is not None and row["DeletedOnTarget"] == "1",
             f"report CSV DeletedOnTarget: {row}")
    p = subprocess.run([mt.MAILFERRY, "batch", "report", batch, "--redis",
                        REDIS5, "--format", "json"], capture_output=True,
                       text=True, timeout=60)
    mb = json.loads(p.stdout)["mailboxes"][0]
    mt.check(mb["skipped"]["deleted_on_target"] == 1 and
             [x["subject"] for x in mb["skipped_items"]
              if x["reason"] == "deleted_on_target"] == ["e1"],
             f"batch report lists the removed message: {mb}")
    mt.assert_equal(n)


# Dovecot's own capability list after login without CONDSTORE and QRESYNC.
NO_QRESYNC = ("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT "
              "SORT=DISPLAY THREAD=REFERENCES THREAD=REFS "
              "THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE "
              "UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 "
              "ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS "
              "BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE "
              "SAVEDATE LITERAL+ NOTIFY SPECIAL-USE")


def case_syncdeletes_uid():
    """Starts the private pair, then runs syncdeletes_uid_inner against it
    (migrate_test.py reads the pair from MF_TEST_RUN_DIR at import); the
    redis fixture's env goes along."""
    fixture = os.path.join(mt.SUPPORT, "dovecot", "fixture")
    run = tempfile.mkdtemp(prefix="mf-uidfallback.", dir=mt.RUN)
    env = dict(os.environ, MF_TEST_RUN_DIR=run, MF_DOVECOT_USERS="126",
               MF_DOVECOT_SOURCE_CAPABILITY=NO_QRESYNC)
    shutil.copy(os.path.join(mt.RUN, "redis.env"), run)
    try:
        subprocess.run([fixture, "start"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        p = subprocess.run([sys.executable, os.path.abspath(__file__),
                            "syncdeletes_uid_inner"], env=env, timeout=300)
        mt.check(p.returncode == 0, "syncdeletes_uid_inner")
    finally:
        subprocess.run([fixture, "stop"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(run, ignore_errors=True)


def case_syncdeletes_uid_inner():
    n = 126
    c = mt.imap_login(mt.SRC_PORT, n)
    caps = c.capabilities
    c.logout()
    mt.check("QRESYNC" not in caps and "CONDSTORE" not in caps and
             "UIDPLUS" in caps, f"the source hides QRESYNC: {caps}")
    csv, args = first_pass_with_deletes(n, "u", 4)
    expunge_tag(n, "INBOX", "u1")
    expunge_tag(n, "Archive", "u-arch")
    doc, verbs, sent = pass_with_transcripts(n, csv, args)
    m = mt.mailbox(doc, n)
    mt.check(m["deleted_on_target"] == 2 and m["messages_copied"] == 0 and
             sorted(x["subject"] for x in m["deleted"]) == ["u-arch", "u1"],
             f"removed by UID comparison: {m}")
    mt.check(sent and not any(w in x for x in sent for w in
                              (b"QRESYNC", b"CHANGEDSINCE", b"VANISHED")),
             f"no QRESYNC asked of the source: {sent}")
    mt.check(search_mid(mt.TGT_PORT, n, "INBOX", "users-own") and
             not search_mid(mt.TGT_PORT, n, "INBOX", "u1") and
             not search_mid(mt.TGT_PORT, n, "Archive", "u-arch"),
             "the user's own message stays, the expunged ones are gone")
    c = mt.imap_login(mt.TGT_PORT, n)
    c.select("INBOX")
    for uid in search_mid(mt.TGT_PORT, n, "INBOX", "users-own"):
        c.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
    c.expunge()
    c.logout()
    mt.assert_equal(n)


def case_syncmoves():
    """User 101: a message the user moves on the source (IMAP MOVE, after
    flagging it) is moved on the target by UID MOVE (rawlog: no APPEND),
    is in the new folder once with its flags, and is listed as moved."""
    n = 101
    mt.clean_target(n, port=mt.SRC_PORT)
    mt.clean_target(n)
    for i in range(3):
        add(mt.SRC_PORT, n, "INBOX", f"mv{i}", RECENT)
    add(mt.SRC_PORT, n, "Archive", "mv-arch", OLD)
    csv = mt.csv_for([n], "syncmoves")
    args = ["--redis", REDIS5, "--batch", f"t-mv101-{mt.RUN_ID}",
            "--sync-deletes"]
    rc, doc = mt.migrate(csv, *args)
    mt.check(mt.mailbox(doc, n)["messages_copied"] == 4, f"{doc}")
    c = mt.imap_login(mt.SRC_PORT, n)
    c.select("INBOX")
    uid = search_mid(mt.SRC_PORT, n, "INBOX", "mv1")[0]
    c.uid("STORE", str(uid), "+FLAGS", "(\\Flagged)")
    typ, data = c.uid("MOVE", str(uid), mt.folder_on(mt.SRC_PORT, "Archive"))
    mt.check(typ == "OK", f"MOVE on the source: {data}")
    c.logout()
    doc, verbs, sent = pass_with_transcripts(n, csv, args)
    m = mt.mailbox(doc, n)
    mt.check(m["moved_on_target"] == 1 and m["messages_copied"] == 0 and
             m["deleted_on_target"] == 0 and
             [(x["folder"], x["subject"], x["code"], x["detail"])
              for x in m["moved"]] ==
             [("Archive", "mv1", "MESSAGE_MOVED", "moved from INBOX")],
             f"moved: {m}")
    mt.check(verbs.get("MOVE") == 1 and "APPEND" not in verbs,
             f"UID MOVE and no APPEND: {verbs}")
    # Dovecot has QRESYNC: the expunge came from VANISHED (RFC 7162), not
    # from a listing of the folder's UIDs.
    mt.check(any(b"CHANGEDSINCE" in x and b"VANISHED" in x for x in sent),
             f"QRESYNC's VANISHED on the source: {sent}")
    row = report_csv_row(f"user{n}@example.test")
    mt.check(row is not None and row["MovedOnTarget"] == "1",
             f"migrate's report CSV MovedOnTarget: {row}")
    got = search_mid(mt.TGT_PORT, n, "Archive", "mv1")
    mt.check(len(got) == 1 and not search_mid(mt.TGT_PORT, n, "INBOX", "mv1"),
             "the moved message is in Archive once, not in INBOX")
    c = mt.imap_login(mt.TGT_PORT, n)
    c.select(mt.folder_on(mt.TGT_PORT, "Archive"))
    typ, data = c.uid("FETCH", str(got[0]), "(FLAGS)")
    c.logout()
    mt.check(b"\\Flagged" in data[0], f"flags on the target: {data}")
    mt.assert_equal(n)


def case_fleetmoves():
    """Users 102-103 through a fleet, Redis database 3: a move and a
    removal under --sync-deletes reach batch status and the report."""
    import rerun_test as rt
    mv, rm = 102, 103
    redis3 = mt.REDIS["REDIS_URL"].rstrip("/") + "/3"
    for n in (mv, rm):
        mt.clean_target(n, port=mt.SRC_PORT)
        mt.clean_target(n)
    for i in range(3):
        add(mt.SRC_PORT, mv, "INBOX", f"fm{i}", RECENT)
        add(mt.SRC_PORT, rm, "INBOX", f"fd{i}", RECENT)
    add(mt.SRC_PORT, mv, "Archive", "fm-arch", OLD)
    rt.clear_database(redis3)  # database 3 is this test's own
    key = rt.key_file("fleetmoves")
    batch = f"fleetmoves-{mt.RUN_ID}"
    with rt.Fleet(redis3, key) as fleet:
        fleet.mf("batch", "create", batch, "--csv",
                 mt.csv_for([mv, rm], "fleetmoves"), "--source", mt.SRC,
                 "--target", mt.TGT, "--sync-deletes", *fleet.args)
        fleet.mf("batch", "start", batch, *fleet.args)
        doc = fleet.wait(batch)
        mt.check([m["state"] for m in doc["mailboxes"]] == ["Synced"] * 2,
                 f"first pass: {doc['mailboxes']}")
        # The user's mail client on the source: user102 moves fm1 to
        # Archive (IMAP MOVE), user103 deletes fd1.
        c = mt.imap_login(mt.SRC_PORT, mv)
        c.select("INBOX")
        uid = search_mid(mt.SRC_PORT, mv, "INBOX", "fm1")[0]
        typ, data = c.uid("MOVE", str(uid), "Archive")
        mt.check(typ == "OK", f"MOVE on the source: {data}")
        c.logout()
        expunge_tag(rm, "INBOX", "fd1")
        doc = fleet.sync(batch)
        args = ["--redis", redis3]
        # The worker logs job.done once the result is sent: poll for it.
        deadline = time.time() + 30
        while True:
            log = open(fleet.procs[1][1]).read()
            if (", removed from the target 1) in" in log and
                    ", moved on the target 1) in" in log):
                break
            mt.check(time.time() < deadline,
                     f"the worker's job.done lines: {log[-2000:]}")
            time.sleep(0.2)

        def status(*extra):
            return fleet.mf("batch", "status", batch, *args, *extra).stdout

    st = json.loads(status("--json"))
    mbs = {m["email"]: m for m in st["mailboxes"]}
    a, b = mbs[mt.user(mv)[0]], mbs[mt.user(rm)[0]]
    mt.check(st["state"] == "Synced" and
             (a["moved_on_target"], a["deleted_on_target"],
              a["messages_copied"]) == (1, 0, 4) and
             a["skipped"]["moved_on_target"] == 1 and
             (b["moved_on_target"], b["deleted_on_target"],
              b["messages_copied"]) == (0, 1, 3) and
             (st["totals"]["moved_on_target"],
              st["totals"]["deleted_on_target"]) == (1, 1), f"status: {st}")
    text = status()
    mt.check("1 removed from the target (expunged on the source), 1 moved "
             "on the target" in text, f"status text: {text}")
    text = status("--mailbox", mt.user(mv)[0])
    mt.check("skipped     1: moved_on_target 1" in text,
             f"status --mailbox: {text}")
    one = json.loads(status("--mailbox", mt.user(mv)[0], "--json"))
    mt.check(one["mailboxes"][0]["moved_on_target"] == 1,
             f"status --mailbox --json: {one}")

    rep = {m["email"]: m for m in doc["mailboxes"]}
    a, b = rep[mt.user(mv)[0]], rep[mt.user(rm)[0]]
    mt.check(a["skipped"]["moved_on_target"] == 1 and
             b["skipped"]["deleted_on_target"] == 1 and
             doc["totals"]["skipped"]["moved_on_target"] == 1,
             f"report counts: {doc}")
    mt.check([(x["folder"], x["subject"], x["error"]["name"],
               x["error"]["code"], x["error"]["text"])
              for x in a["skipped_items"]] ==
             [("Archive", "fm1", "MESSAGE_MOVED", 409, "moved from INBOX")],
             f"report lists the moved message: {a['skipped_items']}")
    mt.check([(x["subject"], x["reason"], x["error"]["name"])
              for x in b["skipped_items"]] ==
             [("fd1", "deleted_on_target", "MESSAGE_DELETED")],
             f"report lists the removed message: {b['skipped_items']}")
    p = fleet.mf("batch", "report", batch, *args, "--format", "csv")
    rows = {r["EmailAddress"]: r for r in csvmod.DictReader(
        p.stdout.splitlines())}
    mt.check((rows[mt.user(mv)[0]]["MovedOnTarget"],
              rows[mt.user(rm)[0]]["DeletedOnTarget"]) == ("1", "1"),
             f"report CSV: {rows}")
    html = fleet.mf("batch", "report", batch, *args, "--format",
                    "html").stdout
    mt.check("1 moved on the target" in html and "moved from INBOX" in html,
             "report HTML counts and lists the move")
    mt.assert_equal(mv)
    mt.assert_equal(rm)


CASES = {"window": case_window, "before": case_before,
         "syncdeletes": case_syncdeletes,
         "syncdeletes_uid": case_syncdeletes_uid,
         "syncdeletes_uid_inner": case_syncdeletes_uid_inner,
         "syncmoves": case_syncmoves, "fleetmoves": case_fleetmoves}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print("usage: window_test.py " + "|".join(CASES))
        sys.exit(2)
    CASES[sys.argv[1]]()
    print("ok: " + sys.argv[1])
