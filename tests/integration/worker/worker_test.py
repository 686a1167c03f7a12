#!/usr/bin/python3
"""Integration tests of mailferry-worker: real worker processes against
the Dovecot pair, redis-server and a private Kafka dev broker, judged by
the independent comparer (tests/support/imapcompare.py).

wtest_helper (next to this file) plays the coordinator: it creates and
starts the batch, folds progress and results into the records, requeues
expired claims. A source bandwidth cap in the batch keeps every job
running for several seconds, so that the cases can interrupt one.

  kill     users 20-23: two workers; kill -9 one in the middle of a job;
           its claim expires (--claim-ttl 3s), the job is requeued and
           finishes on the other worker; every mailbox Synced and EQUAL
  sigterm  users 24-26: SIGTERM a worker in the middle of a job: it exits
           0 within --shutdown-timeout, hands its jobs back (re-produced
           at once), the other worker finishes them; EQUAL
  stop     users 27-29: `batch stop` while jobs run: they stop at a
           message boundary with outcome STOPPED, the batch is Stopped;
           `batch start` resumes and finishes; EQUAL. The workers serve
           /healthz, /readyz and /metrics (the counters move), and a job
           message that does not unpack lands on the dead-letter topic
  redis    users 20-21 (after `kill`, same lock): redis-server restarts
           while jobs run; the workers wait it out (no crash, no lost
           claim beyond a retry) and every mailbox ends Synced and EQUAL

Every case also checks that no password appears in clear in any Kafka
message (all topics, read raw) or in the workers' logs.
"""
import datetime
import imaplib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

RUN = os.environ["MF_TEST_RUN_DIR"]
SRC_DIR = os.environ["MF_SOURCE_DIR"]
BUILD = os.environ["MF_BUILD_DIR"]
SUPPORT = os.path.join(SRC_DIR, "tests", "support")
BIN = os.path.join(BUILD, "bin")
WORKER = os.path.join(BIN, "mailferry-worker")
HELPER = os.path.join(BIN, "wtest_helper")
DEVBROKER = os.path.join(BIN, "mailferry-devbroker")
PREFIX = "wtest"
RUN_ID = f"{os.getpid()}-{int(time.time())}"
TMP = tempfile.mkdtemp(prefix="mf-worker-test.", dir=RUN)
CLAIM_TTL = 3
SHUTDOWN_TIMEOUT = 10
BPS = 1000000  # source bytes per second, fleet-wide

sys.path.insert(0, SUPPORT)
from itestlib import expunge_all, http_get  # noqa: E402
from itestlib import fixture_env as env_file  # noqa: E402


DOV = env_file("dovecot")
# integration.worker.redis runs against the redis-server kept for tests
# that restart it (MF_TEST_REDIS_FIXTURE=redis_restart, which the fixture
# script also reads as MF_REDIS_FIXTURE).
REDIS = env_file(os.environ.get("MF_TEST_REDIS_FIXTURE") or "redis")
SRC_PORT = int(DOV["SOURCE_IMAP_PORT"])
TGT_PORT = int(DOV["TARGET_IMAP_PORT"])
SRC = f"imap://127.0.0.1:{SRC_PORT}/?tls=off"
TGT = f"imap://127.0.0.1:{TGT_PORT}/?tls=off"

PROCS = []  # everything we started, ended in cleanup()


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def fail(msg):
    print("FAIL: " + msg, flush=True)
    cleanup()
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def cleanup():
    for p in PROCS:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


def user(n):
    return f"user{n:02d}@example.test", f"pw-user{n:02d}"


# ------------------------------------------------------------ servers


class Broker:
    """A private dev broker: its own topics, no other test's jobs."""

    def __init__(self):
        self.boot_file = os.path.join(TMP, "bootstrap")
        self.log = open(os.path.join(TMP, "devbroker.log"), "w")
        self.proc = subprocess.Popen(
            [DEVBROKER, "--bootstrap-file", self.boot_file, "--topic-prefix",
             PREFIX + "."], stdout=self.log, stderr=subprocess.STDOUT)
        PROCS.append(self.proc)
        for _ in range(200):
            if os.path.exists(self.boot_file) and os.path.getsize(self.boot_file):
                break
            check(self.proc.poll() is None, "devbroker died at start")
            time.sleep(0.1)
        with open(self.boot_file) as f:
            self.bootstrap = f.readline().strip()
        check(self.bootstrap, "devbroker did not become ready")
        log(f"devbroker {self.proc.pid} at {self.bootstrap}")


class Worker:
    def __init__(self, name, broker, key, slots=2, http=False,
                 claim_ttl=CLAIM_TTL, group_timing=True, extra=()):
        """group_timing False: the consumer group's timing is the
        worker's own default, not this file's."""
        self.name = f"{name}-{RUN_ID}"
        self.logpath = os.path.join(TMP, f"worker-{name}.log")
        self.logf = open(self.logpath, "w")
        cmd = [WORKER, "--kafka", broker.bootstrap, "--redis",
               REDIS["REDIS_URL"], "--master-key-file", key, "--slots",
               str(slots), "--worker-id", self.name, "--topic-prefix", PREFIX,
               "--group-id", f"wtest-{RUN_ID}", "--claim-ttl",
               f"{claim_ttl}s", "--lease-ttl", "5s", "--progress-interval",
               "1s", "--shutdown-timeout", f"{SHUTDOWN_TIMEOUT}s",
               "--log-format", "json"]
        if group_timing:
            cmd += ["--kafka.session.timeout.ms", "6000",
                    "--kafka.heartbeat.interval.ms", "500"]
        cmd += list(extra)
        if http:
            cmd += ["--http-listen", "127.0.0.1:0"]
        self.proc = subprocess.Popen(cmd, stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        PROCS.append(self.proc)
        log(f"worker {self.name} pid {self.proc.pid}")

    def http_port(self):
        for _ in range(100):
            m = re.search(r"/metrics on port (\d+)", self.text())
            if m:
                return int(m.group(1))
            time.sleep(0.1)
        fail(f"{self.name} does not serve HTTP")

    def get(self, path):
        return http_get(self.http_port(), path)

    def metric(self, name, labels=""):
        status, text = self.get("/metrics")
        check(status == 200, f"/metrics: {status}")
        m = re.search(r"^" + re.escape(name + labels) + r" (\S+)$", text, re.M)
        return float(m.group(1)) if m else None

    def wait_assigned(self, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            if "assigned" in self.text():
                return
            time.sleep(0.1)
        fail(f"{self.name} got no partitions")

    def events(self, name):
        out = []
        for line in self.text().splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("event") == name:
                ts = datetime.datetime.strptime(ev["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
                ev["t"] = ts.replace(tzinfo=datetime.timezone.utc).timestamp()
                out.append(ev)
        return out

    def text(self):
        with open(self.logpath) as f:
            return f.read()


class Helper:
    """wtest_helper with the common options."""

    def __init__(self, broker, key, batch):
        self.common = ["--redis", REDIS["REDIS_URL"], "--kafka",
                       broker.bootstrap, "--prefix", PREFIX, "--key", key,
                       "--batch", batch]
        self.dump = os.path.join(TMP, f"kafka-{batch}.dump")
        self.events = []
        self.lock = threading.Lock()
        self.serve_proc = None

    def run(self, cmd, *extra):
        p = subprocess.run([HELPER, cmd] + self.common + list(extra),
                           capture_output=True, text=True, timeout=120)
        check(p.returncode == 0, f"wtest_helper {cmd}: {p.stderr}")
        return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]

    def serve(self, timeout=300):
        self.serve_proc = subprocess.Popen(
            [HELPER, "serve"] + self.common +
            ["--timeout", str(timeout), "--dump", self.dump],
            stdout=subprocess.PIPE, text=True)
        PROCS.append(self.serve_proc)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.serve_proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.events.append(ev)
            if ev["event"] in ("result", "expired", "end", "requeue_skipped"):
                log(f"event {ev}")

    def wait_served(self, timeout):
        try:
            rc = self.serve_proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            fail("the batch did not settle in time")
        time.sleep(0.2)
        return rc

    def find(self, pred):
        with self.lock:
            return [e for e in self.events if pred(e)]

    def wait_for(self, pred, timeout, what):
        end = time.time() + timeout
        while time.time() < end:
            got = self.find(pred)
            if got:
                return got
            time.sleep(0.1)
        fail(f"timed out waiting for {what}")

    def states(self):
        return {e["mailbox"]: e for e in self.run("states")}


# ------------------------------------------------------------ mail


LIST_RE = re.compile(r'^\((.*?)\) (NIL|"(?:[^"\\]|\\.)*") (.*)$')


def clean_target(users):
    """Empties the users' target mailboxes, whatever earlier runs left."""
    for n in users:
        u, p = user(n)
        c = imaplib.IMAP4("127.0.0.1", TGT_PORT)
        c.login(u, p)
        typ, data = c.list('""', "*")
        names = []
        for line in data:
            m = LIST_RE.match(line.decode()) if isinstance(line, bytes) else None
            if m:
                names.append((m.group(3), "\\noselect" in m.group(1).lower()))
        expunge_all(c, names)
        for name, _ in sorted(names, key=lambda x: -len(x[0])):
            if name.strip('"').upper() != "INBOX":
                c.delete(name)
        c.logout()


def corpus(users, messages):
    subprocess.run(
        ["/usr/bin/python3", os.path.join(SUPPORT, "dovecot", "gen_corpus.py"),
         "--server", "source", "--first-user", str(users[0]), "--users",
         str(len(users)), "--profile", "bench", "--messages-per-user",
         str(messages), "--no-items", "--clean", "-j", "2"],
        check=True, stdout=subprocess.DEVNULL)
    clean_target(users)


def assert_equal(users):
    for n in users:
        u, p = user(n)
        proc = subprocess.run(
            ["/usr/bin/python3", os.path.join(SUPPORT, "imapcompare.py"),
             "--source", f"127.0.0.1:{SRC_PORT}", "--target",
             f"127.0.0.1:{TGT_PORT}", "--user", u, "--password", p,
             "--special-use", "--subscriptions", "--json"],
            capture_output=True, text=True, timeout=300)
        doc = json.loads(proc.stdout)
        check(doc["equal"], f"{u}: not equal: {doc['problems'][:10]}")
        log(f"{u}: EQUAL")


def no_clear_passwords(users, helper, workers):
    secrets = [user(n)[1].encode() for n in users]
    with open(helper.dump, "rb") as f:
        data = f.read()
    check(len(data) > 0, "nothing was read from Kafka")
    for s in secrets:
        check(s not in data, f"password {s!r} in clear in a Kafka message")
    for w in workers:
        text = w.text().encode()
        for s in secrets:
            check(s not in text, f"password {s!r} in {w.logpath}")
    log(f"no password in {len(data)} bytes of Kafka messages or the logs")


# ------------------------------------------------------------ setup


def setup(case, users):
    corpus(users, 300)
    key = os.path.join(TMP, "master.key")
    subprocess.run([HELPER, "keygen", key], check=True)
    broker = Broker()
    batch = f"w-{case}-{RUN_ID}"
    h = Helper(broker, key, batch)
    h.run("create", "--source", SRC, "--target", TGT, "--users",
          ",".join(str(n) for n in users), "--bps", str(BPS))
    return broker, key, h


def running_on(h, worker):
    """Mailboxes the worker reported progress for (a job in flight)."""
    return {e["mailbox"] for e in h.find(
        lambda e: e["event"] == "progress" and e["worker"] == worker.name
        and e["done"] > 0)}


def start_a_then_b(broker, key, h, claim_ttl=CLAIM_TTL):
    """Worker a alone first, so that it surely runs jobs (with two
    members, every job's partition might belong to the other); b joins
    once a is busy and takes whatever a does not finish."""
    a = Worker("a", broker, key, claim_ttl=claim_ttl)
    h.serve()
    h.wait_for(lambda e: e["event"] == "progress" and e["worker"] == a.name
               and e["done"] > 0, 120, "a job in progress on worker a")
    b = Worker("b", broker, key, claim_ttl=claim_ttl, slots=4)
    b.wait_assigned()
    time.sleep(1)
    return a, b


def finished_on_b(h, u, b):
    """Mailbox u's last applied synced result came from worker b."""
    fin = h.find(lambda e: e["event"] == "result" and e["mailbox"] == u
                 and e["outcome"] == "synced" and e["applied"])
    check(fin and fin[-1]["worker"] == b.name,
          f"{u} did not finish on worker b: {fin}")


def all_synced(h, users):
    """The batch settled (at most 300 s) with every mailbox Synced; the
    mailboxes' states."""
    check(h.wait_served(300) == 0, "the batch did not settle")
    st = h.states()
    for n in users:
        u = user(n)[0]
        check(st[u]["state"] == "Synced", f"{u}: {st[u]}")
    return st


def finish(users, h, a, b, stopping):
    """The workers stopping exit cleanly on SIGTERM; the users' mailboxes
    are equal on both sides and no password is in the clear anywhere."""
    for w in stopping:
        w.proc.send_signal(signal.SIGTERM)
        check(w.proc.wait(timeout=60) == 0,
              f"worker {w.name} did not exit cleanly")
    assert_equal(users)
    no_clear_passwords(users, h, [a, b])


def case_kill():
    users = [20, 21, 22, 23]
    broker, key, h = setup("kill", users)
    a, b = start_a_then_b(broker, key, h)
    victims = running_on(h, a)
    a.proc.kill()
    a.proc.wait()
    log(f"killed worker a (-9) in the middle of {sorted(victims)}")
    all_synced(h, users)
    # A job a finished just before the kill is no victim: its result
    # may even arrive after the kill (sent, then killed).
    victims -= {e["mailbox"] for e in h.find(
        lambda e: e["event"] == "result" and e["worker"] == a.name)}
    check(victims, "worker a was killed with no job in flight")
    expired = h.find(lambda e: e["event"] == "expired")
    check({e["mailbox"] for e in expired} >= victims,
          f"not every job of the dead worker was requeued: {expired}")
    for u in victims:
        finished_on_b(h, u, b)
    finish(users, h, a, b, [b])


def case_sigterm():
    users = [24, 25, 26]
    broker, key, h = setup("sigterm", users)
    # A long claim TTL: a job that waited for its claim to expire would
    # start on b half a minute late; handed back, it starts as soon as
    # the group has given a's partitions to b (b has a slot for each).
    a, b = start_a_then_b(broker, key, h, claim_ttl=30)
    victims = running_on(h, a)
    t0 = time.time()
    a.proc.send_signal(signal.SIGTERM)
    try:
        rc = a.proc.wait(timeout=SHUTDOWN_TIMEOUT + 15)
    except subprocess.TimeoutExpired:
        fail("worker a did not exit after SIGTERM")
    took = time.time() - t0
    log(f"worker a exited {rc} {took:.1f} s after SIGTERM "
        f"(jobs {sorted(victims)})")
    check(rc == 0, f"worker a exit code {rc}")
    check(took < SHUTDOWN_TIMEOUT + 5, f"shutdown took {took:.1f} s")
    text = a.text()
    check("job.handback" in text, "worker a handed no job back")
    check("left the group" in text, "worker a did not leave the group")
    st = all_synced(h, users)
    for u in victims:
        finished_on_b(h, u, b)
        check(st[u]["attempt"] >= 2, f"{u} was not handed back: {st[u]}")
        # Handed back at once, not after the claim expired.
        starts = [e["t"] - t0 for e in b.events("job.start")
                  if e.get("mailbox") == u]
        check(starts and min(starts) < 15,
              f"{u} did not restart on b at once: {starts}")
        log(f"{u} restarted on b {min(starts):.1f} s after SIGTERM")
    finish(users, h, a, b, [b])


def case_stop():
    users = [27, 28, 29]
    broker, key, h = setup("stop", users)
    a = Worker("a", broker, key, http=True)
    b = Worker("b", broker, key, http=True)
    h.serve()
    for w in (a, b):
        status, body = w.get("/healthz")
        check(status == 200, f"{w.name} /healthz: {status} {body}")
    h.wait_for(lambda e: e["event"] == "progress" and e["done"] > 0, 120,
               "a job in progress")
    for w in (a, b):
        status, body = w.get("/readyz")
        check(status == 200, f"{w.name} /readyz: {status} {body}")
    # A message that is no job goes to the dead-letter topic.
    h.run("garbage")
    h.wait_for(lambda e: e["event"] == "dlq", 60, "the dead letter")
    dead = sum(w.metric("mailferry_worker_jobs_dead_lettered_total") or 0
               for w in (a, b))
    check(dead == 1, f"dead-lettered {dead}")
    h.run("stop")
    log("batch stop")
    check(h.wait_served(120) == 0, "the batch did not settle after stop")
    st = h.states()
    stopped = [u for u, s in st.items() if s["state"] == "Stopped"]
    log(f"states after stop: {[(u, s['state']) for u, s in st.items()]}")
    check(stopped, "no mailbox Stopped")
    for u, s in st.items():
        check(s["state"] in ("Stopped", "Synced"), f"{u}: {s}")
    results = h.find(lambda e: e["event"] == "result" and e["applied"])
    check(any(e["outcome"] == "stopped" for e in results),
          f"no STOPPED result: {results}")
    for e in results:
        if e["outcome"] == "stopped":
            check(e["error"] == "CANCELLED", f"stop reason: {e}")
    # Resume: the stopped mailboxes finish, nothing lost or twice.
    h.run("start")
    log("batch start (resume)")
    h.events.clear()
    h.serve()
    check(h.wait_served(300) == 0, "the batch did not settle after start")
    st = h.states()
    for n in users:
        u = user(n)[0]
        check(st[u]["state"] == "Synced", f"{u}: {st[u]}")
    copied = sum(w.metric("mailferry_worker_messages_copied_total") or 0
                 for w in (a, b))
    check(copied >= 3 * 300, f"metrics say {copied} messages copied")
    stopped = sum(w.metric("mailferry_worker_jobs_finished_total",
                           '{outcome="stopped"}') or 0 for w in (a, b))
    check(stopped >= 1, f"metrics say {stopped} jobs stopped")
    log(f"metrics: {copied:.0f} messages copied, {stopped:.0f} stopped")
    finish(users, h, a, b, [a, b])


def case_redis():
    users = [20, 21]  # shared with `kill`: the cases hold one lock
    broker, key, h = setup("redis", users)
    a = Worker("a", broker, key)
    b = Worker("b", broker, key)
    h.serve()
    h.wait_for(lambda e: e["event"] == "progress" and e["done"] > 0, 120,
               "a job in progress")
    log("restarting redis-server")
    subprocess.run([os.path.join(SUPPORT, "redis", "fixture"), "restart"],
                   check=True, stdout=subprocess.DEVNULL)
    for w in (a, b):
        check(w.proc.poll() is None, f"{w.name} died with Redis away")
    all_synced(h, users)
    finish(users, h, a, b, [a, b])


def main():
    case = sys.argv[1] if len(sys.argv) > 1 else ""
    fn = {"kill": case_kill, "sigterm": case_sigterm, "stop": case_stop,
          "redis": case_redis}.get(case)
    if not fn:
        print("usage: worker_test.py kill|sigterm|stop|redis")
        sys.exit(2)
    try:
        fn()
    finally:
        cleanup()
    log(f"PASS {case}")


if __name__ == "__main__":
    main()
