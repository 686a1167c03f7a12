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

import os
import sys

from fixturelib import free_port

__all__ = ["FAILURES", "check", "verdict", "fail", "must", "load_env",
           "fixture_env", "user", "csv_for", "free_port"]

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
    """directory/name.csv: a batch of the given fixture users (numbers),
    each with its login as user name; the path."""
    path = os.path.join(directory, name + ".csv")
    with open(path, "w") as f:
        f.write("EmailAddress,UserName,Password\n")
        for n in users:
            u, p = user(n)
            f.write("%s,%s,%s\n" % (u, u, p))
    return path
