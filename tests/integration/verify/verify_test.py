#!/usr/bin/python3
"""`mailferry verify` against the Dovecot pair (issue 11 section 6, "Done
when": verify finds a message deleted on the target, a flag changed on the
target and a message altered on the target, each reported exactly).

Users 49-51: the corpus (with its duplicates, messages without a
Message-ID and big messages) is migrated with `mailferry migrate --direct`;
verify then says equal for all three and exits 0. Then, behind mailferry's
back, with Python's imaplib on the target:
  user50: one INBOX message deleted and expunged, one \\Flagged added;
  user51: one INBOX message replaced by an altered copy (APPEND with the
          same flags and INTERNALDATE, a line added to the body; original
          deleted), another by a copy of the same size with one byte
          changed;
  user49: untouched.
verify must list exactly: user50 one missing (the deleted message's source
UID) and one flags difference; user51 one bytes difference (the size
changed) without --deep, and also the same-size change (different
content) with --deep; user49 verified equal; exit 1. A wrong command line
exits 2. With --redis and --batch the results land in the batch, and
`batch verify NAME` (from the batch's definition and sealed passwords)
does the same: `batch report` (CSV and JSON) shows each mailbox's
verification and the differences.
"""
import csv as csvmod
import json
import os
import re
import subprocess
import sys

RUN = os.environ["MF_TEST_RUN_DIR"]
SRC_DIR = os.environ["MF_SOURCE_DIR"]
BUILD = os.environ["MF_BUILD_DIR"]
SUPPORT = os.path.join(SRC_DIR, "tests", "support")
MAILFERRY = os.path.join(BUILD, "bin", "mailferry")
sys.path.insert(0, os.path.join(SRC_DIR, "tests", "integration", "migrate"))
import migrate_test as mt  # noqa: E402  (env, users, corpus, clean_target)

TMP = mt.TMP  # removed when the test exits (migrate_test.py)
# 49, 50, 51 on the Dovecot pair; with MF_PAIR naming a Cyrus server
# (migrate_test.py), 90, 91, 92 in those roles.
USERS = mt.users_of("verify", [49, 50, 51])
U49, U50, U51 = USERS
check, fail = mt.check, mt.fail


def corpus():
    mt.corpus(USERS[0], len(USERS), messages=40, big=mt.BIG)


def verify(csv, *extra):
    cmd = [MAILFERRY, "verify", csv, "--source", mt.SRC, "--target", mt.TGT,
           "--json"] + list(extra)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        fail(f"{' '.join(cmd)}: not JSON (exit {p.returncode}): "
             f"{p.stdout!r} {p.stderr!r}")
    return p.returncode, {m["email"]: m for m in doc["mailboxes"]}


def diffs(m):
    return sorted((d["kind"], d["folder"], d["source_uid"])
                  for d in m["differences"])


FETCH_RE = re.compile(rb'INTERNALDATE "([^"]+)"')
FLAGS_RE = re.compile(rb'FLAGS \(([^)]*)\)')
MID_RE = re.compile(rb'^Message-ID:\s*(\S+)', re.I | re.M)


def inbox_messages(c):
    """(uid, message_id) of the INBOX messages that have a Message-ID
    unique in the folder, in UID order."""
    typ, data = c.uid("FETCH", "1:*",
                      "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    seen = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
        m = MID_RE.search(item[1])
        if m:
            seen.setdefault(m.group(1).decode(), []).append(uid)
    return sorted((uids[0], mid) for mid, uids in seen.items()
                  if len(uids) == 1)


def source_uid(n, mid):
    c = mt.imap_login(mt.SRC_PORT, n)
    c.select("INBOX", readonly=True)
    typ, data = c.uid("SEARCH", "HEADER", "Message-ID", mid)
    c.logout()
    uids = data[0].split()
    check(len(uids) == 1, f"user{n}: {mid} is {len(uids)} times in INBOX")
    return int(uids[0])


def replace_altered(c, uid, same_size):
    """Replaces target message uid by an altered copy with its flags and
    INTERNALDATE."""
    typ, data = c.uid("FETCH", str(uid), "(FLAGS INTERNALDATE BODY.PEEK[])")
    meta, body = data[0][0], data[0][1]
    flags = FLAGS_RE.search(meta).group(1).decode()
    date = '"' + FETCH_RE.search(meta).group(1).decode() + '"'
    if same_size:
        at = body.rindex(b"\r\n", 0, len(body) - 2) + 2  # last line
        check(at < len(body) - 1, "message without a last line")
        ch = b"X" if body[at:at + 1] != b"X" else b"Y"
        body = body[:at] + ch + body[at + 1:]
    else:
        body = body + b"\r\naltered on the target\r\n"
    flags = " ".join(f for f in flags.split() if f.lower() != "\\recent")
    typ, _ = c.append("INBOX", f"({flags})", date, body)
    check(typ == "OK", "APPEND failed")
    c.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
    c.expunge()


def main():
    corpus()
    mt.clean_target(*USERS)
    csv = mt.csv_for(USERS, "verify")
    mt.migrate(csv)

    rc, res = verify(csv)
    check(rc == 0, f"after migrate: exit {rc}: {res}")
    for n in USERS:
        m = res[mt.user(n)[0]]
        check(m["verification"] == "verified equal" and
              not m["differences"] and m["source_messages"] > 0 and
              m["source_messages"] == m["target_messages"],
              f"user{n} after migrate: {m}")
    rc, res = verify(csv, "--deep")
    check(rc == 0, f"--deep after migrate: exit {rc}: {res}")
    m = res[mt.user(U49)[0]]
    check(m["bodies_compared"] == m["source_messages"],
          f"--deep compared {m['bodies_compared']} of "
          f"{m['source_messages']}")

    # user50: delete one, flag another.
    c = mt.imap_login(mt.TGT_PORT, U50)
    c.select("INBOX")
    msgs = inbox_messages(c)
    check(len(msgs) >= 4, f"user50 INBOX too small: {msgs}")
    (del_uid, del_mid), (flag_uid, flag_mid) = msgs[1], msgs[2]
    c.uid("STORE", str(del_uid), "+FLAGS.SILENT", "(\\Deleted)")
    c.expunge()
    typ, data = c.uid("FETCH", str(flag_uid), "(FLAGS)")
    if b"\\Flagged" in data[0]:
        c.uid("STORE", str(flag_uid), "-FLAGS.SILENT", "(\\Flagged)")
    else:
        c.uid("STORE", str(flag_uid), "+FLAGS.SILENT", "(\\Flagged)")
    c.logout()

    # user51: two altered copies, one of another size, one of the same.
    c = mt.imap_login(mt.TGT_PORT, U51)
    c.select("INBOX")
    msgs = inbox_messages(c)
    check(len(msgs) >= 4, f"user51 INBOX too small: {msgs}")
    (alt_uid, alt_mid), (same_uid, same_mid) = msgs[1], msgs[3]
    replace_altered(c, alt_uid, same_size=False)
    replace_altered(c, same_uid, same_size=True)
    c.logout()

    want50 = sorted([("missing", "INBOX", source_uid(U50, del_mid)),
                     ("flags", "INBOX", source_uid(U50, flag_mid))])
    want51 = [("bytes", "INBOX", source_uid(U51, alt_mid))]
    want51_deep = sorted(want51 + [("bytes", "INBOX",
                                    source_uid(U51, same_mid))])

    rc, res = verify(csv)
    check(rc == 1, f"after the changes: exit {rc}, want 1")
    m49, m50, m51 = (res[mt.user(n)[0]] for n in USERS)
    check(m49["verification"] == "verified equal", f"user49: {m49}")
    check(m50["verification"] == "differences" and diffs(m50) == want50,
          f"user50: want {want50}, got {m50['differences']}")
    check(diffs(m51) == want51,
          f"user51: want {want51}, got {m51['differences']}")
    check(m51["bodies_compared"] == 0, "bodies fetched without --deep")
    flags = [d for d in m50["differences"] if d["kind"] == "flags"][0]
    check("\\Flagged" in flags["detail"] and flags["subject"] is not None,
          f"flags difference: {flags}")

    rc, res = verify(csv, "--deep")
    check(rc == 1, f"--deep after the changes: exit {rc}")
    m51 = res[mt.user(U51)[0]]
    check(diffs(m51) == want51_deep,
          f"user51 --deep: want {want51_deep}, got {m51['differences']}")
    check(any("different content" in (d["detail"] or "")
              for d in m51["differences"]), f"{m51['differences']}")

    # --sample 1 reads one pair per folder: fewer than --deep.
    rc, res = verify(csv, "--sample", "1")
    check(rc == 1, f"--sample 1: exit {rc}")
    m49 = res[mt.user(U49)[0]]
    check(0 < m49["bodies_compared"] <= m49["folders"],
          f"--sample 1 compared {m49['bodies_compared']} in "
          f"{m49['folders']} folders")

    # Text output and a wrong command line.
    p = subprocess.run([MAILFERRY, "verify", csv, "--source", mt.SRC,
                        "--target", mt.TGT], capture_output=True, text=True,
                       timeout=300)
    check(p.returncode == 1, f"text: exit {p.returncode}")
    check(f"{mt.user(U49)[0]}: verified equal" in p.stdout and
          f"{mt.user(U50)[0]}: 2 differences" in p.stdout and
          "missing   INBOX UID" in p.stdout, p.stdout)
    check("Verified: 3 mailboxes, 1 equal, 2 with differences, 0 not "
          "verified" in p.stdout, p.stdout)
    p = subprocess.run([MAILFERRY, "verify", csv, "--source", mt.SRC],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 2, f"no --target: exit {p.returncode}")
    # Under fleet caps (they live in Redis): the same answer.
    rc, res = verify(csv, "--max-connections", "2",
                     "--max-connections-per-user", "1", "--redis",
                     mt.REDIS_URL)
    check(rc == 1 and diffs(res[mt.user(U50)[0]]) == want50,
          f"under caps: exit {rc}: {res}")
    p = subprocess.run([MAILFERRY, "verify", csv, "--source", mt.SRC,
                        "--target", mt.TGT, "--max-connections", "2"],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 2, f"caps without --redis: exit {p.returncode}")
    batch_report(csv, want50)
    folder_gone()


def folder_gone():
    """A folder deleted on the target: each of its source messages is
    missing, with the target's answer; the other folders still compare."""
    def leaves(c):
        """{name below the personal namespace prefix: name} of the leaf
        folders (the prefix is "INBOX." on Cyrus)."""
        prefix = mt.personal_prefix(c)
        typ, data = c.list('""', "*")
        out = {}
        for line in data:
            m = (mt.LIST_RE.match(line.decode()) if isinstance(line, bytes)
                 else None)
            attrs = m.group(1).lower().split() if m else []
            # Not INBOX, no parent, no special-use folder (Dovecot
            # creates those again when they are opened).
            if m and not set(attrs) & {
                    "\\noselect", "\\haschildren", "\\archive",
                    "\\sent", "\\drafts", "\\junk", "\\trash",
                    "\\all", "\\flagged"} and \
                    m.group(3).strip('"').upper() != "INBOX":
                name = m.group(3).strip('"')
                out[name[len(prefix):] if name.startswith(prefix)
                    else name] = m.group(3)
        return out
    s = mt.imap_login(mt.SRC_PORT, U49)
    c = mt.imap_login(mt.TGT_PORT, U49)
    # A folder of the same name on both sides (the plan maps some
    # special-use folders to other names).
    src_leaves, tgt_leaves = leaves(s), leaves(c)
    names = sorted(set(src_leaves) & set(tgt_leaves))
    counts = {}
    for name in names:
        typ, data = s.select(src_leaves[name], readonly=True)
        counts[name] = int(data[0]) if typ == "OK" else 0
    s.logout()
    names = [x for x in names if counts[x] > 0]
    check(names, "user49 has no folder with messages to delete")
    gone = tgt_leaves[names[0]]
    n = counts[names[0]]
    typ, data = c.select(gone, readonly=True)
    check(typ == "OK", f"select {gone}")
    c.close()
    check(c.delete(gone)[0] == "OK", f"delete {gone}")
    c.logout()
    print(f"deleted on the target: {gone} ({n} messages on the source)")
    csv49 = mt.csv_for([U49], "verify49")
    rc, res = verify(csv49)
    m = res[mt.user(U49)[0]]
    check(rc == 1, f"folder gone: exit {rc}")
    kinds = {d["kind"] for d in m["differences"]}
    check(len(m["differences"]) == max(n, 1) and
          kinds == ({"missing"} if n else {"folder"}) and
          all("target folder" in d["detail"] for d in m["differences"]),
          f"folder {gone} ({n} messages) gone: {m['differences']}")


def check_report(name, want50):
    """batch report (JSON and CSV) shows the verification of the three
    mailboxes: 49 equal, 50 the two differences."""
    redis = mt.REDIS_URL
    p = subprocess.run([MAILFERRY, "batch", "report", name, "--redis", redis,
                        "--format", "json"], capture_output=True, text=True,
                       timeout=60)
    check(p.returncode == 0, f"batch report: {p.stderr}")
    rep = {m["email"]: m for m in json.loads(p.stdout)["mailboxes"]}
    v49 = rep[mt.user(U49)[0]]["verification"]
    v50 = rep[mt.user(U50)[0]]["verification"]
    check(v49["status"] == "verified equal" and v49["items"] == [] and
          v49["verified_at"], f"report user49: {v49}")
    got = sorted((d["kind"], d["folder"], d["source_uid"])
                 for d in v50["items"])
    check(v50["status"] == "differences" and v50["differences"] == 2 and
          got == want50, f"report user50: want {want50}, got {v50}")
    p = subprocess.run([MAILFERRY, "batch", "report", name, "--redis", redis,
                        "--format", "csv"], capture_output=True, text=True,
                       timeout=60)
    rows = {r["EmailAddress"]: r for r in csvmod.DictReader(
        p.stdout.splitlines())}
    check(rows[mt.user(U50)[0]]["Verification"] == "differences" and
          rows[mt.user(U50)[0]]["VerifyDifferences"] == "2" and
          rows[mt.user(U49)[0]]["Verification"] == "verified equal",
          f"report CSV: {p.stdout}")


def create_batch(csv, name, key):
    p = subprocess.run([MAILFERRY, "batch", "create", name, "--csv", csv,
                        "--source", mt.SRC, "--target", mt.TGT, "--redis",
                        mt.REDIS_URL, "--master-key-file", key],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"batch create: {p.stdout} {p.stderr}")


def batch_report(csv, want50):
    """verify --redis --batch stores the results, and so does batch verify
    (from the batch's own definition and sealed passwords); batch report
    shows them."""
    redis = mt.REDIS_URL
    key = os.path.join(TMP, "master.key")
    one, two = f"t-verify-{mt.RUN_ID}", f"t-bverify-{mt.RUN_ID}"
    run = [MAILFERRY, "verify", csv, "--source", mt.SRC, "--target", mt.TGT,
           "--redis", redis, "--batch", one, "--json"]
    p = subprocess.run(run, capture_output=True, text=True, timeout=300)
    check(p.returncode == 3, f"verify into a missing batch: exit "
          f"{p.returncode} {p.stderr}")
    subprocess.run([MAILFERRY, "key", "generate", key], check=True,
                   capture_output=True)
    create_batch(csv, one, key)
    create_batch(csv, two, key)
    p = subprocess.run(run, capture_output=True, text=True, timeout=300)
    check(p.returncode == 1, f"verify --batch: exit {p.returncode}")
    check_report(one, want50)

    p = subprocess.run([MAILFERRY, "batch", "verify", two, "--redis", redis,
                        "--master-key-file", key, "--json"],
                       capture_output=True, text=True, timeout=300)
    check(p.returncode == 1,
          f"batch verify: exit {p.returncode} {p.stderr} {p.stdout[-800:]}")
    res = {m["email"]: m for m in json.loads(p.stdout)["mailboxes"]}
    check(diffs(res[mt.user(U50)[0]]) == want50 and
          res[mt.user(U49)[0]]["verification"] == "verified equal",
          f"batch verify: {res}")
    check_report(two, want50)
    p = subprocess.run([MAILFERRY, "batch", "verify", two, "--redis", redis,
                        "--master-key-file", os.path.join(TMP, "nokey")],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 3, f"batch verify without its key: exit "
          f"{p.returncode}")
    for name in (one, two):
        subprocess.run([MAILFERRY, "batch", "remove", name, "--redis", redis],
                       capture_output=True, timeout=60)

if __name__ == "__main__":
    main()
