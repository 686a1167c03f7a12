#!/usr/bin/python3
"""Smoke tests of the Dovecot pair fixture: `smoke.py CHECK`.

Checks (each its own ctest test, integration.dovecot.smoke.<check>):
  login       user LOGIN, user*admin, SASL PLAIN with authzid, a non-ASCII
              password, refusals; separators '.' (source) and '/' (target);
              the special-use names on each side
  tls         IMAPS and STARTTLS verified against CA_FILE by IP and by
              name; verification fails against OTHER_CA_FILE
  corpus      gen_corpus.py (small profile) on smoke01..03 of the source;
              every folder and count is there, names are right in modified
              UTF-7 and in UTF-8 (doveadm), smoke01's messages come back
              byte-identical with their flags and internal dates, and a
              second run with the same seed gives the same bytes
  listescape  a folder name holding '.' on the target stays one level
  limits      mail_max_userip_connections counts master logins as the user

Mailboxes used: smoke01..03 (source, corpus), smoke01 (target,
listescape), smoke03 (target, limits); never userNN, which belong to the
other tests.
"""

import datetime
import hashlib
import imaplib
import json
import os
import re
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import imapcheck  # noqa: E402

FAILS = []


def check(cond, msg):
    if cond:
        print("ok   " + msg)
    else:
        print("FAIL " + msg)
        FAILS.append(msg)
    return cond


def env():
    path = os.path.join(os.environ["MF_TEST_RUN_DIR"], "dovecot.env")
    return imapcheck.read_env(path), path


def run_imapcheck(*args):
    p = subprocess.run(["/usr/bin/python3", os.path.join(HERE,
                                                         "imapcheck.py")]
                       + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return p.returncode, p.stdout.strip()


def smoke_user(e, i):
    return e["SMOKE_USER_FORMAT"] % i, e["SMOKE_PASSWORD_FORMAT"] % i


def master_conn(e, role, user):
    m = imapcheck.connect("127.0.0.1", int(e[role + "_IMAP_PORT"]), "none",
                          None)
    imapcheck.login(m, "plain-authzid", user, None, e["MASTER_USER"],
                    e["MASTER_PASSWORD"])
    return m


# ------------------------------------------------------------------ login

def t_login():
    e, path = env()
    user, pw = e["USER_FORMAT"] % 1, e["PASSWORD_FORMAT"] % 1
    for role, sep, sent, trash in (("source", ".", "Sent", "Trash"),
                                   ("target", "/", '"Sent Items"',
                                    '"Deleted Items"')):
        base = ["--env", path, "--server", role, "--user", user]
        for mode in ("login", "plain"):
            rc, out = run_imapcheck(*base, "--password", pw, "--mode", mode,
                                    "--expect-separator", sep)
            check(rc == 0, "%s: %s as user, separator %r (%s)"
                  % (role, mode, sep, out.splitlines()[-1]))
        for mode in ("master-sep", "plain-authzid"):
            rc, out = run_imapcheck(*base, "--mode", mode,
                                    "--expect-separator", sep)
            check(rc == 0, "%s: %s (%s)" % (role, mode,
                                            out.splitlines()[-1]))
        m = master_conn(e, role.upper(), user)
        typ, data = m.list('""', "*")
        lines = [d.decode() for d in data]
        for want, flag in ((sent, "\\Sent"), (trash, "\\Trash")):
            check(any(ln.endswith(" " + want) and flag in ln
                      for ln in lines),
                  "%s: special-use %s is %s" % (role, flag, want))
        m.logout()
        rc, out = run_imapcheck(*base[:4], "--user", e["UTF8_USER"],
                                "--password", e["UTF8_PASSWORD"],
                                "--mode", "plain")
        check(rc == 0, "%s: non-ASCII password via PLAIN" % role)
        rc, out = run_imapcheck(*base, "--password", "wrong",
                                "--expect-fail")
        check(rc == 0, "%s: wrong password refused" % role)
        rc, out = run_imapcheck(*base[:4], "--user", "nobody@example.test",
                                "--mode", "plain-authzid", "--expect-fail")
        check(rc == 0, "%s: master login as unknown user refused" % role)
        rc, out = run_imapcheck(*base, "--mode", "plain-authzid",
                                "--master-password", "wrong",
                                "--expect-fail")
        check(rc == 0, "%s: wrong master password refused" % role)


# ------------------------------------------------------------------ tls

def t_tls():
    e, path = env()
    user, pw = e["USER_FORMAT"] % 1, e["PASSWORD_FORMAT"] % 1
    for role in ("source", "target"):
        for tls in ("imaps", "starttls"):
            for name in ("127.0.0.1", "localhost"):
                rc, out = run_imapcheck(
                    "--env", path, "--server", role, "--tls", tls,
                    "--server-name", name, "--user", user, "--password", pw)
                check(rc == 0, "%s: %s verified as %s (%s)"
                      % (role, tls, name, out.splitlines()[-1]))
            rc, out = run_imapcheck(
                "--env", path, "--server", role, "--tls", tls,
                "--ca-file", e["OTHER_CA_FILE"], "--user", user,
                "--password", pw)
            check(rc != 0 and "CERTIFICATE_VERIFY_FAILED" in out,
                  "%s: %s against another CA fails verification"
                  % (role, tls))
        # The plain port really is plain: LOGIN works without TLS.
        m = imaplib.IMAP4("127.0.0.1", int(e[role.upper() + "_IMAP_PORT"]))
        check("STARTTLS" in m.capabilities and
              "LOGINDISABLED" not in m.capabilities,
              "%s: STARTTLS offered, plaintext login allowed" % role)
        m.logout()


# ------------------------------------------------------------------ corpus

def parse_internaldate(s):
    return int(datetime.datetime.strptime(
        s, "%d-%b-%Y %H:%M:%S %z").timestamp())


def fetch_all(m):
    """{uid: (sha256, size, flags, internaldate epoch)} of the selected
    folder."""
    out = {}
    typ, data = m.uid("FETCH", "1:*",
                      "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
    if typ != "OK":
        raise RuntimeError("FETCH: %r" % data)
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta, body = item
        meta = meta.decode()
        uid = int(re.search(r"UID (\d+)", meta).group(1))
        flags = re.search(r"FLAGS \(([^)]*)\)", meta).group(1).split()
        idate = re.search(r'INTERNALDATE "([^"]+)"', meta).group(1)
        size = int(re.search(r"RFC822.SIZE (\d+)", meta).group(1))
        out[uid] = (hashlib.sha256(body).hexdigest(), size,
                    sorted(f for f in flags if f != "\\Recent"),
                    parse_internaldate(idate.strip()))
    return out


def gen(e, manifest, seed):
    t0 = time.monotonic()
    p = subprocess.run(
        ["/usr/bin/python3", os.path.join(HERE, "gen_corpus.py"),
         "--env", os.path.join(os.environ["MF_TEST_RUN_DIR"], "dovecot.env"),
         "--server", "source", "--profile", "small", "--seed", seed,
         "--users", "3", "--user-format", e["SMOKE_USER_FORMAT"],
         "--password-format", e["SMOKE_PASSWORD_FORMAT"], "--login",
         "master", "--clean", "--manifest", manifest],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(p.stdout.strip())
    check(p.returncode == 0, "gen_corpus exit status")
    if p.returncode != 0:
        sys.exit(1)
    with open(manifest, encoding="utf-8") as f:
        return json.load(f), time.monotonic() - t0


def t_corpus():
    e, _ = env()
    run = os.environ["MF_TEST_RUN_DIR"]
    man, secs = gen(e, os.path.join(run, "dovecot-smoke-corpus.json"), "7")
    # A figure, not a check: timed asserts fail on a loaded machine
    # (CI and parallel ctest); bench/ is where speed is judged.
    print("small profile for 3 users in %.1f s" % secs)
    check(len(man["users"]) == 3, "manifest has 3 users")
    for user, u in man["users"].items():
        m = master_conn(e, "SOURCE", user)
        typ, data = m.list('""', "*")
        listed = {}
        for line in data:
            mm = re.match(rb'\(([^)]*)\) "." (.*)$', line)
            n = mm.group(2)
            if n.startswith(b'"'):
                n = re.sub(rb'\\(.)', rb'\1', n[1:-1])
            listed[n.decode()] = mm.group(1).decode()
        typ, data = m.lsub('""', "*")
        subscribed = {re.sub(r'^"|"$', "", d.decode().split(' "." ', 1)[1])
                      for d in data if d}
        for f in u["folders"]:
            name = f["imap_name"]
            if not check(name in listed, "%s: folder %s listed"
                         % (user, f["name"])):
                continue
            typ, st = m.status('"%s"' % name.replace("\\", "\\\\"),
                               "(MESSAGES)")
            got = int(re.search(rb"MESSAGES (\d+)", st[0]).group(1))
            check(got == f["messages"], "%s: %s has %d messages (manifest %d)"
                  % (user, f["name"], got, f["messages"]))
            check((name in subscribed) == f["subscribed"],
                  "%s: %s subscribed=%s" % (user, f["name"],
                                            f["subscribed"]))
        # Names spelled independently of gen_corpus's encoder.
        for want in ("Entw&APw-rfe", "&ZeVnLIqe-.&MNcw7TC4MKcwrzDI-",
                     "Reports 2024/25", "&ANw-nsubscribed &- Co", "Empty",
                     "Projects.2024.Q1"):
            check(want in listed, "%s: raw name %r listed" % (user, want))
        check("\\Noselect" in listed.get("&ZeVnLIqe-", "\\Noselect"),
              "%s: uncreated parent 日本語 is \\Noselect" % user)
        if user == e["SMOKE_USER_FORMAT"] % 1:
            for f in u["folders"]:
                if not f["messages"]:
                    continue
                m.select('"%s"' % f["imap_name"], readonly=True)
                got = fetch_all(m)
                want = {it["uid"]: (it["sha256"], it["size"], it["flags"],
                                    it["internal_date_epoch"])
                        for it in f["items"]}
                check(got == want, "%s: %s: %d messages byte-identical with "
                      "flags and internal dates" % (user, f["name"],
                                                    len(want)))
                if got != want:
                    for uid in sorted(set(got) | set(want)):
                        if got.get(uid) != want.get(uid):
                            print("   uid %s got %s want %s"
                                  % (uid, got.get(uid), want.get(uid)))
                m.close()
        m.logout()
        # doveadm shows the names decoded: a check of the UTF-7 encoder.
        p = subprocess.run(["doveadm", "-c", e["SOURCE_CONF"], "mailbox",
                            "list", "-u", user], stdout=subprocess.PIPE,
                           text=True)
        names = set(p.stdout.splitlines())
        for want in ("Entwürfe", "日本語.プロジェクト", "Ünsubscribed & Co",
                     "Reports 2024/25"):
            check(want in names, "%s: doveadm lists %s" % (user, want))
    feats = set()
    for u in man["users"].values():
        for f in u["folders"]:
            for it in f["items"]:
                feats.update(it["features"])
    for want in ("8bit", "qp", "attachment", "large", "no-message-id",
                 "long-header", "dup-same-folder", "dup-other-folder",
                 "msgid-collision"):
        check(want in feats, "corpus has %s messages" % want)
    # Determinism: the same seed gives the same bytes in the same places.
    man2, _ = gen(e, os.path.join(run, "dovecot-smoke-corpus2.json"), "7")

    def shape(mf):
        return {u: [(f["name"], [it["sha256"] for it in f["items"]])
                    for f in r["folders"]] for u, r in mf["users"].items()}
    check(shape(man) == shape(man2), "same seed, same corpus")


# ------------------------------------------------------------------ escape

def t_listescape():
    e, _ = env()
    user, _ = smoke_user(e, 1)
    m = master_conn(e, "TARGET", user)
    name = "Release v2.0.1"
    m.delete('"%s"' % name)
    typ, data = m.create('"%s"' % name)
    check(typ == "OK", "target: CREATE %r: %r" % (name, data))
    typ, data = m.list('""', '"Release*"')
    lines = [d.decode() for d in data if d]
    check(any(ln.endswith('"/" "%s"' % name) for ln in lines),
          "target: %r listed as one folder: %r" % (name, lines))
    typ, data = m.select('"%s"' % name)
    check(typ == "OK", "target: %r selectable" % name)
    m.close()
    check(m.delete('"%s"' % name)[0] == "OK", "target: DELETE %r" % name)
    m.logout()
    # The source side keeps a '/' inside one name (also in the corpus).
    m = master_conn(e, "SOURCE", user)
    name = "Budget 2025/26"
    m.delete('"%s"' % name)
    check(m.create('"%s"' % name)[0] == "OK", "source: CREATE %r" % name)
    typ, data = m.list('""', '"Budget*"')
    check(any(d.decode().endswith('"." "%s"' % name) for d in data if d),
          "source: %r listed as one folder" % name)
    m.delete('"%s"' % name)
    m.logout()


# ------------------------------------------------------------------ limits

def raw_login(port, user, password):
    s = socket.create_connection(("127.0.0.1", port), 10)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b'a LOGIN "%s" "%s"\r\n' % (user.encode(), password.encode()))
    while True:
        line = f.readline()
        if line.startswith(b"a ") or not line:
            return s, f, line


def t_limits():
    e, _ = env()
    user, pw = smoke_user(e, 3)
    limit = int(e["MAX_USERIP_CONNECTIONS"])
    port = int(e["TARGET_IMAP_PORT"])
    held = []
    try:
        for i in range(limit):
            # Alternate own and master logins: both count for the user.
            if i % 2:
                s, f, line = raw_login(port, user + e["MASTER_SEPARATOR"] +
                                       e["MASTER_USER"],
                                       e["MASTER_PASSWORD"])
            else:
                s, f, line = raw_login(port, user, pw)
            held.append(s)
            if not line.startswith(b"a OK"):
                check(False, "connection %d of %d: %r" % (i + 1, limit, line))
                return
        check(True, "%d connections logged in" % limit)
        s, f, line = raw_login(port, user, pw)
        held.append(s)
        check(line.startswith(b"a NO [LIMIT]"),
              "connection %d refused with NO [LIMIT]: %r" % (limit + 1, line))
    finally:
        for s in held:
            s.close()
    # The count drops as connections close (anvil may lag a moment).
    for _ in range(50):
        s, f, line = raw_login(port, user, pw)
        s.close()
        if line.startswith(b"a OK"):
            break
        time.sleep(0.1)
    check(line.startswith(b"a OK"), "login works again after closing")


CHECKS = {"login": t_login, "tls": t_tls, "corpus": t_corpus,
          "listescape": t_listescape, "limits": t_limits}


def main():
    names = sys.argv[1:] or list(CHECKS)
    for n in names:
        if n not in CHECKS:
            sys.exit("usage: smoke.py [%s]..." % "|".join(CHECKS))
        print("== " + n)
        CHECKS[n]()
    if FAILS:
        print("%d check(s) failed" % len(FAILS))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
