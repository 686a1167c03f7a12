#!/usr/bin/python3
"""No credential reaches a server whose certificate failed verification
(issue 17 item 1), for every command that logs in: `endpoint test` (its
explaining second login and the connection probe), `migrate --direct` and
`plan`.

The server is tests/support/tlstrap: it plays an on-path relay that serves
the first K connections with a certificate signed by the CA we trust and
every later one with an impostor's, and records any LOGIN or AUTHENTICATE
that arrives on an impostor connection. A run with --insecure is the
control: there the trap must see the credential (the operator asked for
it), which proves the trap would notice one.

Also checks that --probe-connections does not call a connection that
failed certificate verification a "connection limit".
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

BUILD = os.environ["MF_BUILD_DIR"]
SOURCE = os.environ["MF_SOURCE_DIR"]
MAILFERRY = os.path.join(BUILD, "bin", "mailferry")
TRAP = os.path.join(SOURCE, "tests", "support", "tlstrap", "tlstrap.py")
sys.path.insert(0, os.path.join(SOURCE, "tests", "support"))
from itestlib import check, verdict  # noqa: E402


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_certs(d):
    """ca.crt signs good.crt (127.0.0.1); bad.crt is self-signed."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes"]
    j = lambda n: os.path.join(d, n)  # noqa: E731
    openssl("req", "-x509", *ec, "-keyout", j("ca.key"), "-out", j("ca.crt"),
            "-days", "30", "-subj", "/CN=tlstrap ca", "-addext",
            "basicConstraints=critical,CA:TRUE", "-addext",
            "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", *ec, "-keyout", j("good.key"), "-out", j("good.csr"),
            "-subj", "/CN=localhost")
    with open(j("ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "basicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", j("good.csr"), "-CA", j("ca.crt"),
            "-CAkey", j("ca.key"), "-CAcreateserial", "-days", "30",
            "-extfile", j("ext.cnf"), "-out", j("good.crt"))
    openssl("req", "-x509", *ec, "-keyout", j("bad.key"), "-out", j("bad.crt"),
            "-days", "30", "-subj", "/CN=localhost", "-addext",
            "subjectAltName=IP:127.0.0.1")


class Trap:
    """One tlstrap process; fresh for every case (its counter is K)."""

    def __init__(self, tmp, name, trusted_first=0, login="refuse",
                 starttls=False):
        self.tmp = tmp
        self.record = os.path.join(tmp, name + ".rec")
        port_file = os.path.join(tmp, name + ".port")
        j = lambda n: os.path.join(tmp, n)  # noqa: E731
        cmd = ["/usr/bin/python3", TRAP, "--port-file", port_file,
               "--record", self.record, "--trusted", j("good.crt"),
               j("good.key"), "--untrusted", j("bad.crt"), j("bad.key"),
               "--trusted-first", str(trusted_first), "--login", login]
        if starttls:
            cmd.append("--starttls")
        self.proc = subprocess.Popen(cmd)
        for _ in range(100):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        with open(port_file) as f:
            self.port = int(f.read())
        scheme = "imap" if starttls else "imaps"
        self.url = "%s://127.0.0.1:%d" % (scheme, self.port)

    def credentials(self):
        with open(self.record) as f:
            return [l for l in f.read().splitlines() if " CREDENTIAL " in l]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)


def run(*args):
    p = subprocess.run([MAILFERRY, *args], capture_output=True, text=True,
                       timeout=120)
    return p.returncode, p.stdout, p.stderr


def no_credential(trap, what):
    creds = trap.credentials()
    check(not creds, "%s: no credential reached the impostor %s"
          % (what, creds[:2]))


def case_explain(tmp, pw, starttls):
    # Connection 1 (tls step) and 2 (the login, refused) are the real
    # server's; the explaining login (3) meets the impostor.
    kind = "STARTTLS" if starttls else "implicit TLS"
    trap = Trap(tmp, "explain%d" % starttls, trusted_first=2,
                starttls=starttls)
    try:
        rc, out, err = run("endpoint", "test", "--source", trap.url,
                           "--ca-file", os.path.join(tmp, "ca.crt"),
                           "--admin", "admin", "--admin-password-file", pw,
                           "--as", "user01", "--timeout", "5")
        check(rc != 0, "endpoint test (%s) fails the refused login" % kind)
        no_credential(trap, "endpoint test explain (%s)" % kind)
    finally:
        trap.stop()


def case_all_untrusted(tmp, pw, starttls):
    kind = "STARTTLS" if starttls else "implicit TLS"
    trap = Trap(tmp, "all%d" % starttls, starttls=starttls)
    try:
        rc, out, err = run("endpoint", "test", "--source", trap.url,
                           "--ca-file", os.path.join(tmp, "ca.crt"),
                           "--admin", "admin", "--admin-password-file", pw,
                           "--as", "user01", "--user", "user02",
                           "--password-file", pw, "--probe-connections", "3",
                           "--timeout", "5")
        check(rc == 5, "endpoint test (%s) on an impostor exits 5 (got %d)"
              % (kind, rc))
        no_credential(trap, "endpoint test (%s)" % kind)
    finally:
        trap.stop()


def case_insecure_control(tmp, pw):
    trap = Trap(tmp, "control", trusted_first=0)
    try:
        run("endpoint", "test", "--source", trap.url, "--insecure",
            "--admin", "admin", "--admin-password-file", pw, "--as",
            "user01", "--timeout", "5")
        check(trap.credentials() != [],
              "control: with --insecure the trap does see the login")
    finally:
        trap.stop()


def case_probe(tmp, pw):
    # tls step, login, then the probe's connections 3, 4 are accepted by
    # the real server; the fifth meets the impostor and fails to verify.
    trap = Trap(tmp, "probe", trusted_first=4, login="accept")
    try:
        rc, out, err = run("endpoint", "test", "--source", trap.url,
                           "--ca-file", os.path.join(tmp, "ca.crt"),
                           "--admin", "admin", "--admin-password-file", pw,
                           "--as", "user01", "--timeout", "5",
                           "--probe-connections", "4", "--json")
        no_credential(trap, "endpoint test --probe-connections")
        try:
            doc = json.loads(out)
        except ValueError:
            check(False, "probe JSON parses: %r %r" % (out[:200], err[:200]))
            return
        src = doc["source"]
        check(src["connection_limit"] is None,
              "a certificate failure is not a connection limit (got %s)"
              % src["connection_limit"])
        check(src["probe"]["refused"] is False,
              "probe: not refused by the server")
        probe = [s for s in src["steps"] if s["name"] == "probe"]
        check(probe and "certificate" in probe[0]["text"] and
              "not a refusal" in probe[0]["text"],
              "probe step says what failed: %s"
              % (probe[0]["text"] if probe else None))
    finally:
        trap.stop()


def write_csv(tmp):
    path = os.path.join(tmp, "users.csv")
    with open(path, "w") as f:
        f.write("EmailAddress,UserName,Password\r\n"
                "user01@example.test,user01@example.test,pw-secret-01\r\n")
    return path


def case_migrate_plan(tmp, trusted_first):
    csv = write_csv(tmp)
    ca = os.path.join(tmp, "ca.crt")
    for cmd in ("migrate", "plan"):
        src = Trap(tmp, "%s-src%d" % (cmd, trusted_first),
                   trusted_first=trusted_first, login="accept")
        tgt = Trap(tmp, "%s-tgt%d" % (cmd, trusted_first),
                   trusted_first=trusted_first, login="accept")
        try:
            args = [cmd, csv, "--source", src.url, "--target", tgt.url,
                    "--ca-file", ca, "--json"]
            if cmd == "migrate":
                args += ["--direct", "--report-dir",
                         os.path.join(tmp, "report%d" % trusted_first)]
            rc, out, err = run(*args)
            if trusted_first == 0:
                check(rc != 0, "%s against an impostor fails (rc %d)"
                      % (cmd, rc))
            no_credential(src, "%s source (trusted first %d)"
                          % (cmd, trusted_first))
            no_credential(tgt, "%s target (trusted first %d)"
                          % (cmd, trusted_first))
        finally:
            src.stop()
            tgt.stop()


def main():
    with tempfile.TemporaryDirectory(prefix="mf-tlstrap-") as tmp:
        make_certs(tmp)
        pw = os.path.join(tmp, "admin.pw")
        with open(pw, "w") as f:
            f.write("admin-secret\n")
        os.chmod(pw, 0o600)
        case_insecure_control(tmp, pw)
        for starttls in (False, True):
            case_explain(tmp, pw, starttls)
            case_all_untrusted(tmp, pw, starttls)
        case_probe(tmp, pw)
        case_migrate_plan(tmp, 0)
        case_migrate_plan(tmp, 1)
    return verdict()


if __name__ == "__main__":
    sys.exit(main())
