#!/usr/bin/python3
"""End to end: CSV in, `mailferry batch ...`, one `mailferry serve`,
several `mailferry-worker` processes, report out, judged by the
independent comparer (tests/support/imapcompare.py). Issues 4 and 6.

    e2e_test.py CASE

Each case runs its own servers (tests/support/pipeline.py: a Dovecot pair,
a redis-server and a Kafka dev broker in a private directory), so it can
break them without disturbing any other test:

  batch20    20 mailboxes (bench corpus, 30 messages each), one with a
             wrong password; 3 workers. `batch remove` is refused while
             Syncing; the batch ends SyncedWithErrors, that mailbox Failed
             with AUTH (305) in the JSON report, the 19 others EQUAL. Mail
             APPENDed to a source mailbox arrives with `batch sync`
             (remove refused while IncrementalSyncing too); `batch
             complete`, then `batch remove` leaves no key behind
  stopstart  `batch stop` in the middle (a bandwidth cap keeps the copies
             running): Stopped, the targets really are partial; `batch
             start` resumes: every mailbox EQUAL, nothing lost or doubled
  kill9      kill -9 of a worker in the middle of a mailbox: the claim
             expires (--claim-ttl 6s), serve requeues the job and another
             worker finishes it; EQUAL
  zombie     SIGSTOP of a worker in the middle of a mailbox, past its
             claim (--claim-ttl 6s); another worker takes the job over;
             SIGCONT: the stopped worker finds its claim gone (fencing,
             issue 11 section 4) and neither appends nor moves a
             checkpoint: no checkpoint goes back, the batch ends Synced,
             the report adds up, EQUAL (no duplicate on the target)
  sigterm    SIGTERM to a worker with a mailbox in flight: it exits 0
             within its --shutdown-timeout (measured), hands the job back,
             another worker finishes it; EQUAL. The workers' /healthz,
             /readyz and /metrics answer over HTTP and the counters move
  outage     the dev broker goes down (all brokers, 5 s) and the
             redis-server restarts in the middle of the batch: it still
             ends Synced, EQUAL, no process died
  secrets    no password (users', a wrong one, the source admin's) in any
             Kafka message (all topics read raw), in Redis (SCAN + values
             + DUMP), in the logs (debug level) or CLI output, or in the
             CSV, JSON and HTML reports

MF_PAIR (issue 13, Cyrus in the test matrix): "dovecot" (the default) is
the private Dovecot pair; "dovecot-cyrus" copies from its source to the
target of a private Cyrus pair (tests/support/cyrus), "cyrus-dovecot"
from the Cyrus source to its target. kill9 runs that way, smaller (users
116-117, 200 bench messages each, 2 workers of one slot), the Cyrus side
over imaps with the Cyrus fixture's test CA (`batch create --ca-file`,
which the workers get in the job): integration.cyrus.fleet.{target,
source}.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(
    os.environ.get("MF_SOURCE_DIR",
                   os.path.join(os.path.dirname(__file__), "..", "..", "..")),
    "tests", "support"))

from pipeline import (Fail, Pipeline, check, log, secrets_absent,  # noqa: E402
                      user)

WRONG_PW = "Wr0ng-e2e-pass-quux"


def synced_all(p, batch, users, state="Synced"):
    st = p.status(batch)
    for n in users:
        m = p.mailbox(st, n)
        if m["state"] != state:
            raise Fail(f"{m['email']}: {m['state']} {m['error']}")
    return st


def case_batch20(p):
    users = list(range(1, 21))
    bad = 7
    b = "b20"
    p.corpus(1, 20, 30)
    p.create(b, p.csv("b20.csv", users, passwords={bad: WRONG_PW}))
    p.serve()
    ws = p.workers(3, slots=2)
    j = p.start(b)
    check(j["jobs"] == 20 and j["state"] == "Syncing",
          "start: 20 jobs, Syncing")
    r = p.op("remove", b, expect=1)
    check("Syncing" in r.stderr, "remove is refused while Syncing: "
          + r.stderr.strip().splitlines()[-1])
    t0 = time.time()
    st = p.wait_state(b, ["Synced", "SyncedWithErrors"], timeout=120)
    log(f"first pass: {st['state']} in {time.time() - t0:.1f} s, "
        f"{st['totals']['messages_copied']} messages")
    check(st["state"] == "SyncedWithErrors" and st["counts"]["Synced"] == 19
          and st["counts"]["Failed"] == 1,
          "SyncedWithErrors: 19 Synced, 1 Failed")
    rep = p.report(b, "json")
    by = {m["email"]: m for m in rep["mailboxes"]}
    fm = by[user(bad)[0]]
    check(fm["state"] == "Failed" and fm["error"]["code"] == 305 and
          fm["error"]["name"] == "AUTH",
          f"the report: {fm['email']} Failed with AUTH (305): "
          f"{fm['error']['text']}")
    ran = {}
    for m in rep["mailboxes"]:
        ran[m["worker"]] = ran.get(m["worker"], 0) + 1
    log(f"mailboxes per worker: {ran}")
    check(len([w for w in ws if w.id in ran]) >= 2,
          "the mailboxes were shared by several worker processes")
    good = [n for n in users if n != bad]
    check(all(by[user(n)[0]]["state"] == "Synced" for n in good),
          "the report: the 19 others Synced")
    p.assert_equal(good)

    # New mail after the first pass arrives with `batch sync`.
    mid = p.append(3, "arrives with batch sync")
    before = p.mailbox(p.status(b), 3)["messages_copied"]
    j = p.op("sync", b)
    check(j["state"] == "IncrementalSyncing", "sync: IncrementalSyncing")
    r = p.op("remove", b, expect=1)
    check("IncrementalSyncing" in r.stderr,
          "remove is refused while IncrementalSyncing")
    st = p.wait_state(b, ["Synced", "SyncedWithErrors"], timeout=120)
    m3 = p.mailbox(st, 3)
    check(m3["pass"] == 2 and m3["state"] == "Synced",
          f"user03 synced in pass 2 ({before} -> "
          f"{m3['messages_copied']} messages copied)")
    p.assert_equal([3])
    log(f"{mid} arrived on the target")

    j = p.op("complete", b)
    check(j["state"] == "Completing", "complete: Completing")
    st = p.wait_state(b, ["Completed", "CompletedWithErrors"], timeout=120)
    check(st["state"] == "CompletedWithErrors" and
          st["counts"]["Completed"] == 19,
          f"{st['state']}: {st['counts']}")
    p.op("remove", b)
    names = [x["batch"] for x in
             p.mfj("batch", "list", "--redis", p.redis_url)["batches"]]
    check(b not in names, "remove: the batch is no longer listed")
    rc = p.redis_client()
    left = rc.keys("*{b:%s}*" % b)
    rc.close()
    check(left == [], f"remove leaves no key of the batch ({left[:5]})")


def mid_copy(p, b, fraction, timeout=120):
    """Waits until the running mailboxes have copied `fraction` of the
    batch; returns the status."""
    def enough():
        st = p.status(b)
        total = done = 0
        for m in st["mailboxes"]:
            pr = m["progress"]
            total += pr["messages_total"] or 300
            done += pr["messages_done"] + m["messages_copied"]
        return st if total and done >= fraction * total else None
    return p.wait(enough, timeout, f"{fraction:.0%} of the batch copied")


def served_batch(p, b, users, rate, messages=300, corpus=(), create=()):
    """Batch b of users, each with a corpus of messages (corpus: more
    gen_corpus.py arguments), created at rate bytes per second (create:
    more `batch create` arguments) and a serve running: the serve."""
    p.corpus(users[0], len(users), messages, extra=corpus)
    p.create(b, p.csv(b + ".csv", users), "--max-bytes-per-second", rate,
             *create)
    return p.serve()


def busy_worker(p, b, ws):
    """Waits for a mailbox of b in flight (20 messages done); the
    mailbox (email, its record), the worker of ws that runs it and every
    mailbox that worker has in flight."""
    running = p.wait(lambda: p.in_flight(b, min_done=20), 120,
                     "a mailbox in flight")
    email, m = running[0]
    w = [w for w in ws if w.id == m["claimed_by"]][0]
    return email, m, w, [e for e, _ in p.in_flight(b, worker=w, min_done=0)]


def case_stopstart(p):
    users = [1, 2, 3, 4]
    b = "stopstart"
    served_batch(p, b, users, "4000000")
    p.workers(2, slots=2)
    p.start(b)
    mid_copy(p, b, 0.25)
    p.op("stop", b)
    t0 = time.time()
    st = p.wait_state(b, "Stopped", timeout=60)
    log(f"Stopped {time.time() - t0:.1f} s after `batch stop`: "
        f"{st['counts']}")
    check(st["counts"]["Stopped"] >= 1, "some mailboxes were stopped")
    partial = [n for n in users if not p.compare(n)["equal"]]
    check(partial, f"stopped mid-copy: {len(partial)} target(s) partial")
    copied = sum(m["messages_copied"] for m in st["mailboxes"])
    log(f"copied before the stop: {copied} messages")
    j = p.start(b)
    check(j["state"] == "Syncing", "start resumes the Stopped batch")
    st = p.wait_state(b, "Synced", timeout=120)
    synced_all(p, b, users)
    rep = p.report(b, "json")
    for m in rep["mailboxes"]:
        log(f"report {m['email']}: source {m['source_messages']}, copied "
            f"{m['copied_messages']}, present {m['present_messages']}, "
            f"attempts {m['attempts']}")
    log(f"resumed: {st['totals']['messages_copied']} messages copied in "
        f"all")
    p.assert_equal(users)


PAIR = os.environ.get("MF_PAIR", "dovecot")
# Which side is a private Cyrus pair's server (Pipeline(cyrus=...)).
CYRUS_SIDE = {"dovecot": None, "dovecot-cyrus": "target",
              "cyrus-dovecot": "source"}[PAIR]
# kill9's size: against Cyrus the least that still kills a worker in the
# middle of a mailbox (the 2 MB/s cap keeps each copy running for
# seconds); no 2-5 MB messages (Cyrus takes about a second for each).
KILL9 = dict(users=[1, 2, 3, 4], messages=300, rate="4000000", workers=3,
             slots=2, corpus=()) if CYRUS_SIDE is None else dict(
    users=[116, 117], messages=200, rate="2000000", workers=2, slots=1,
    corpus=("--big-fraction", "0"))


def case_kill9(p):
    k = KILL9
    users = k["users"]
    b = "kill9"
    served_batch(p, b, users, k["rate"], k["messages"], corpus=k["corpus"],
                 create=p.ca_args())
    ws = p.workers(k["workers"], slots=k["slots"], claim_ttl="6s")
    p.start(b)
    victim_w = None
    email, m, victim_w, victims = busy_worker(p, b, ws)
    os.kill(victim_w.pid, signal.SIGKILL)
    victim_w.proc.wait()
    t0 = time.time()
    log(f"kill -9 {victim_w.id} in the middle of {victims} "
        f"({m['progress']['messages_done']}/"
        f"{m['progress']['messages_total']} messages)")

    def reclaimed():
        st = p.status(b)
        mb = p.mailbox(st, email)
        return mb if (mb["claimed_by"] and mb["claimed_by"] != victim_w.id) \
            or mb["state"] == "Synced" else None
    mb = p.wait(reclaimed, 60, f"{email} reclaimed")
    log(f"{email} running again on {mb['claimed_by'] or mb['worker']} "
        f"{time.time() - t0:.1f} s after the kill (claim TTL 6 s), "
        f"attempt {mb['attempt']}")
    p.wait_state(b, "Synced", timeout=120)
    st = synced_all(p, b, users)
    for e in victims:
        mb = p.mailbox(st, e)
        check(mb["worker"] != victim_w.id and mb["attempts_total"] >= 2,
              f"{e} finished on {mb['worker']} (attempt {mb['attempt']})")
    # EQUAL: every source message once in its folder on the target (the
    # comparer counts each, so one copied twice is a difference).
    docs = p.assert_equal(users)
    for n in users:
        check(docs[n]["messages"] >= k["messages"],
              f"{user(n)[0]}: {docs[n]['messages']} messages compared")


def checkpoints(p, b, email):
    """{folder: (uidvalidity, last_uid, dirty)} of a mailbox in Redis."""
    r = p.redis_client()
    try:
        h = r.cmd("HGETALL", f"mf:{{b:{b}}}:ckpt:{email}") or []
    finally:
        r.close()
    out = {}
    for k, v in zip(h[0::2], h[1::2]):
        f = v.decode().split()
        out[k.decode()] = (int(f[0]), int(f[1]), f[2] == "dirty")
    return out


def no_regression(before, after, what):
    for folder, (uv, last, _) in before.items():
        a = after.get(folder)
        check(a is not None and (a[0] != uv or a[1] >= last),
              f"{what}: checkpoint of {folder} did not go back "
              f"({last} -> {a and a[1]})")


def case_zombie(p):
    users = [1, 2, 3, 4]
    b = "zombie"
    served_batch(p, b, users, "4000000")
    ws = p.workers(3, slots=2, claim_ttl="6s")
    p.start(b)
    email, m, zw, victims = busy_worker(p, b, ws)
    os.kill(zw.pid, signal.SIGSTOP)
    t0 = time.time()
    log(f"SIGSTOP {zw.id} in the middle of {victims} "
        f"({m['progress']['messages_done']}/"
        f"{m['progress']['messages_total']} messages)")
    try:
        def taken_over():
            mb = p.mailbox(p.status(b), email)
            return mb if (mb["claimed_by"] and mb["claimed_by"] != zw.id) \
                or mb["state"] == "Synced" else None
        mb = p.wait(taken_over, 60, f"{email} taken over")
        log(f"{email} taken over by {mb['claimed_by'] or mb['worker']} "
            f"{time.time() - t0:.1f} s after the SIGSTOP, attempt "
            f"{mb['attempt']}")
        # Let the new owner move its checkpoints on, then wake the zombie.
        time.sleep(3)
        before = {e: checkpoints(p, b, e) for e in victims}
    finally:
        os.kill(zw.pid, signal.SIGCONT)
    log(f"SIGCONT {zw.id}")
    zw.wait_log(r"job\.claim_(lost|expired|unrenewable)|claim lost",
                timeout=15)
    time.sleep(3)
    for e in victims:
        no_regression(before[e], checkpoints(p, b, e),
                      f"{e} 3 s after SIGCONT")
    st = p.wait_state(b, "Synced", timeout=180)
    st = synced_all(p, b, users)
    for e in victims:
        mb = p.mailbox(st, e)
        check(mb["worker"] != zw.id and mb["attempts_total"] >= 2,
              f"{e} finished on {mb['worker']} (attempt {mb['attempt']})")
        no_regression(before[e], checkpoints(p, b, e), f"{e} at the end")
        check(all(not d for _, _, d in checkpoints(p, b, e).values()),
              f"{e}: every checkpoint clean")
    rep = p.report(b, "json")
    for m in rep["mailboxes"]:
        check(m["state"] == "Synced" and
              m["copied_messages"] + m["present_messages"] >=
              m["source_messages"],
              f"report {m['email']}: source {m['source_messages']}, copied "
              f"{m['copied_messages']}, present {m['present_messages']}")
    check(zw.alive(), "the zombie worker is still running")
    p.assert_equal(users)


def case_sigterm(p):
    users = [1, 2, 3, 4]
    b = "sigterm"
    shutdown = 10
    svc = served_batch(p, b, users, "4000000")
    ws = p.workers(3, slots=2, claim_ttl="30s",
                   shutdown_timeout=f"{shutdown}s")
    for w in ws:
        status, body = w.get("/healthz")
        check(status == 200, f"{w.id} /healthz: {status} {body.strip()}")
    for w in ws:
        # Ready once Kafka has been quiet for 10 s and Redis answers.
        p.wait(lambda: w.get("/readyz")[0] == 200, 40, f"{w.id} /readyz 200")
    check(True, "every worker answers /readyz 200")
    m0 = {w.id: w.metrics() for w in ws}
    p.start(b)
    email, m, vw, victims = busy_worker(p, b, ws)
    mv = vw.metrics()
    # Messages and bytes are counted when a job ends; while it runs, the
    # job counters and the busy slots move.
    moved = (mv["mailferry_worker_jobs_started_total"] >
             m0[vw.id]["mailferry_worker_jobs_started_total"] and
             mv["mailferry_worker_jobs_received_total"] >
             m0[vw.id]["mailferry_worker_jobs_received_total"] and
             mv["mailferry_worker_slots_busy"] >= 1 and
             mv["mailferry_connection_leases_held"] >= 1)
    check(moved, f"{vw.id} metrics move: jobs received "
          f"{mv['mailferry_worker_jobs_received_total']:.0f}, started "
          f"{mv['mailferry_worker_jobs_started_total']:.0f}, slots busy "
          f"{mv['mailferry_worker_slots_busy']:.0f}, leases held "
          f"{mv['mailferry_connection_leases_held']:.0f}")
    log(f"SIGTERM {vw.id} in the middle of {victims}")
    rc, took = vw.term(timeout=shutdown + 20)
    log(f"{vw.id} exited {rc} {took:.2f} s after SIGTERM "
        f"(--shutdown-timeout {shutdown}s)")
    check(rc == 0 and took <= shutdown + 1,
          f"exit 0 within the shutdown timeout ({took:.2f} s)")
    text = vw.text()
    check("job.handback" in text and "left the group" in text,
          "it handed its jobs back and left the group")
    t0 = time.time()
    p.wait_state(b, "Synced", timeout=120)
    st = synced_all(p, b, users)
    log(f"batch Synced {time.time() - t0:.1f} s after the shutdown")
    for e in victims:
        mb = p.mailbox(st, e)
        check(mb["worker"] != vw.id and mb["attempt"] >= 2,
              f"{e} finished on {mb['worker']} (attempt {mb['attempt']})")
    rest = [w for w in ws if w is not vw]
    copied = sum(w.metrics()["mailferry_worker_messages_copied_total"]
                 for w in rest)
    synced = sum(w.metrics().get(
        'mailferry_worker_jobs_finished_total{outcome="synced"}', 0)
        for w in rest)
    check(copied > sum(m0[w.id]["mailferry_worker_messages_copied_total"]
                       for w in rest) and synced >= len(victims),
          f"the other workers' metrics: {copied:.0f} messages copied, "
          f"{synced:.0f} jobs synced")
    parts = [w.metrics() for w in rest]
    check(all("mailferry_worker_consumer_lag" in m for m in parts) and
          sum(m["mailferry_worker_partitions"] for m in parts) > 0,
          "workers export their partitions and consumer lag")
    deadline = time.time() + 15
    while True:
        sm = svc.metrics()
        n = sm.get('mailferry_mailboxes{state="Synced"}', 0)
        if n == len(users) or time.time() > deadline:
            break
        time.sleep(0.5)
    check(n == len(users), f"the coordinator's mailboxes-by-state gauge "
          f"says {n:.0f} Synced")
    for w in rest:
        rc, took = w.term(timeout=shutdown + 20)
        check(rc == 0, f"{w.id} idle shutdown: exit 0 in {took:.2f} s")
    p.assert_equal(users)


def case_outage(p):
    users = [1, 2, 3, 4, 5, 6]
    b = "outage"
    s = served_batch(p, b, users, "3000000", 250)
    ws = p.workers(2, slots=3)
    p.start(b)
    mid_copy(p, b, 0.10)
    p.broker("broker down all")
    time.sleep(5)
    p.broker("broker up all")
    time.sleep(1)
    st = p.status(b)
    check(st["state"] == "Syncing",
          f"still running after the broker outage: {st['counts']}")
    log("restarting redis-server")
    p.restart_redis()
    st = p.status(b)
    check(st["state"] == "Syncing",
          f"still running after the redis restart: {st['counts']}")
    t0 = time.time()
    p.wait_state(b, ["Synced", "SyncedWithErrors"], timeout=120)
    st = synced_all(p, b, users)
    log(f"Synced {time.time() - t0:.1f} s after the redis restart")
    for w in ws + [s]:
        check(w.alive(), f"{w.name} survived the outages")
    logs = p.logs()
    check(b"Connection refused" in logs and b"REDIS_UNAVAILABLE" in logs,
          "the processes felt both outages (refused Kafka connections, "
          "REDIS_UNAVAILABLE in the logs)")
    p.assert_equal(users)


def case_secrets(p):
    b1, b2 = "sec-users", "sec-admin"
    p.corpus(1, 6, 15)
    admin_pw = p.dov["MASTER_PASSWORD"]
    pwfile = p.path("admin.pw")
    with open(pwfile, "w") as f:
        f.write(admin_pw + "\n")
    p.create(b1, p.csv("u.csv", [1, 2, 3, 4], passwords={4: WRONG_PW}))
    # Source admin (SASL PLAIN with an authorization identity); the target
    # logs in per user from the CSV's TargetPassword.
    p.create(b2, p.csv("a.csv", [5, 6], admin=True), "--admin",
             p.dov["MASTER_USER"], "--admin-password-file", pwfile)
    p.serve("--log-level", "debug")
    p.workers(2, slots=2, extra=["--log-level", "debug"])
    p.start(b1)
    p.start(b2)
    p.wait_state(b1, "SyncedWithErrors", timeout=120)
    p.wait_state(b2, "Synced", timeout=120)
    p.assert_equal([1, 2, 3, 5, 6])
    secrets = [user(n)[1] for n in range(1, 7)] + [WRONG_PW, admin_pw]
    reports = b""
    for b in (b1, b2):
        for fmt in ("csv", "json", "html"):
            p.report(b, fmt)
            with open(p.path(f"report-{b}.{fmt}"), "rb") as f:
                reports += f.read()
    check(b"user05@example.test" in reports, "the reports name the mailboxes")
    secrets_absent(reports, "the CSV, JSON and HTML reports", secrets)
    dump = p.kafka_dump()
    check(b"user01@example.test" in dump and
          dump.count(b"mailferry.jobs ") >= 6 and
          dump.count(b"mailferry.results ") >= 6,
          "the raw Kafka dump holds every job and the results")
    secrets_absent(dump, "any Kafka message (jobs, results, DLQ)", secrets)
    rc = p.redis_client()
    blob = rc.everything("*")
    rc.close()
    check(b"user05@example.test" in blob, "Redis holds the batch records")
    secrets_absent(blob, "Redis (SCAN, values, DUMP)", secrets)
    logs = p.logs()
    check(b"job.start" in logs, "the logs are the workers' debug logs")
    secrets_absent(logs, "the serve and worker logs and the CLI output",
                   secrets)


CASES = {"batch20": (case_batch20, 20), "stopstart": (case_stopstart, 4),
         "kill9": (case_kill9, 4), "zombie": (case_zombie, 4),
         "sigterm": (case_sigterm, 4),
         "outage": (case_outage, 6), "secrets": (case_secrets, 6)}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print(__doc__)
        return 2
    name = sys.argv[1]
    fn, users = CASES[name]
    if CYRUS_SIDE and name != "kill9":
        print(f"{name}: not against Cyrus (MF_PAIR={PAIR})")
        return 2
    if CYRUS_SIDE:
        users = max(KILL9["users"])
    t0 = time.time()
    try:
        with Pipeline("e2e-" + name, users=users, deadline=270,
                      cyrus=CYRUS_SIDE, cyrus_tls=bool(CYRUS_SIDE),
                      cyrus_users=",".join(map(str, KILL9["users"]))) as p:
            fn(p)
    except Fail as e:
        print(f"FAIL: {e}", flush=True)
        return 1
    print(f"PASS {name} ({time.time() - t0:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
