"""What the IMAP server fixtures (tests/support/dovecot/fixture,
tests/support/cyrus/fixture) share: the env file, the system user that owns
the mail, free ports, the throwaway test certificates, waiting for a
greeting (plain or TLS), and stopping the master processes they started
(by PID, with their children).

The fixtures import it with tests/support on sys.path.
"""

import fcntl
import os
import pwd
import signal
import socket
import ssl
import subprocess
import time

MAIL_USER = "mailferry-test"


def read_env(path):
    env = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if "=" in line and not line.startswith("#"):
                    k, v = line.split("=", 1)
                    env[k] = v
    except FileNotFoundError:
        pass
    return env


def write_env(path, env):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for k, v in env.items():
            f.write("%s=%s\n" % (k, v))
    os.replace(tmp, path)


def add_server_args(p):
    """The argparse options of the tools that talk to one server of a
    fixture's env file: --env, --server, --host, --port, --tls, --ca-file
    (read back by server_address())."""
    p.add_argument("--env", help="the fixture's env file (dovecot.env)")
    p.add_argument("--server", choices=["source", "target"],
                   default="source", help="which server of the env file")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--tls", choices=["none", "starttls", "imaps"],
                   default="none")
    p.add_argument("--ca-file")


def server_address(args, env):
    """(host, port, ca_file) of the server add_server_args() chose: the
    options where given, else its entries in env (port 0: neither)."""
    r = args.server.upper()
    port_key = "_IMAPS_PORT" if args.tls == "imaps" else "_IMAP_PORT"
    host = args.host or env.get(r + "_HOST", "127.0.0.1")
    port = args.port or int(env.get(r + port_key, "0"))
    return host, port, args.ca_file or env.get("CA_FILE")


def mail_ids():
    """uid/gid that owns the mail. Dovecot refuses uid 0 for mail and
    Cyrus will not run as root, so as root we use (and create once) a
    dedicated system user; otherwise the current user runs everything."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid(), pwd.getpwuid(os.getuid()).pw_name
    try:
        pw = pwd.getpwnam(MAIL_USER)
        return pw.pw_uid, pw.pw_gid, MAIL_USER
    except KeyError:
        pass
    # Several fixture starts may race to create it: serialize, recheck.
    with open("/tmp/mailferry-test-useradd.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            pw = pwd.getpwnam(MAIL_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--user-group",
                            "--no-create-home", "--home-dir", "/nonexistent",
                            "--shell", "/usr/sbin/nologin", MAIL_USER],
                           check=True)
            pw = pwd.getpwnam(MAIL_USER)
    return pw.pw_uid, pw.pw_gid, MAIL_USER


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_greeting(port, timeout, cafile=None):
    """True once the port greets ("* OK"); with cafile over implicit TLS
    (imaps), the handshake verified against it."""
    ctx = ssl.create_default_context(cafile=cafile) if cafile else None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 1) as raw:
                s = ctx.wrap_socket(raw, server_hostname="127.0.0.1") \
                    if ctx else raw
                with s:
                    s.settimeout(2)
                    if s.recv(512).startswith(b"* OK"):
                        return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_certs(d, label="test"):
    """A test CA, a server certificate it signs (127.0.0.1 and localhost),
    and an unrelated CA for tests that expect verification to fail, made
    at each fixture start: ca.crt, server.crt, server.key, other-ca.crt
    in d. label goes into the CAs' names, so that the CAs of two fixtures
    put in one bundle differ by subject too."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes"]
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", *ec, "-keyout", os.path.join(d, ca + ".key"),
                "-out", os.path.join(d, ca + ".crt"), "-days", "3650",
                "-subj", "/CN=mailferry %s %s" % (label, ca),
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    ext = os.path.join(d, "server.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("req", *ec, "-keyout", os.path.join(d, "server.key"),
            "-out", os.path.join(d, "server.csr"), "-subj", "/CN=localhost")
    openssl("x509", "-req", "-in", os.path.join(d, "server.csr"),
            "-CA", os.path.join(d, "ca.crt"), "-CAkey",
            os.path.join(d, "ca.key"), "-CAcreateserial", "-days", "825",
            "-extfile", ext, "-out", os.path.join(d, "server.crt"))
    os.chmod(os.path.join(d, "server.key"), 0o600)
    for ca in ("ca", "other-ca"):
        os.chmod(os.path.join(d, ca + ".crt"), 0o644)


def cmdline(pid):
    """The argv of pid, [] when it is gone."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def children_of(pid):
    out = []
    for ent in os.listdir("/proc"):
        if not ent.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % ent) as f:
                stat = f.read()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            out.append(int(ent))
    return out


def tree_cpu(pid):
    """CPU seconds used so far by pid and every process under it: each
    one's utime + stime + cutime + cstime (a reaped child's time is in its
    parent's cutime/cstime, a live one's in its own, so nothing counts
    twice). 0.0 when pid is gone."""
    stats = {}
    for ent in os.listdir("/proc"):
        if not ent.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % ent) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # fields[0] is field 3 (state): ppid is 4, utime..cstime 14..17.
        stats[int(ent)] = (int(fields[1]),
                           sum(int(x) for x in fields[11:15]))
    children = {}
    for p, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(p)
    ticks, todo = 0, [pid]
    while todo:
        p = todo.pop()
        if p in stats:
            ticks += stats[p][1]
            todo += children.get(p, [])
    return ticks / os.sysconf("SC_CLK_TCK")


def busy_cpu():
    """CPU seconds the whole machine has spent busy since boot (all CPUs:
    /proc/stat's user, nice, system, irq, softirq and steal)."""
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    return (sum(cpu[:3]) + sum(cpu[5:8])) / os.sysconf("SC_CLK_TCK")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is as good as gone (its parent reaps it).
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_masters(masters, is_ours, log):
    """TERM every (pid, conf) for which is_ours(pid, conf) holds (guards
    against a recycled PID), wait for them and their children together (a
    master takes about a second to wind down), then KILL what is left."""
    procs = {}
    for pid, conf in masters:
        if pid and is_ours(pid, conf):
            procs[pid] = children_of(pid)
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                del procs[pid]
    deadline = time.monotonic() + 10
    while procs and time.monotonic() < deadline:
        if not any(alive(p) for pid, kids in procs.items()
                   for p in [pid] + kids):
            return
        time.sleep(0.05)
    for pid, kids in procs.items():
        left = [p for p in [pid] + sorted(set(kids) | set(children_of(pid)))
                if alive(p)]
        if left:
            log("pids %s did not exit on TERM, sending KILL" % left)
        for p in left:
            try:
                os.kill(p, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
