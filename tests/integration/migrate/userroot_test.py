#!/usr/bin/python3
"""The CSV's UserRoot against a Dovecot shared namespace.

Starts a PRIVATE Dovecot pair with MF_DOVECOT_SHARED=1: on the "target"
server (separator "/") every user's folders are visible to
sharedadmin@example.test as shared/<user>/... (tests/support/dovecot
fixture). That server plays the source here. user03's mailbox is filled
with folders, flags and a subfolder; then

  * `mailferry plan` with UserRoot shows user03's folders, not the admin's;
  * `mailferry migrate --direct` and the embedded `migrate` log in as
    sharedadmin with UserRoot shared/user03@example.test and copy user03's
    mailbox into user05 / user06 on the other server, judged equal by the
    independent comparer (logged in as user03 itself);
  * a UserRoot the login cannot see fails that mailbox with
    MAILBOX_MISSING and names the root.
"""
import json
import os
import subprocess
import sys
import imaplib

SRC_DIR = os.environ["MF_SOURCE_DIR"]
BUILD = os.environ["MF_BUILD_DIR"]
MF = os.path.join(BUILD, "bin", "mailferry")
SUPPORT = os.path.join(SRC_DIR, "tests", "support")
sys.path.insert(0, SUPPORT)
from itestlib import check, private_dovecot, verdict  # noqa: E402


def fill(port):
    """user03 on the shared server: INBOX, Projects, Projects/2024."""
    c = imaplib.IMAP4("127.0.0.1", port)
    c.login("user03@example.test", "pw-user03")
    c.create("Projects")
    c.create("Projects/2024")
    n = 0
    for folder, count in (("INBOX", 4), ("Projects", 2),
                          ("Projects/2024", 3)):
        for i in range(count):
            n += 1
            msg = ("From: a@example.test\r\nSubject: %s %d\r\n"
                   "Message-ID: <ur-%d@example.test>\r\n\r\nbody %d\r\n"
                   % (folder, i, n, n)).encode()
            flags = "(\\Seen \\Flagged)" if i == 0 else None
            c.append('"%s"' % folder, flags,
                     imaplib.Time2Internaldate(1700000000 + n), msg)
    c.logout()
    return n


def main():
    with private_dovecot("mailferry-userroot.", MF_DOVECOT_SHARED="1",
                         MF_DOVECOT_USERS="8") as (run, env, d):
        shared_port = int(d["TARGET_IMAP_PORT"])
        other_port = int(d["SOURCE_IMAP_PORT"])
        src = "imap://127.0.0.1:%d/?tls=off" % shared_port
        dst = "imap://127.0.0.1:%d/?tls=off" % other_port
        total = fill(shared_port)
        csv = os.path.join(run, "batch.csv")

        def write_csv(email, root, target_login=False):
            n = email.split("@")[0][-2:]
            with open(csv, "w") as f:
                f.write("EmailAddress,UserName,Password,UserRoot")
                f.write(",TargetUserName,TargetPassword\n" if target_login
                        else "\n")
                f.write("%s,sharedadmin@example.test,pw-sharedadmin,%s"
                        % (email, root))
                f.write(",%s,pw-user%s\n" % (email, n) if target_login
                        else "\n")

        write_csv("user05@example.test", "shared/user03@example.test")
        p = subprocess.run([MF, "plan", csv, "--source", src, "--json"],
                           capture_output=True, text=True)
        check(p.returncode == 0, "plan with UserRoot exits 0: " + p.stderr)
        if p.returncode == 0:
            mb = json.loads(p.stdout)["plan"]["mailboxes"][0]
            msgs = mb["totals"]["copy_messages"]
            check(msgs == total, "plan counts user03's %d messages (got %s)"
                  % (total, msgs))

        # The target logins are user05 and user06 themselves
        # (TargetUserName/TargetPassword); the source login is the admin.
        def migrate(email, *extra):
            write_csv(email, "shared/user03@example.test", True)
            return subprocess.run(
                [MF, "migrate", csv, "--source", src, "--target", dst,
                 "--report-dir", os.path.join(run, "rep-" + email), *extra],
                capture_output=True, text=True, timeout=300, cwd=run)

        def compare(email, what):
            n = email.split("@")[0][-2:]
            c = subprocess.run(
                ["/usr/bin/python3", os.path.join(SUPPORT, "imapcompare.py"),
                 "--source", "127.0.0.1:%d" % shared_port,
                 "--target", "127.0.0.1:%d" % other_port,
                 "--user", "user03@example.test", "--password", "pw-user03",
                 "--target-user", email, "--target-password", "pw-user" + n,
                 "--special-use"], capture_output=True, text=True)
            check(c.returncode == 0,
                  "%s: user03's mailbox is on the target, equal\n%s%s"
                  % (what, c.stdout[-2000:], c.stderr[-2000:]))

        p = migrate("user05@example.test", "--direct")
        check(p.returncode == 0, "migrate --direct with UserRoot exits 0\n"
              + p.stdout + p.stderr)
        compare("user05@example.test", "migrate --direct")
        p = migrate("user06@example.test")
        check(p.returncode == 0, "embedded migrate with UserRoot exits 0\n"
              + p.stdout + p.stderr)
        compare("user06@example.test", "the embedded migrate")

        # A root the admin cannot see.
        write_csv("user07@example.test", "shared/nobody@example.test/x", True)
        p = subprocess.run([MF, "migrate", csv, "--source", src, "--target",
                            dst, "--direct"], capture_output=True, text=True,
                           timeout=300, cwd=run)
        check(p.returncode != 0 and "MAILBOX_MISSING" in p.stdout + p.stderr
              and "shared/nobody@example.test/x" in p.stdout + p.stderr,
              "an unknown UserRoot fails its mailbox and names the root\n"
              + p.stdout + p.stderr)
    return verdict()


if __name__ == "__main__":
    sys.exit(main())
