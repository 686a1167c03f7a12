#!/usr/bin/python3
"""The Cyrus fixture's own tests (ctest -R cyrus.smoke), on both servers,
with the fixture's smoke user only:

  namespace  NAMESPACE is (("INBOX." ".")), the special-use folders exist
             at the first login as INBOX.Sent ... with their attributes
             (in Cyrus's lower case), CREATE outside INBOX. is refused,
             and so is a name holding '/'
  proxyauth  the admin acts as the user through SASL PLAIN's authzid; a
             wrong admin password and a user acting as another fail
"""
import base64
import imaplib
import os
import sys

RUN = os.environ["MF_TEST_RUN_DIR"]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from fixturelib import read_env  # noqa: E402

ENV = read_env(os.path.join(RUN, "cyrus.env"))
USER, PASSWORD = ENV["SMOKE_USER"], ENV["SMOKE_PASSWORD"]


def check(cond, msg):
    if not cond:
        print("FAIL: " + msg)
        sys.exit(1)


def connect(role):
    return imaplib.IMAP4("127.0.0.1", int(ENV[role + "_IMAP_PORT"]))


def plain(c, authzid, authcid, password):
    token = "\0".join((authzid, authcid, password)).encode()
    return c.authenticate("PLAIN", lambda _: token)


def namespace(role):
    c = connect(role)
    c.login(USER, PASSWORD)
    typ, data = c.namespace()
    check(data[0].startswith(b'(("INBOX." "."))'), f"NAMESPACE {data}")
    typ, data = c.list('""', "*")
    got = {}
    for line in data:
        attrs, _, name = line.decode().partition(") ")
        got[name.split(" ", 1)[1]] = attrs.lower()
    for name in ("Sent", "Drafts", "Trash", "Junk", "Archive"):
        check("\\" + name.lower() in got.get("INBOX." + name, ""),
              f"{role}: INBOX.{name} not special-use: {got}")
    typ, data = c.create("Outside")
    check(typ == "NO", f"{role}: CREATE outside INBOX.: {typ} {data}")
    typ, data = c.create('"INBOX.a/b"')
    check(typ == "NO" and b"Invalid mailbox name" in data[0],
          f"{role}: CREATE INBOX.a/b: {typ} {data}")
    c.logout()


def proxyauth(role):
    c = connect(role)
    typ, _ = plain(c, USER, ENV["MASTER_USER"], ENV["MASTER_PASSWORD"])
    check(typ == "OK", f"{role}: admin as {USER}")
    typ, data = c.select("INBOX")
    check(typ == "OK", f"{role}: SELECT as {USER}: {data}")
    c.logout()
    for authzid, authcid, pw in ((USER, ENV["MASTER_USER"], "wrong"),
                                 ("user87@example.test", USER, PASSWORD)):
        c = connect(role)
        try:
            plain(c, authzid, authcid, pw)
            check(False, f"{role}: {authcid} as {authzid} was let in")
        except imaplib.IMAP4.error:
            pass
        c.shutdown()


if __name__ == "__main__":
    checks = {"namespace": namespace, "proxyauth": proxyauth}
    if len(sys.argv) != 2 or sys.argv[1] not in checks:
        sys.exit("usage: smoke.py " + "|".join(checks))
    for r in ("SOURCE", "TARGET"):
        checks[sys.argv[1]](r)
    print("ok: " + sys.argv[1])
