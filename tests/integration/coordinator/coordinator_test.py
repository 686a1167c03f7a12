#!/usr/bin/python3
"""The coordinator end to end: `mailferry batch ...` and `mailferry serve`
against the redis fixture and the Kafka dev broker, with coord_helper as
a fake worker (claims, progress, results) and as a raw job reader.

    coordinator_test.py CASE     CASE: create lifecycle retry report secrets schedule

Each case uses its own topic prefix (the dev broker auto-creates the
topics) and batch names, so cases run in parallel with each other and
with other tests on the same fixtures; each also has its own Redis
database (a serve manages every batch of its database). Every process started here is
stopped by PID; the temporary directory is removed.
"""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(
    os.environ.get("MF_SOURCE_DIR",
                   os.path.join(os.path.dirname(__file__), "..", "..", "..")),
    "tests", "support"))

import pipeline  # noqa: E402
from pipeline import Fail, Redis, check, env_file, run_cli  # noqa: E402

BUILD = os.environ.get("MF_BUILD_DIR", ".")
RUN = os.environ["MF_TEST_RUN_DIR"]
MF = os.path.join(BUILD, "bin", "mailferry")
HELPER = os.path.join(BUILD, "bin", "coord_helper")
PW = {i: "pw-user%02d" % i for i in range(30, 40)}
ADMIN_PW = "Adm1n-S3cret-xyzzy"
TARGET_ADMIN_PW = "T4rget-Adm1n-plugh"


def envfile(name):
    return env_file(os.path.join(RUN, name + ".env"))


# MF_TEST_REDIS_FIXTURE=redis_auth: the case against the redis-server
# that requires AUTH (issue 17 item 3), every client as its ACL user with
# a password file (integration.coordinator.*_auth).
REDIS_FIXTURE = os.environ.get("MF_TEST_REDIS_FIXTURE") or "redis"
REDIS = envfile(REDIS_FIXTURE)
KAFKA = envfile("kafka")["KAFKA_BOOTSTRAP"]
# Each case keeps its batches in a Redis database of its own: a serve
# walks every batch of its database, and cases with different topic
# prefixes must not schedule or requeue each other's jobs.
CASE_DB = {"create": 1, "lifecycle": 2, "retry": 3, "report": 4,
           "secrets": 5, "schedule": 6, "notify": 7, "stale": 11}
REDIS_URL, _, REDIS_QUERY = REDIS.get("REDIS_ACL_URL",
                                      REDIS["REDIS_URL"]).partition("?")
if len(sys.argv) == 2 and sys.argv[1] in CASE_DB:
    REDIS_URL += "/%d" % CASE_DB[sys.argv[1]]
if REDIS_QUERY:
    REDIS_URL += "?" + REDIS_QUERY


# ---------------------------------------------------------------- redis


def redis_client(db):
    """The RESP client of tests/support/pipeline.py on database db, as
    the case's ACL user when the fixture requires AUTH."""
    return Redis(REDIS["REDIS_HOST"], REDIS["REDIS_PORT"], db,
                 REDIS.get("REDIS_ACL_USER"),
                 REDIS.get("REDIS_ACL_PASSWORD_FILE"))


# ---------------------------------------------------------------- runs


class Case:
    def __init__(self, name):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="mailferry-coordtest.")
        self.tag = "ct-%s-%d" % (name, os.getpid())
        self.prefix = self.tag
        self.key = os.path.join(self.dir, "master.key")
        self.env = dict(os.environ)
        # Topics of this case's prefix do not exist yet: let the dev
        # broker create them on first use.
        self.env["MAILFERRY_KAFKA_ALLOW_AUTO_CREATE_TOPICS"] = "true"
        self.env["MAILFERRY_KAFKA_SESSION_TIMEOUT_MS"] = "6000"
        self.serve_proc = None
        self.serve_log = os.path.join(self.dir, "serve.log")
        self.outputs = []  # everything the CLI printed, for secret checks
        self.batches = []
        self.redis = redis_client(CASE_DB[name])
        self.mf("key", "generate", self.key, "--key-id", "k1")
        with open(os.path.join(self.dir, "admin.pw"), "w") as f:
            f.write(ADMIN_PW + "\n")
        with open(os.path.join(self.dir, "target-admin.pw"), "w") as f:
            f.write(TARGET_ADMIN_PW + "\n")

    def path(self, name):
        return os.path.join(self.dir, name)

    def mf(self, *args, expect=0, timeout=120):
        return run_cli([MF, *args], self.env, self.outputs, expect=expect,
                       timeout=timeout)

    def mfj(self, *args, expect=0):
        p = self.mf(*args, "--json", expect=expect)
        return json.loads(p.stdout)

    def helper(self, *args, expect=0, timeout=120):
        p = subprocess.run(
            [HELPER, "--kafka", KAFKA, "--redis", REDIS_URL,
             "--topic-prefix", self.prefix] + [str(a) for a in args],
            env=self.env, capture_output=True, text=True, timeout=timeout)
        if expect is not None and p.returncode != expect:
            raise Fail("coord_helper %s: exit %d\n%s%s" %
                       (" ".join(map(str, args)), p.returncode, p.stdout,
                        p.stderr))
        return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]

    def csv(self, name, users, header="EmailAddress,UserName,Password",
            row=None):
        row = row or (lambda i: "user%02d@example.test,user%02d,%s" %
                      (i, i, PW[i]))
        with open(self.path(name), "w") as f:
            f.write(header + "\n")
            for i in users:
                f.write(row(i) + "\n")
        return self.path(name)

    def create(self, batch, csv, *extra, expect=0):
        self.batches.append(batch)
        return self.mf("batch", "create", batch, "--csv", csv, "--source",
                       "imap://127.0.0.1:1143/?tls=off", "--target",
                       "imap://127.0.0.1:2143/?tls=off", "--redis",
                       REDIS_URL, "--master-key-file", self.key, *extra,
                       expect=expect)

    def kafka_args(self):
        return ["--redis", REDIS_URL, "--kafka", KAFKA, "--topic-prefix",
                self.prefix, "--master-key-file", self.key]

    def op(self, verb, batch, *extra, expect=0):
        if verb in ("start", "sync", "complete"):
            return self.mfj("batch", verb, batch, *self.kafka_args(), *extra,
                            expect=expect)
        return self.mf("batch", verb, batch, "--redis", REDIS_URL, *extra,
                       expect=expect)

    def status(self, batch):
        return self.mfj("batch", "status", batch, "--redis", REDIS_URL)

    def wait_state(self, batch, states, timeout=60):
        if isinstance(states, str):
            states = [states]
        end = time.time() + timeout
        st = None
        while time.time() < end:
            st = self.status(batch)
            if st["state"] in states:
                return st
            time.sleep(0.3)
        raise Fail("batch %s: state %s, waited for %s" %
                   (batch, st and st["state"], states))

    def mailbox(self, st, email):
        return [m for m in st["mailboxes"] if m["email"] == email][0]

    def serve(self, *extra):
        self.serve_proc = subprocess.Popen(
            [MF, "serve", *self.kafka_args(), "--scan-interval", "1s",
             "--group-id", self.tag + "-coordinator",
             "--http-listen", "127.0.0.1:0", "--log-level", "debug",
             *extra],
            env=self.env, stdout=open(self.serve_log, "w"),
            stderr=subprocess.STDOUT)
        end = time.time() + 30
        while time.time() < end:
            with open(self.serve_log) as f:
                if "consumer.rebalance: assigned" in f.read():
                    return
            if self.serve_proc.poll() is not None:
                raise Fail("serve exited: " + open(self.serve_log).read())
            time.sleep(0.2)
        raise Fail("serve did not join its group: " +
                   open(self.serve_log).read())

    def metrics(self):
        with open(self.serve_log) as f:
            for line in f:
                if "http.listen" in line and "port " in line:
                    port = int(line.rsplit("port ", 1)[1].split(")")[0])
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        s.close()
        out = {}
        for line in data.decode().split("\r\n\r\n", 1)[1].splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out

    def stop_serve(self):
        if self.serve_proc and self.serve_proc.poll() is None:
            self.serve_proc.send_signal(signal.SIGTERM)
            try:
                rc = self.serve_proc.wait(20)
            except subprocess.TimeoutExpired:
                self.serve_proc.kill()
                self.serve_proc.wait()
                raise Fail("serve ignored SIGTERM")
            check(rc == 0, "serve exits 0 on SIGTERM")
        self.serve_proc = None

    def cleanup(self):
        if self.serve_proc and self.serve_proc.poll() is None:
            self.serve_proc.kill()
            self.serve_proc.wait()
        for b in self.batches:
            self.mf("batch", "stop", b, "--redis", REDIS_URL, expect=None)
            self.mf("batch", "remove", b, "--redis", REDIS_URL, expect=None)
        shutil.rmtree(self.dir, ignore_errors=True)


def secrets_absent(blob, what, extra=()):
    """No password of the case's mailboxes or admins, nor extra, in blob."""
    pipeline.secrets_absent(blob, what, list(PW.values()) +
                            [ADMIN_PW, TARGET_ADMIN_PW] + list(extra))


# ---------------------------------------------------------------- cases


def case_create(c):
    b = c.tag
    bad = c.csv("bad.csv", [], row=None)
    with open(bad, "w") as f:
        f.write("EmailAddress,UserName,Password\n"
                "not-an-address,user30,pw-user30\n"
                "user31@example.test,,pw-user31\n"
                "user32@example.test,user32,pw-user32\n"
                "user32@example.test,user32,pw-user32\n")
    p = c.create(b, bad, expect=1)
    lines = [l for l in p.stderr.splitlines() if ": error: " in l]
    check(len(lines) == 3, "a CSV with three errors lists all three")
    check([l.split(":")[1] for l in lines] == ["2", "3", "5"],
          "each error names its line")
    check("nothing stored" in p.stderr, "create says nothing was stored")
    check(c.redis.keys("mf:{b:%s}*" % b) == [], "no key of the batch exists")
    names = [x["batch"] for x in
             c.mfj("batch", "list", "--redis", REDIS_URL)["batches"]]
    check(b not in names, "the batch is not listed")
    j = c.mfj("batch", "create", b, "--csv", bad, "--source",
              "imap://127.0.0.1:1143/?tls=off", "--target",
              "imap://127.0.0.1:2143/?tls=off", "--redis", REDIS_URL,
              "--master-key-file", c.key, expect=1)
    check(j["created"] is False and j["error_count"] == 3 and
          [e["code"] for e in j["errors"]] ==
          ["CSV_BAD_ADDRESS", "CSV_EMPTY_FIELD", "CSV_DUPLICATE_ADDRESS"],
          "create --json lists the errors with their codes")

    good = c.csv("good.csv", [30, 31, 32])
    # The dry run also logs in to plan each mailbox: nothing listens on
    # these test ports, so every mailbox's plan fails with CONNECT (exit 1);
    # the plans themselves are tested in tests/integration/plan.
    p = c.create(b, good, "--dry-run", "--json", expect=1)
    d = json.loads(p.stdout)
    check(d["dry_run"] and d["mailboxes"] == 3 and
          [m["email"] for m in d["mailbox_list"]] ==
          ["user%d@example.test" % i for i in (30, 31, 32)],
          "--dry-run prints what would be created")
    check(d["plan"]["failed"] == 3 and
          all(m["error"]["name"] == "CONNECT" for m in d["plan"]["mailboxes"]),
          "--dry-run plans every mailbox (here: cannot connect)")
    check(c.redis.keys("mf:{b:%s}*" % b) == [], "--dry-run stores nothing")

    c.create(b, good, "--include", "INBOX,Archive/*", "--exclude", "Junk",
             "--rename", "Old=New", "--max-connections", "7",
             "--max-attempts", "4", "--incremental-every", "24h")
    st = c.status(b)
    check(st["state"] == "Created" and st["n_mailboxes"] == 3 and
          st["counts"]["Queued"] == 3, "status --json: Created, 3 Queued")
    check(st["max_attempts"] == 4 and st["incremental_every"] == 86400,
          "the batch keeps its attempts and incremental interval")
    check(st["flag_conflict"] == "target",
          "a flag changed on both sides follows the target by default")
    c.create(b + "-fc", good, "--flag-conflict", "both", expect=2)
    check(c.redis.keys("mf:{b:%s-fc}*" % b) == [],
          "an unknown --flag-conflict stores nothing")
    c.create(b + "-fc", good, "--flag-conflict", "source")
    check(c.status(b + "-fc")["flag_conflict"] == "source",
          "batch create keeps --flag-conflict source")
    check(b in [x["batch"] for x in
                c.mfj("batch", "list", "--redis", REDIS_URL)["batches"]],
          "batch list shows it")
    p = c.create(b, good, expect=1)
    check("EXISTS" in p.stderr, "a second create with the name is refused")
    c.mf("batch", "create", "bad/name", "--csv", good, expect=2)
    c.mf("batch", "create", b + "x", "--csv", good, "--source",
         "imap://127.0.0.1:1143/?tls=off", "--target",
         "imap://127.0.0.1:2143/?tls=off", "--redis", REDIS_URL,
         expect=2)  # no --master-key-file
    c.mf("batch", "status", "no-such-batch", "--redis", REDIS_URL, expect=1)
    c.mf("batch", "start", b, "--redis", REDIS_URL, expect=2)  # no kafka
    c.create(b + "-lf", good, "--admin-login-format", "{admin}", expect=2)
    # Options that may change over a batch's life change, and status
    # lists every change (the next pass uses them: the engine tests show
    # a raised size cap copying what an earlier pass skipped).
    c.mf("batch", "set", b, "--redis", REDIS_URL, "--max-message-size",
         "50M", "--max-attempts", "6")
    c.mf("batch", "set", b, "--redis", REDIS_URL, "--max-message-size",
         "60M")
    c.mf("batch", "set", b, "--redis", REDIS_URL, "--flag-conflict", "sauce",
         expect=2)
    p = c.mf("batch", "set", b, "--redis", REDIS_URL, "--flag-conflict",
             "source")
    check("flag-conflict = source" in p.stdout,
          "batch set says the new flag conflict rule: %r" % p.stdout)
    st = c.status(b)
    check(st["max_attempts"] == 6 and st["max_message_size"] == 60 << 20,
          "batch set changes the size cap and the attempts: %r"
          % ((st.get("max_attempts"), st.get("max_message_size")),))
    check(st["flag_conflict"] == "source",
          "batch set changes the flag conflict rule: %r"
          % st.get("flag_conflict"))
    check([(x["option"], x["old"], x["new"]) for x in st["changes"]] ==
          [("max-message-size", "0", str(50 << 20)), ("max-attempts", "4", "6"),
           ("max-message-size", str(50 << 20), str(60 << 20)),
           ("flag-conflict", "target", "source")],
          "status --json lists every change with old and new values")
    # One set of connection flags serves every command: those a command
    # does not need are accepted and unused.
    shared = ["--redis", REDIS_URL, "--kafka", "127.0.0.1:1",
              "--master-key-file", "/nonexistent", "--topic-prefix", "x"]
    c.mf("batch", "status", b, *shared)
    c.mf("batch", "list", *shared)
    c.mf("csv", "validate", good, *shared)
    p = c.mf("batch", "status", b, "--redis", REDIS_URL)
    check("--max-message-size %d -> %d" % (50 << 20, 60 << 20) in p.stdout,
          "status lists the changes")
    c.mf("batch", "set", b, "--redis", REDIS_URL, "--source", "x", expect=2)
    c.mf("batch", "set", b, "--redis", REDIS_URL, expect=2)
    c.mf("batch", "set", b, "--redis", REDIS_URL, "--max-attempts", "0",
         expect=2)
    c.mf("batch", "set", "no-such-batch", "--redis", REDIS_URL,
         "--max-attempts", "2", expect=1)
    # Removing a Created batch works and leaves nothing.
    c.op("remove", b)
    check(c.redis.keys("mf:{b:%s}*" % b) == [], "remove leaves no key")


def case_lifecycle(c):
    b = c.tag
    users = [30, 31, 32, 33]
    emails = ["user%d@example.test" % i for i in users]
    c.create(b, c.csv("u.csv", users))
    c.serve()
    j = c.op("start", b)
    check(j["jobs"] == 4 and j["state"] == "Syncing",
          "start: 4 jobs, Syncing")
    jobs = c.helper("--timeout", "30", "jobs", 4, "--open", c.key)
    check(sorted(x["mailbox"] for x in jobs) == emails,
          "one job per mailbox on the jobs topic")
    for x in jobs:
        check(x["key"] == "%s/%s" % (b, x["mailbox"]) and x["attempt"] == 1
              and x["kind"] == "initial", "job key, attempt and kind")
        n = int(x["mailbox"][4:6])
        check(x["source_password"]["opens"] and
              x["source_password"]["secret"] == PW[n] and
              not x["source_password"]["opens_as_other_purpose"] and
              not x["source_password"]["opens_for_other_mailbox"],
              "sealed source password opens only for its mailbox/purpose")
        for side in ("source_password", "target_password"):
            t = x[side]["opens_tampered"]
            check(not any(t.values()),
                  "%s refuses every tampered field (login, authzid, oauth, "
                  "generation, endpoints, CA, insecure, UserRoot): %s"
                  % (side, t))
            check(len(t) == 9, "nine fields tampered")
        check(x["target_password"]["secret"] == PW[n],
              "the target password is the row's")
        secrets_absent(bytes.fromhex(x["raw_hex"]), "job message")
    check(c.status(b)["state"] == "Syncing", "status Syncing")
    c.helper("worker", 4, "--messages", 10)
    st = c.wait_state(b, "Synced")
    check(st["counts"]["Synced"] == 4, "serve folds the results: Synced")
    copied = sum(m["messages_copied"] for m in st["mailboxes"])
    m0 = c.mailbox(st, emails[0])
    # A result delivered again changes nothing.
    before = c.metrics()["mailferry_coordinator_results_ignored_total"]
    c.helper("result", b, emails[0], m0["job_id"], 1, "failed", "--dup")
    end = time.time() + 20
    while (c.metrics()["mailferry_coordinator_results_ignored_total"] <
           before + 2 and time.time() < end):
        time.sleep(0.3)
    st2 = c.status(b)
    check(c.metrics()["mailferry_coordinator_results_ignored_total"] ==
          before + 2, "both duplicate deliveries were ignored")
    check(st2["state"] == "Synced" and
          sum(m["messages_copied"] for m in st2["mailboxes"]) == copied and
          c.mailbox(st2, emails[0])["state"] == "Synced",
          "a duplicate result changes nothing")

    # sync: one worker holds a job while the batch is stopped.
    j = c.op("sync", b)
    check(j["state"] == "IncrementalSyncing" and j["jobs"] == 4,
          "sync: IncrementalSyncing, 4 jobs")
    c.op("remove", b, expect=1)
    check(True, "remove is refused while running")
    held = c.helper("worker", 1, "--die-after-claim", "--ttl-ms", 120000,
                    "--worker", "slow-worker")
    p = c.op("stop", b, "--json")
    check(json.loads(p.stdout)["state"] == "Stopping",
          "stop with a running job: Stopping")
    st = c.status(b)
    check(st["counts"]["Stopped"] == 3 and
          st["counts"]["IncrementalSyncing"] == 1,
          "queued mailboxes Stopped at once, the running one not yet")
    held_mb = [m for m in st["mailboxes"]
               if m["state"] == "IncrementalSyncing"][0]
    c.helper("result", b, held_mb["email"], held_mb["job_id"], 1, "stopped",
             "--worker", "slow-worker")
    st = c.wait_state(b, "Stopped")
    check(st["counts"]["Stopped"] == 4, "the worker's report: Stopped")
    # The other three jobs of the pass are stale now: the fake worker's
    # claims fail. Start resumes with new jobs.
    j = c.op("start", b)
    check(j["jobs"] == 4 and j["state"] == "IncrementalSyncing",
          "start resumes a Stopped batch: 4 jobs")
    claims = c.helper("worker", 4, "--timeout", 60)
    check(sum(1 for x in claims if x["claimed"]) == 4,
          "the resumed jobs are claimed (stale ones are refused)")
    st = c.wait_state(b, "Synced")
    check(st["counts"]["Synced"] == 4, "resumed pass: Synced")
    j = c.op("complete", b)
    check(j["state"] == "Completing", "complete: Completing")
    c.helper("worker", 4)
    st = c.wait_state(b, "Completed")
    check(st["counts"]["Completed"] == 4, "Completed")
    m = c.metrics()
    check(m["mailferry_coordinator_results_applied_total"] >= 13,
          "metrics count the applied results")
    c.stop_serve()
    secrets_absent(open(c.serve_log).read(), "the serve log")
    c.op("remove", b)
    check(c.redis.keys("mf:{b:%s}*" % b) == [], "remove leaves no key")


def case_retry(c):
    # A worker dies after claiming, twice: attempt 2, then Failed + DLQ.
    b = c.tag
    c.create(b, c.csv("u.csv", [34]), "--max-attempts", "2")
    c.serve()
    c.op("start", b)
    c.helper("worker", 1, "--die-after-claim", "--ttl-ms", 1500)
    jobs = c.helper("--timeout", "30", "jobs", 2)
    check([x["attempt"] for x in jobs] == [1, 2],
          "an expired claim is requeued with attempt 2")
    st = c.status(b)
    check(c.mailbox(st, "user34@example.test")["attempt"] == 2,
          "the mailbox waits for attempt 2")
    c.helper("worker", 1, "--die-after-claim", "--ttl-ms", 1500)
    st = c.wait_state(b, "SyncedWithErrors", timeout=30)
    mb = c.mailbox(st, "user34@example.test")
    check(mb["state"] == "Failed" and mb["error"]["name"] == "LEASE_LOST",
          "after max attempts: Failed (worker lost)")
    dlq = c.helper("--timeout", "30", "jobs", 1, "--dlq")
    check(dlq[0]["mailbox"] == "user34@example.test" and
          dlq[0]["attempt"] == 2, "the dead job is on the DLQ")
    secrets_absent(bytes.fromhex(dlq[0]["raw_hex"]), "the DLQ message")

    # A RETRY result: the service produces the next attempt.
    b2 = c.tag + "-r"
    c.create(b2, c.csv("u2.csv", [35]), "--max-attempts", "3")
    c.op("start", b2)
    c.helper("worker", 1, "--outcome", "retry")
    claims = c.helper("worker", 1, "--outcome", "synced")
    check(claims[-1]["attempt"] == 2 and claims[-1]["claimed"],
          "a RETRY result brings attempt 2")
    st = c.wait_state(b2, "Synced")
    check(c.mailbox(st, "user35@example.test")["attempt"] == 2,
          "attempt 2 synced")
    # A finished job whose result never reaches the service (the worker
    # released its claim as finished, the result was lost on its way):
    # the claim waits 10 claim TTLs for it, then the job runs again.
    b3 = c.tag + "-l"
    c.create(b3, c.csv("u3.csv", [36]), "--max-attempts", "3")
    c.op("start", b3)
    t0 = time.time()
    c.helper("worker", 1, "--lose-result", "--ttl-ms", 1000)
    check(c.mailbox(c.status(b3), "user36@example.test")["state"] ==
          "Syncing", "the mailbox waits for the finished job's result")
    claims = c.helper("--timeout", "30", "worker", 1)
    waited = time.time() - t0
    check(claims[-1]["attempt"] == 2 and claims[-1]["claimed"] and
          waited >= 10, f"the job whose result was lost runs again as "
          f"attempt 2, {waited:.1f} s later (result wait 10 s)")
    st = c.wait_state(b3, "Synced")
    check(c.mailbox(st, "user36@example.test")["attempt"] == 2,
          "attempt 2 synced")
    with open(c.serve_log) as f:
        check("a finished job's result never arrived: attempt 2 queued"
              in f.read(), "serve logs the lost result")
    m = c.metrics()
    check(m["mailferry_coordinator_jobs_requeued_total"] >= 3 and
          m["mailferry_coordinator_jobs_dead_lettered_total"] == 1 and
          m["mailferry_coordinator_claims_expired_total"] == 3 and
          m["mailferry_coordinator_results_lost_total"] == 1,
          "metrics: requeued, dead-lettered, expired claims, lost results")
    c.stop_serve()


def case_report(c):
    b = c.tag
    c.create(b, c.csv("u.csv", [36, 37, 38]))
    c.serve()
    c.op("start", b)
    c.helper("worker", 2, "--messages", 5)
    c.helper("worker", 1, "--outcome", "failed")
    st = c.wait_state(b, "SyncedWithErrors")
    check(st["counts"]["Synced"] == 2 and st["counts"]["Failed"] == 1,
          "two Synced, one Failed")
    c.stop_serve()
    # To a pipe: written into it, and the pipe stays a pipe (a report
    # written to a temporary file and renamed over -o would replace a
    # device such as /dev/null with a regular file).
    fifo = c.path("report.fifo")
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(
        target=lambda: got.append(open(fifo, "rb").read()), daemon=True)
    reader.start()
    c.mf("batch", "report", b, "--redis", REDIS_URL, "--format", "csv",
         "-o", fifo)
    reader.join(30)
    check(got and b"EmailAddress" in got[0] and
          stat.S_ISFIFO(os.stat(fifo).st_mode),
          "report -o a pipe writes into it and leaves it a pipe")
    for fmt in ("csv", "json", "html"):
        out = c.path("report." + fmt)
        c.mf("batch", "report", b, "--redis", REDIS_URL, "--format", fmt,
             "-o", out)
        data = open(out, "rb").read()
        secrets_absent(data, "the %s report" % fmt)
        if fmt == "json":
            d = json.loads(data)
            states = sorted(m["state"] for m in d["mailboxes"])
            check(states == ["Failed", "Synced", "Synced"],
                  "JSON report: every mailbox with its state")
            failed = [m for m in d["mailboxes"] if m["state"] == "Failed"][0]
            check("AUTH" in json.dumps(failed),
                  "JSON report carries the error")
        elif fmt == "csv":
            import csv as csvmod
            rows = list(csvmod.DictReader(data.decode().splitlines()))
            check(len(rows) == 3 and
                  sorted(r["State"] for r in rows) ==
                  ["Failed", "Synced", "Synced"], "CSV report parses")
        else:
            text = data.decode()
            low = text.lower()
            check("<html" in low and b in text, "HTML report")
            check("http://" not in low.replace('xmlns="http://www.w3.org',
                                               "") and
                  "https://" not in low and "<script src" not in low and
                  "<link" not in low, "HTML has no external references")
    p = c.mf("batch", "report", b, "--redis", REDIS_URL, "--format", "json")
    check(json.loads(p.stdout)["batch"]["name"] == b
          if isinstance(json.loads(p.stdout)["batch"], dict)
          else True, "report to stdout")
    c.mf("batch", "report", b, "--redis", REDIS_URL, "--format", "pdf",
         expect=2)


def case_secrets(c):
    b = c.tag
    # Admin on both sides: no row passwords, logins by format.
    csvp = c.csv("a.csv", [38, 39], row=lambda i:
                 "user%02d@example.test,user%02d," % (i, i))
    c.create(b, csvp, "--admin", "master", "--admin-password-file",
             c.path("admin.pw"), "--admin-login-format", "{user}*{admin}",
             "--target-admin", "tadmin", "--target-admin-password-file",
             c.path("target-admin.pw"))
    # Mailbox passwords too, in a second batch.
    b2 = c.tag + "-u"
    c.create(b2, c.csv("u.csv", [30, 31]))
    c.serve()
    c.op("start", b)
    c.op("start", b2)
    jobs = c.helper("--timeout", "30", "jobs", 4, "--open", c.key)
    for x in jobs:
        secrets_absent(bytes.fromhex(x["raw_hex"]), "job " + x["job_id"])
        if x["batch"] == b:
            u = x["mailbox"].split("@")[0]
            check(x["source_login"] == u + "*master" and
                  x["source_authzid"] == "",
                  "source login from the template")
            check(x["target_login"] == "tadmin" and
                  x["target_authzid"] == x["mailbox"],
                  "target: SASL PLAIN as the admin for the EmailAddress")
            check(x["source_password"]["secret"] == ADMIN_PW and
                  not x["source_password"]["opens_for_other_mailbox"],
                  "the admin password is re-sealed for this mailbox only")
            check(x["target_password"]["secret"] == TARGET_ADMIN_PW and
                  not x["target_password"]["opens_as_other_purpose"],
                  "the target admin password, sealed for the target")
    c.helper("worker", 4)
    c.wait_state(b, "Synced")
    c.wait_state(b2, "Synced")
    c.mf("batch", "report", b2, "--redis", REDIS_URL, "--format", "html",
         "-o", c.path("r.html"))
    c.stop_serve()
    for name in (b, b2):
        blob = c.redis.everything("mf:{b:%s}*" % name)
        check(len(blob) > 0, "the batch has records in Redis")
        secrets_absent(blob, "Redis (SCAN + HGETALL/LRANGE/DUMP) of " + name)
    secrets_absent(open(c.serve_log).read(), "the serve log")
    secrets_absent("\n".join(c.outputs), "the CLI output")
    secrets_absent(open(c.path("r.html"), "rb").read(), "the HTML report")
    # The key file rotates; the old key still opens what it sealed.
    c.mf("key", "generate", c.key, "--key-id", "k2", "--rotate")
    c.mf("key", "generate", c.key, "--key-id", "k3", expect=1)
    jobs = c.helper("--timeout", "30", "jobs", 4, "--open", c.key)
    check(all(x["source_password"]["opens"] for x in jobs),
          "after rotation the old key still opens the sealed passwords")
    secrets_oauth(c)


def secrets_oauth(c):
    """OAuth2 (issue 12): an Entra client secret and a Google service
    account's private key are sealed like passwords, in Redis and in each
    job, bound to the job; neither is in Redis, Kafka or any output."""
    sys.path.insert(0, os.path.join(os.environ["MF_SOURCE_DIR"], "tests",
                                    "support", "oauth"))
    import oauthenv
    env = oauthenv.OAuthEnv(c.path("oauth"))
    try:
        b3 = c.tag + "-o"
        c.create(b3, c.csv("o.csv", [32, 33], header="EmailAddress,UserName",
                           row=lambda i: "user%02d@example.test,user%02d" %
                           (i, i)),
                 "--source-oauth-provider", "entra", "--source-oauth-tenant",
                 oauthenv.TENANT, "--source-oauth-client-id",
                 oauthenv.CLIENT_ID, "--source-oauth-client-secret-file",
                 env.secret_file, "--target-oauth-provider", "google",
                 "--target-oauth-service-account-file", env.sa_file)
        c.op("start", b3)
        secrets = env.secrets()
        jobs = [x for x in c.helper("--timeout", "30", "jobs", 6, "--open",
                                    c.key) if x["batch"] == b3]
        check(len(jobs) == 2, "the OAuth2 batch's two jobs")
        with open(env.sa_file) as f:
            sa = f.read().rstrip("\n")
        for x in jobs:
            secrets_absent(bytes.fromhex(x["raw_hex"]),
                           "OAuth2 job " + x["job_id"], secrets)
            check(x["source_login"] == x["mailbox"] and
                  x["target_login"] == x["mailbox"],
                  "OAuth2 sides log in as the EmailAddress")
            sp, tp = x["source_password"], x["target_password"]
            check(sp["secret"] == oauthenv.SECRET and tp["secret"] == sa,
                  "the client secret and the service-account key, sealed "
                  "for the job")
            check(not sp["opens_for_other_mailbox"] and
                  not sp["opens_as_other_purpose"] and
                  not tp["opens_for_other_mailbox"] and
                  not tp["opens_as_other_purpose"],
                  "bound to this mailbox and side")
        blob = c.redis.everything("mf:{b:%s}*" % b3)
        check(b"s_oauth_client_id" in blob and b"t_oauth_key" in blob,
              "Redis holds the OAuth2 settings and the sealed keys")
        secrets_absent(blob, "Redis of the OAuth2 batch", secrets)
        secrets_absent("\n".join(c.outputs), "the CLI output", secrets)
    finally:
        env.stop()


def case_schedule(c):
    # --incremental-every: serve begins the incremental pass when due.
    b = c.tag
    c.create(b, c.csv("u.csv", [39]), "--incremental-every", "2s")
    c.serve()
    c.op("start", b)
    c.helper("worker", 1)
    c.wait_state(b, ["Synced", "IncrementalSyncing"])
    jobs = c.helper("--timeout", "30", "jobs", 2)
    check([x["kind"] for x in jobs] == ["initial", "incremental"] and
          jobs[1]["pass"] == 2, "serve schedules the incremental pass")
    c.helper("worker", 1)
    # Wait until the pass-2 result is applied (a Synced mailbox of pass
    # 2, or pass 3 already begun) so nothing is left running.
    end = time.time() + 30
    while time.time() < end:
        st = c.status(b)
        m = st["mailboxes"][0]
        if st["pass"] >= 3 or (m["pass"] >= 2 and m["state"] == "Synced"):
            break
        time.sleep(0.2)
    else:
        raise Fail("the incremental pass's result was not applied")
    check(c.metrics()["mailferry_coordinator_passes_scheduled_total"] >= 1,
          "metrics count the scheduled passes")
    c.stop_serve()


class Receiver:
    """An HTTP receiver of notifications on 127.0.0.1: records each POST
    (headers and JSON body) and answers 500 to the first `fail_first`."""

    def __init__(self, fail_first=0):
        import http.server
        rec = self
        self.posts = []
        self.fail_first = fail_first
        self.lock = threading.Lock()

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with rec.lock:
                    fail = rec.fail_first > 0
                    if fail:
                        rec.fail_first -= 1
                    else:
                        rec.posts.append((dict(self.headers), body))
                self.send_response(500 if fail else 204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/hook" % self.httpd.server_port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def events(self):
        with self.lock:
            return [json.loads(b) for _, b in self.posts]

    def wait(self, pred, what, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            if any(pred(e) for e in self.events()):
                return
            time.sleep(0.2)
        raise Fail("no notification: %s; got %r" % (what, self.events()))


def case_notify(c):
    """serve --notify-url: batch state changes, a failed mailbox, first
    passes and a stuck batch are POSTed as signed JSON, retried after the
    receiver fails, and counted in /metrics."""
    import hashlib
    import hmac
    b = c.tag
    secret = b"notify-secret-\x01"
    with open(c.path("notify.secret"), "wb") as f:
        f.write(secret + b"\n")
    os.chmod(c.path("notify.secret"), 0o600)
    r = Receiver(fail_first=2)
    c.create(b, c.csv("u.csv", [30, 31, 32]))
    c.serve("--notify-url", r.url, "--notify-secret-file",
            c.path("notify.secret"), "--notify-stuck-after", "2s")
    c.op("start", b)
    # Nobody works on the jobs: the batch is stuck after 2 s.
    r.wait(lambda e: e["event"] == "batch.stuck" and e["batch"] == b,
           "batch.stuck")
    c.helper("worker", 2, "--messages", 5)
    c.helper("worker", 1, "--outcome", "failed")
    c.wait_state(b, "SyncedWithErrors")
    r.wait(lambda e: e["event"] == "batch.state" and
           e["state"] == "SyncedWithErrors", "batch.state SyncedWithErrors")
    r.wait(lambda e: e["event"] == "mailbox.failed", "mailbox.failed")
    ev = r.events()
    synced = [e for e in ev if e["event"] == "mailbox.synced"]
    failed = [e for e in ev if e["event"] == "mailbox.failed"]
    check(len(synced) == 2 and all(e["messages_copied"] == 5
                                   for e in synced),
          "mailbox.synced for each mailbox's first pass, with its counts")
    check(len(failed) == 1 and failed[0]["error_name"] and
          failed[0]["mailbox"].endswith("@example.test"),
          "mailbox.failed names the mailbox and the error")
    states = [(e["previous"], e["state"]) for e in ev
              if e["event"] == "batch.state"]
    check(states and states[-1][1] == "SyncedWithErrors",
          "batch.state carries the previous and the new state: %r" % states)
    check(all(e["version"] == 1 and e["batch"] == b and e["time"].endswith("Z")
              for e in ev), "every notification has version, batch, time")
    check(len({e["id"] for e in ev}) == len(ev), "ids are unique")
    for headers, body in r.posts:
        want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        check(headers.get("X-Mailferry-Signature") == want,
              "the signature is the HMAC-SHA256 of the body")
        check(headers.get("X-Mailferry-Event") == json.loads(body)["event"],
              "X-Mailferry-Event names the event")
    m = c.metrics()
    check(m.get("mailferry_coordinator_notifications_retried_total", 0) >= 2,
          "the two refused POSTs were retried (metrics)")
    check(m.get("mailferry_coordinator_notifications_delivered_total", 0) ==
          len(r.posts), "metrics count the delivered notifications")
    secrets_absent(b"".join(p[1] for p in r.posts), "the notifications",
                   extra=[secret.decode("latin-1")])
    c.stop_serve()
    r.httpd.shutdown()
    # A URL that is not http(s) is a usage error.
    c.mf("serve", *c.kafka_args(), "--notify-url", "ftp://x/", expect=2)


def case_stale(c):
    """Issue 17 item 2 end to end: a job of a batch that was removed and
    created again under the same name (as if within the same second: the
    new record gets the old creation time) is refused by a real mailferry-worker with JOB_STALE:
    not claimed, no result, the new batch's mailbox untouched and no
    connection to its servers, although the old job has the new batch's
    job id and attempt. The new batch's own job, by the same worker, is
    claimed and runs (it connects): the refusal is the generation's."""
    b = c.tag
    lsn = socket.socket()
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(8)
    lsn.settimeout(0.2)
    url = "imap://127.0.0.1:%d/?tls=off" % lsn.getsockname()[1]
    accepted = []
    done = threading.Event()

    def accept():
        while not done.is_set():
            try:
                conn, _ = lsn.accept()
            except OSError:
                continue
            accepted.append(time.time())
            conn.close()
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    csvp = c.csv("u.csv", [1], row=lambda i:
                 "stale%02d@example.test,stale%02d,pw-stale" % (i, i))
    email = "stale01@example.test"

    def create():
        c.mf("batch", "create", b, "--csv", csvp, "--source", url,
             "--target", url, "--redis", REDIS_URL, "--master-key-file",
             c.key, "--max-attempts", "1")

    def start(prefix):
        c.prefix = prefix
        j = c.mfj("batch", "start", b, *c.kafka_args())
        check(j["jobs"] == 1, "start with prefix %s: 1 job" % prefix)
        x = c.helper("--timeout", "30", "jobs", 1)[0]
        c.prefix = c.tag
        return x

    c.batches.append(b)
    create()
    created = [c.status(b)["created"]]
    old = start(c.tag + "-old")
    c.op("stop", b)
    c.wait_state(b, "Stopped")
    c.op("remove", b)
    create()
    # As if created again within the same second as the first (a
    # generation that was the creation second could not tell them apart).
    c.redis.cmd("HSET", "mf:{b:%s}:batch" % b, "created", created[0])
    check(c.status(b)["created"] == created[0],
          "the new batch has the old one's creation second")
    new = start(c.tag + "-new")
    check(new["job_id"] == old["job_id"] and
          new["attempt"] == old["attempt"],
          "the new batch's job has the old job's id and attempt (%s, %d): "
          "only the generation tells them apart"
          % (new["job_id"], new["attempt"]))
    key = c.redis.keys("mf:{b:%s}:mb:%s" % (b, email))
    check(len(key) == 1, "the new batch's mailbox record exists")
    before = c.redis.cmd("HGETALL", key[0])

    # The old envelope, produced again to the jobs topic the worker reads.
    run = c.tag + "-run"
    c.prefix = run
    c.helper("produce", old["key"], old["raw_hex"])
    log = c.path("worker.log")
    w = subprocess.Popen(
        [os.path.join(BUILD, "bin", "mailferry-worker"), "--kafka", KAFKA,
         "--redis", REDIS_URL, "--master-key-file", c.key, "--topic-prefix",
         run, "--group-id", run + "-workers", "--worker-id", run,
         "--slots", "1", "--log-format", "json", "--log-level", "debug",
         "--kafka.session.timeout.ms", "6000"],
        env=c.env, stdout=open(log, "w"), stderr=subprocess.STDOUT)

    def events(name):
        out = []
        for line in open(log):
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("event") == name:
                out.append(ev)
        return out

    def wait_for(what, cond, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            if cond():
                return
            if w.poll() is not None:
                break
            time.sleep(0.2)
        raise Fail("%s; worker log:\n%s" % (what, open(log).read()[-4000:]))

    try:
        wait_for("the worker skips the old job", lambda: events("job.skip"))
        skip = events("job.skip")
        check(len(skip) == 1 and skip[0].get("error") == "JOB_STALE" and
              skip[0].get("error_code") == 703,
              "the old job is skipped with JOB_STALE (703): %s" % skip)
        time.sleep(1)
        check(c.redis.cmd("HGETALL", key[0]) == before,
              "the new batch's mailbox record is untouched (not claimed)")
        check(not accepted, "no connection to the new batch's servers")
        st = c.status(b)
        m = c.mailbox(st, email)
        check(m["state"] == "Queued" and m["attempt"] == 1 and
              not m["claimed_by"] and m["attempts_total"] == 0,
              "the mailbox still waits for its job: %s" % m)
        check(not any(events(e) for e in ("job.start", "job.result",
                                          "job.done", "job.error")),
              "the worker started nothing and published no result")
        # The control: the new batch's own job runs on the same worker.
        c.helper("produce", new["key"], new["raw_hex"])
        wait_for("the new batch's own job connects", lambda: accepted)
        check(len(events("job.skip")) == 1,
              "the new batch's own job is not skipped")
    finally:
        c.prefix = c.tag
        # The worker stops before the listener does: its job, refused by
        # the listener, is between attempts and stops at once; a listener
        # that no longer accepts would hold it in the server's greeting
        # for the whole --shutdown-timeout (25 s).
        if w.poll() is None:
            w.send_signal(signal.SIGTERM)
            try:
                w.wait(30)
            except subprocess.TimeoutExpired:
                w.kill()
                w.wait()
        done.set()
        lsn.close()
    secrets_absent(open(log).read(), "the worker log", ["pw-stale"])


CASES = {"notify": case_notify, "create": case_create, "schedule": case_schedule, "lifecycle": case_lifecycle,
         "retry": case_retry, "report": case_report,
         "secrets": case_secrets, "stale": case_stale}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print(__doc__)
        return 2
    c = Case(sys.argv[1])
    try:
        CASES[sys.argv[1]](c)
        if "REDIS_ACL_USER" in REDIS:
            redis_pw = [open(REDIS[k]).read().strip() for k in
                        ("REDIS_PASSWORD_FILE", "REDIS_ACL_PASSWORD_FILE")]
            logs = [open(c.serve_log).read()] if os.path.exists(
                c.serve_log) else []
            secrets_absent("\n".join(c.outputs + logs),
                           "the output and logs (Redis passwords)", redis_pw)
    except Fail as e:
        print("FAIL:", e)
        if os.path.exists(c.serve_log):
            print("--- serve log ---")
            print(open(c.serve_log).read()[-6000:])
        return 1
    finally:
        c.cleanup()
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
