#!/usr/bin/python3
"""A reusable harness for tests and benchmarks of the distributed pipeline:
private servers, `mailferry` CLI commands, `mailferry serve` and
`mailferry-worker` processes, and the independent comparer.

    import sys; sys.path.insert(0, "<source>/tests/support")
    from pipeline import Pipeline, Fail

    with Pipeline("e2e-kill", users=8) as p:     # Dovecot pair, redis, broker
        p.corpus(1, 8, messages=300)
        p.create("b1", p.csv("b1.csv", range(1, 9)), "--max-bytes-per-second",
                 "3000000")
        p.serve()
        w = [p.worker(f"w{i}", slots=2) for i in range(3)]
        p.start("b1")
        p.wait_state("b1", "Synced", timeout=120)
        p.assert_equal(range(1, 9))

Everything runs in a private directory under $MF_TEST_RUN_DIR (made with
mkdtemp), with PRIVATE servers started through the fixtures' own scripts
(each given that directory as its MF_TEST_RUN_DIR): a Dovecot pair
(tests/support/dovecot/fixture; `users`, `max_userip`), a redis-server
(tests/support/redis/fixture; `restart_redis()` restarts it on the same
port) and a Kafka dev broker (tests/support/devbroker/fixture;
`broker("broker down all")` writes to its control FIFO). A test may break
them freely: no other test uses them. `cyrus="source"` or `"target"`
also starts a private Cyrus pair (tests/support/cyrus/fixture, users
`cyrus_users`; MF_CYRUS_ROOT as the fixture reads it) and puts that side
of the migration on it (its source, or its target, server), the other
side staying on the Dovecot pair: source_url(), target_url(), corpus(),
append() and compare() follow; with `cyrus_tls=True` the Cyrus side's
URL is its imaps port, and `ca_args()` gives the `--ca-file` of the
Cyrus fixture's test CA for `batch create`. The default topic prefix and Redis
database are used, since nobody else shares them.

Processes: `serve()` and `worker()` start `mailferry serve` and
`mailferry-worker` with short timers suited to tests (scan interval 1 s,
progress every second, Kafka session 6 s) and HTTP on a free port; their
logs are files in the private directory. `close()` (also run by the `with`
block, by atexit and on SIGTERM/SIGINT) ends every process it started by
PID (TERM, then KILL), stops the fixtures and removes the directory
(kept when MF_PIPELINE_KEEP=1 is set, or after a failure with
keep_on_failure). `deadline=S` raises Fail after S seconds (SIGALRM), so
that a hung case cleans up before ctest's TIMEOUT kills it outright (the
fixtures' servers run in their own sessions and would outlive it).

Environment: MF_TEST_RUN_DIR (required), MF_BUILD_DIR (programs in
<build>/bin), MF_SOURCE_DIR (default: two levels above this file).
Python standard library only (Debian's /usr/bin/python3).
"""
import atexit
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
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC_DIR = os.environ.get("MF_SOURCE_DIR",
                         os.path.dirname(os.path.dirname(HERE)))
BUILD = os.environ.get("MF_BUILD_DIR", os.path.join(SRC_DIR, "build"))
BIN = os.path.join(BUILD, "bin")
SUPPORT = os.path.join(SRC_DIR, "tests", "support")
MAILFERRY = os.path.join(BIN, "mailferry")
WORKER = os.path.join(BIN, "mailferry-worker")
KAFKADUMP = os.path.join(BIN, "e2e_kafkadump")
PY = "/usr/bin/python3"

RUNNING_STATES = ("Syncing", "IncrementalSyncing", "Completing", "Stopping")


sys.path.insert(0, HERE)
from itestlib import Fail, http_get, run_cli  # noqa: E402


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def check(cond, what):
    if not cond:
        raise Fail(what)
    print("ok:", what, flush=True)


def env_file(path):
    out = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                out[k] = v
    return out


def user(n):
    """(login, password) of Dovecot fixture user n."""
    return f"user{n:02d}@example.test", f"pw-user{n:02d}"


# Every live Pipeline, closed at exit and on SIGTERM/SIGINT.
_LIVE = []


def _close_all():
    for p in list(_LIVE):
        p.close()


def _on_signal(signum, frame):
    # Turn the signal into an exception so that finally blocks and the
    # `with` statement stop what was started; then exit.
    raise SystemExit(128 + signum)


atexit.register(_close_all)
for _sig in (signal.SIGTERM, signal.SIGINT):
    if signal.getsignal(_sig) in (signal.SIG_DFL, signal.default_int_handler):
        signal.signal(_sig, _on_signal)


# ------------------------------------------------------------ processes


class Proc:
    """A program we started, its output in a log file."""

    def __init__(self, name, cmd, logpath, env=None):
        self.name = name
        self.cmd = cmd
        self.logpath = logpath
        self.logf = open(logpath, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.logf,
                                     stderr=subprocess.STDOUT, env=env,
                                     stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def text(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=30):
        """Waits until the log matches the regular expression."""
        end = time.time() + timeout
        while time.time() < end:
            m = re.search(pattern, self.text())
            if m:
                return m
            if not self.alive():
                raise Fail(f"{self.name} exited ({self.proc.returncode}) "
                           f"before /{pattern}/:\n{self.text()[-3000:]}")
            time.sleep(0.1)
        raise Fail(f"{self.name}: no /{pattern}/ within {timeout} s:\n"
                   f"{self.text()[-3000:]}")

    def term(self, timeout=30):
        """SIGTERM, wait; returns (exit code, seconds it took)."""
        t0 = time.time()
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Fail(f"{self.name} ignored SIGTERM for {timeout} s")
        return rc, time.time() - t0

    def kill(self):
        if self.alive():
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def stop(self):
        """TERM, then KILL after a grace period: used at cleanup."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.logf.close()


class HttpProc(Proc):
    """A program that serves /healthz, /readyz and /metrics."""

    port_re = r"on port (\d+)|\(port (\d+)\)"

    def http_port(self):
        m = self.wait_log(self.port_re, timeout=20)
        return int(m.group(1) or m.group(2))

    def get(self, path):
        return http_get(self.http_port(), path)

    def metrics(self):
        """{'name{labels}': value} of /metrics."""
        status, text = self.get("/metrics")
        if status != 200:
            raise Fail(f"{self.name} /metrics: {status} {text[:200]}")
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out


class Worker(HttpProc):
    def __init__(self, name, worker_id, cmd, logpath, env):
        super().__init__(name, cmd, logpath, env)
        self.id = worker_id

    def wait_assigned(self, timeout=60):
        self.wait_log(r"worker\.rebalance.*assigned [1-9]", timeout)


# ------------------------------------------------------------ redis


class Redis:
    """A tiny RESP client: enough to SCAN, read every type and DUMP."""

    def __init__(self, host, port, db=None, user=None, password_file=None):
        """user and password_file: AUTH as that ACL user; db: SELECT it."""
        self.s = socket.create_connection((host, int(port)), timeout=10)
        self.f = self.s.makefile("rb")
        if user:
            with open(password_file) as f:
                self.cmd("AUTH", user, f.read().strip())
        if db is not None:
            self.cmd("SELECT", db)

    def close(self):
        self.f.close()
        self.s.close()

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self._read()

    def _read(self):
        line = self.f.readline()
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest
        if t == b"-":
            raise Fail("redis: " + rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise Fail("redis: bad reply %r" % line)

    def keys(self, pattern="*"):
        cur, out = b"0", []
        while True:
            cur, batch = self.cmd("SCAN", cur, "MATCH", pattern, "COUNT",
                                  1000)
            out += batch
            if cur == b"0":
                return out

    def everything(self, pattern="*"):
        """Every key, value and DUMP under the keys matching pattern."""
        blob = []
        for k in self.keys(pattern):
            blob.append(k)
            t = self.cmd("TYPE", k)
            if t == b"hash":
                blob += self.cmd("HGETALL", k)
            elif t == b"list":
                blob += self.cmd("LRANGE", k, 0, -1)
            elif t == b"set":
                blob += self.cmd("SMEMBERS", k)
            elif t == b"zset":
                blob += self.cmd("ZRANGE", k, 0, -1, "WITHSCORES")
            elif t == b"string":
                blob.append(self.cmd("GET", k) or b"")
            elif t == b"stream":
                for ent in self.cmd("XRANGE", k, "-", "+"):
                    blob.append(ent[0])
                    blob += ent[1]
            blob.append(self.cmd("DUMP", k) or b"")
        return b"\n".join(blob)


# ------------------------------------------------------------ pipeline


class Pipeline:
    def __init__(self, name, users=0, max_userip=None, dovecot=True,
                 redis=True, kafka=True, keep_on_failure=True, deadline=None,
                 cyrus=None, cyrus_users=None, cyrus_tls=False):
        """deadline (seconds): raise Fail after that long (SIGALRM), so
        that a hung case still stops its servers before an outer timeout
        (ctest's) kills the process without any cleanup."""
        run = os.environ["MF_TEST_RUN_DIR"]
        if deadline:
            def on_alarm(signum, frame):
                raise Fail(f"pipeline {name}: deadline of {deadline} s "
                           f"reached")
            signal.signal(signal.SIGALRM, on_alarm)
            signal.alarm(int(deadline))
        os.makedirs(run, exist_ok=True)
        self.name = name
        self.dir = tempfile.mkdtemp(prefix=f"mf-pipeline-{name}.", dir=run)
        self.keep_on_failure = keep_on_failure
        self.failed = False
        self.procs = []
        self.outputs = []  # everything the CLI printed (secret checks)
        self.fixtures = []  # started fixture scripts, stopped in reverse
        self.closed = False
        self.env = dict(os.environ, MF_TEST_RUN_DIR=self.dir,
                        MF_BUILD_DIR=BUILD, MF_SOURCE_DIR=SRC_DIR)
        self.dov = self.redis = self.kafka = self.cyr = None
        self.tls_side = None  # the side reached over imaps (Cyrus's)
        self._key = None
        # (env file, role) of each side's server, for gen_corpus.py.
        self.sides = {"source": ("dovecot.env", "source"),
                      "target": ("dovecot.env", "target")}
        _LIVE.append(self)
        log(f"pipeline {name}: {self.dir}")
        try:
            if dovecot:
                self.start_dovecot(users or 10, max_userip)
            if cyrus:
                self.start_cyrus(cyrus, cyrus_users or str(users or 10))
                self.tls_side = cyrus if cyrus_tls else None
            if redis:
                self.start_redis()
            if kafka:
                self.start_kafka()
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, typ, val, tb):
        if typ is not None and typ is not SystemExit:
            self.failed = True
            self.dump_logs()
        self.close()
        return False

    def path(self, name):
        return os.path.join(self.dir, name)

    # ----------------------------------------------------- servers

    def _fixture(self, script, verb, env=None):
        p = subprocess.run([os.path.join(SUPPORT, script), verb],
                           env=env or self.env, capture_output=True,
                           text=True, timeout=120)
        if p.returncode != 0:
            raise Fail(f"{script} {verb}: {p.stdout}{p.stderr}")
        return p

    def start_dovecot(self, users, max_userip=None):
        env = dict(self.env, MF_DOVECOT_USERS=str(users))
        if max_userip:
            env["MF_DOVECOT_MAX_USERIP"] = str(max_userip)
        self.fixtures.append("dovecot/fixture")
        self._fixture("dovecot/fixture", "start", env)
        self.dov = env_file(self.path("dovecot.env"))
        self.src_port = int(self.dov["SOURCE_IMAP_PORT"])
        self.tgt_port = int(self.dov["TARGET_IMAP_PORT"])

    def start_cyrus(self, side, users):
        """A private Cyrus pair (users: "116-117" or "1,5"); the migration's
        side ("source" or "target") goes to its server of that role."""
        env = dict(self.env, MF_CYRUS_USERS=users)
        self.fixtures.append("cyrus/fixture")
        self._fixture("cyrus/fixture", "start", env)
        self.cyr = env_file(self.path("cyrus.env"))
        port = int(self.cyr[side.upper() + "_IMAP_PORT"])
        if side == "source":
            self.src_port = port
        else:
            self.tgt_port = port
        self.sides[side] = ("cyrus.env", side)

    def start_redis(self):
        self.fixtures.append("redis/fixture")
        self._fixture("redis/fixture", "start")
        self.redis = env_file(self.path("redis.env"))
        self.redis_url = self.redis["REDIS_URL"]

    def restart_redis(self):
        """Stops the private redis-server and starts it again (same port,
        same AOF data)."""
        self._fixture("redis/fixture", "restart")
        self.redis = env_file(self.path("redis.env"))

    def redis_client(self):
        return Redis(self.redis["REDIS_HOST"], self.redis["REDIS_PORT"])

    def start_kafka(self):
        self.fixtures.append("devbroker/fixture")
        self._fixture("devbroker/fixture", "start")
        self.kafka = env_file(self.path("kafka.env"))
        self.bootstrap = self.kafka["KAFKA_BOOTSTRAP"]

    def broker(self, command):
        """One control command for the dev broker, e.g. `broker down all`."""
        fd = os.open(self.kafka["KAFKA_CONTROL"], os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, (command + "\n").encode())
        finally:
            os.close(fd)
        log(f"devbroker: {command}")

    def _imaps_url(self, side):
        return f"imaps://127.0.0.1:{self.cyr[side.upper() + '_IMAPS_PORT']}"

    def source_url(self, port=None):
        if self.tls_side == "source" and port is None:
            return self._imaps_url("source")
        return f"imap://127.0.0.1:{port or self.src_port}/?tls=off"

    def target_url(self):
        if self.tls_side == "target":
            return self._imaps_url("target")
        return f"imap://127.0.0.1:{self.tgt_port}/?tls=off"

    def ca_args(self):
        """--ca-file for the side reached over imaps (none without)."""
        return ["--ca-file", self.cyr["CA_FILE"]] if self.tls_side else []

    # ----------------------------------------------------- mail

    def corpus(self, first, count, messages, profile="bench", clean=True,
               server="source", jobs=2, extra=()):
        """A deterministic corpus for users first..first+count-1 on the
        server of side `server` (Dovecot's or Cyrus's); extra: more
        gen_corpus.py options."""
        envfile, role = self.sides[server]
        cmd = [PY, os.path.join(SUPPORT, "dovecot", "gen_corpus.py"),
               "--env", self.path(envfile), "--server", role,
               "--first-user", str(first), "--users", str(count),
               "--profile", profile, "--messages-per-user", str(messages),
               "--no-items", "-j", str(jobs),
               "--manifest", self.path(f"manifest-{first}-{count}.json")]
        if clean:
            cmd.append("--clean")
        cmd += list(extra)
        subprocess.run(cmd, env=self.env, check=True,
                       stdout=subprocess.DEVNULL, timeout=600)

    def append(self, n, subject, folder="INBOX", body="hello\r\n"):
        """APPENDs one message to user n's source folder; returns its
        Message-ID."""
        u, pw = user(n)
        mid = f"<e2e-{time.time():.6f}-{os.getpid()}@example.test>"
        msg = (f"From: e2e <e2e@example.test>\r\nTo: {u}\r\n"
               f"Subject: {subject}\r\nMessage-ID: {mid}\r\n"
               f"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n\r\n{body}")
        c = imaplib.IMAP4("127.0.0.1", self.src_port)
        try:
            c.login(u, pw)
            typ, data = c.append(folder, "(\\Seen)", None, msg.encode())
            if typ != "OK":
                raise Fail(f"APPEND to {u}: {typ} {data}")
        finally:
            c.logout()
        return mid

    def compare(self, n, source_port=None):
        """The comparer's JSON document for user n."""
        u, pw = user(n)
        p = subprocess.run(
            [PY, os.path.join(SUPPORT, "imapcompare.py"), "--source",
             f"127.0.0.1:{source_port or self.src_port}", "--target",
             f"127.0.0.1:{self.tgt_port}", "--user", u, "--password", pw,
             "--special-use", "--subscriptions", "--json"],
            capture_output=True, text=True, timeout=300)
        try:
            return json.loads(p.stdout)
        except ValueError:
            raise Fail(f"imapcompare {u}: exit {p.returncode}: "
                       f"{p.stdout[-1000:]}{p.stderr[-1000:]}")

    def assert_equal(self, users, parallel=2):
        """Every user's target equals its source (messages, flags, dates,
        folders, subscriptions)."""
        users = list(users)
        docs, errs = {}, []

        def run(part):
            for n in part:
                try:
                    docs[n] = self.compare(n)
                except Exception as e:  # reported below
                    errs.append(e)

        threads = [threading.Thread(target=run, args=(users[i::parallel],))
                   for i in range(parallel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errs:
            raise errs[0]
        bad = {user(n)[0]: docs[n]["problems"][:5] for n in users
               if not docs[n]["equal"]}
        check(not bad, f"{len(users)} mailboxes EQUAL by the comparer"
              + (f"; different: {bad}" if bad else ""))
        return docs

    # ----------------------------------------------------- the CLI

    def key(self):
        """The master key file (made on first use)."""
        if not self._key:
            self._key = self.path("master.key")
            self.mf("key", "generate", self._key)
        return self._key

    def csv(self, name, users, passwords=None, admin=False):
        """A batch CSV of Dovecot users; passwords {n: pw} overrides some.
        admin=True leaves the (source) Password column empty, for
        `--admin`, and gives the target login in TargetUserName and
        TargetPassword."""
        passwords = passwords or {}
        path = self.path(name)
        with open(path, "w") as f:
            if admin:
                f.write("EmailAddress,UserName,Password,TargetUserName,"
                        "TargetPassword\n")
            else:
                f.write("EmailAddress,UserName,Password\n")
            for n in users:
                u, pw = user(n)
                pw = passwords.get(n, pw)
                if admin:
                    f.write(f"{u},{u},,{u},{pw}\n")
                else:
                    f.write(f"{u},{u},{pw}\n")
        return path

    def mf(self, *args, expect=0, timeout=120):
        return run_cli([MAILFERRY, *args], self.env, self.outputs,
                       expect=expect, timeout=timeout, tail=3000)

    def mfj(self, *args, expect=0, timeout=120):
        p = self.mf(*args, "--json", expect=expect, timeout=timeout)
        return json.loads(p.stdout) if p.stdout.strip() else None

    def kafka_args(self):
        return ["--redis", self.redis_url, "--kafka", self.bootstrap,
                "--master-key-file", self.key()]

    def create(self, batch, csvfile, *extra, source=None, expect=0):
        return self.mfj("batch", "create", batch, "--csv", csvfile,
                        "--source", source or self.source_url(), "--target",
                        self.target_url(), "--redis", self.redis_url,
                        "--master-key-file", self.key(), *extra,
                        expect=expect)

    def op(self, verb, batch, *extra, expect=0):
        """batch start|sync|complete (Kafka) or stop|remove (Redis only)."""
        if verb in ("start", "sync", "complete"):
            return self.mfj("batch", verb, batch, *self.kafka_args(), *extra,
                            expect=expect)
        return self.mf("batch", verb, batch, "--redis", self.redis_url,
                       *extra, expect=expect)

    def start(self, batch, expect=0):
        return self.op("start", batch, expect=expect)

    def status(self, batch):
        return self.mfj("batch", "status", batch, "--redis", self.redis_url)

    def mailbox(self, st, n_or_email):
        email = n_or_email if isinstance(n_or_email, str) \
            else user(n_or_email)[0]
        return [m for m in st["mailboxes"] if m["email"] == email][0]

    def report(self, batch, fmt="json", out=None):
        out = out or self.path(f"report-{batch}.{fmt}")
        self.mf("batch", "report", batch, "--redis", self.redis_url,
                "--format", fmt, "-o", out)
        with open(out, "rb") as f:
            data = f.read()
        return json.loads(data) if fmt == "json" else data

    def wait_state(self, batch, states, timeout=120, poll=0.5):
        """Waits until the batch is in one of states; returns the status."""
        if isinstance(states, str):
            states = [states]
        end = time.time() + timeout
        st = None
        while time.time() < end:
            try:
                st = self.status(batch)
            except Fail:
                st = None  # Redis restarting, say
            if st and st["state"] in states:
                return st
            time.sleep(poll)
        raise Fail("batch %s: state %s after %d s, waited for %s; counts %s"
                   % (batch, st and st["state"], timeout, states,
                      st and st["counts"]))

    def wait(self, pred, timeout, what, poll=0.2):
        """Waits until pred() returns something true; returns it."""
        end = time.time() + timeout
        while time.time() < end:
            v = pred()
            if v:
                return v
            time.sleep(poll)
        raise Fail(f"timed out ({timeout} s) waiting for {what}")

    def in_flight(self, batch, worker=None, min_done=1):
        """Mailboxes being copied (claimed, some messages done, not all),
        optionally by one worker: [(email, status entry)]."""
        st = self.status(batch)
        out = []
        for m in st["mailboxes"]:
            pr = m["progress"]
            if (m["state"] in RUNNING_STATES and m["claimed_by"] and
                    (worker is None or m["claimed_by"] == worker.id) and
                    pr["messages_done"] >= min_done and
                    pr["messages_done"] < pr["messages_total"]):
                out.append((m["email"], m))
        return out

    # ----------------------------------------------------- processes

    def serve(self, *extra):
        cmd = [MAILFERRY, "serve", *self.kafka_args(), "--scan-interval",
               "1s", "--http-listen", "127.0.0.1:0", *extra]
        # kafka.* settings come from the environment for serve.
        env = dict(self.env, MAILFERRY_KAFKA_SESSION_TIMEOUT_MS="6000")
        s = HttpProc("serve", cmd, self.path(f"serve{len(self.procs)}.log"),
                     env)
        self.procs.append(s)
        s.wait_log(r"consumer\.rebalance.*assigned", timeout=60)
        log(f"serve pid {s.pid}")
        return s

    def worker(self, name, slots=2, bind=None, claim_ttl="6s",
               lease_ttl=None, shutdown_timeout=None, progress="1s",
               http=True, extra=(), wait=True, group_timing=True):
        """group_timing False: the worker's own consumer-group defaults
        instead of this harness's session and heartbeat."""
        wid = f"{name}-{os.getpid()}"
        cmd = [WORKER, *self.kafka_args(), "--slots", str(slots),
               "--worker-id", wid, "--claim-ttl", claim_ttl,
               "--progress-interval", progress]
        if group_timing:
            cmd += ["--kafka.session.timeout.ms", "6000",
                    "--kafka.heartbeat.interval.ms", "500"]
        if bind:
            cmd += ["--bind-address", bind]
        if lease_ttl:
            cmd += ["--lease-ttl", lease_ttl]
        if shutdown_timeout:
            cmd += ["--shutdown-timeout", shutdown_timeout]
        if http:
            cmd += ["--http-listen", "127.0.0.1:0"]
        cmd += list(extra)
        w = Worker(name, wid, cmd, self.path(f"worker-{name}.log"), self.env)
        self.procs.append(w)
        log(f"worker {wid} pid {w.pid}")
        if wait:
            w.wait_log(r"worker\.start|worker\.rebalance", timeout=30)
        return w

    def workers(self, n, **kw):
        """n workers, each waited for until it holds partitions."""
        ws = [self.worker(f"w{i + 1}", **kw) for i in range(n)]
        for w in ws:
            w.wait_assigned()
        return ws

    def spawn(self, name, cmd):
        """Any other process, stopped by close()."""
        p = Proc(name, cmd, self.path(f"{name}.log"), self.env)
        self.procs.append(p)
        return p

    def kafka_dump(self, out=None, topics=("mailferry.jobs",
                                           "mailferry.results",
                                           "mailferry.jobs.dlq")):
        """Every message (key and value, raw bytes) of the topics, read
        from the beginning with e2e_kafkadump; returns the bytes."""
        out = out or self.path("kafka.dump")
        p = subprocess.run([KAFKADUMP, self.bootstrap, out, *topics],
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise Fail(f"e2e_kafkadump: {p.stdout}{p.stderr}")
        log(f"kafka dump: {p.stdout.strip()}")
        with open(out, "rb") as f:
            return f.read()

    def logs(self):
        """Every log we hold, as bytes: processes and CLI outputs."""
        blob = [("\n".join(self.outputs)).encode()]
        for p in self.procs:
            with open(p.logpath, "rb") as f:
                blob.append(f.read())
        return b"\n".join(blob)

    def dump_logs(self, tail=4000):
        for p in self.procs:
            try:
                print(f"--- {p.name} ({p.logpath}) ---")
                print(p.text()[-tail:])
            except OSError:
                pass

    # ----------------------------------------------------- cleanup

    def close(self):
        if self.closed:
            return
        self.closed = True
        signal.alarm(0)
        for p in reversed(self.procs):
            try:
                p.stop()
            except Exception as e:  # keep cleaning up
                print(f"pipeline: stopping {p.name}: {e}", file=sys.stderr)
        for script in reversed(self.fixtures):
            try:
                subprocess.run([os.path.join(SUPPORT, script), "stop"],
                               env=self.env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=60)
            except Exception as e:
                print(f"pipeline: {script} stop: {e}", file=sys.stderr)
        keep = os.environ.get("MF_PIPELINE_KEEP") == "1" or (
            self.failed and self.keep_on_failure)
        if keep:
            log(f"pipeline {self.name}: kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        if self in _LIVE:
            _LIVE.remove(self)


def secrets_absent(blob, what, secrets):
    """Fails if any secret appears in blob (bytes or str)."""
    if isinstance(blob, str):
        blob = blob.encode()
    for s in secrets:
        if s.encode() in blob:
            raise Fail(f"{what} contains the password {s!r}")
    check(True, f"no password in {what} ({len(blob)} bytes)")
