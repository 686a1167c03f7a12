#!/usr/bin/python3
"""Redis AUTH (issue 17 item 3) with a private redis-server that has
`requirepass` and an ACL user: every Redis URL mailferry takes
authenticates with a password file (?password-file=F, redis://user@...,
or MAILFERRY_REDIS_PASSWORD_FILE), and without one Redis refuses it.

Runs `mailferry batch create/start/status/list/remove` (the batch commands
that only need Redis) and `mailferry-worker`'s first connection; the
password never appears in any output.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

BUILD = os.environ["MF_BUILD_DIR"]
MAILFERRY = os.path.join(BUILD, "bin", "mailferry")
PASSWORD = "redis-requirepass-Secret-17"
ACL_PASSWORD = "redis-acl-Secret-17"
sys.path.insert(0, os.path.join(os.environ["MF_SOURCE_DIR"], "tests",
                                "support"))
from itestlib import check, free_port, verdict  # noqa: E402


def start_redis(tmp):
    port = free_port()
    p = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", tmp,
         "--requirepass", PASSWORD,
         "--user", "mailferry", "on", ">" + ACL_PASSWORD, "~mf:*", "&*",
         "+@all"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return p, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def secret_file(tmp, name, value, mode=0o600):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(value + "\n")
    os.chmod(path, mode)
    return path


def run(*args, env=None):
    e = dict(os.environ)
    e.pop("MAILFERRY_REDIS_PASSWORD_FILE", None)
    e.pop("MAILFERRY_REDIS_USER", None)
    e.update(env or {})
    p = subprocess.run([MAILFERRY, *args], capture_output=True, text=True,
                       timeout=60, env=e)
    out = p.stdout + p.stderr
    check(PASSWORD not in out and ACL_PASSWORD not in out,
          "no Redis password in the output of %s" % " ".join(args[:2]))
    return p.returncode, out


def main():
    with tempfile.TemporaryDirectory(prefix="mf-redisauth-") as tmp:
        redis, port = start_redis(tmp)
        try:
            key = os.path.join(tmp, "master.key")
            subprocess.run([MAILFERRY, "key", "generate", key], check=True,
                           capture_output=True)
            pw = secret_file(tmp, "redis.pw", PASSWORD)
            acl = secret_file(tmp, "acl.pw", ACL_PASSWORD)
            bad = secret_file(tmp, "bad.pw", "wrong-password")
            csv = os.path.join(tmp, "u.csv")
            with open(csv, "w") as f:
                f.write("EmailAddress,UserName,Password\r\n"
                        "a@example.test,a@example.test,pw-a\r\n")
            base = "redis://127.0.0.1:%d" % port

            rc, out = run("batch", "list", "--redis", base)
            check(rc != 0 and "NOAUTH" in out,
                  "without a password Redis refuses (rc %d): %s"
                  % (rc, out.strip()[-200:]))
            rc, out = run("batch", "list", "--redis",
                          base + "?password-file=" + bad)
            check(rc != 0 and ("WRONGPASS" in out or "invalid" in out),
                  "a wrong password is refused: %s" % out.strip()[-200:])
            rc, out = run("batch", "list", "--redis",
                          "redis://mailferry:%s@127.0.0.1:%d"
                          % (ACL_PASSWORD, port))
            check(rc != 0 and "password in a file" in out,
                  "a password in the URL is refused")

            urls = {
                "requirepass": base + "?password-file=" + pw,
                "ACL user": "redis://mailferry@127.0.0.1:%d?password-file=%s"
                            % (port, acl),
            }
            for what, url in urls.items():
                name = "auth-" + what.split()[0].lower()
                rc, out = run("batch", "create", name, "--csv", csv,
                              "--source", "imap://127.0.0.1:1",
                              "--target", "imap://127.0.0.1:2",
                              "--redis", url, "--master-key-file", key)
                check(rc == 0, "batch create over AUTH (%s): %s"
                      % (what, out.strip()[-300:]))
                rc, out = run("batch", "status", name, "--redis", url)
                check(rc == 0 and name in out,
                      "batch status over AUTH (%s)" % what)
                rc, out = run("batch", "list", "--redis", url)
                check(rc == 0 and name in out,
                      "batch list over AUTH (%s)" % what)
                rc, out = run("batch", "remove", name, "--redis", url)
                check(rc == 0, "batch remove over AUTH (%s): %s"
                      % (what, out.strip()[-200:]))

            # The environment gives the file to every URL without one.
            rc, out = run("batch", "list", "--redis",
                          "redis://127.0.0.1:%d" % port,
                          env={"MAILFERRY_REDIS_PASSWORD_FILE": acl,
                               "MAILFERRY_REDIS_USER": "mailferry"})
            check(rc == 0, "MAILFERRY_REDIS_PASSWORD_FILE + _USER: %s"
                  % out.strip()[-200:])
            # A password file others can write is refused before use.
            loose = secret_file(tmp, "loose.pw", PASSWORD, 0o666)
            rc, out = run("batch", "list", "--redis",
                          base + "?password-file=" + loose)
            check(rc != 0 and "writable" in out,
                  "a world-writable password file is refused")
        finally:
            redis.send_signal(signal.SIGTERM)
            redis.wait(timeout=10)
    return verdict()


if __name__ == "__main__":
    sys.exit(main())
