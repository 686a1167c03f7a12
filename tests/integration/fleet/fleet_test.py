#!/usr/bin/python3
"""Integration tests of a worker fleet that scales (issue 14 items 4 and
6): mailferry-worker processes on a private Kafka dev broker, the shared
Dovecot pair and redis-server, wtest_helper as the coordinator. The
machinery (Broker, Worker, Helper, corpus) is worker_test.py's.

  join     no mail: three workers started together all hold partitions
           within START_BOUND s; a fourth added gets its share within
           SCALE_BOUND s; one removed (SIGTERM) has its partitions taken
           over within SCALE_BOUND s. Before issue 14 librdkafka's 45 s
           session made a scale event cost about 44 s on the dev broker.
  metrics  users 65-68: one worker with one slot, four slow jobs (a
           source bandwidth cap). While the first runs: /metrics shows
           mailferry_worker_consumer_lag 3 (the jobs waiting behind it,
           counted although the paused consumer fetches nothing) and
           mailferry_worker_messages_copied_total and bytes moving before
           the job ends. Then `batch stop`: the waiting jobs are taken
           and dropped, the lag is 0 again, and the copied counter equals
           what the results say was copied (nothing counted twice).

The dev broker (librdkafka's mock cluster) holds every rebalance round
open for session.timeout.ms - 1 s, where a real broker closes it as soon
as every member has rejoined; and when the leader's SyncGroup reaches it
before a follower's, the follower must join again: another round. On a
loaded machine a scale event took up to three rounds (15 s with the
default 6 s session). So `join` runs its workers with a 3 s session
(2 s rounds) and allows six rounds: the worker's timing defaults are
unit.kafka.conf's to check, bench/fleet-bench measures them
(docs/operations.md, "Scaling the fleet").
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.environ["MF_SOURCE_DIR"], "tests",
                                "integration", "worker"))
import worker_test as wt  # noqa: E402

from worker_test import check, log  # noqa: E402

SESSION = ["--kafka.session.timeout.ms", "3000"]  # 2 s rounds on the mock
START_BOUND = 9.0   # started together: the mock's 3 s join delay + 3 rounds
SCALE_BOUND = 12.0  # a worker added or removed: up to six rounds


def partitions_at(w):
    """[(time, partitions held after the event)] from the worker's log."""
    held, out = 0, []
    for ev in w.events("worker.rebalance"):
        verb, n = ev["msg"].split()[0], int(ev["msg"].split()[1])
        held = held + n if verb == "assigned" else max(0, held - n)
        out.append((ev["t"], held))
    return out


def held_now(w):
    seq = partitions_at(w)
    return seq[-1][1] if seq else 0


def wait_holding(workers, since, bound, what):
    """Waits until every worker holds partitions and all 12 are held;
    returns the seconds since `since`."""
    end = since + bound + 5
    while time.time() < end:
        held = [held_now(w) for w in workers]
        if all(held) and sum(held) == 12:
            t = max(partitions_at(w)[-1][0] for w in workers) - since
            log(f"{what}: {held} partitions after {t:.2f} s")
            check(t <= bound, f"{what}: {t:.2f} s, bound {bound} s")
            return t
        time.sleep(0.1)
    wt.fail(f"{what}: partitions {[held_now(w) for w in workers]} after "
            f"{bound + 5} s")


def case_join():
    broker = wt.Broker()
    key = os.path.join(wt.TMP, "master.key")
    wt.subprocess.run([wt.HELPER, "keygen", key], check=True)
    t0 = time.time()
    extra = SESSION + os.environ.get("FLEET_EXTRA", "").split()
    ws = [wt.Worker(f"j{i}", broker, key, group_timing=False, extra=extra)
          for i in range(3)]
    wait_holding(ws, t0, START_BOUND, "3 started together")

    t1 = time.time()
    ws.append(wt.Worker("j3", broker, key, group_timing=False, extra=extra))
    wait_holding(ws, t1, SCALE_BOUND, "a 4th added")

    t2 = time.time()
    gone = ws.pop(1)
    gone.proc.send_signal(signal.SIGTERM)
    check(gone.proc.wait(timeout=30) == 0, "the removed worker failed")
    wait_holding(ws, t2, SCALE_BOUND, "one removed")
    for w in ws:
        w.proc.send_signal(signal.SIGTERM)
        check(w.proc.wait(timeout=30) == 0, f"{w.name} did not exit cleanly")


def lag_becomes(w, want, timeout=5):
    """The worker's consumer lag once it is `want` (measured once a
    second), or the last one seen after timeout s."""
    end, lag = time.time() + timeout, None
    while time.time() < end:
        lag = w.metric("mailferry_worker_consumer_lag")
        if lag == want:
            break
        time.sleep(0.2)
    return lag


def case_metrics():
    users = [65, 66, 67, 68]
    wt.corpus(users, 60)
    key = os.path.join(wt.TMP, "master.key")
    wt.subprocess.run([wt.HELPER, "keygen", key], check=True)
    broker = wt.Broker()
    h = wt.Helper(broker, key, f"fleet-metrics-{wt.RUN_ID}")
    # About 1.2 MB per mailbox at 250 KB/s: each job runs some 5 s.
    h.run("create", "--source", wt.SRC, "--target", wt.TGT, "--users",
          ",".join(str(n) for n in users), "--bps", "250000")
    w = wt.Worker("m", broker, key, slots=1, http=True, group_timing=False)
    w.wait_assigned()
    check(w.metric("mailferry_worker_consumer_lag") == 0, "lag before start")
    h.serve()
    first = h.wait_for(lambda e: e["event"] == "progress" and e["done"] > 0,
                       60, "the first job copying")[0]["mailbox"]
    lag = lag_becomes(w, 3)
    check(lag == 3, f"consumer lag {lag} while 3 jobs wait")
    busy = w.metric("mailferry_worker_slots_busy")
    check(busy == 1, f"slots busy {busy}")
    c1 = w.metric("mailferry_worker_messages_copied_total")
    b1 = w.metric("mailferry_worker_bytes_copied_total")
    time.sleep(1.5)
    c2 = w.metric("mailferry_worker_messages_copied_total")
    b2 = w.metric("mailferry_worker_bytes_copied_total")
    done = h.find(lambda e: e["event"] == "result" and
                  e["mailbox"] == first)
    check(not done, f"the first job ended too soon to watch: {done}")
    check(0 < c1 < c2 and 0 < b1 < b2,
          f"copied counters during the job: {c1} -> {c2}, {b1} -> {b2}")
    log(f"during the first job: lag {lag:.0f}, copied {c1:.0f} -> "
        f"{c2:.0f} messages, {b1:.0f} -> {b2:.0f} bytes")
    h.run("stop")
    check(h.wait_served(60) == 0, "the batch did not settle after stop")
    lag = lag_becomes(w, 0)
    check(lag == 0, f"consumer lag {lag} once every job was taken")
    total = w.metric("mailferry_worker_messages_copied_total")
    said = sum(e["copied"] for e in h.find(lambda e: e["event"] == "result"))
    check(total == said and total >= c2,
          f"{total} messages counted, the results say {said}")
    log(f"after stop: lag 0, {total:.0f} messages counted as the results say")
    w.proc.send_signal(signal.SIGTERM)
    check(w.proc.wait(timeout=30) == 0, "the worker did not exit cleanly")


def main():
    case = sys.argv[1] if len(sys.argv) > 1 else ""
    fn = {"join": case_join, "metrics": case_metrics}.get(case)
    if not fn:
        print("usage: fleet_test.py join|metrics")
        sys.exit(2)
    try:
        fn()
    finally:
        wt.cleanup()
    log(f"PASS {case}")


if __name__ == "__main__":
    main()
