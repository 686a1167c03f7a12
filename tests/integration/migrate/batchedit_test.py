#!/usr/bin/python3
"""Batches that change (issue 16 section 1) through a real fleet: `mailferry
serve` and one `mailferry-worker` on the Kafka dev broker, the redis
fixture (database 12), the Dovecot pair; judged by what the target holds
(the independent comparer) and by the batch's records.

  addupdate  users 73-75: a mailbox added while the batch runs is copied;
             adding one already in the batch is refused with its CSV line
             and adds nothing; user74's first password is wrong (AUTH):
             `batch update` with the right one retries it at once, it
             ends Synced and equal, and no other mailbox runs again
  actions    users 76-79: `batch stop --mailbox` stops user79 mid-copy
             (the others finish), `batch start --mailbox` finishes it;
             `batch retry --failed` reruns only the failed user78;
             `batch sync --mailbox` copies a new message of user76 and not
             user77's; `batch drop` takes user77 out of status and report
             while its mail stays on the target

  set        users 121-122: `batch set` changes the folder rules and the
             connection caps of a batch that ran: an --exclude added
             stops a folder's new mail being copied by the next sync while
             INBOX's is; a target per-user cap added makes that sync wait
             while the test holds the only slot (no cap before: nothing
             waited), then go on; a rule the workers could not parse is
             refused and changes nothing; the history lists each change
  targetlogin users 123-124: user123's target login is wrong
             (TargetUserName user124 with user123's password: AUTH);
             `batch update` with the right TargetUserName/TargetPassword
             retries it at once and the pass logs in with them: Synced,
             equal on user123's target, user124's target untouched

All cases use Redis database 12 (a serve manages every batch of its
database), so they never run at the same time (RESOURCE_LOCK).
"""
import imaplib
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import migrate_test as mt  # noqa: E402
import rerun_test as rt  # noqa: E402

check = mt.check
REDIS_URL = mt.REDIS["REDIS_URL"] + "/12"


def ok(what):
    print("ok:", what)


def email(n):
    return mt.user(n)[0]


def csv(name, rows, target=None):
    """rows: user numbers, or (number, password) for a given password;
    target: {number: (TargetUserName, TargetPassword)}."""
    path = os.path.join(mt.TMP, name + ".csv")
    with open(path, "w") as f:
        f.write("EmailAddress,UserName,Password" +
                (",TargetUserName,TargetPassword\n" if target else "\n"))
        for r in rows:
            n, pw = r if isinstance(r, tuple) else (r, mt.user(r)[1])
            t = ",".join(target[n]) if target else ""
            f.write(f"{email(n)},{email(n)},{pw}" + (f",{t}\n" if t
                                                     else "\n"))
    return path


class Run:
    def __init__(self, name, fleet):
        self.batch = f"{name}-{mt.RUN_ID}"
        self.fleet = fleet

    def mf(self, *args, expect=0):
        p = subprocess.run([mt.MAILFERRY, "batch", *args], capture_output=True,
                           text=True, timeout=120)
        check(p.returncode == expect,
              f"batch {' '.join(args)}: exit {p.returncode}, expected "
              f"{expect}\n{p.stdout}\n{p.stderr}")
        return p

    def edit(self, verb, *args, expect=0):
        """A batch command with the fleet's connection flags."""
        return self.mf(verb, self.batch, *args, *self.fleet.args,
                       expect=expect)

    def editj(self, verb, *args):
        return json.loads(self.edit(verb, *args, "--json").stdout)

    def status(self):
        return json.loads(self.mf("status", self.batch, "--redis", REDIS_URL,
                                  "--json").stdout)

    def mailboxes(self):
        return {m["email"]: m for m in self.status()["mailboxes"]}

    def wait(self, pred, what, timeout=200):
        deadline = time.time() + timeout
        while True:
            st = self.status()
            if pred(st):
                return st
            check(time.time() < deadline, f"waited for {what}: {st}")
            time.sleep(0.3)

    def settled(self, timeout=200):
        return self.wait(lambda s: s["state"] not in
                         ("Syncing", "IncrementalSyncing", "Completing",
                          "Stopping"), "the batch to settle", timeout)

    def report(self):
        return json.loads(self.mf("report", self.batch, "--redis", REDIS_URL,
                                  "--format", "json").stdout)


def passes(run, users):
    mbs = run.mailboxes()
    return {n: (mbs[email(n)]["pass"], mbs[email(n)]["attempts_total"])
            for n in users}


def copied_to_target(n):
    try:
        return mt.total_messages(mt.TGT_PORT, n)
    except (imaplib.IMAP4.error, OSError):
        return 0


def case_addupdate():
    mt.corpus(73, 1, profile="bench", messages=1500)
    mt.corpus(74, 2, profile="small")
    mt.clean_target(73, 74, 75)
    key = rt.key_file("addupdate")
    with rt.Fleet(REDIS_URL, key) as fleet:
        run = Run("addupdate", fleet)
        run.mf("create", run.batch, "--csv",
               csv("first", [73, (74, "wrong-password")]), "--source", mt.SRC,
               "--target", mt.TGT, "--redis", REDIS_URL,
               "--master-key-file", key,
               # user73 (56 MB) takes seconds: the batch still runs when
               # user75 is added.
               "--max-bytes-per-second", "8M")
        run.edit("start")
        run.wait(lambda s: any(m["email"] == email(73) and
                               m["state"] == "Syncing"
                               for m in s["mailboxes"]),
                 "user73 to be copied")

        # A CSV naming a mailbox already in the batch adds nothing, and
        # names the line.
        p = run.edit("add", "--csv", csv("dup", [75, 73]), expect=1)
        check(f"dup.csv:3: error: mailbox already in the batch: {email(73)} "
              "[CSV_MAILBOX_IN_BATCH]" in p.stderr, f"dup refused: {p.stderr}")
        check(run.status()["n_mailboxes"] == 2 and
              email(75) not in run.mailboxes(), "the refused add added none")
        doc = json.loads(run.edit("add", "--csv", csv("dup", [75, 73]),
                                  "--json", expect=1).stdout)
        check(doc["changed"] is False and
              [(e["line"], e["code"], e["email"]) for e in doc["errors"]] ==
              [(3, "CSV_MAILBOX_IN_BATCH", email(73))],
              f"dup refused (--json): {doc}")
        ok("add of a mailbox already in the batch refused with its line")

        # Added while the batch runs: its job goes out at once.
        doc = run.editj("add", "--csv", csv("add", [75]))
        check(doc["state"] == "Syncing" and doc["jobs"] == 1,
              f"added while running: {doc}")
        st = run.settled()
        mbs = {m["email"]: m for m in st["mailboxes"]}
        check(st["n_mailboxes"] == 3 and st["state"] == "SyncedWithErrors",
              f"after the pass: {st['state']} {st['n_mailboxes']}")
        check(mbs[email(73)]["state"] == "Synced" and
              mbs[email(75)]["state"] == "Synced", f"{mbs}")
        check(mbs[email(74)]["state"] == "Failed" and
              mbs[email(74)]["error"]["name"] == "AUTH",
              f"user74 fails with AUTH: {mbs[email(74)]}")
        mt.assert_equal(73)
        mt.assert_equal(75)
        ok("the mailbox added while the batch ran is copied, equal")
        check([c["option"] for c in st["changes"]] == ["add-mailboxes"] and
              st["changes"][0]["old"] == "2" and st["changes"][0]["new"] == "3",
              f"history: {st['changes']}")

        # The right password: user74 is retried at once, the others not.
        before = passes(run, [73, 75])
        doc = run.editj("update", "--csv", csv("update", [74]))
        check([(m["email"], m["outcome"]) for m in doc["mailboxes"]] ==
              [(email(74), "queued")] and doc["jobs"] == 1,
              f"update retries the AUTH failure: {doc}")
        st = run.settled()
        mbs = {m["email"]: m for m in st["mailboxes"]}
        check(st["state"] == "Synced" and mbs[email(74)]["state"] == "Synced"
              and not mbs[email(74)]["error"], f"after update: {st['state']} "
              f"{mbs[email(74)]}")
        mt.assert_equal(74)
        check(passes(run, [73, 75]) == before, "no other mailbox ran again")
        ok("update after an AUTH failure: Synced, equal, nobody else rerun")
        p = run.edit("update", "--csv", csv("nobody", [76]), expect=1)
        check(f"nobody.csv:2: error: mailbox not in the batch: {email(76)}"
              in p.stderr, f"update of a stranger: {p.stderr}")
        run.mf("remove", run.batch, "--redis", REDIS_URL)


def append(n, text):
    c = mt.imap_login(mt.SRC_PORT, n)
    msg = (f"From: a@example.test\r\nTo: {email(n)}\r\nSubject: {text}\r\n"
           f"Message-ID: <{text}-{mt.RUN_ID}@example.test>\r\n\r\n{text}\r\n")
    c.append("INBOX", None, None, msg.encode())
    c.logout()


def status_views(run):
    """`batch status` per mailbox (issue 16): the settled batch has user78
    Failed (AUTH) and users 76, 77, 79 Synced. The summary tallies the
    failure by error; --state lists the mailboxes of a state with what
    is next; --mailbox shows each named one in detail, its figures those
    of the report; --json carries the same."""
    t0 = time.monotonic()
    rep = {m["email"]: m for m in run.report()["mailboxes"]}
    b, r = run.batch, ["--redis", REDIS_URL]
    text = run.mf("status", b, *r).stdout
    check("  failed (1): AUTH (305) 1\n" in text and
          f"    {email(78):<32} AUTH: " in text, f"summary:\n{text}")

    text = run.mf("status", b, *r, "--state", "failed").stdout
    lines = [ln for ln in text.splitlines() if ln.startswith("user")]
    check(len(lines) == 1 and lines[0].startswith(f"{email(78):<32} Failed ")
          and " AUTH: " in lines[0] and "  1 of 4 mailboxes in failed" in text
          and f"`mailferry batch update {b} --csv F`" in text,
          f"--state failed:\n{text}")
    doc = json.loads(run.mf("status", b, *r, "--state", "Synced,waiting",
                            "--json").stdout)
    check(doc["filter"]["state"] == "Synced,waiting" and
          [m["email"] for m in doc["mailboxes"]] ==
          [email(79), email(76), email(77)] and
          all(m["pending"]["next"] == "sync" and not m["pending"]["waiting"]
              for m in doc["mailboxes"]) and
          doc["totals"]["mailboxes_failed"] == 1 and
          doc["totals"]["failed_by_error"] ==
          [{"code": 305, "name": "AUTH", "count": 1}],
          f"--state Synced,waiting --json: {doc}")

    text = run.mf("status", b, *r, "--mailbox", f"{email(78)},{email(76)}"
                  ).stdout
    c76 = rep[email(76)]["copied_messages"]
    check(text.index(f"{email(78)}: Failed\n") <
          text.index(f"{email(76)}: Synced\n") and
          "  last error  AUTH (305): " in text and
          f"  copied      {c76} messages (" in text and
          f"`mailferry batch sync {b}` (new mail)" in text,
          f"--mailbox:\n{text}")
    doc = json.loads(run.mf("status", b, *r, "--mailbox", email(76),
                            "--json").stdout)
    (m76,) = doc["mailboxes"]
    check(m76["messages_copied"] == c76 and m76["failed"] == 0 and
          m76["failed_by_error"] == [] and
          m76["skipped"]["too_large"] == 0 and
          m76["pending"]["next"] == "sync", f"--mailbox --json: {m76}")
    run.mf("status", b, *r, "--mailbox", "nobody@example.test", expect=1)
    run.mf("status", b, *r, "--state", "sleeping", expect=2)
    ok("batch status: summary by error, --state, --mailbox, --json "
       f"({time.monotonic() - t0:.1f} s)")


def case_actions():
    mt.corpus(76, 3, profile="small")
    mt.corpus(79, 1, profile="bench", messages=2000)
    mt.clean_target(76, 77, 78, 79)
    key = rt.key_file("actions")
    with rt.Fleet(REDIS_URL, key) as fleet:
        run = Run("actions", fleet)
        run.mf("create", run.batch, "--csv",
               csv("all", [79, 76, 77, (78, "wrong-password")]), "--source",
               mt.SRC, "--target", mt.TGT, "--redis", REDIS_URL,
               "--master-key-file", key,
               # user79 (75 MB) takes seconds: time to stop it mid-copy.
               "--max-bytes-per-second", "8M")
        run.edit("start")
        run.wait(lambda s: any(m["email"] == email(79) and
                               m["state"] == "Syncing"
                               for m in s["mailboxes"]), "user79 to run")
        deadline = time.time() + 120
        while copied_to_target(79) < 100:
            check(time.time() < deadline, "user79 copies nothing")
            time.sleep(0.1)

        # Stop one mailbox mid-copy: the others go on.
        doc = run.editj("stop", "--mailbox", email(79))
        check([(m["email"], m["outcome"]) for m in doc["mailboxes"]] ==
              [(email(79), "stopping")], f"stop --mailbox: {doc}")
        st = run.settled()
        mbs = {m["email"]: m for m in st["mailboxes"]}
        total = mt.total_messages(mt.SRC_PORT, 79)
        partial = copied_to_target(79)
        check(mbs[email(79)]["state"] == "Stopped" and partial < total,
              f"user79 stopped mid-copy: {mbs[email(79)]['state']}, "
              f"{partial}/{total}")
        check(mbs[email(76)]["state"] == "Synced" and
              mbs[email(77)]["state"] == "Synced" and
              mbs[email(78)]["state"] == "Failed", f"the others: {mbs}")
        ok(f"stop --mailbox stopped user79 at {partial}/{total}")

        # Start it again: it finishes, nobody else runs.
        before = passes(run, [76, 77, 78])
        doc = run.editj("start", "--mailbox", email(79))
        check(doc["jobs"] == 1, f"start --mailbox: {doc}")
        st = run.settled()
        check(run.mailboxes()[email(79)]["state"] == "Synced",
              f"user79 after start: {run.mailboxes()[email(79)]}")
        mt.assert_equal(79)
        check(passes(run, [76, 77, 78]) == before, "start --mailbox ran "
              "only user79")
        ok("start --mailbox finished user79, equal")

        # Retry the failed: only user78 runs (and fails again: same
        # password).
        before = passes(run, [76, 77, 79])
        p78 = passes(run, [78])[78]
        doc = run.editj("retry", "--failed")
        check({m["email"]: m["outcome"] for m in doc["mailboxes"]} ==
              {email(76): "skipped", email(77): "skipped",
               email(78): "queued", email(79): "skipped"} and
              doc["jobs"] == 1, f"retry --failed: {doc}")
        st = run.settled()
        m78 = run.mailboxes()[email(78)]
        check(m78["state"] == "Failed" and m78["pass"] == p78[0] + 1 and
              m78["attempts_total"] > p78[1], f"user78 reran: {m78}")
        check(passes(run, [76, 77, 79]) == before, "retry ran only user78")
        ok("retry --failed reran only the failed mailbox")
        status_views(run)

        # A new message on both sources: sync --mailbox copies user76's.
        n77 = copied_to_target(77)
        append(76, "after-the-first-pass")
        append(77, "after-the-first-pass")
        p77 = passes(run, [77])
        doc = run.editj("sync", "--mailbox", email(76))
        check(doc["jobs"] == 1, f"sync --mailbox: {doc}")
        run.settled()
        mt.assert_equal(76)
        check(copied_to_target(77) == n77 and passes(run, [77]) == p77,
              "user77 was not synced")
        ok("sync --mailbox copied user76's new message, not user77's")

        # Drop user77: gone from status and report; its mail stays.
        run.edit("drop", "--mailbox", "nobody@example.test", expect=1)
        p = run.edit("drop", "--mailbox", email(77))
        check("dropped 1 mailbox" in p.stdout, p.stdout)
        st = run.status()
        check(st["n_mailboxes"] == 3 and email(77) not in
              {m["email"] for m in st["mailboxes"]} and
              sum(st["counts"].values()) == 3, f"status after drop: {st}")
        check(("drop-mailboxes", "4", "3") in
              [(c["option"], c["old"], c["new"]) for c in st["changes"]],
              f"history: {st['changes']}")
        rep = run.report()
        check(email(77) not in {m["email"] for m in rep["mailboxes"]},
              "the report leaves user77 out")
        check(copied_to_target(77) == n77, "user77's mail stays on the target")
        ok("drop took user77 out; its mail stays on the target")
        run.mf("remove", run.batch, "--redis", REDIS_URL)


def redis(*args):
    return subprocess.run(["redis-cli", "-u", REDIS_URL, *args],
                          capture_output=True, text=True, timeout=30,
                          check=True).stdout.strip()


def folder_count(port, n, folder):
    c = mt.imap_login(port, n)
    typ, data = c.select(f'"{folder}"', readonly=True)
    c.logout()
    return int(data[0]) if typ == "OK" else 0


def append_to(n, folder, text):
    c = mt.imap_login(mt.SRC_PORT, n)
    c.create(f'"{folder}"')
    msg = (f"From: a@example.test\r\nTo: {email(n)}\r\nSubject: {text}\r\n"
           f"Message-ID: <{text}-{mt.RUN_ID}@example.test>\r\n\r\n{text}\r\n")
    check(c.append(f'"{folder}"', None, None, msg.encode())[0] == "OK",
          f"append to {folder}")
    c.logout()


def case_set():
    mt.corpus(121, 1, profile="small")
    mt.clean_target(121)
    append_to(121, "Later", "later-first")
    key = rt.key_file("set")
    with rt.Fleet(REDIS_URL, key) as fleet:
        run = Run("set", fleet)
        run.mf("create", run.batch, "--csv", csv("set", [121]), "--source",
               mt.SRC, "--target", mt.TGT, "--redis", REDIS_URL,
               "--master-key-file", key)
        run.edit("start")
        st = run.settled()
        check(st["state"] == "Synced", f"first pass: {st['state']}")
        mt.assert_equal(121)
        later = folder_count(mt.TGT_PORT, 121, "Later")
        check(later == 1, f"Later copied by the first pass: {later}")

        # A rule the workers could not use changes nothing.
        p = run.mf("set", run.batch, "--rename", "no-equals-sign", "--redis",
                   REDIS_URL, expect=2)
        check("rename" in p.stderr and run.status()["changes"] == [],
              f"bad rule refused: {p.stderr}")
        p = run.mf("set", run.batch, "--exclude", "Later",
                   "--target-max-connections-per-user", "1",
                   "--max-connections", "5", "--redis", REDIS_URL)
        check(f"batch {run.batch}: exclude = Later (from the next pass on)"
              in p.stdout and "target-max-connections-per-user = 1" in
              p.stdout, p.stdout)
        hist = [(c["option"], c["old"], c["new"])
                for c in run.status()["changes"]]
        check(hist == [("max-connections", "0", "5"),
                       ("target-max-connections-per-user", "0", "1"),
                       ("exclude", "none", "Later")], f"history: {hist}")
        # The same again changes nothing.
        run.mf("set", run.batch, "--exclude", "Later", "--redis", REDIS_URL)
        check(len(run.status()["changes"]) == 3, "a repeated set is no change")
        ok("batch set: caps and --exclude recorded; a bad rule refused")

        # The test holds the only target slot of user121: the next sync
        # waits for it (it would not without the cap), then goes on.
        append_to(121, "Later", "later-second")
        append(121, "inbox-after-set")
        inbox = folder_count(mt.TGT_PORT, 121, "INBOX")
        cap = (f"mf:{{c:dst:127.0.0.1:{mt.TGT_PORT}}}:cap:user:"
               f"{email(121)}")
        redis("ZADD", cap, str(int(time.time() * 1000) + 600000),
              "held-by-the-test")
        try:
            run.edit("sync")
            deadline = time.time() + 2
            while time.time() < deadline:
                n, st = folder_count(mt.TGT_PORT, 121, "INBOX"), run.status()
                check(n == inbox and st["state"] == "IncrementalSyncing",
                      f"the sync did not wait for the held slot: INBOX "
                      f"{n}/{inbox}, {st['state']}, "
                      f"{redis('KEYS', 'mf:{c:*')}")
                time.sleep(0.2)
        finally:
            redis("ZREM", cap, "held-by-the-test")
        st = run.settled()
        check(st["state"] == "Synced", f"after the sync: {st['state']}")
        check(folder_count(mt.TGT_PORT, 121, "INBOX") == inbox + 1,
              "INBOX's new message copied")
        check(folder_count(mt.TGT_PORT, 121, "Later") == 1,
              "the excluded folder's new message was not copied")
        ok("the next sync waited for the new cap's slot and left the "
           "newly excluded folder alone")

        # Cleared again: the next sync copies Later's new message.
        p = run.mf("set", run.batch, "--exclude", "", "--redis", REDIS_URL)
        check("exclude = none" in p.stdout, p.stdout)
        run.edit("sync")
        run.settled()
        mt.assert_equal(121)
        last = run.status()["changes"][-1]
        check((last["option"], last["old"], last["new"]) ==
              ("exclude", "Later", "none"), f"history of the clearing: {last}")
        ok("--exclude '' clears the rule: the next sync copies the folder")
        run.mf("set", run.batch, "--rename", "My Folder=Other Folder",
               "--redis", REDIS_URL)
        last = run.status()["changes"][-1]
        check((last["option"], last["old"], last["new"]) ==
              ("rename", "none", "My Folder=Other Folder"),
              f"a rule with spaces in the history: {last}")
        run.mf("remove", run.batch, "--redis", REDIS_URL)


def case_targetlogin():
    mt.corpus(123, 1, profile="small")
    mt.clean_target(123, 124)
    key = rt.key_file("targetlogin")
    with rt.Fleet(REDIS_URL, key) as fleet:
        run = Run("targetlogin", fleet)
        run.mf("create", run.batch, "--csv",
               csv("tl", [123], {123: (email(124), mt.user(123)[1])}),
               "--source", mt.SRC, "--target", mt.TGT, "--redis", REDIS_URL,
               "--master-key-file", key)
        run.edit("start")
        st = run.settled()
        m = run.mailboxes()[email(123)]
        check(m["state"] == "Failed" and m["error"]["name"] == "AUTH",
              f"the wrong target login fails with AUTH: {m}")
        doc = run.editj("update", "--csv",
                        csv("tl2", [123], {123: mt.user(123)}))
        check([(m["email"], m["outcome"]) for m in doc["mailboxes"]] ==
              [(email(123), "queued")] and doc["jobs"] == 1,
              f"update retries the AUTH failure: {doc}")
        st = run.settled()
        m = run.mailboxes()[email(123)]
        check(st["state"] == "Synced" and m["state"] == "Synced",
              f"after the update: {st['state']} {m}")
        mt.assert_equal(123)
        check(copied_to_target(124) == 0, "user124's target untouched")
        ok("batch update of the target login: the next pass logs in with it")
        run.mf("remove", run.batch, "--redis", REDIS_URL)


CASES = {"addupdate": case_addupdate, "actions": case_actions,
         "set": case_set, "targetlogin": case_targetlogin}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print("usage: batchedit_test.py " + "|".join(CASES))
        sys.exit(2)
    rt.clear_database(REDIS_URL)  # database 12 is these tests' own
    CASES[sys.argv[1]]()
    print("ok: " + sys.argv[1])
