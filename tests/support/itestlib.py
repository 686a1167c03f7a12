"""What the integration test scripts share that do not drive a whole
Pipeline (pipeline.py): their checks, the fixtures' .env files, the
Dovecot fixture's users and the CSVs made of them.

Two kinds of check, as the scripts have always had them:

- check(cond, what) prints "ok   what" or "FAIL what", keeps the failures
  in FAILURES and goes on; verdict() at the end says how many failed and
  gives the exit status.
- must(cond, msg) stops the script at the first failure (fail(msg):
  "FAIL: msg", exit status 1).

Scripts import it after putting tests/support on sys.path.
"""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

from fixturelib import free_port

__all__ = ["FAILURES", "check", "verdict", "fail", "must", "load_env",
           "fixture_env", "user", "csv_for", "free_port", "Fail", "run_cli",
           "http_get", "private_dovecot", "expunge_all"]

HERE = os.path.dirname(os.path.abspath(__file__))

FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILURES.append(what)
    return cond


def verdict():
    """1 with a line saying how many checks failed, else 0."""
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES))
        return 1
    print("all checks passed")
    return 0


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def must(cond, msg):
    if not cond:
        fail(msg)


class Fail(Exception):
    """A test expectation that does not hold (pipeline.py's scripts)."""


def run_cli(argv, env, outputs, expect=0, timeout=120, tail=None):
    """Runs argv (str() of each) with env; appends its stdout + stderr to
    outputs (for the secret checks) and raises Fail unless it exits with
    expect (None: any status), quoting the last tail characters of each
    stream (all of them without tail). The CompletedProcess."""
    argv = [str(a) for a in argv]
    p = subprocess.run(argv, env=env, capture_output=True, text=True,
                       timeout=timeout)
    outputs.append(p.stdout + p.stderr)
    if expect is not None and p.returncode != expect:
        cut = -tail if tail else 0
        raise Fail("%s %s: exit %d, expected %d\n%s%s" %
                   (os.path.basename(argv[0]), " ".join(argv[1:]),
                    p.returncode, expect, p.stdout[cut:], p.stderr[cut:]))
    return p


def http_get(port, path):
    """(status, body) of GET http://127.0.0.1:port/path, error statuses
    included."""
    url = "http://127.0.0.1:%d%s" % (port, path)
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@contextlib.contextmanager
def private_dovecot(prefix, **settings):
    """A private Dovecot pair (tests/support/dovecot/fixture) in a new
    directory, started with the MF_DOVECOT_* settings given: yields
    (its directory, the environment that names it, its dovecot.env);
    stopped and removed afterwards."""
    run = tempfile.mkdtemp(prefix=prefix)
    env = dict(os.environ, MF_TEST_RUN_DIR=run, **settings)
    fixture = os.path.join(HERE, "dovecot", "fixture")
    started = False
    try:
        subprocess.run([fixture, "start"], env=env, check=True)
        started = True
        yield run, env, load_env(os.path.join(run, "dovecot.env"))
    finally:
        if started:
            subprocess.run([fixture, "stop"], env=env)
        shutil.rmtree(run, ignore_errors=True)


def expunge_all(c, names):
    """Empties the folders of names, (name, noselect) pairs, on the
    imaplib connection c (the \\Noselect ones are skipped)."""
    for name, noselect in names:
        if noselect:
            continue
        typ, data = c.select(name)
        if typ == "OK" and int(data[0]) > 0:
            c.store("1:*", "+FLAGS.SILENT", "(\\Deleted)")
            c.expunge()
        if typ == "OK":
            c.close()


def load_env(path):
    """The KEY=VALUE lines of path (a fixture's .env file) as a dict."""
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, sep, value = line.rstrip("\n").partition("=")
            if sep:
                env[key] = value
    return env


def fixture_env(name):
    """load_env() of the running fixture name ($MF_TEST_RUN_DIR)."""
    return load_env(os.path.join(os.environ["MF_TEST_RUN_DIR"],
                                 name + ".env"))


def user(n):
    """(login, password) of Dovecot fixture user n."""
    return "user%02d@example.test" % n, "pw-user%02d" % n


def csv_for(directory, users, name):
    """directory/name.csv: a batch of the given fixture users (numbers,
    or (login, password) pairs of accounts outside the numbered ones),
    each with its login as user name; the path."""
    path = os.path.join(directory, name + ".csv")
    with open(path, "w") as f:
        f.write("EmailAddress,UserName,Password\n")
        for n in users:
            u, p = n if isinstance(n, tuple) else user(n)
            f.write("%s,%s,%s\n" % (u, u, p))
    return path
