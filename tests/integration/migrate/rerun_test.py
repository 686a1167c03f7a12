#!/usr/bin/python3
"""Integration tests of running a batch again (issue 11, sections 1 and
5) with the embedded `mailferry migrate` against the Dovecot pair and a
shared redis-server, judged by the servers themselves (what the target
holds, per source UID) and by the independent comparer.

  quota        quota01-03 (2 MB target quota, tests/support/dovecot),
               Redis database 9: the first run exits non-zero, each
               mailbox reports OVERQUOTA with the bytes still to copy and
               lists exactly the messages the target does not have; with
               quota01's quota lifted, `batch sync` through a fleet
               (serve, a worker, the Kafka dev broker) copies quota01's
               and lists the other two's exactly again; with every quota
               lifted, `migrate` of the same batch copies the rest: exit
               0, EQUAL, nothing twice
  kill_resume  users 58-59: kill -9 of `migrate` mid-copy leaves the
               batch Syncing; the same command again takes the batch
               over (the dead run's claims expire) and finishes: exit 0,
               EQUAL, nothing twice
  fleet_kill   user 60, Redis database 10: kill -9 of a fleet's serve and
               worker mid-copy; the fleet started again finishes the
               batch: Synced, EQUAL, nothing twice

Helpers come from migrate_test.py; an account is a user number or an
(email, password) pair.
"""
import collections
import hashlib
import imaplib
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import migrate_test as mt  # noqa: E402

sys.path.insert(0, mt.SUPPORT)
import imapcompare  # noqa: E402

check = mt.check
DOV = mt.DOV
_user = mt.user
mt.user = lambda n: n if isinstance(n, tuple) else _user(n)


def quota_account(i):
    return (DOV["QUOTA_USER_FORMAT"] % i, DOV["QUOTA_PASSWORD_FORMAT"] % i)


def set_quota(accounts, lifted):
    """Rewrites the accounts' quota rule in the target's passwd-file (read
    again at the next login: its size changes)."""
    path = DOV["QUOTA_PASSWD"]
    old, new = DOV["QUOTA_RULE"], DOV["QUOTA_LIFTED"]
    if not lifted:
        old, new = new, old
    emails = {a[0] for a in accounts}
    with open(path) as f:
        lines = f.read().split("\n")
    out = [ln.replace(old, new) if ln.split(":", 1)[0] in emails else ln
           for ln in lines]
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(out))
    os.chmod(path + ".tmp", 0o644)
    os.replace(path + ".tmp", path)
    # Dovecot's auth process looks at the file at most once per second
    # (db-passwd-file.c: no stat() again while ioloop_time, in seconds,
    # is that of the last look): a run that logs in within the second of
    # the previous run's logins would still get the old rule.
    time.sleep(1.1)


def key_file(name):
    key = os.path.join(mt.TMP, name + ".key")
    subprocess.run([mt.MAILFERRY, "key", "generate", key], check=True,
                   stdout=subprocess.DEVNULL)
    return key


def batch_args(name, key):
    return ["--redis", mt.REDIS_URL, "--batch",
            f"{name}-{mt.RUN_ID}", "--master-key-file", key]


def folder_hashes(side, raw):
    """{uid: sha256} of one folder."""
    quoted = '"%s"' % raw.replace("\\", "\\\\").replace('"', '\\"')
    typ, data = side.imap.select(quoted, readonly=True)
    check(typ == "OK", f"SELECT {raw}: {data}")
    out = {}
    typ, data = side.imap.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
    for item in data:
        if isinstance(item, tuple):
            head, body = item
            uid = int(head.split(b"UID ", 1)[1].split()[0].rstrip(b")"))
            out[uid] = hashlib.sha256(body).hexdigest()
    return out


def missing_on_target(account):
    """{(source folder, UID)} of the source messages the target lacks: per
    folder and content, as many UIDs as the target has fewer copies (the
    corpus holds messages that are truly twice in the source)."""
    u, p = account
    src = imapcompare.Side(f"127.0.0.1:{mt.SRC_PORT}", u, p, None, None)
    tgt = imapcompare.Side(f"127.0.0.1:{mt.TGT_PORT}", u, p, None, None)

    class Args:
        special_use = True
        separator_replacement = "_"

    missing = set()
    for raw, (attrs, delim) in sorted(src.folders.items()):
        if "\\Noselect" in attrs or "\\NonExistent" in attrs:
            continue
        a = folder_hashes(src, raw)
        if not a:
            continue
        want = imapcompare.expected_target_name(
            src, raw, tgt, Args, src.special_use(), tgt.special_use())
        b = folder_hashes(tgt, want) if want in tgt.folders or \
            want == "INBOX" else {}
        have = collections.Counter(b.values())
        short = collections.Counter(a.values()) - have
        # Reports name a folder by its source path, '/' between levels.
        name = "/".join(imapcompare.mutf7_decode(raw).split(delim)) \
            if delim else imapcompare.mutf7_decode(raw)
        for uid in sorted(a):
            if short[a[uid]] > 0:
                short[a[uid]] -= 1
                missing.add((name, uid))
    src.imap.logout()
    tgt.imap.logout()
    return missing


def reported(m):
    """{(folder, UID)} a report's mailbox lists as not copied."""
    return {(it["folder"], it["uid"]) for it in
            m["failed_items"] + m["skipped_items"]}


def clear_database(redis_url):
    """Empties a fleet test's own Redis database: batches an interrupted run
    left behind would be managed (requeued, scheduled) by this run's
    serve."""
    out = subprocess.run([mt.MAILFERRY, "batch", "list", "--redis", redis_url,
                          "--json"], capture_output=True, text=True,
                         timeout=60)
    for b in json.loads(out.stdout or "{}").get("batches", []):
        for verb in ("stop", "remove"):
            subprocess.run([mt.MAILFERRY, "batch", verb, b["batch"],
                            "--redis", redis_url], capture_output=True,
                           timeout=60)


class Fleet:
    """`mailferry serve` and one `mailferry-worker` on the Kafka dev broker
    with a topic prefix of their own; stopped by PID."""

    def __init__(self, redis_url, key):
        kafka = mt.env_file("kafka")["KAFKA_BOOTSTRAP"]
        self.args = ["--redis", redis_url, "--kafka", kafka,
                     "--topic-prefix", f"rerun-{mt.RUN_ID}",
                     "--master-key-file", key]
        self.redis_url = redis_url
        self.procs = []

    def __enter__(self):
        env = dict(os.environ, MAILFERRY_KAFKA_SESSION_TIMEOUT_MS="6000")
        for name, cmd in (
                ("serve", [mt.MAILFERRY, "serve", *self.args,
                           "--scan-interval", "1s"]),
                ("worker", [os.path.join(mt.BUILD, "bin", "mailferry-worker"),
                            *self.args, "--slots", "3", "--worker-id",
                            f"rerun-{os.getpid()}", "--claim-ttl", "6s",
                            "--kafka.session.timeout.ms", "6000",
                            "--kafka.heartbeat.interval.ms", "500"])):
            log = os.path.join(mt.TMP, name + ".log")
            self.procs.append((subprocess.Popen(
                cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                env=env), log))
        # Both have joined their groups when the logs say so.
        deadline = time.time() + 60
        for p, log in self.procs:
            while "assigned" not in open(log).read():
                check(p.poll() is None and time.time() < deadline,
                      f"{log}: {open(log).read()[-2000:]}")
                time.sleep(0.2)
        return self

    def __exit__(self, *exc):
        for p, _ in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p, _ in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def mf(self, *args):
        r = subprocess.run([mt.MAILFERRY, *args], capture_output=True,
                           text=True, timeout=120)
        check(r.returncode in (0, 1), f"{args}: exit {r.returncode} "
                                      f"{r.stdout[-1000:]} {r.stderr[-1000:]}")
        return r

    def sync(self, batch):
        """batch sync, then the batch's report once the pass settled."""
        self.mf("batch", "sync", batch, *self.args)
        return self.wait(batch)

    def wait(self, batch):
        """The batch's report once its pass settled."""
        deadline = time.time() + 200
        while True:
            st = json.loads(self.mf("batch", "status", batch, "--redis",
                                    self.redis_url, "--json").stdout)
            if st["state"] not in ("Syncing", "IncrementalSyncing"):
                break
            check(time.time() < deadline, f"batch sync never settled: {st}")
            time.sleep(0.5)
        return json.loads(self.mf("batch", "report", batch, "--redis",
                                  self.redis_url, "--format", "json").stdout)


def check_refused(doc, accounts):
    """Each mailbox ends over quota and lists exactly what the target
    lacks."""
    for a in accounts:
        m = mt.mailbox_report(doc, a)
        missing = missing_on_target(a)
        check(missing, f"{a[0]}: the quota refused nothing")
        check(m["error"] and m["error"]["name"] == "OVERQUOTA" and
              "bytes" in m["error"]["text"], f"{a[0]}: error {m['error']}")
        check(m["state"] != "Synced", f"{a[0]}: state {m['state']}")
        check(reported(m) == missing and m["failed_unlisted"] == 0 and
              m["skipped_unlisted"] == 0,
              f"{a[0]}: report lists {sorted(reported(m))[:20]}, target "
              f"lacks {sorted(missing)[:20]} (listed {len(reported(m))}, "
              f"missing {len(missing)})")
        print(f"{a[0]}: {len(missing)} messages refused, all listed")


def check_copied(doc, accounts):
    for a in accounts:
        m = mt.mailbox_report(doc, a)
        email = mt.user(a)[0]
        check(m["state"] == "Synced" and not m["error"] and
              not reported(m), f"{email}: {m}")
        mt.assert_equal(a)
        check(mt.total_messages(mt.TGT_PORT, a) ==
              mt.total_messages(mt.SRC_PORT, a), f"{email}: counts differ")


def check_verified(csv, accounts):
    """`mailferry verify` of the same CSV exits 0 and says every mailbox
    is equal, with every source message on the target."""
    cmd = [mt.MAILFERRY, "verify", csv, "--source", mt.SRC, "--target",
           mt.TGT, "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, f"verify: exit {p.returncode}\n{p.stdout}\n"
          f"{p.stderr}")
    res = {m["email"]: m for m in json.loads(p.stdout)["mailboxes"]}
    for a in accounts:
        m = res.get(mt.user(a)[0])
        check(m and m["verification"] == "verified equal" and
              not m["differences"] and m["source_messages"] > 0 and
              m["source_messages"] == m["target_messages"],
              f"{a[0]}: verify says {m}")
    p = subprocess.run(cmd[:-1], capture_output=True, text=True, timeout=300)
    check(p.returncode == 0 and "verified equal" in p.stdout,
          f"verify (text): exit {p.returncode}\n{p.stdout}")
    print(f"verify: {len(accounts)} mailboxes verified equal")


def target_count(accounts):
    return sum(mt.total_messages(mt.TGT_PORT, a) for a in accounts)


# ---------------------------------------------------------------------------


def case_quota():
    """Over quota, then the quota lifted for one mailbox and `batch sync`
    through a fleet (serve, a worker, the Kafka dev broker), then for all
    and `migrate` of the same batch again."""
    accounts = [quota_account(i) for i in range(1, 4)]
    set_quota(accounts, lifted=False)
    subprocess.run(["/usr/bin/python3", os.path.join(
        mt.SUPPORT, "dovecot", "gen_corpus.py"), "--server", "source",
        "--user-format", DOV["QUOTA_USER_FORMAT"], "--password-format",
        DOV["QUOTA_PASSWORD_FORMAT"], "--first-user", "1", "--users", "3",
        "--profile", "small", "--clean", "-j", "2"], check=True,
        stdout=subprocess.DEVNULL)
    mt.clean_target(*accounts)
    csv = mt.csv_for(accounts, "quota")
    key = key_file("quota")
    # A Redis database of its own: the fleet's serve manages every batch
    # of its database, and must not touch other tests' batches.
    redis_url = mt.REDIS["REDIS_URL"] + "/9"
    batch = f"quota-{mt.RUN_ID}"
    args = ["--redis", redis_url, "--batch", batch, "--master-key-file", key]
    rc, doc = mt.migrate(csv, "--concurrency", "3", *args, direct=False,
                         check_exit=None)
    check(rc == 1, f"over quota: exit {rc}")
    check(doc["batch"]["state"] == "SyncedWithErrors", f"{doc['batch']}")
    check_refused(doc, accounts)

    set_quota(accounts[:1], lifted=True)
    with Fleet(redis_url, key) as fleet:
        doc = fleet.sync(batch)
    check(doc["batch"]["state"] == "SyncedWithErrors", f"{doc['batch']}")
    check_copied(doc, accounts[:1])
    check_refused(doc, accounts[1:])

    # Lifted for all: the same batch again copies what was refused, once.
    set_quota(accounts, lifted=True)
    rc, doc = mt.migrate(csv, *args, direct=False, check_exit=0)
    check(doc["batch"]["state"] == "Synced", f"{doc['batch']}")
    check_copied(doc, accounts)
    # And the independent check an admin runs before cutover agrees.
    check_verified(csv, accounts)
    set_quota(accounts, lifted=False)


def case_kill_resume():
    """kill -9 of the embedded migrate in the middle of a batch; the same
    command again finishes it."""
    accounts = mt.users_of("kill_resume", [58, 59])
    # Against Cyrus one mailbox of fewer messages (the matrix's own
    # suite-time budget): still far more than the 200 at which it is
    # killed.
    mt.corpus(accounts[0], len(accounts), profile="bench",
              messages=700 if mt.PAIR == "dovecot" else 450)
    mt.clean_target(*accounts)
    csv = mt.csv_for(accounts, "killresume")
    args = [mt.MAILFERRY, "migrate", csv, "--source", mt.SRC, "--target",
            mt.TGT, "--json", "--report-dir", mt.REPORT, "--concurrency",
            "2"] + batch_args("kill", key_file("kill"))
    total = sum(mt.total_messages(mt.SRC_PORT, a) for a in accounts)
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None:
        try:
            if target_count(accounts) >= 200:
                break
        except (imaplib.IMAP4.error, OSError):
            pass
        time.sleep(0.05)
    check(p.poll() is None, "migrate finished before it could be killed")
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    partial = target_count(accounts)
    check(0 < partial < total, f"kill did not land mid-copy: {partial}/{total}")
    print(f"killed with {partial} of {total} messages on the target")
    t0 = time.time()
    r = subprocess.run(args, capture_output=True, text=True, timeout=280)
    check(r.returncode == 0,
          f"rerun: exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    doc = json.loads(r.stdout)
    check(doc["batch"]["state"] == "Synced", f"rerun: {doc['batch']}")
    for a in accounts:
        m = mt.mailbox_report(doc, a)
        check(m["state"] == "Synced" and not reported(m), f"rerun: {m}")
        mt.assert_equal(a)
    check(target_count(accounts) == total, "target count differs")
    print(f"resumed in {time.time() - t0:.1f} s")


def case_fleet_kill():
    """kill -9 of a whole fleet (serve and its worker) in the middle of a
    batch; the same fleet started again finishes it."""
    n = 60
    mt.corpus(n, 1, profile="bench", messages=1200)
    mt.clean_target(n)
    csv = mt.csv_for([n], "fleetkill")
    key = key_file("fleetkill")
    redis_url = mt.REDIS["REDIS_URL"] + "/10"  # the fleet's own database
    batch = f"fleetkill-{mt.RUN_ID}"
    total = mt.total_messages(mt.SRC_PORT, n)
    fleet = Fleet(redis_url, key)
    fleet.mf("batch", "create", batch, "--csv", csv, "--source", mt.SRC,
             "--target", mt.TGT, "--redis", redis_url, "--master-key-file",
             key)
    with fleet:
        fleet.mf("batch", "start", batch, *fleet.args)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if mt.total_messages(mt.TGT_PORT, n) >= 150:
                    break
            except (imaplib.IMAP4.error, OSError):
                pass
            time.sleep(0.05)
        for p, _ in fleet.procs:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
    partial = mt.total_messages(mt.TGT_PORT, n)
    check(0 < partial < total, f"kill did not land mid-copy: {partial}/{total}")
    print(f"fleet killed with {partial} of {total} messages on the target")
    with Fleet(redis_url, key) as fleet:
        doc = fleet.wait(batch)
    check(doc["batch"]["state"] == "Synced", f"after the restart: {doc}")
    check_copied(doc, [n])


CASES = {"quota": case_quota, "kill_resume": case_kill_resume,
         "fleet_kill": case_fleet_kill}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print("usage: rerun_test.py " + "|".join(CASES))
        sys.exit(2)
    CASES[sys.argv[1]]()
    print("ok: " + sys.argv[1])
