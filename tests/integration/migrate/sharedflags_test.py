#!/usr/bin/python3
"""One set of connection flags for every command (issue 16 section 7):
`--redis`, `--kafka`, `--master-key-file` and `--topic-prefix` (and a
`--kafka.<property>` pass-through), as flags,
as MAILFERRY_* variables and in a --config file, against the redis
fixture (database 1), the Kafka dev broker and the Dovecot pair.

  table  every `batch` subcommand that `mailferry --help` lists (a new one
         without a row here fails the test) runs on a real batch with all
         four settings given, in each of the three forms: none is refused
         as unknown (exit 2), and each does its work (its expected exit
         code), so the settings it needs were read from that form.
         Users 30 and 33 only appear in its CSVs: their jobs (and
         `batch verify`'s, sent to the fleet since --kafka is given) go
         to a topic prefix no worker reads.
  alias  one "alias" (the same four flags after every command) serves
         create, start, status and report of a batch that a real fleet
         (serve + mailferry-worker) copies: user80 ends Synced and the
         independent comparer finds source and target equal.
         The date window travels in the job (issue 16 section 3): user33's
         job is produced with --since before the fleet starts, then the
         window is taken out of the batch record in Redis; the worker
         copies only the two messages inside the job's window. After
         `batch set --since none` the next pass copies the other two.
         So does the fingerprint mode (issue 13): the batch is made with
         --fingerprint lenient, which is also taken out of its record;
         the target already holds a re-encoded copy of one message
         (other bytes, same Message-ID, date, Subject and From), which
         the worker recognises by the job's lenient mode (strict would
         copy it a second time).

Database 1 is shared with integration.coordinator.create, hence the
RESOURCE_LOCK redis_db1 on both.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import migrate_test as mt  # noqa: E402
import rerun_test as rt  # noqa: E402
import window_test as wt  # noqa: E402

check = mt.check
REDIS_URL = mt.REDIS["REDIS_URL"] + "/1"
KAFKA = mt.env_file("kafka")["KAFKA_BOOTSTRAP"]
# The four settings, and a librdkafka property passed through the way a
# SASL or TLS setting is (--kafka.<property>).
SHARED = ("redis", "kafka", "master-key-file", "topic-prefix",
          "kafka.socket.keepalive.enable")


def email(n):
    return mt.user(n)[0]


class Form:
    """How the four settings reach a command: flags after the command,
    MAILFERRY_* variables, or a --config file."""

    def __init__(self, kind, values):
        self.kind, self.args, self.env = kind, [], dict(os.environ)
        if kind == "flags":
            for k in SHARED:
                self.args += ["--" + k, values[k]]
        elif kind == "env":
            for k in SHARED:
                name = k.upper().replace("-", "_").replace(".", "_")
                self.env["MAILFERRY_" + name] = values[k]
        else:
            conf = os.path.join(mt.TMP, "shared.conf")
            with open(conf, "w") as f:
                f.write("# one file for every command\n")
                for k in SHARED:
                    f.write("%s = %s\n" % (k, values[k]))
            self.args = ["--config", conf]

    def run(self, *words):
        return subprocess.run([mt.MAILFERRY, *words, *self.args],
                              capture_output=True, text=True, timeout=120,
                              env=self.env)


def batch_subcommands():
    out = subprocess.run([mt.MAILFERRY, "--help"], capture_output=True,
                         text=True, check=True).stdout
    return {line.split()[1] for line in out.splitlines()
            if line.startswith("  batch ")}


def table(b, other):
    """(subcommand, arguments, exit codes that mean it did its work), in
    an order that walks the batch through its life. Exit 1 is a refusal
    for the batch's state (a pass asked for while another runs)."""
    return [
        ("create", [b, "--csv", mt.csv_for([30], "t30"), "--source", mt.SRC,
                    "--target", mt.TGT], {0}),
        ("status", [b], {0}),
        ("set", [b, "--max-attempts", "4"], {0}),
        ("add", [b, "--csv", mt.csv_for([33], "t33")], {0}),
        ("update", [b, "--csv", mt.csv_for([33], "t33")], {0}),
        ("drop", [b, "--mailbox", email(33)], {0}),
        ("start", [b], {0}),
        ("sync", [b, "--mailbox", email(30)], {0, 1}),
        ("stop", [b], {0}),
        ("retry", [b], {0, 1}),
        ("complete", [b], {0, 1}),
        ("report", [b, "--format", "json"], {0}),
        ("verify", [b], {0, 1}),
        ("compare", [b, other], {0, 1}),
        ("list", [], {0}),
        ("stop", [b], {0, 1}),
        ("remove", [b], {0}),
    ]


def case_table():
    key = rt.key_file("shared")
    values = {"redis": REDIS_URL, "kafka": KAFKA, "master-key-file": key,
              "topic-prefix": f"h16t-{mt.RUN_ID}",
              "kafka.socket.keepalive.enable": "true"}
    other = f"h16t-other-{mt.RUN_ID}"
    Form("flags", values).run("batch", "create", other, "--csv",
                              mt.csv_for([30], "o30"), "--source", mt.SRC,
                              "--target", mt.TGT)
    for kind in ("flags", "env", "config"):
        form = Form(kind, values)
        b = f"h16t-{kind}-{mt.RUN_ID}"
        rows = table(b, other)
        check({r[0] for r in rows} == batch_subcommands(),
              "the table has a row for every batch subcommand: "
              f"{sorted(batch_subcommands() ^ {r[0] for r in rows})}")
        for verb, args, codes in rows:
            p = form.run("batch", verb, *args)
            check("unknown option" not in p.stderr and p.returncode != 2,
                  f"{kind}: batch {verb} refused its command line: exit "
                  f"{p.returncode}\n{p.stderr}")
            check(p.returncode in codes,
                  f"{kind}: batch {verb}: exit {p.returncode}, expected "
                  f"{sorted(codes)}\n{p.stdout[-1500:]}\n{p.stderr[-1500:]}")
        names = [x["batch"] for x in json.loads(
            form.run("batch", "list", "--json").stdout)["batches"]]
        check(b not in names, f"{kind}: batch remove took {b} away")
        print(f"ok: {kind}: all {len(rows)} batch commands ran")
    Form("flags", values).run("batch", "remove", other)


def fill(n, tags):
    mt.clean_target(n, port=mt.SRC_PORT)
    mt.clean_target(n)
    for i, (folder, date) in enumerate(tags):
        wt.add(mt.SRC_PORT, n, folder, f"m{n}-{i}", date)


def strip_window(batch):
    """Takes --since and --fingerprint out of the batch's record behind
    the coordinator's back: only the jobs already produced still carry
    them."""
    key = "mf:{b:%s}:batch" % batch
    p = subprocess.run(["redis-cli", "-h", mt.REDIS["REDIS_HOST"], "-p",
                        mt.REDIS["REDIS_PORT"], "-n", "1", "HDEL", key,
                        "since", "fp_mode"], capture_output=True, text=True,
                       timeout=30)
    check(p.stdout.strip() == "2",
          f"HDEL {key} since fp_mode: {p.stdout} {p.stderr}")


def message(tag, extra=""):
    """window_test.add()'s message; extra headers make a re-encoded
    copy: other bytes and size, the same lenient fingerprint."""
    return (f"From: a@example.test\r\nSubject: {tag}\r\n{extra}"
            f"Message-ID: <{tag}-{mt.RUN_ID}@example.test>\r\n\r\n"
            f"body of {tag}\r\n").encode()


def put_on_target(n, tag, extra):
    """Replaces the target INBOX's copy of tag by message(tag, extra)."""
    c = mt.imap_login(mt.TGT_PORT, n)
    c.select("INBOX")
    typ, data = c.search(None, "HEADER", "Message-ID",
                         f"<{tag}-{mt.RUN_ID}@example.test>")
    for num in (data[0] or b"").split():
        c.store(num, "+FLAGS.SILENT", "(\\Deleted)")
    c.expunge()
    typ, _ = c.append("INBOX", None, wt.RECENT, message(tag, extra))
    check(typ == "OK", f"APPEND {tag} to the target")
    c.logout()


def case_alias():
    fill(80, [("INBOX", wt.RECENT)] * 4 + [("Archive", wt.RECENT)])
    # user33: two messages inside --since 2025-01-01, two before it.
    fill(33, [("INBOX", wt.RECENT), ("INBOX", wt.OLD), ("Archive", wt.OLD),
              ("Archive", wt.RECENT)])
    put_on_target(33, "m33-0", "X-Reencoded: yes\r\n")
    fleet = rt.Fleet(REDIS_URL, rt.key_file("alias"))
    alias = fleet.args  # all four flags, as a shell alias adds them

    def mf(*words):
        p = subprocess.run([mt.MAILFERRY, "batch", *words, *alias],
                           capture_output=True, text=True, timeout=120)
        check(p.returncode == 0, f"batch {words[0]} with the alias: "
              f"exit {p.returncode}\n{p.stdout}\n{p.stderr}")
        return p.stdout

    def settled(b):
        deadline = time.time() + 120
        while True:
            st = json.loads(mf("status", b, "--json"))
            if st["state"] not in ("Created", "Syncing",
                                   "IncrementalSyncing"):
                return st
            check(time.time() < deadline, f"{b} never settled: {st}")
            time.sleep(0.3)

    # The window travels in the job: produced with --since before any
    # worker runs, then taken out of the batch record. The worker must
    # copy only what the job's window holds.
    w = f"h16window-{mt.RUN_ID}"
    mf("create", w, "--csv", mt.csv_for([33], "w33"), "--source", mt.SRC,
       "--target", mt.TGT, "--since", "2025-01-01", "--fingerprint",
       "lenient")
    mf("start", w)
    strip_window(w)
    with fleet:
        b = f"h16alias-{mt.RUN_ID}"
        mf("create", b, "--csv", mt.csv_for([80], "a80"), "--source", mt.SRC,
           "--target", mt.TGT)
        mf("start", b)
        st = settled(b)
        check(st["state"] == "Synced", f"batch state {st['state']}")
        rep = json.loads(mf("report", b, "--format", "json"))
        m = mt.mailbox_report(rep, 80)
        check(m["state"] == "Synced" and m["copied_messages"] == 5,
              f"report: {m}")
        mt.assert_equal(80)
        mf("remove", b)

        st = settled(w)
        mb = st["mailboxes"][0]
        dates = wt.target_dates(33)
        check(st["state"] == "Synced" and mb["outside_window"] == 2 and
              len(dates) == 2 and all("2026" in d for d in dates),
              f"the job's window and lenient fingerprints held: target "
              f"has {dates}, status {mb}")
        # The re-encoded copy made way for the source's bytes, so that
        # the comparer can find both sides equal at the end.
        put_on_target(33, "m33-0", "")
        # `batch set --since none`: the next pass's jobs carry no bound.
        mf("set", w, "--since", "none")
        mf("sync", w)
        st = settled(w)
        check(len(wt.target_dates(33)) == 4, "the next pass copied the rest")
        mt.assert_equal(33)
        mf("remove", w)


CASES = {"table": case_table, "alias": case_alias}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print("usage: sharedflags_test.py " + "|".join(CASES))
        sys.exit(2)
    CASES[sys.argv[1]]()
    print("ok: " + sys.argv[1])
