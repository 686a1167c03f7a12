#!/usr/bin/python3
"""The fleet-wide caps, proven at the server (issue 5).

A private Dovecot pair (so that its mail_max_userip_connections can be set)
and the shared redis-server; a connection-counting proxy of our own
(tests/support/connproxy) sits in front of the source and records the peak
of concurrent connections, in total and per client IP. Three mailferry
processes, 4 mailboxes at a time each, bound to 127.0.0.1, 127.0.0.2 and
127.0.0.3 (three "hosts" on loopback), share the caps through Redis.

  peers     30 mailboxes, per-user logins, caps total 5 and per IP 2:
            peak <= 5 overall and <= 2 per IP; every mailbox EQUAL
  admin     the same with admin credentials (every connection is the
            admin's), per-user cap 3 and Dovecot's own
            mail_max_userip_connections 3: peak <= 3, Dovecot refuses
            nothing (its log has no "Maximum number of connections")
  killed    a process killed -9 while holding both slots of a cap of 2:
            another process gets both slots back within the lease TTL
  bandwidth a bytes-per-second cap: the measured rate within +-10 %

Prints the measured peaks and rates.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

RUN = os.environ["MF_TEST_RUN_DIR"]
SRC_DIR = os.environ["MF_SOURCE_DIR"]
BUILD = os.environ["MF_BUILD_DIR"]
SUPPORT = os.path.join(SRC_DIR, "tests", "support")
MAILFERRY = os.path.join(BUILD, "bin", "mailferry")
PY = "/usr/bin/python3"


def env_file(path):
    out = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                out[k] = v
    return out


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


REDIS = env_file(os.path.join(RUN, "redis.env"))
RUN_ID = f"{os.getpid()}-{int(time.time())}"


class Servers:
    """A private Dovecot pair and a connproxy in front of its source."""

    def __init__(self, users, max_userip=20):
        self.dir = tempfile.mkdtemp(prefix="mf-capsproof.", dir=RUN)
        self.env = dict(os.environ, MF_TEST_RUN_DIR=self.dir,
                        MF_DOVECOT_USERS=str(users),
                        MF_DOVECOT_MAX_USERIP=str(max_userip))
        self.proxy = None
        subprocess.run([os.path.join(SUPPORT, "dovecot", "fixture"), "start"],
                       env=self.env, check=True, stdout=subprocess.DEVNULL)
        self.dov = env_file(os.path.join(self.dir, "dovecot.env"))

    def corpus(self, first, count, messages):
        subprocess.run([PY, os.path.join(SUPPORT, "dovecot", "gen_corpus.py"),
                        "--server", "source", "--first-user", str(first),
                        "--users", str(count), "--profile", "bench",
                        "--messages-per-user", str(messages), "--no-items",
                        "-j", "2"], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)

    def start_proxy(self):
        self.stats = os.path.join(self.dir, "proxy.json")
        portfile = os.path.join(self.dir, "proxy.port")
        self.proxy = subprocess.Popen(
            [os.path.join(SUPPORT, "connproxy", "connproxy"),
             "--listen-port-file", portfile, "--upstream",
             f"127.0.0.1:{self.dov['SOURCE_IMAP_PORT']}", "--stats",
             self.stats])
        for _ in range(100):
            if os.path.exists(portfile) and open(portfile).read().strip():
                break
            time.sleep(0.05)
        self.port = int(open(portfile).read())

    def proxy_stats(self):
        with open(self.stats) as f:
            return json.load(f)

    def stop(self):
        if self.proxy:
            self.proxy.send_signal(signal.SIGTERM)
            self.proxy.wait(10)
        subprocess.run([os.path.join(SUPPORT, "dovecot", "fixture"), "stop"],
                       env=self.env, stdout=subprocess.DEVNULL)

    def source(self):
        return f"imap://127.0.0.1:{self.port}/?tls=off"

    def target(self):
        return f"imap://127.0.0.1:{self.dov['TARGET_IMAP_PORT']}/?tls=off"


def csv(dirname, name, users):
    path = os.path.join(dirname, name)
    with open(path, "w") as f:
        f.write("EmailAddress,UserName,Password\n")
        for n in users:
            u = f"user{n:02d}@example.test"
            f.write(f"{u},{u},pw-user{n:02d}\n")
    return path


def migrate_cmd(srv, csvfile, bind, *extra):
    return [MAILFERRY, "migrate", csvfile, "--direct", "--source",
            srv.source(), "--target", srv.target(), "--concurrency", "4",
            "--bind-address",
            bind, "--redis", REDIS["REDIS_URL"], "--batch", f"caps-{RUN_ID}",
            "--json", "--report-dir", os.path.join(srv.dir, "report-" + bind)
            ] + list(extra)


def run_fleet(srv, users, *extra):
    """Three processes on three loopback addresses, a third of the
    mailboxes each; returns their JSON documents."""
    procs = []
    for i, bind in enumerate(("127.0.0.1", "127.0.0.2", "127.0.0.3")):
        part = users[i::3]
        f = csv(srv.dir, f"part{i}.csv", part)
        procs.append(subprocess.Popen(migrate_cmd(srv, f, bind, *extra),
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    docs = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        check(p.returncode == 0, f"migrate exit {p.returncode}: {err[-2000:]}"
              f"{out[-2000:]}")
        docs.append(json.loads(out))
    return docs


def compare_all(srv, users):
    for n in users:
        p = subprocess.run(
            [PY, os.path.join(SUPPORT, "imapcompare.py"), "--source",
             f"127.0.0.1:{srv.dov['SOURCE_IMAP_PORT']}", "--target",
             f"127.0.0.1:{srv.dov['TARGET_IMAP_PORT']}", "--user",
             f"user{n:02d}@example.test", "--password", f"pw-user{n:02d}",
             "--special-use"], capture_output=True, text=True)
        check(p.returncode == 0, f"user {n}: {p.stdout[-1500:]}")


def case_peers():
    srv = Servers(30)
    try:
        srv.corpus(1, 30, 40)
        srv.start_proxy()
        users = list(range(1, 31))
        run_fleet(srv, users, "--max-connections", "5",
                  "--max-connections-per-ip", "2")
        st = srv.proxy_stats()
        per_ip = {ip: v["peak"] for ip, v in st["per_ip"].items()}
        print(f"peers: peak {st['peak']} (cap 5), per IP {per_ip} (cap 2), "
              f"{st['accepted']} connections")
        check(st["peak"] <= 5, f"total peak {st['peak']} > 5")
        check(len(per_ip) == 3, f"expected 3 client IPs: {per_ip}")
        check(all(v <= 2 for v in per_ip.values()), f"per-IP peak: {per_ip}")
        check(st["peak"] >= 2, "the caps were never even approached")
        compare_all(srv, users)
    finally:
        srv.stop()


def case_admin():
    srv = Servers(30, max_userip=3)
    try:
        srv.corpus(1, 30, 20)
        srv.start_proxy()
        pw = os.path.join(srv.dir, "admin.pw")
        with open(pw, "w") as f:
            f.write(srv.dov["MASTER_PASSWORD"])
        users = list(range(1, 31))
        # The target logs in per user (its passwords are in the CSV); the
        # source is the admin's for every mailbox.
        procs = []
        for i, bind in enumerate(("127.0.0.1", "127.0.0.2", "127.0.0.3")):
            f = csv(srv.dir, f"admin{i}.csv", users[i::3])
            procs.append(subprocess.Popen(
                migrate_cmd(srv, f, bind, "--admin", srv.dov["MASTER_USER"],
                            "--admin-password-file", pw,
                            "--max-connections-per-user", "3"),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        for p in procs:
            out, err = p.communicate(timeout=600)
            check(p.returncode == 0, f"exit {p.returncode}: {out[-1500:]}")
        st = srv.proxy_stats()
        print(f"admin: peak {st['peak']} (per-user cap 3, Dovecot "
              f"mail_max_userip_connections 3), {st['accepted']} connections")
        check(st["peak"] <= 3, f"peak {st['peak']} > 3")
        with open(srv.dov["SOURCE_LOG"], errors="replace") as f:
            log = f.read()
        check("Maximum number of connections" not in log,
              "Dovecot refused a connection")
        compare_all(srv, users)
    finally:
        srv.stop()


def case_killed():
    srv = Servers(8)
    ttl = 3
    try:
        srv.corpus(1, 8, 400)
        srv.start_proxy()
        caps = ["--max-connections", "2", "--lease-ttl", str(ttl)]
        a = subprocess.Popen(migrate_cmd(srv, csv(srv.dir, "a.csv", [1, 2, 3,
                                                                     4]),
                                         "127.0.0.2", *caps),
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            st = srv.proxy_stats()
            if st["per_ip"].get("127.0.0.2", {}).get("current", 0) == 2:
                break
            time.sleep(0.05)
        check(a.poll() is None, "process A finished too early")
        os.kill(a.pid, signal.SIGKILL)
        a.wait()
        killed = time.time()
        b = subprocess.Popen(migrate_cmd(srv, csv(srv.dir, "b.csv", [5, 6, 7,
                                                                     8]),
                                         "127.0.0.3", *caps),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        full = first = None
        while time.time() < killed + 60:
            st = srv.proxy_stats()
            cur = st["per_ip"].get("127.0.0.3", {}).get("current", 0)
            if cur >= 1 and first is None:
                first = time.time() - killed
            if cur == 2:
                full = time.time() - killed
                break
            time.sleep(0.02)
        print(f"killed: first slot after {first} s")
        out, err = b.communicate(timeout=600)
        check(b.returncode == 0, f"B failed: {out[-1500:]}")
        check(full is not None, "B never got both slots")
        print(f"killed: both slots back {full:.2f} s after kill -9 "
              f"(lease TTL {ttl} s)")
        # The dead leases expire at most a TTL after the kill; the waiters
        # notice within a sixth of it; B needs a moment to start.
        check(full <= ttl + 1.0, f"slots came back after {full:.2f} s")
        check(srv.proxy_stats()["peak"] <= 2, "cap exceeded")
        compare_all(srv, [5, 6, 7, 8])
    finally:
        srv.stop()


def case_bandwidth():
    srv = Servers(2)
    rate = 3 * 1024 * 1024
    try:
        srv.corpus(1, 1, 600)
        srv.start_proxy()
        f = csv(srv.dir, "bw.csv", [1])
        p = subprocess.run(migrate_cmd(srv, f, "127.0.0.1",
                                       "--max-bytes-per-second", str(rate)),
                           capture_output=True, text=True, timeout=600)
        check(p.returncode == 0, f"exit {p.returncode}: {p.stdout[-1500:]}")
        m = json.loads(p.stdout)["mailboxes"][0]
        measured = m["bytes_copied"] / m["seconds"]
        print(f"bandwidth: cap {rate} B/s, measured {measured:.0f} B/s "
              f"({100.0 * (measured - rate) / rate:+.1f} %) over "
              f"{m['bytes_copied']} bytes in {m['seconds']:.2f} s")
        check(m["bytes_copied"] > 5 * rate, "too little data to measure")
        check(abs(measured - rate) <= 0.10 * rate, "rate outside +-10 %")
    finally:
        srv.stop()


CASES = {"peers": case_peers, "admin": case_admin, "killed": case_killed,
         "bandwidth": case_bandwidth}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print("usage: capsproof.py " + "|".join(CASES))
        sys.exit(2)
    CASES[sys.argv[1]]()
    print("ok: " + sys.argv[1])
