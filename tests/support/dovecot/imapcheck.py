#!/usr/bin/python3
"""Independent IMAP login check (Python's imaplib, nothing of mailferry).

Logs in one way, optionally LISTs, and exits 0 on success, 1 on failure
(2 on bad usage). Used by the Dovecot smoke test and handy by hand:

  imapcheck.py --env $MF_TEST_RUN_DIR/dovecot.env --server source \\
      --user user01@example.test --mode master-sep --list
  imapcheck.py --host 127.0.0.1 --port 993 --tls imaps --ca-file ca.crt \\
      --user u --password p --expect-separator /

Modes:
  login         LOGIN user password
  plain         AUTHENTICATE PLAIN (authcid = user; non-ASCII passwords)
  master-sep    LOGIN "user<sep>admin" master-password (Dovecot style)
  plain-authzid AUTHENTICATE PLAIN authzid=user authcid=admin
"""

import argparse
import imaplib
import re
import os
import ssl
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from fixturelib import (add_server_args, read_env,  # noqa: E402
                        server_address)


def connect(host, port, tls, ca_file, server_name=None):
    """An imaplib connection, TLS-verified against ca_file when tls is
    imaps or starttls."""
    ctx = None
    if tls != "none":
        ctx = ssl.create_default_context(cafile=ca_file)
    if tls == "imaps":
        # imaplib verifies against the host it connects to; server_name
        # lets us check the DNS name in the certificate while dialling IP.
        if server_name and server_name != host:
            class Named(imaplib.IMAP4_SSL):
                def _create_socket(self, timeout):
                    sock = imaplib.IMAP4._create_socket(self, timeout)
                    return self.ssl_context.wrap_socket(
                        sock, server_hostname=server_name)
            return Named(host, port, ssl_context=ctx, timeout=30)
        return imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=30)
    m = imaplib.IMAP4(host, port, timeout=30)
    if tls == "starttls":
        m.starttls(ctx)
    return m


def plain_token(authzid, authcid, password):
    return b"\0".join(x.encode("utf-8") for x in (authzid, authcid, password))


def login(m, mode, user, password, master, master_password, sep="*"):
    if mode == "login":
        return m.login(user, password)
    if mode == "plain":
        return m.authenticate("PLAIN",
                              lambda _: plain_token("", user, password))
    if mode == "master-sep":
        return m.login(user + sep + master, master_password)
    if mode == "plain-authzid":
        return m.authenticate("PLAIN", lambda _: plain_token(
            user, master, master_password))
    raise ValueError("unknown mode " + mode)


def separator(m):
    typ, data = m.list('""', '""')
    if typ != "OK" or not data or data[0] is None:
        return None
    mm = re.match(rb'\([^)]*\) (NIL|"(\\.|[^"])")', data[0])
    if not mm or mm.group(1) == b"NIL":
        return None
    return mm.group(2).replace(b"\\\\", b"\\").decode()


def main(argv=None):
    p = argparse.ArgumentParser(description="IMAP login check")
    add_server_args(p)
    p.add_argument("--server-name", help="name to verify in the cert")
    p.add_argument("--user", required=True)
    p.add_argument("--password")
    p.add_argument("--master")
    p.add_argument("--master-password")
    p.add_argument("--master-separator")
    p.add_argument("--mode", default="login",
                   choices=["login", "plain", "master-sep", "plain-authzid"])
    p.add_argument("--list", action="store_true", help="LIST \"\" \"*\"")
    p.add_argument("--expect-separator")
    p.add_argument("--expect-folder", action="append", default=[],
                   help="a raw (modified UTF-7) name LIST must show")
    p.add_argument("--expect-fail", action="store_true",
                   help="succeed only if the login is refused")
    a = p.parse_args(argv)

    env = read_env(a.env) if a.env else {}
    host, port, ca_file = server_address(a, env)
    master = a.master or env.get("MASTER_USER")
    master_password = a.master_password or env.get("MASTER_PASSWORD")
    sep = a.master_separator or env.get("MASTER_SEPARATOR", "*")
    what = "%s:%d %s as %s" % (host, port, a.mode, a.user)
    try:
        m = connect(host, port, a.tls, ca_file, a.server_name)
    except (OSError, imaplib.IMAP4.error, ssl.SSLError) as e:
        print("imapcheck: FAIL connect %s:%d: %s" % (host, port, e))
        return 1
    try:
        login(m, a.mode, a.user, a.password, master, master_password, sep)
    except imaplib.IMAP4.error as e:
        if a.expect_fail:
            print("imapcheck: ok, refused as expected: %s: %s" % (what, e))
            return 0
        print("imapcheck: FAIL login %s: %s" % (what, e))
        return 1
    if a.expect_fail:
        print("imapcheck: FAIL login %s succeeded, expected refusal" % what)
        return 1
    ok = True
    if a.expect_separator is not None:
        got = separator(m)
        if got != a.expect_separator:
            print("imapcheck: FAIL separator %r, expected %r" %
                  (got, a.expect_separator))
            ok = False
    if a.list or a.expect_folder:
        typ, data = m.list('""', "*")
        if typ != "OK":
            print("imapcheck: FAIL LIST: %r" % data)
            return 1
        names = set()
        for line in data:
            if a.list:
                print("  " + line.decode("utf-8", "replace"))
            mm = re.match(rb'\([^)]*\) (?:NIL|"(?:\\.|[^"])") (.*)$', line)
            if mm:
                n = mm.group(1)
                if n.startswith(b'"'):
                    n = re.sub(rb'\\(.)', rb'\1', n[1:-1])
                names.add(n.decode())
        for want in a.expect_folder:
            if want not in names:
                print("imapcheck: FAIL folder %r not listed" % want)
                ok = False
    m.logout()
    print("imapcheck: %s %s" % ("ok" if ok else "FAIL", what))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
