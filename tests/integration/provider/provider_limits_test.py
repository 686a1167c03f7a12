#!/usr/bin/python3
"""Two profile rules of issue 13 section 1 against the provider emulator
(tests/support/provideremu.py): Exchange Online's size limit as the
target, and Gmail's daily download quota as the source. Users 118 and
119; each case runs the embedded pipeline on a private redis-server
(tests/support/pipeline.py: no shared database).

    provider_limits_test.py CASE

  sizelimit  user 118: the source holds a message just over 35 MB
             (35 000 100 bytes), one just under (34 999 900) and small
             ones; with --target-profile exchange-online and no
             --max-message-size (the profile's own limit, 35 MB as
             Microsoft documents it), into the Exchange emulator (which
             refuses an APPEND over 35 MB as the server would,
             --max-append-size): the big one is skipped before anything
             is fetched or appended (the emulator never saw an APPEND of
             it: its log holds every APPEND's size), listed with its own
             code (MESSAGE_TOO_LARGE, 400) in report.json and in batch
             status; the one just under and all the rest arrive, each
             once in its folder with its size (read from both servers:
             headers and sizes, not 105 MB of bodies); the mailbox is
             Synced, not failed, its record counting one skipped as too
             large. About 14 s on a quiet machine, 30 s under load.
  dlquota    user 119: the Gmail emulator in front of the source sends
             Gmail's "NO [OVERQUOTA] Account exceeded command or
             bandwidth limits" to every body FETCH once 40 % of the
             mailbox's bytes were downloaded in its 3 s window
             (--download-quota); with --source-profile gmail (its own
             2500 MB quota) and --quota-window 3, mailferry takes the
             server's word as the quota used up: batch status shows the
             mailbox Waiting for the next window with the reason, it
             sends no body FETCH while the account is locked (the
             emulator's count), it is not failed, and it finishes
             Synced with every message on the target exactly once.
  dlquotabye user 119: the same with the words Gmail's users meet on
             FETCH, "* BYE [OVERQUOTA] Account exceeded command or
             bandwidth limits." and the connection closed (--quota-bye).
"""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import provider_test as pt  # noqa: E402
import provider_more_test as pm  # noqa: E402
import provider_quota_test as pq  # noqa: E402

mt = pt.mt
sys.path.insert(0, mt.SUPPORT)
import pipeline  # noqa: E402

check, mailbox, mf = pt.check, pt.mailbox, pt.mf
TMP, RUN_ID, SRC_PORT, TGT_PORT = pt.TMP, pt.RUN_ID, pt.SRC_PORT, pt.TGT_PORT
# Exchange Online's limit for IMAP migrations, the exchange-online
# profile's default (core/src/profile/profile.c).
EXO_LIMIT = 35 * 1000 * 1000
WINDOW_S = 3
DEADLINE_S = 90


def message(n, name, size):
    """A message of exactly size bytes (lines of 76 characters, CRLF):
    its bytes and its Message-ID."""
    mid = f"<{name}-{n}-{RUN_ID}@example.test>"
    head = (f"Subject: {name} of user{n}\r\nFrom: a@example.test\r\n"
            f"Message-ID: {mid}\r\n\r\n").encode()
    line = b"x" * 76 + b"\r\n"
    left = size - len(head)
    body = line * (left // len(line))
    rest = left - len(body)
    body += b"y" * (rest - 2) + b"\r\n" if rest >= 2 else b"\r\n"[:rest]
    msg = head + body
    assert len(msg) == size, (len(msg), size)
    return msg, mid


def append_big(n, name, size):
    """A message of exactly size bytes appended to user n's source INBOX
    in pieces of 1 MB (LITERAL+, RFC 7888): never whole in memory, which
    takes seconds for 35 MB on a loaded machine (and imaplib's append()
    runs a regular expression over it). Its Message-ID."""
    mid = f"<{name}-{n}-{RUN_ID}@example.test>"
    head = (f"Subject: {name} of user{n}\r\nFrom: a@example.test\r\n"
            f"Message-ID: {mid}\r\n\r\n").encode()
    line = b"x" * 76 + b"\r\n"
    chunk = line * ((1 << 20) // len(line))
    rest = size - len(head)
    u, p = mt.user(n)
    s = socket.create_connection(("127.0.0.1", SRC_PORT), timeout=60)
    f = s.makefile("rb")
    f.readline()
    s.sendall(f'a LOGIN "{u}" "{p}"\r\nb APPEND INBOX {{{size}+}}\r\n'
              .encode() + head)
    while rest >= len(chunk) + 2:
        s.sendall(chunk)
        rest -= len(chunk)
    s.sendall(b"y" * (rest - 2) + b"\r\n\r\nc LOGOUT\r\n")
    answers = [ln for ln in f.read().split(b"\r\n") if ln[:2] in
               (b"a ", b"b ")]
    s.close()
    check(len(answers) == 2 and all(a.split()[1] == b"OK" for a in answers),
          f"source took a {size}-byte message: {answers[-1:]}")
    return mid


def embedded(pl, n, batch, source, target, *extra):
    """The embedded pipeline for user n on the private redis-server,
    started: the process (its JSON on stdout)."""
    key = os.path.join(TMP, batch + ".key")
    mf("key", "generate", key, check_exit=0)
    return pipeline.subprocess.Popen(
        [mt.MAILFERRY, "migrate", mt.csv_for([n], batch), "--source", source,
         "--target", target, "--json", "--report-dir",
         os.path.join(TMP, "report-" + batch), "--redis", pl.redis_url,
         "--batch", batch, "--master-key-file", key, *extra],
        stdout=pipeline.subprocess.PIPE, stderr=pipeline.subprocess.PIPE,
        text=True)


def finish(p, n):
    out, err = p.communicate(timeout=DEADLINE_S)
    check(p.returncode == 0, f"migrate exit {p.returncode}\n{out}\n{err}")
    return mailbox(json.loads(out), n)


def status(pl, batch, n, *extra, **kw):
    return mf("batch", "status", batch, "--redis", pl.redis_url,
              "--mailbox", mt.user(n)[0], *extra, **kw)


def report_mailbox(batch, n):
    with open(os.path.join(TMP, "report-" + batch, "report.json")) as f:
        rep = json.load(f)
    for m in rep["mailboxes"]:
        if m["email"] == mt.user(n)[0]:
            return m
    mt.fail(f"user{n} not in report.json")


def append_sizes(log):
    """Every APPEND's message size in the emulator's --log-file."""
    return [int(w.split()[1]) for _, _, w in pm.read_log(log)
            if w.startswith("APPEND-SIZE ")]


def placed(port, n):
    """{Message-ID: sorted [(folder, RFC822.SIZE)], once per copy} of
    user n on port."""
    c, names = pt.folders_of(port, n)
    out = {}
    for name in names:
        typ, d = c.select(name, readonly=True)
        if typ != "OK" or int(d[0] or 0) == 0:
            continue
        typ, data = c.fetch("1:*", "(RFC822.SIZE BODY.PEEK[HEADER.FIELDS "
                                   "(MESSAGE-ID)])")
        for item in data:
            if isinstance(item, tuple):
                size = int(item[0].split(b"RFC822.SIZE ")[1].split()[0])
                mid = item[1].decode().split(":", 1)[1].strip()
                out.setdefault(mid, []).append((name.strip('"'), size))
    c.logout()
    return {k: sorted(v) for k, v in out.items()}


def case_sizelimit():
    n = 118
    pm.fill(n, {"INBOX": 6, "Work": 4})
    mt.clean_target(n)
    over_mid = append_big(n, "over", EXO_LIMIT + 100)
    under_mid = append_big(n, "under", EXO_LIMIT - 100)
    count = mt.total_messages(SRC_PORT, n)
    log = os.path.join(TMP, "exo-size.log")
    ex = pt.Emulator("exchange-online", TGT_PORT, "--max-append-size",
                     str(EXO_LIMIT), "--log-file", log)
    batch = f"t-size-{RUN_ID}"
    try:
        with pipeline.Pipeline("sizelimit", dovecot=False, kafka=False,
                               deadline=DEADLINE_S + 30) as pl:
            t0 = time.monotonic()
            m = finish(embedded(pl, n, batch, pt.url(SRC_PORT), ex.url,
                                "--target-profile", "exchange-online"), n)
            took = time.monotonic() - t0
            st = ex.stats()
            sizes = append_sizes(log)
            print(f"     {took:.1f} s, emulator: {st}")
            check(m["state"] == "Synced",
                  f"the mailbox is Synced, not failed: {m['state']}")
            check(m["skipped"]["too_large"] == 1 and
                  sum(m["skipped"].values()) == 1 and not m["error"],
                  f"one message skipped, as too large: {m['skipped']} "
                  f"{m['error']}")
            (it,) = m["skipped_items"]
            check(it["error"]["code"] == 400 and
                  it["error"]["name"] == "MESSAGE_TOO_LARGE" and
                  it["reason"] == "too_large" and
                  it["size"] == EXO_LIMIT + 100 and it["folder"] == "INBOX"
                  and it["subject"] == f"over of user{n}" and
                  f"over the limit of {EXO_LIMIT} bytes" in
                  it["error"]["text"],
                  f"the one just over 35 MB, by the profile's own limit, "
                  f"with its own code: {it}")
            check(m["copied_messages"] == count - 1 and
                  m["copied_bytes"] == m["source_bytes"] - EXO_LIMIT - 100
                  and not m["failed_items"],
                  f"everything else copied: {m['copied_messages']} of "
                  f"{count - 1}, {m['copied_bytes']} bytes")
            check(st["toobig"] == 0 and st["append_max"] == EXO_LIMIT - 100
                  and EXO_LIMIT + 100 not in sizes and
                  len(sizes) == count - 1,
                  f"the big one never reached the emulator, the one just "
                  f"under did: largest APPEND {st['append_max']}, "
                  f"{len(sizes)} APPENDs, {st['toobig']} refused")
            rep = report_mailbox(batch, n)
            check(rep["skipped_items"] == m["skipped_items"] and
                  rep["state"] == "Synced",
                  f"report.json lists it the same: {rep['skipped_items']}")
            doc = json.loads(status(pl, batch, n, "--json",
                                    check_exit=0).stdout)
            (bm,) = doc["mailboxes"]
            check(bm["state"] == "Synced" and
                  bm["skipped"]["too_large"] == 1 and bm["failed"] == 0 and
                  bm["messages_copied"] == count - 1,
                  f"batch status: Synced, one skipped as too large: "
                  f"{bm['state']} {bm['skipped']} {bm['failed']}")
            check(doc["target_profile"] == "exchange-online" and
                  doc["max_message_size"] == 0,
                  f"the batch keeps no --max-message-size: the profile's "
                  f"limit applied: {doc['target_profile']} "
                  f"{doc['max_message_size']}")
            # Headers and sizes only: the comparer would read 105 MB.
            src, tgt = placed(SRC_PORT, n), placed(TGT_PORT, n)
            check(src.pop(over_mid) == [("INBOX", EXO_LIMIT + 100)] and
                  over_mid not in tgt,
                  "the one just over is on the source only")
            check(tgt.get(under_mid) == [("INBOX", EXO_LIMIT - 100)],
                  f"the one just under is in INBOX once, whole: "
                  f"{tgt.get(under_mid)}")
            check(src == tgt and len(tgt) == count - 1,
                  f"every other message in its folder once, its size "
                  f"kept: {len(tgt)} of {count - 1}")
    finally:
        ex.stop()


def dlquota(bye):
    n = 119
    # 30 messages of about 20 kB in two folders: 40 % of them is one
    # window's budget, so the copy needs three windows.
    mt.clean_target(n, port=SRC_PORT)
    mt.clean_target(n)
    c = mt.imap_login(SRC_PORT, n)
    c.create("Work")
    answers = []
    for i in range(30):
        msg, _ = message(n, f"m{i}", 20000 + 97 * i)
        answers.append(c.append("INBOX" if i % 3 else "Work", None, None,
                                msg)[0])
    check(answers == ["OK"] * 30, f"30 messages on the source: {answers}")
    c.logout()
    total, count = pq.source_bytes(n)
    budget = total * 4 // 10
    log = os.path.join(TMP, f"gm-dl-{int(bye)}.log")
    gm = pt.Emulator("gmail", SRC_PORT, "--download-quota", str(budget),
                     "--quota-window-ms", str(WINDOW_S * 1000), "--log-file",
                     log, *(["--quota-bye"] if bye else []))
    batch = f"t-dlq{int(bye)}-{RUN_ID}"
    try:
        with pipeline.Pipeline("dlquota", dovecot=False, kafka=False,
                               deadline=DEADLINE_S + 30) as pl:
            t0 = time.monotonic()
            p = embedded(pl, n, batch, gm.url, pt.url(TGT_PORT),
                         "--source-profile", "gmail", "--quota-window",
                         str(WINDOW_S))
            # The JSON and the text, each kept from the first poll that
            # shows the wait (a new process each: on a loaded machine the
            # wait may be over between the two).
            seen, text, states = None, "", set()
            while p.poll() is None and time.monotonic() < t0 + DEADLINE_S:
                r = status(pl, batch, n, "--json")
                if r.returncode == 0:
                    (m,) = json.loads(r.stdout)["mailboxes"]
                    states.add(m["state"])
                    if m["pending"]["next"] == "waiting_bandwidth" and \
                            seen is None:
                        seen = m
                if ", Waiting" not in text:
                    text = status(pl, batch, n).stdout
                time.sleep(0.05)
            m = finish(p, n)
            took = time.monotonic() - t0
            st = gm.stats()
            print(f"     {took:.1f} s, {total} bytes, budget {budget}, "
                  f"states seen {sorted(states)}, emulator: {st}")
            check(st["dl_overquota"] >= 1,
                  f"the emulator said the download quota is used up: {st}")
            check(seen is not None, "batch status showed the mailbox "
                  "waiting for the next quota window")
            pend = seen["pending"]
            # The reason is the source server's own answer (mailferry's
            # count never reached gmail's 2500 MB).
            check(seen["state"] == "Syncing" and pend["waiting"] and
                  pend["due"] and pend["due"] <= time.time() + WINDOW_S + 2
                  and "[OVERQUOTA] Account exceeded command or bandwidth "
                  "limits" in pend["text"],
                  f"--mailbox --json: waiting, why and until when: {pend}")
            check(", Waiting" in text and "resumes" in text and
                  "bandwidth limits" in text,
                  f"--mailbox text says Waiting, why and when:\n{text}")
            check("Failed" not in states,
                  f"never Failed on the way: {sorted(states)}")
            check(m["state"] == "Synced",
                  f"the mailbox is Synced in the end: {m['state']}")
            check(m["copied_messages"] == count,
                  f"every message copied: {m['copied_messages']} of {count}")
            check(st["dl_violations"] == 0,
                  f"no body FETCH while the account was locked: {st}")
            check(took >= WINDOW_S - 0.5,
                  f"it waited for the next window: {took:.1f} s")
            check(mt.total_messages(TGT_PORT, n) == count,
                  f"the target holds {count} messages, none twice")
            cmp = mt.compare(n)
            check(cmp["equal"], f"user{n} EQUAL after the source's quota: "
                  f"{cmp.get('problems', [])[:5]}")
            bs = json.loads(status(pl, batch, n, "--json",
                                   check_exit=0).stdout)["mailboxes"][0]
            check(bs["throttles"] == 0 and not bs["pending"]["waiting"],
                  f"a used-up quota, not throttling; no longer waiting: "
                  f"{bs['throttles']} {bs['pending']}")
    finally:
        gm.stop()


def case_dlquota():
    dlquota(False)


def case_dlquotabye():
    dlquota(True)


CASES = {"sizelimit": case_sizelimit, "dlquota": case_dlquota,
         "dlquotabye": case_dlquotabye}

if __name__ == "__main__":
    pt.main(CASES)
