#!/usr/bin/python3
"""Integration tests of `mailferry migrate` against the Dovecot pair and
redis-server, judged by the independent comparer (tests/support/
imapcompare.py), never by mailferry's own counters alone.

Each case is one ctest test (`migrate_test.py CASE`) with its own users, so
the cases can run in parallel on the same servers:

  copy     users 10-11: full copy, EQUAL; a re-run copies nothing; flag
           changes and a new message carry over on the next run
  kill     user 12: kill -9 in the middle of a folder, re-run: EQUAL (no
           message missing, none twice); a run without the checkpoints
           recognises everything and copies nothing
  sizecap  user 13: messages over --max-message-size are skipped and
           listed with folder, UID, size, date and subject; the rest EQUAL
  admin    users 14-15: admin impersonation, SASL PLAIN authzid and the
           "{user}*{admin}" login template
  tls      user 16: imaps and STARTTLS with the test CA; an untrusted
           certificate fails at once with TLS_VERIFY; --insecure accepts
           it
  errors   user 17: a wrong password fails with AUTH without retries; a
           closed port fails with CONNECT after the retries; a broken CSV
           migrates nothing
  embedded users 18-19: the embedded default (private Redis, in-process
           Kafka, service and worker threads): EQUAL, nothing left running,
           a second run copies nothing
  rollback user 52: the checkpoints in Redis go back one pass (as when
           Redis loses its last writes: AOF everysec, a failover, a
           restore from backup); the next run recognises what the lost
           pass copied and copies nothing twice: EQUAL
  embedded_stop user 41: Ctrl-C stops the batch; the same batch resumes
           from a shared Redis and finishes EQUAL
  flagconflict users 53-54: through the worker path (the embedded
           default, a shared Redis), a flag changed both ways between two
           passes of one batch follows --flag-conflict: the target by
           default (user53), the source when the batch was made with
           --flag-conflict source (user54) or set so by `batch set`
  incremental users 69-71 (Redis database 15): the embedded default run
           again on the same batch; new messages and flag changes on the
           source carry over (EQUAL: in INBOX for user69, in another
           folder for user70, none for user71), and a pass over unchanged
           mailboxes selects and lists no folder: the users' transcripts
           (Dovecot's rawlog, Cyrus's telemetry) show STATUS and no
           SELECT, EXAMINE, FETCH, CREATE or SUBSCRIBE
  keywords user 116, Cyrus as the target only: a folder past Cyrus's
           keyword limit; the messages it refuses are listed, the rest
           copied, nothing retried as throttling
  names    user 117, Cyrus as the target only: folder names Cyrus
           refuses land under their conservative names (reported), the
           others as they are; EQUAL, verify equal, a re-run creates
           nothing
  hostile  user 57 (target side only): a source that trickles one byte
           every 2 s fails the mailbox with SERVER_TOO_SLOW, one that floods
           "* 1 EXISTS" with SERVER_FLOOD, each in bounded time
           (tests/support/hostileimap.py, --command-timeout 3)

MF_PAIR chooses the servers: "dovecot" (the default) is the Dovecot pair;
"dovecot-cyrus" copies from the Dovecot source to the Cyrus target and
"cyrus-dovecot" from the Cyrus source to the Dovecot target
(tests/support/cyrus: "INBOX." namespace, '.' separator, admin through
SASL PLAIN authzid only). With a Cyrus server the cases copy, kill,
admin, flagconflict, incremental, sizecap and tls run as above (tls with
a bundle of the two fixtures' CAs, and Dovecot's CA alone as the one the
Cyrus side fails) with the users of CYRUS_USERS below (Dovecot users
87-92, 109 and 113-115 are the Cyrus matrix's, Cyrus's are the fixture's
own) and Redis database 4; so do verify_test.py and rerun_test.py
kill_resume.
"""
import atexit
import calendar
import imaplib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

RUN = os.environ["MF_TEST_RUN_DIR"]
SRC_DIR = os.environ["MF_SOURCE_DIR"]
BUILD = os.environ["MF_BUILD_DIR"]
SUPPORT = os.path.join(SRC_DIR, "tests", "support")
MAILFERRY = os.path.join(BUILD, "bin", "mailferry")
sys.path.insert(0, SUPPORT)
import itestlib  # noqa: E402
# The other cases' scripts use these as mt.env_file, mt.check, ...
from itestlib import fail, user  # noqa: E402
from itestlib import fixture_env as env_file  # noqa: E402
from itestlib import must as check  # noqa: E402

DOV = env_file("dovecot")
REDIS = env_file("redis")
# (fixture, role) of the source and of the target, by MF_PAIR.
PAIRS = {"dovecot": (("dovecot", "SOURCE"), ("dovecot", "TARGET")),
         "dovecot-cyrus": (("dovecot", "SOURCE"), ("cyrus", "TARGET")),
         "cyrus-dovecot": (("cyrus", "SOURCE"), ("dovecot", "TARGET"))}
PAIR = os.environ.get("MF_PAIR", "dovecot")
(SRC_KIND, SRC_ROLE), (TGT_KIND, TGT_ROLE) = PAIRS[PAIR]
SRC_ENV = DOV if SRC_KIND == "dovecot" else env_file(SRC_KIND)
TGT_ENV = DOV if TGT_KIND == "dovecot" else env_file(TGT_KIND)
SRC_PORT = int(SRC_ENV[SRC_ROLE + "_IMAP_PORT"])
TGT_PORT = int(TGT_ENV[TGT_ROLE + "_IMAP_PORT"])
# The Cyrus pairs keep their batches in a Redis database of their own.
REDIS_URL = REDIS["REDIS_URL"] + ("" if PAIR == "dovecot" else "/4")


def redis_db(dovecot_db):
    """The Redis URL of a case that has a database of its own on the
    Dovecot pair (REDIS_URL against Cyrus)."""
    return REDIS["REDIS_URL"] + f"/{dovecot_db}" if PAIR == "dovecot" \
        else REDIS_URL
# Each case's users against Cyrus (the Dovecot pair's are in the cases).
# Two cases may share users when ctest runs them one after the other
# (RESOURCE_LOCK in tests/integration/CMakeLists.txt): Dovecot has no more
# users for the matrix.
CYRUS_USERS = {"copy": [87], "kill": [88], "admin": [89], "sizecap": [89],
               "verify": [90, 91, 92], "incremental": [90, 91, 92],
               "flagconflict": [113, 114], "kill_resume": [115],
               "tls": [109], "keywords": [116], "names": [117]}
# The 2-5 MB messages of the small corpus per user. Against Cyrus (the
# matrix has its own suite-time budget, and Cyrus takes about 1 s to
# store each) only the copy case carries them, both ways.
BIG = None if PAIR == "dovecot" else 0
SRC = f"imap://127.0.0.1:{SRC_PORT}/?tls=off"
TGT = f"imap://127.0.0.1:{TGT_PORT}/?tls=off"
RUN_ID = f"{os.getpid()}-{int(time.time())}"
TMP = tempfile.mkdtemp(prefix="mf-migrate-test.", dir=RUN)
# Every script that imports this module gets its own TMP: removed when it
# exits (passed or failed), unless MF_KEEP_TEST_DIRS is set to look at it.
if not os.environ.get("MF_KEEP_TEST_DIRS"):
    atexit.register(shutil.rmtree, TMP, ignore_errors=True)
REPORT = os.path.join(TMP, "report")


def csv_for(users, name):
    return itestlib.csv_for(TMP, users, name)


def users_of(case, dovecot):
    """A case's user numbers: its own on the Dovecot pair, CYRUS_USERS'
    against Cyrus."""
    return dovecot if PAIR == "dovecot" else CYRUS_USERS[case]


def corpus_cmd(first, count, profile="small"):
    """gen_corpus.py for users first.. on the source server; its manifest
    in this test's directory."""
    return ["/usr/bin/python3",
            os.path.join(SUPPORT, "dovecot", "gen_corpus.py"),
            "--env", os.path.join(RUN, SRC_KIND + ".env"), "--server",
            SRC_ROLE.lower(), "--first-user", str(first), "--users",
            str(count), "--profile", profile, "--clean", "-j", "2",
            "--manifest", os.path.join(TMP, f"corpus-{first}.json")]


def corpus(first, count, profile="small", messages=None, big=None):
    cmd = corpus_cmd(first, count, profile)
    if messages:
        cmd += ["--messages-per-user", str(messages), "--no-items"]
    if big is not None:
        cmd += ["--big", str(big)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def migrate(csv, *extra, source=SRC, target=TGT, check_exit=0, direct=True,
            env=None):
    """Runs the engine alone (--direct) unless direct is False: the cases
    below test the engine's behaviour; `embedded*` test the pipeline."""
    cmd = [MAILFERRY, "migrate", csv, "--source", source, "--target", target,
           "--json", "--report-dir", REPORT] + (["--direct"] if direct
                                                else []) + list(extra)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                       env=env)
    if check_exit is not None and p.returncode != check_exit:
        fail(f"{' '.join(cmd)}: exit {p.returncode}\n{p.stdout}\n{p.stderr}")
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        fail(f"not JSON: {p.stdout!r} {p.stderr!r}")
    return p.returncode, doc


def compare(n, **kw):
    u, p = user(n)
    cmd = ["/usr/bin/python3", os.path.join(SUPPORT, "imapcompare.py"),
           "--source", f"127.0.0.1:{SRC_PORT}", "--target",
           f"127.0.0.1:{TGT_PORT}", "--user", u, "--password", p,
           "--special-use", "--subscriptions", "--json"]
    for name in kw.get("exclude", ()):  # source folders left out
        cmd += ["--exclude", name]
    if kw.get("gmail_archive"):  # a Gmail source: each message once
        cmd += ["--gmail-archive", kw["gmail_archive"]]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    doc = json.loads(p.stdout)
    return doc


def assert_equal(n):
    doc = compare(n)
    check(doc["equal"], f"user {n}: not equal: {doc['problems'][:10]}")
    return doc


def mailbox(doc, n, where="the JSON output"):
    u, _ = user(n)
    for m in doc["mailboxes"]:
        if m["email"] == u:
            return m
    fail(f"{u} not in {where}")


LIST_RE = re.compile(r'^\((.*?)\) (NIL|"(?:[^"\\]|\\.)*") (.*)$')


def imap_login(port, n):
    c = imaplib.IMAP4("127.0.0.1", port)
    u, p = user(n)
    c.login(u, p)
    return c


def personal_prefix(c):
    """The personal namespace's prefix (RFC 2342): "INBOX." on Cyrus, ""
    on the Dovecot pair."""
    typ, data = c.namespace()
    m = re.match(rb'\(\("([^"]*)"', data[0] or b"")
    return m.group(1).decode() if typ == "OK" and m else ""


def folder_on(port, name):
    """A personal folder's name ("Archive") on the server on port: under
    the personal namespace prefix of a Cyrus server ("INBOX.Archive")."""
    env, role = (SRC_ENV, SRC_ROLE) if port == SRC_PORT else (TGT_ENV,
                                                              TGT_ROLE)
    return name if name == "INBOX" else env.get(role + "_PREFIX", "") + name


def total_messages(port, n):
    c = imap_login(port, n)
    total = 0
    typ, data = c.list('""', "*")
    for line in data:
        if not isinstance(line, bytes):
            continue  # a name sent as a literal: the corpus has none
        m = LIST_RE.match(line.decode())
        if not m or "\\noselect" in m.group(1).lower():
            continue
        typ, st = c.status(m.group(3), "(MESSAGES)")
        if typ == "OK":
            total += int(st[0].decode().rsplit("MESSAGES ", 1)[1].rstrip(")"))
    c.logout()
    return total


SPECIAL_USE = {"\\sent", "\\drafts", "\\trash", "\\junk", "\\archive",
               "\\all", "\\flagged"}


def clean_target(*users, port=None):
    """Empties the users' target mailboxes (or those on port): earlier runs
    of a test (by hand or in CI) must not leave messages a later run would
    find."""
    for n in users:
        c = imap_login(port or TGT_PORT, n)
        empty_mailbox(c)
        c.logout()


def empty_mailbox(c):
    """clean_target() of one logged-in connection c, which stays open."""
    typ, data = c.list('""', "*")
    names = []
    for line in data:
        m = LIST_RE.match(line.decode()) if isinstance(line, bytes) else None
        if m:
            attrs = set(m.group(1).lower().split())
            names.append((m.group(3), "\\noselect" in attrs,
                          bool(attrs & SPECIAL_USE)))
    itestlib.expunge_all(c, [(name, noselect) for name, noselect, _ in names])
    # Special-use folders stay, emptied: Cyrus makes them only with
    # the user's INBOX, at the first login.
    for name, _, special in sorted(names, key=lambda x: -len(x[0])):
        if name.strip('"').upper() != "INBOX" and not special:
            c.delete(name)


def redis_args(batch):
    # Checkpoints of an earlier run (by hand, against the same servers)
    # must not meet a target that clean_target() emptied behind their back.
    return ["--redis", REDIS_URL, "--batch", f"{batch}-{RUN_ID}"]


# ---------------------------------------------------------------------------


def case_copy():
    users = users_of("copy", [10, 11])
    corpus(users[0], len(users))
    clean_target(*users)
    csv = csv_for(users, "copy")
    rc, doc = migrate(csv, "--concurrency", "2", *redis_args("t-copy"))
    check(doc["mailboxes_ok"] == len(users), f"not all ok: {doc}")
    source = {}
    for n in users:
        m = mailbox(doc, n)
        check(m["messages_copied"] > 40, f"user {n}: copied {m}")
        check(m["folders_copied"] >= 8, f"user {n}: folders {m}")
        source[n] = (m["messages_source"], m["bytes_source"])
        assert_equal(n)
    # A re-run finds clean checkpoints: nothing copied, and the source
    # totals still describe the whole mailbox (not just this pass's part).
    rc, doc = migrate(csv, *redis_args("t-copy"))
    for n in users:
        m = mailbox(doc, n)
        check(m["messages_copied"] == 0 and
              (m["messages_source"], m["bytes_source"]) == source[n],
              f"re-run: {m}, first run's source {source[n]}")
    # Without the checkpoints (another batch name) every message is
    # recognised on the target by fingerprint: still nothing copied.
    rc, doc = migrate(csv, *redis_args("t-copy-other"))
    for n in users:
        m = mailbox(doc, n)
        check(m["messages_copied"] == 0 and m["messages_present"] > 40,
              f"re-run without checkpoints copied: {m}")
        assert_equal(n)
    # Incremental: a new message and changed flags carry over.
    c = imap_login(SRC_PORT, users[0])
    c.select("INBOX")
    typ, data = c.uid("SEARCH", None, "ALL")
    uids = data[0].split()
    c.uid("STORE", uids[0], "+FLAGS", "(\\Flagged $MfChanged1)")
    c.uid("STORE", uids[1], "FLAGS", "($MfChanged2)")
    c.append("INBOX", "(\\Seen)", imaplib.Time2Internaldate(1700000000),
             b"Subject: incremental\r\nMessage-ID: <inc1@example.test>\r\n"
             b"\r\nnew\r\n")
    c.logout()
    rc, doc = migrate(csv, *redis_args("t-copy"))
    m = mailbox(doc, users[0])
    check(m["messages_copied"] == 1, f"incremental copied {m}")
    check(m["flags_updated"] == 2, f"incremental flags {m}")
    for n in users:
        assert_equal(n)


def case_kill():
    n = users_of("kill", [12])[0]
    # Fewer against Cyrus (its own suite-time budget): still far more than
    # the 150 on the target at which the copy is killed.
    corpus(n, 1, profile="bench", messages=1500 if PAIR == "dovecot" else 500)
    clean_target(n)
    csv = csv_for([n], "kill")
    total = total_messages(SRC_PORT, n)
    cmd = [MAILFERRY, "migrate", csv, "--source", SRC, "--target", TGT,
           "--json", "--direct"] + redis_args("t-kill")
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    seen = 0
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None:
        try:
            seen = total_messages(TGT_PORT, n)
        except (imaplib.IMAP4.error, OSError):
            seen = 0
        if seen >= 150:
            break
        time.sleep(0.05)
    check(p.poll() is None, "migrate finished before it could be killed")
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    partial = total_messages(TGT_PORT, n)
    check(0 < partial < total, f"kill did not land mid-copy: {partial}/{total}")
    print(f"killed with {partial} of {total} messages on the target")
    rc, doc = migrate(csv, *redis_args("t-kill"))
    m = mailbox(doc, n)
    check(m["messages_copied"] + m["messages_present"] <= total,
          f"resume: {m}")
    assert_equal(n)
    check(total_messages(TGT_PORT, n) == total, "target count differs")
    # Without checkpoints at all: every message recognised, none copied.
    rc, doc = migrate(csv)
    m = mailbox(doc, n)
    check(m["messages_copied"] == 0 and m["messages_present"] == total,
          f"recognition without checkpoints: {m}")
    assert_equal(n)


def case_sizecap():
    n = users_of("sizecap", [13])[0]
    corpus(n, 1, big=BIG)
    clean_target(n)
    csv = csv_for([n], "sizecap")
    # Without the 2-5 MB messages (Cyrus) a lower cap still skips some.
    limit = 1000000 if BIG is None else 30000
    rc, doc = migrate(csv, "--max-message-size", str(limit))
    m = mailbox(doc, n)
    check(m["skipped_too_large"] > 0, f"nothing skipped: {m}")
    check(len(m["skipped"]) == m["skipped_too_large"], f"list: {m}")
    for it in m["skipped"]:
        check(it["size"] > limit and it["uid"] > 0 and it["folder"] and
              it["date"] and it["subject"] and
              it["code"] == "MESSAGE_TOO_LARGE", f"skipped item {it}")
    # The report lists them too, in all three formats.
    with open(os.path.join(REPORT, "report.json")) as f:
        rep = json.load(f)
    text = json.dumps(rep, ensure_ascii=False)
    for it in m["skipped"]:
        check(it["subject"] in text, f"report lacks {it['subject']!r}")
    with open(os.path.join(REPORT, "report.csv")) as f:
        check(user(n)[0] in f.read(), "report.csv lacks the mailbox")
    with open(os.path.join(REPORT, "report.html")) as f:
        check("too large" in f.read(), "report.html lacks the skipped list")
    doc = compare(n)
    # Exactly the skipped messages are missing on the target.
    missing = [p for p in doc["problems"] if "missing on target" in p]
    check(len(missing) == len(m["skipped"]) and
          len(doc["problems"]) == len(missing),
          f"compare: {doc['problems'][:10]} vs {len(m['skipped'])} skipped")


def case_keywords():
    """Cyrus as the target: a folder holds at most 100 keywords (3.6's
    user flags); an APPEND that would add another is answered "NO Too
    many user flags in mailbox". Those messages are refused, each listed,
    the rest copied; not taken for throttling (retried until the mailbox
    failed THROTTLED, before). A keyword added later on the source to a
    copied message: its UID STORE is refused the same way; that message's
    flags are listed as not set on every pass until the keyword goes
    (before, the folder's flag sync failed, and a pass after it took the
    folder for unchanged and said Synced), the other flags still sync."""
    n = users_of("keywords", [])[0]
    clean_target(n, port=SRC_PORT)
    clean_target(n)
    total = 104
    c = imap_login(SRC_PORT, n)
    for i in range(total):
        typ, _ = c.append("INBOX", f"($MfKw{i:03d})", None, (
            f"From: a@example.test\r\nSubject: kw{i}\r\n"
            f"Message-ID: <kw{i}-{RUN_ID}@example.test>\r\n\r\n"
            f"body {i}\r\n").encode())
        check(typ == "OK", f"APPEND kw{i} to the source")
    c.logout()
    csv = csv_for([n], "keywords")
    batch = redis_args("t-keywords")

    def run(what, flag_refusals):
        rc, doc = migrate(csv, *batch, check_exit=1)
        m = mailbox(doc, n)
        items = m["failed_items"]
        refused = [it for it in items if "flags not set" not in it["detail"]]
        flags = [it for it in items if "flags not set" in it["detail"]]
        check(m["error"]["code"] == "NOT_ALL_COPIED" and m["attempts"] == 1
              and 0 < len(refused) < total and m["failed"] == len(refused)
              and len(flags) == flag_refusals,
              f"{what}: {m['error']} {m['attempts']} {items[:3]}")
        for it in items:
            check("Too many user flags" in it["detail"], f"{what}: {it}")
        for it in refused:
            check(it["code"] == "MESSAGE_REJECTED", f"{what}: {it}")
        check(m["messages_copied"] + m["messages_present"] + len(refused) +
              (total - len(refused) if what != "first" else 0) >= total,
              f"{what}: {m}")
        # Exactly the refused messages are missing on the target (and the
        # one whose flags were refused, under its source flags).
        problems = [p for p in compare(n)["problems"]
                    if "missing on target" in p]
        check(len(problems) == len(refused) + flag_refusals,
              f"{what}: {problems[:5]} vs {len(refused)} refused")
        return m, refused, flags

    m, refused, _ = run("first", 0)
    check(m["messages_copied"] == total - len(refused), f"first: {m}")
    run("again", 0)
    # The user flags a copied message and gives it one more keyword.
    c = imap_login(SRC_PORT, n)
    c.select("INBOX")
    typ, data = c.uid("SEARCH", None, "HEADER", "Message-ID",
                      f"<kw0-{RUN_ID}@example.test>")
    uid = data[0].split()[0].decode()
    c.uid("STORE", uid, "+FLAGS", "(\\Flagged $MfNewKw)")
    c.logout()
    for what in ("flags", "flags again"):
        m, _, flags = run(what, 1)
        check(flags[0]["uid"] == int(uid) and
              "$MfNewKw" in flags[0]["detail"] and m["flags_updated"] == 0,
              f"{what}: {flags} {m['flags_updated']}")
    # The keyword goes: \Flagged follows alone.
    c = imap_login(SRC_PORT, n)
    c.select("INBOX")
    c.uid("STORE", uid, "-FLAGS", "($MfNewKw)")
    c.logout()
    m, _, _ = run("flags dropped", 0)
    check(m["flags_updated"] == 1, f"flags dropped: {m}")
    # --repair: the refused messages go with their system flags alone,
    # each listed as repaired with the keywords dropped.
    rc, doc = migrate(csv, *batch, "--repair")
    m = mailbox(doc, n)
    check(m["state"] == "Synced" and m["messages_copied"] == len(refused)
          and not m["failed_items"], f"--repair: {m}")
    with open(os.path.join(REPORT, "report.json")) as f:
        rep = json.load(f)["mailboxes"][0]
    fixed = rep.get("repaired_items", [])
    check(len(fixed) == len(refused) and
          all("keywords dropped" in it["changes"] and
              "$MfKw1" in it["changes"] for it in fixed),
          f"--repair: {fixed}")
    # On the target, without their keywords: the comparer sees those
    # flags differ, nothing else.
    problems = [p for p in compare(n)["problems"] if "missing" in p]
    check(len(problems) == len(refused) and
          all("$MfKw1" in p for p in problems), f"--repair: {problems}")
    print(f"{total - len(refused)} copied, {len(refused)} refused; the "
          f"refused keyword listed, then \\Flagged synced; --repair "
          f"copied the {len(refused)} without their keywords")


# Folder names a Cyrus target refuses (mboxname_policycheck(): ';', '|',
# '%', '"', '<', '{' ...) and names it takes that look odd.
CYRUS_NAMES = {"a;b": "a_b", "pipe|x": "pipe_x", "pct%": "pct_",
               'q"x': "q_x", "lt<gt>": "lt_gt_", "brace{x}": "brace_x_",
               "tilde~": None, "excl!": None, "hash#1": None,
               "two  sp": None, "amp&x": None}


def case_names():
    """Cyrus as the target: each source folder whose name Cyrus refuses
    lands under its conservative name (the refused characters replaced
    by '_'), listed in the report's renamed folders; the others keep
    theirs; EQUAL by the comparer and `mailferry verify`; a re-run
    creates nothing and copies nothing."""
    n = users_of("names", [])[0]
    clean_target(n, port=SRC_PORT)
    clean_target(n)
    c = imap_login(SRC_PORT, n)
    for name in CYRUS_NAMES:
        wire = name.replace("&", "&-")  # modified UTF-7
        quoted = '"' + wire.replace('"', '\\"') + '"'
        typ, data = c.create(quoted)
        check(typ == "OK", f"CREATE {name!r} on the source: {data}")
        c.append(quoted, None, None, (
            f"From: a@example.test\r\nSubject: in {name}\r\n"
            f"Message-ID: <names-{len(name)}-{abs(hash(name))}-{RUN_ID}"
            f"@example.test>\r\n\r\nbody\r\n").encode())
    c.logout()
    csv = csv_for([n], "names")
    rc, doc = migrate(csv)
    m = mailbox(doc, n)
    refused = {k: v for k, v in CYRUS_NAMES.items() if v}
    check(m["state"] == "Synced" and m["messages_copied"] >= len(CYRUS_NAMES)
          and m["folders_renamed"] >= len(refused), f"names: {m}")
    with open(os.path.join(REPORT, "report.json")) as f:
        rep = json.load(f)
    renamed = {r["folder"]: r["detail"] for r in
               rep["mailboxes"][0]["renamed_folders"]}
    for name, safe in refused.items():
        check(name in renamed and f'"INBOX.{safe}"' in renamed[name],
              f"names: {name!r} not reported as {safe!r}: {renamed}")
    for name in CYRUS_NAMES:
        check(name in refused or name not in renamed,
              f"names: {name!r} renamed: {renamed.get(name)}")
    assert_equal(n)
    v = subprocess.run([MAILFERRY, "verify", csv, "--source", SRC,
                        "--target", TGT, "--json"], capture_output=True,
                       text=True, timeout=120)
    check(v.returncode == 0 and '"verified equal"' in v.stdout,
          f"verify: {v.stdout[-500:]} {v.stderr[-500:]}")
    rc, doc = migrate(csv)
    m = mailbox(doc, n)
    check(m["folders_created"] == 0 and m["messages_copied"] == 0,
          f"names re-run: {m}")


def admin_password_file(side, env):
    path = os.path.join(TMP, f"admin-{side}.pw")
    with open(path, "w") as f:
        f.write(env["MASTER_PASSWORD"] + "\n")
    os.chmod(path, 0o600)
    return path


def case_admin():
    users = users_of("admin", [14, 15])
    corpus(users[0], len(users), big=BIG)
    clean_target(*users)
    src_pw = admin_password_file("source", SRC_ENV)
    tgt_pw = admin_password_file("target", TGT_ENV)
    # Passwords empty in the CSV: the admin logs in for everyone. Cyrus
    # knows no "user*admin" login, only SASL PLAIN's authzid.
    for n, fmt in zip(users, ("sasl", "{user}*{admin}")):
        u, _ = user(n)
        csv = os.path.join(TMP, f"admin{n}.csv")
        with open(csv, "w") as f:
            f.write(f"EmailAddress,UserName,Password\n{u},{u},\n")
        rc, doc = migrate(csv, "--admin", SRC_ENV["MASTER_USER"],
                          "--admin-password-file", src_pw,
                          "--admin-login-format", fmt,
                          "--target-admin", TGT_ENV["MASTER_USER"],
                          "--target-admin-password-file", tgt_pw,
                          "--target-admin-login-format", fmt)
        check(doc["mailboxes_ok"] == 1, f"{fmt}: {doc}")
        assert_equal(n)


def ca_bundle():
    """(trusted, untrusted): a CA file that verifies both servers and one
    that fails the Cyrus side (the Dovecot pair's: its unrelated CA).
    Each fixture makes its own test CA; one --ca-file serves both sides,
    so against Cyrus it is a bundle of the two."""
    if PAIR == "dovecot":
        return DOV["CA_FILE"], DOV["OTHER_CA_FILE"]
    cyrus = SRC_ENV if SRC_KIND == "cyrus" else TGT_ENV
    path = os.path.join(TMP, "ca-bundle.pem")
    with open(path, "w") as out:
        for ca in (DOV["CA_FILE"], cyrus["CA_FILE"]):
            with open(ca) as f:
                out.write(f.read())
    # Dovecot's CA alone: the Dovecot side verifies, the Cyrus side not.
    return path, DOV["CA_FILE"]


def case_tls():
    n = users_of("tls", [16])[0]
    corpus(n, 1, big=BIG)
    clean_target(n)
    csv = csv_for([n], "tls")
    trusted, untrusted = ca_bundle()
    imaps_s = f"imaps://127.0.0.1:{SRC_ENV[SRC_ROLE + '_IMAPS_PORT']}"
    imaps_t = f"imaps://127.0.0.1:{TGT_ENV[TGT_ROLE + '_IMAPS_PORT']}"
    rc, doc = migrate(csv, "--ca-file", trusted, source=imaps_s,
                      target=imaps_t)
    check(doc["mailboxes_ok"] == 1, f"imaps: {doc}")
    check(mailbox(doc, n)["messages_copied"] > 40, f"imaps: {doc}")
    assert_equal(n)
    starttls_s = f"imap://127.0.0.1:{SRC_PORT}"
    starttls_t = f"imap://127.0.0.1:{TGT_PORT}"
    rc, doc = migrate(csv, "--ca-file", trusted, source=starttls_s,
                      target=starttls_t)
    check(doc["mailboxes_ok"] == 1, f"starttls: {doc}")
    check(mailbox(doc, n)["messages_copied"] == 0, "starttls re-run copied")
    t0 = time.time()
    rc, doc = migrate(csv, "--ca-file", untrusted, source=imaps_s,
                      target=imaps_t, check_exit=1)
    m = mailbox(doc, n)
    check(m["error"]["code"] == "TLS_VERIFY" and m["attempts"] == 1,
          f"untrusted certificate: {m}")
    if PAIR != "dovecot":  # the Cyrus side is the one refused
        side = "target" if TGT_KIND == "cyrus" else "source"
        check(m["error"]["detail"].startswith(side + ": imaps://"),
              f"untrusted certificate: not the Cyrus {side}: {m}")
    check(time.time() - t0 < 20, "untrusted certificate took too long")
    # --insecure accepts the certificate that did not verify (a lab
    # server's): STARTTLS both ways, nothing left to copy.
    rc, doc = migrate(csv, "--ca-file", untrusted, "--insecure",
                      source=starttls_s, target=starttls_t)
    check(doc["mailboxes_ok"] == 1 and
          mailbox(doc, n)["messages_copied"] == 0, f"--insecure: {doc}")
    assert_equal(n)


def case_errors():
    n = 17
    u, _ = user(n)
    csv = os.path.join(TMP, "badpw.csv")
    with open(csv, "w") as f:
        f.write(f"EmailAddress,UserName,Password\n{u},{u},wrong-password\n")
    rc, doc = migrate(csv, check_exit=1)
    m = mailbox(doc, n)
    check(m["error"]["code"] == "AUTH" and m["attempts"] == 1,
          f"wrong password: {m}")
    check("source" in m["error"]["detail"] and
          "wrong-password" not in json.dumps(doc), f"detail: {m['error']}")
    # A closed port: retried with backoff, then CONNECT.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed = s.getsockname()[1]
    s.close()
    csv_ok = csv_for([n], "errors")
    rc, doc = migrate(csv_ok, "--max-attempts", "2",
                      source=f"imap://127.0.0.1:{closed}/?tls=off",
                      check_exit=1)
    m = mailbox(doc, n)
    check(m["error"]["code"] == "CONNECT" and m["attempts"] == 2,
          f"closed port: {m}")
    # A broken CSV migrates nothing and says where.
    bad = os.path.join(TMP, "broken.csv")
    with open(bad, "w") as f:
        f.write("EmailAddress,UserName,Password\nnot-an-address,x,y\n")
    p = subprocess.run([MAILFERRY, "migrate", bad, "--source", SRC,
                        "--target", TGT, "--direct"], capture_output=True,
                       text=True)
    check(p.returncode == 1 and "broken.csv:2:" in p.stderr,
          f"broken CSV: {p.returncode} {p.stderr}")


def case_hostile():
    n = 57
    csv = csv_for([n], "hostile")
    for mode, code in (("trickle", "SERVER_TOO_SLOW"),
                       ("flood", "SERVER_FLOOD")):
        srv = subprocess.Popen(["/usr/bin/python3",
                                os.path.join(SUPPORT, "hostileimap.py"),
                                mode], stdout=subprocess.PIPE, text=True)
        try:
            port = int(srv.stdout.readline())
            t0 = time.monotonic()
            rc, doc = migrate(csv, "--max-attempts", "1", "--command-timeout",
                              "3", source=f"imap://127.0.0.1:{port}/?tls=off",
                              check_exit=1)
            took = time.monotonic() - t0
        finally:
            srv.kill()
            srv.wait()
        m = mailbox(doc, n)
        check(m["error"]["code"] == code, f"{mode}: {m}")
        # The deadline is 3 s (flood: the budget); startup and the private
        # Redis take a few seconds more, never minutes.
        check(took < 90, f"{mode}: took {took:.0f} s")
        print(f"{mode}: {code} in {took:.1f} s: {m['error']['detail']}")


def redis_servers(tmpdir):
    """PIDs of redis-server processes started by a mailferry run whose
    TMPDIR was tmpdir (their command line names a private
    mailferry-embedded-redis directory there), so the servers of other
    runs on the machine, and the fixtures' own, are not counted."""
    marker = os.path.join(tmpdir, "mailferry-embedded-redis.").encode()
    pids = set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if b"redis-server" in cmd and marker in cmd:
                pids.add(int(d))
    return pids


def mailbox_report(doc, n):
    return mailbox(doc, n, "the report")


def check_ms_report(doc):
    """A batch of a second or two has its times in ms (the batch
    record's *_ms fields): an elapsed time, and throughput samples from
    the pass's start to its last result that make a chart."""
    b, t, s = doc["batch"], doc["totals"], doc["throughput"]
    check(b["started_ms"] and b["finished_ms"] and
          b["started_ms"] // 1000 == int(calendar.timegm(time.strptime(
              b["started"], "%Y-%m-%dT%H:%M:%SZ"))), f"batch: {b}")
    check(t["elapsed_ms"] > 0 and
          t["elapsed_ms"] == b["finished_ms"] - b["started_ms"] and
          abs(t["elapsed_seconds"] * 1000 - t["elapsed_ms"]) < 1 and
          t["messages_per_second"] > 0, f"totals: {t}")
    times = [x["time_ms"] for x in s]
    check(len(s) >= 2 and times == sorted(set(times)) and
          b["started_ms"] <= times[0] and times[-1] <= b["finished_ms"] and
          s[0]["messages"] == 0 and
          s[-1]["messages"] == t["copied_messages"], f"throughput: {s}")
    with open(os.path.join(REPORT, "report.json")) as f:
        check(json.load(f)["totals"]["elapsed_ms"] == t["elapsed_ms"],
              "report.json differs from the printed report")
    with open(os.path.join(REPORT, "report.html")) as f:
        html = f.read()
    check("No throughput samples" not in html and
          'aria-label="Throughput over time"' in html, "no chart")
    print(f"embedded: {t['elapsed_ms']} ms, {len(s)} samples")


def case_embedded():
    """The embedded default: a private redis-server, an in-process Kafka,
    the coordinator service and a worker in one process."""
    corpus(18, 2)
    clean_target(18, 19)
    csv = csv_for([18, 19], "embedded")
    tmpdir = tempfile.mkdtemp(prefix="mf-embedded-")
    rc, doc = migrate(csv, "--concurrency", "2", direct=False,
                      env=dict(os.environ, TMPDIR=tmpdir))
    check(doc["batch"]["state"] == "Synced", f"batch: {doc['batch']}")
    for n in (18, 19):
        m = mailbox_report(doc, n)
        check(m["state"] == "Synced" and m["copied_messages"] > 40, f"{m}")
        assert_equal(n)
    check(not redis_servers(tmpdir), "the private redis-server outlived the "
                                     "run")
    check(not os.listdir(tmpdir), f"left in TMPDIR: {os.listdir(tmpdir)}")
    os.rmdir(tmpdir)
    for f in ("report.csv", "report.json", "report.html", "migrate.log"):
        check(os.path.exists(os.path.join(REPORT, f)), f"no {f}")
    check_ms_report(doc)
    with open(os.path.join(REPORT, "migrate.log")) as f:
        log = f.read()
    check("pw-user18" not in log and "pw-user19" not in log,
          "a password in the log")
    # A second run (a new batch, no checkpoints) recognises everything.
    rc, doc = migrate(csv, direct=False)
    for n in (18, 19):
        m = mailbox_report(doc, n)
        check(m["copied_messages"] == 0 and m["present_messages"] > 40,
              f"second run: {m}")
        assert_equal(n)


def case_embedded_stop():
    """Ctrl-C stops the batch at a message boundary; the same batch in a
    shared Redis resumes with the same key and finishes: nothing lost,
    nothing twice."""
    n = 41
    corpus(n, 1, profile="bench", messages=1200)
    clean_target(n)
    csv = csv_for([n], "embstop")
    key = os.path.join(TMP, "master.key")
    subprocess.run([MAILFERRY, "key", "generate", key], check=True,
                   stdout=subprocess.DEVNULL)
    args = [MAILFERRY, "migrate", csv, "--source", SRC, "--target", TGT,
            "--json", "--report-dir", REPORT, "--redis", REDIS["REDIS_URL"],
            "--batch", f"emb-{RUN_ID}", "--master-key-file", key]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None:
        try:
            if total_messages(TGT_PORT, n) >= 150:
                break
        except (imaplib.IMAP4.error, OSError):
            pass
        time.sleep(0.05)
    check(p.poll() is None, "finished before it could be stopped")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    check(p.returncode == 1, f"stopped run: exit {p.returncode} {err[-800:]}")
    doc = json.loads(out)
    check(doc["batch"]["state"] == "Stopped", f"state {doc['batch']}")
    partial = total_messages(TGT_PORT, n)
    total = total_messages(SRC_PORT, n)
    check(partial < total, f"all {total} copied before the stop")
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, f"resume: exit {p.returncode} {p.stderr[-800:]}")
    doc = json.loads(p.stdout)
    check(doc["batch"]["state"] == "Synced", f"resumed: {doc['batch']}")
    assert_equal(n)
    check(total_messages(TGT_PORT, n) == total, "target count differs")


def redis_hash(batch_args, email, restore=None):
    """The checkpoint hash of a mailbox (HGETALL, via redis-cli), or puts
    restore (such a dump) back in its place."""
    url = batch_args[1]
    key = f"mf:{{b:{batch_args[3]}}}:ckpt:{email}"
    cli = ["redis-cli", "-u", url, "--raw"]
    if restore is None:
        out = subprocess.run(cli + ["HGETALL", key], check=True,
                             capture_output=True, text=True).stdout
        lines = out.split("\n")[:-1]
        return dict(zip(lines[0::2], lines[1::2]))
    subprocess.run(cli + ["DEL", key], check=True, stdout=subprocess.DEVNULL)
    for k, v in restore.items():
        subprocess.run(cli + ["HSET", key, k, v], check=True,
                       stdout=subprocess.DEVNULL)


def case_rollback():
    n = 52
    corpus(n, 1)
    clean_target(n)
    csv = csv_for([n], "rollback")
    ra = redis_args("t-rollback")
    rc, doc = migrate(csv, *ra)
    check(mailbox(doc, n)["messages_copied"] > 40, "first pass copied")
    old = redis_hash(ra, user(n)[0])
    check(len(old) >= 8 and all(" clean " in v for v in old.values()),
          f"clean checkpoints after the first pass: {len(old)}")
    c = imap_login(SRC_PORT, n)
    pre = personal_prefix(c)  # Cyrus: "INBOX.Sent"
    for i, folder in enumerate(["INBOX", "INBOX", pre + "Sent",
                                pre + "Archive"]):
        typ, data = c.append(folder, "(\\Seen)",
                             imaplib.Time2Internaldate(1700000000 + i),
                             f"Subject: lost pass {i}\r\nMessage-ID: <rb{i}-"
                             f"{RUN_ID}@example.test>\r\n\r\nbody {i}\r\n"
                             .encode())
        check(typ == "OK", f"APPEND to {folder}: {data}")
    c.logout()
    rc, doc = migrate(csv, *ra)
    check(mailbox(doc, n)["messages_copied"] == 4, "second pass copied 4")
    # Redis loses the second pass's checkpoint writes.
    redis_hash(ra, user(n)[0], restore=old)
    rc, doc = migrate(csv, *ra)
    m = mailbox(doc, n)
    check(m["messages_copied"] == 0 and m["messages_present"] == 4,
          f"after the rollback nothing is copied twice: {m}")
    assert_equal(n)
    rc, doc = migrate(csv, *ra)
    m = mailbox(doc, n)
    check(m["messages_copied"] == 0 and m["messages_present"] == 0,
          f"and the pass after that recognises nothing: {m}")
    assert_equal(n)


def conflict_flags(port, n, mid):
    """(UID, flags) of the INBOX message with Message-ID mid."""
    c = imap_login(port, n)
    c.select("INBOX")
    typ, data = c.uid("SEARCH", None, "HEADER", "Message-ID", mid)
    uids = data[0].split()
    check(typ == "OK" and len(uids) == 1, f"user{n}: {mid}: {data}")
    typ, data = c.uid("FETCH", uids[0], "(FLAGS)")
    c.logout()
    flags = re.search(rb"FLAGS \(([^)]*)\)", data[0]).group(1).decode()
    return uids[0], set(flags.split()) - {"\\Recent"}


def conflict_store(port, n, mid, op):
    uid, _ = conflict_flags(port, n, mid)
    c = imap_login(port, n)
    c.select("INBOX")
    typ, data = c.uid("STORE", uid, op, "(\\Flagged)")
    check(typ == "OK", f"user{n}: STORE {op}: {data}")
    c.logout()


def case_flagconflict():
    """A flag changed on both sides between passes (issue 11 section 4):
    the source drops \\Flagged while the user flags the message again on
    the target, which had unflagged it after the first pass."""
    users = users_of("flagconflict", [53, 54])
    dflt, srcwins = users
    corpus(users[0], 2, messages=3, big=BIG)
    clean_target(*users)
    mid = f"<conflict-{RUN_ID}@example.test>"
    for n in users:
        c = imap_login(SRC_PORT, n)
        c.append("INBOX", "(\\Flagged)", imaplib.Time2Internaldate(1700000000),
                 f"Subject: conflict\r\nMessage-ID: {mid}\r\n\r\n"
                 f"flag me\r\n".encode())
        c.logout()
    key = os.path.join(TMP, "flagconflict.key")
    subprocess.run([MAILFERRY, "key", "generate", key], check=True,
                   stdout=subprocess.DEVNULL)
    runs = {}
    for n, extra in ((dflt, []), (srcwins, ["--flag-conflict", "source"])):
        csv = csv_for([n], f"flagconflict{n}")
        args = ["--redis", REDIS_URL, "--batch",
                f"t-flagc{n}-{RUN_ID}", "--master-key-file", key]
        runs[n] = (csv, args)
        rc, doc = migrate(csv, *args, *extra, direct=False)
        check(mailbox_report(doc, n)["state"] == "Synced", f"{doc}")
        # The user unflags it on the target: the next pass keeps that.
        conflict_store(TGT_PORT, n, mid, "-FLAGS")
        migrate(csv, *args, direct=False)
        check("\\Flagged" not in conflict_flags(TGT_PORT, n, mid)[1],
              f"user{n}: a pass undid the user's change on the target")
        # Now both sides change it: the source drops it (it had it), the
        # user flags it again on the target (it did not have it).
        conflict_store(SRC_PORT, n, mid, "-FLAGS")
        conflict_store(TGT_PORT, n, mid, "+FLAGS")
        migrate(csv, *args, direct=False)
    check("\\Flagged" in conflict_flags(TGT_PORT, dflt, mid)[1],
          "default: the target's \\Flagged wins the conflict")
    check("\\Flagged" not in conflict_flags(TGT_PORT, srcwins, mid)[1],
          "--flag-conflict source: the source's unflagging wins")
    # Running the first user's batch again with --flag-conflict source
    # changes the batch's rule (as `batch set` does) for this pass on: the
    # source flags it again, the user unflags it on the target, the source
    # wins.
    csv, args = runs[dflt]
    conflict_store(SRC_PORT, dflt, mid, "+FLAGS")
    conflict_store(TGT_PORT, dflt, mid, "-FLAGS")
    migrate(csv, *args, "--flag-conflict", "source", direct=False)
    check("\\Flagged" in conflict_flags(TGT_PORT, dflt, mid)[1],
          "migrate again with --flag-conflict source: the source wins")
    p = subprocess.run([MAILFERRY, "batch", "status", args[3], "--redis",
                        REDIS_URL, "--json"], capture_output=True,
                       text=True, timeout=60)
    st = json.loads(p.stdout)
    check(st["flag_conflict"] == "source" and
          [(x["option"], x["new"]) for x in st["changes"]] ==
          [("flag-conflict", "source")], f"batch status: {st}")
    p = subprocess.run([MAILFERRY, "migrate", csv, "--source", SRC,
                        "--target", TGT, *args, "--flag-conflict", "nonsense"],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 2, f"--flag-conflict nonsense: exit {p.returncode}"
          f" {p.stderr}")
    # The rest of each mailbox is as on the source.
    for n in users:
        check(total_messages(TGT_PORT, n) == total_messages(SRC_PORT, n),
              f"user{n}: counts differ")


def transcript_dirs(users, create):
    """The directories where the pair's servers write the users' IMAP
    session transcripts, as (kind, path), made empty (create) or removed:
    Dovecot's rawlog_dir (<home>/rawlog, the fixture's setting) and Cyrus's
    telemetry directory (<configdirectory>/log/<userid>: imapd logs every
    session of a user for whom it exists, imapd.conf(5))."""
    dirs = []
    sides = ((SRC_KIND, SRC_ROLE, SRC_ENV), (TGT_KIND, TGT_ROLE, TGT_ENV))
    for n in users:
        email = user(n)[0]
        local, domain = email.split("@")
        for kind, role, env in sides:
            if kind == "dovecot":
                d = os.path.join(env[role + "_MAIL_DIR"], domain, local,
                                 "rawlog")
            else:
                d = os.path.join(env[role + "_DIR"], "config", "log", email)
            shutil.rmtree(d, ignore_errors=True)
            if create:
                os.makedirs(d)
                os.chown(d, int(env["MAIL_UID"]), -1)
            dirs.append((kind, d))
    return dirs


TELEMETRY_RE = re.compile(rb"^([<>])\d+\1(.*)$")


def sent_lines(kind, path):
    """The lines the client sent in one transcript file (none from a
    Dovecot file of what the server sent)."""
    with open(path, "rb") as f:
        data = f.read()
    if kind == "dovecot":
        if not path.endswith(".in"):
            return []
        # "<unix time> <tag> <command> ...", the time as Dovecot's rawlog
        # writes it.
        return [ln.split(b" ", 1)[1] for ln in data.split(b"\r\n")
                if b" " in ln]
    # Cyrus's telemetry: each read from the client starts "<time<", each
    # write to it ">time>", both running on to the next such mark; a
    # session starts with a "---------- user date" line.
    out, sent = [], False
    for ln in data.split(b"\n"):
        ln = ln.rstrip(b"\r")
        m = TELEMETRY_RE.match(ln)
        if m:
            sent, ln = m.group(1) == b"<", m.group(2)
        elif ln.startswith(b"---------- "):
            sent = False
        if sent:
            out.append(ln)
    return out


def transcript_commands(dirs):
    """The commands (upper-case verbs after the tag, UID FETCH as
    "FETCH") the client sent in every session of the transcripts."""
    verbs = {}
    for kind, d in dirs:
        for name in os.listdir(d):
            for line in sent_lines(kind, os.path.join(d, name)):
                words = line.split(b" ")
                if len(words) < 2 or not words[0].isalnum():
                    continue
                verb = words[1].upper()
                if verb == b"UID" and len(words) > 2:
                    verb = words[2].upper()
                v = verb.decode(errors="replace")
                verbs[v] = verbs.get(v, 0) + 1
    return verbs


def selectable_folders(c):
    return [LIST_RE.match(x.decode()).group(3) for x in c.list('""', "*")[1]
            if isinstance(x, bytes) and "\\noselect" not in x.decode().lower()]


def incremental_changes(users):
    """Changes on the source between passes: a new message and flags in
    INBOX (users[0]); a flag and a new message in a folder other than
    INBOX (users[1]); nothing (users[2]). Returns what the next pass
    copies."""
    c = imap_login(SRC_PORT, users[0])
    c.append("INBOX", "(\\Seen)", imaplib.Time2Internaldate(1700000000),
             b"Subject: incr\r\nMessage-ID: <incr-a@example.test>\r\n\r\n"
             b"new\r\n")
    c.select("INBOX")
    uids = c.uid("SEARCH", None, "ALL")[1][0].split()
    c.uid("STORE", uids[0], "+FLAGS", "(\\Flagged $MfIncr)")
    c.uid("STORE", uids[-2], "-FLAGS", "(\\Seen)")
    c.logout()
    c = imap_login(SRC_PORT, users[1])
    for other in selectable_folders(c):
        if other.strip('"').upper() != "INBOX":
            typ, data = c.select(other)
            if typ == "OK" and int(data[0]) > 0:
                break
    else:
        fail(f"user{users[1]}: no folder but INBOX has mail")
    uids = c.uid("SEARCH", None, "ALL")[1][0].split()
    c.uid("STORE", uids[0], "+FLAGS", "($MfIncrOther)")
    c.append(other, "()", imaplib.Time2Internaldate(1700000100),
             b"Subject: incr\r\nMessage-ID: <incr-b@example.test>\r\n\r\n"
             b"new too\r\n")
    c.logout()
    return {users[0]: 1, users[1]: 1, users[2]: 0}


def case_incremental():
    """Issue 14 item 3: incremental passes of one batch through the
    embedded default; an unchanged mailbox costs STATUS per folder."""
    users = users_of("incremental", [69, 70, 71])
    corpus(users[0], len(users), messages=30, big=BIG)
    clean_target(*users)
    transcript_dirs(users, False)
    key = os.path.join(TMP, "incremental.key")
    subprocess.run([MAILFERRY, "key", "generate", key], check=True,
                   stdout=subprocess.DEVNULL)
    csv = csv_for(users, "incremental")
    args = ["--redis", redis_db(15), "--batch", f"t-incr-{RUN_ID}",
            "--master-key-file", key, "--concurrency", "3"]
    rc, doc = migrate(csv, *args, direct=False)
    for n in users:
        check(mailbox_report(doc, n)["state"] == "Synced", f"{doc}")
        assert_equal(n)
    # The batch's report counts every pass's copies.
    first = {n: mailbox_report(doc, n)["copied_messages"] for n in users}
    want = incremental_changes(users)
    rc, doc = migrate(csv, *args, direct=False)
    copied = {n: mailbox_report(doc, n)["copied_messages"] - first[n]
              for n in users}
    check(copied == want, f"copied {copied}, want {want}")
    first = {n: mailbox_report(doc, n)["copied_messages"] for n in users}
    for n in users:
        assert_equal(n)
    # Nothing changed since: the pass selects no folder on either side.
    dirs = transcript_dirs(users, True)
    try:
        rc, doc = migrate(csv, *args, direct=False)
        for n in users:
            m = mailbox_report(doc, n)
            check(m["state"] == "Synced" and
                  m["copied_messages"] == first[n] and
                  m["source_messages"] == total_messages(SRC_PORT, n),
                  f"no-op pass: {m}")
        verbs = transcript_commands(dirs)
        check(verbs.get("STATUS", 0) >= 2 * len(users) * 2,
              f"no-op pass: STATUS not used: {verbs}")
        for v in ("SELECT", "EXAMINE", "FETCH", "STORE", "APPEND", "CREATE",
                  "SUBSCRIBE"):
            check(v not in verbs, f"no-op pass sent {v}: {verbs}")
        print(f"no-op pass: commands {verbs}")
    finally:
        transcript_dirs(users, False)
    for n in users:
        assert_equal(n)


CASES = {
    "copy": case_copy,
    "kill": case_kill,
    "sizecap": case_sizecap,
    "admin": case_admin,
    "tls": case_tls,
    "errors": case_errors,
    "embedded": case_embedded,
    "embedded_stop": case_embedded_stop,
    "hostile": case_hostile,
    "rollback": case_rollback,
    "flagconflict": case_flagconflict,
    "incremental": case_incremental,
    "keywords": case_keywords,
    "names": case_names,
}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print("usage: migrate_test.py " + "|".join(CASES))
        sys.exit(2)
    CASES[sys.argv[1]]()
    print("ok: " + sys.argv[1])
