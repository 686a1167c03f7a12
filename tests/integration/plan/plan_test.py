#!/usr/bin/python3
"""Integration tests of `mailferry plan` and `mailferry batch compare`
against the Dovecot pair fixture (dovecot.env; users 35-39 only) and the
redis fixture (redis.env).

    plan_test.py sizes|fetch|errors|estimate|compare PLAN_MKBATCH

sizes     users 35 and 36: a corpus from gen_corpus.py; the plan (STATUS=SIZE,
          with the target) matches the manifest EXACTLY per folder, the
          size cap list (--max-message-size 1M) is the manifest's messages
          over 1 MiB, excluded folders are excluded with the reason and
          counted apart, separators and special-use folders are mapped;
          text and --json.
fetch     user 37: the same with --size-method fetch and no target ("/"
          assumed, no special-use), and STATUS and FETCH agree.
errors    user 38 (read only): wrong passwords and a closed port fail those
          mailboxes only (exit 1), TLS with and without the CA, admin
          impersonation, usage errors (exit 2), an unreadable CSV (exit 3).
estimate  user 39 (corpus) and 38 (read only): finished test batches made
          with plan_mkbatch; `plan --from-batch` gives the throughput and
          the times a hand computation gives.
compare   two test batches side by side (text and JSON).

Each case owns its users, so the cases may run in parallel.
"""
import json
import math
import os
import socket
import subprocess
import sys
import tempfile

RUN_DIR = os.environ["MF_TEST_RUN_DIR"]
SRC_DIR = os.environ["MF_SOURCE_DIR"]
MAILFERRY = os.path.join(os.environ["MF_BUILD_DIR"], "bin", "mailferry")
GEN_CORPUS = os.path.join(SRC_DIR, "tests", "support", "dovecot",
                          "gen_corpus.py")
MKBATCH = sys.argv[2] if len(sys.argv) > 2 else None
sys.path.insert(0, os.path.join(SRC_DIR, "tests", "support"))
from itestlib import check, fixture_env, verdict  # noqa: E402
SECRETS = []
MIB = 1024 * 1024


def run(*args, timeout=150):
    p = subprocess.run([MAILFERRY, *args], capture_output=True, text=True,
                       timeout=timeout)
    for s in SECRETS:
        check(s not in p.stdout + p.stderr,
              "no password in the output of %s" % " ".join(args[:1]))
    return p.returncode, p.stdout, p.stderr


def run_json(*args):
    rc, out, err = run(*args, "--json")
    try:
        return rc, json.loads(out), err
    except ValueError as e:
        check(False, "JSON parses (%s): %r %r" % (e, out[:300], err[:500]))
        return rc, None, err


class Dovecot:
    def __init__(self, tmp):
        self.env = e = fixture_env("dovecot")
        self.tmp = tmp
        self.plain = "imap://127.0.0.1:%s/?tls=off" % e["SOURCE_IMAP_PORT"]
        self.imaps = "imaps://127.0.0.1:%s" % e["SOURCE_IMAPS_PORT"]
        self.target = "imap://127.0.0.1:%s/?tls=off" % e["TARGET_IMAP_PORT"]
        self.ca = e["CA_FILE"]
        self.admin = e["MASTER_USER"]
        SECRETS.append(e["MASTER_PASSWORD"])
        self.admin_pw = self.secret("admin.pw", e["MASTER_PASSWORD"])

    def user(self, n):
        return self.env["USER_FORMAT"] % n

    def password(self, n):
        pw = self.env["PASSWORD_FORMAT"] % n
        if pw not in SECRETS:
            SECRETS.append(pw)
        return pw

    def secret(self, name, value):
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(value + "\n")
        os.chmod(path, 0o600)
        return path

    def csv(self, name, rows):
        """rows: (email, login, password)"""
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write("EmailAddress,UserName,Password\r\n")
            for r in rows:
                f.write(",".join(r) + "\r\n")
        return path

    def corpus(self, first, count):
        manifest = os.path.join(self.tmp, "corpus-%d.json" % first)
        p = subprocess.run(
            ["/usr/bin/python3", GEN_CORPUS, "--env",
             os.path.join(RUN_DIR, "dovecot.env"), "--first-user",
             str(first), "--users", str(count), "--clean", "--manifest",
             manifest], capture_output=True, text=True, timeout=120)
        if not check(p.returncode == 0, "gen_corpus users %d..%d" % (
                first, first + count - 1)):
            print(p.stdout, p.stderr)
            sys.exit(1)
        with open(manifest, encoding="utf-8") as f:
            return json.load(f)


def by_source(mb):
    return {f["source"]: f for f in mb["folders"] if f["source"] is not None}


def check_against_manifest(mb, user_manifest, cap, label, excluded=()):
    """Per folder counts and bytes equal the manifest; the oversize list
    is exactly the manifest's messages above cap in copied folders;
    totals add up."""
    folders = by_source(mb)
    want_over = set()
    copy_m = copy_b = over_m = over_b = exc_m = exc_b = 0
    for mf in user_manifest["folders"]:
        f = folders.get(mf["imap_name"])
        if not check(f is not None, "%s: folder %s is in the plan" % (
                label, mf["name"])):
            continue
        check(f["measured"] and f["messages"] == mf["messages"] and
              f["bytes"] == mf["bytes"],
              "%s: %s has %d messages, %d bytes (plan: %s, %s)" % (
                  label, mf["name"], mf["messages"], mf["bytes"],
                  f["messages"], f["bytes"]))
        big = [it for it in mf["items"] if it["size"] > cap]
        if f["action"] == "copy":
            for it in big:
                want_over.add((f["source_path"], it["uid"], it["size"]))
            over_m += len(big)
            over_b += sum(it["size"] for it in big)
            copy_m += mf["messages"] - len(big)
            copy_b += mf["bytes"] - sum(it["size"] for it in big)
            check(f["oversize_messages"] == len(big),
                  "%s: %s has %d messages over the cap" % (
                      label, mf["name"], len(big)))
        else:
            exc_m += mf["messages"]
            exc_b += mf["bytes"]
        if mf["name"] in excluded:
            check(f["action"] == "excluded" and f["reason"] == "rule" and
                  f["reason_detail"] == mf["name"] and f["target"] is None,
                  "%s: %s excluded by the rule, no target" % (
                      label, mf["name"]))
    # Folders the corpus did not fill (a \Noselect parent) hold nothing.
    names = {mf["imap_name"] for mf in user_manifest["folders"]}
    for src, f in folders.items():
        if src not in names:
            check(not f["measured"] or f["messages"] == 0,
                  "%s: extra folder %s is empty or a container" % (label, src))
    got_over = {(o["folder"], o["uid"], o["size"]) for o in mb["oversize"]}
    check(got_over == want_over,
          "%s: size cap list %s == manifest %s" % (label, sorted(got_over),
                                                   sorted(want_over)))
    t = mb["totals"]
    check((t["copy_messages"], t["copy_bytes"]) == (copy_m, copy_b),
          "%s: totals to copy %d messages, %d bytes (plan %d, %d)" % (
              label, copy_m, copy_b, t["copy_messages"], t["copy_bytes"]))
    check((t["oversize_messages"], t["oversize_bytes"]) == (over_m, over_b),
          "%s: totals over the cap %d, %d" % (label, over_m, over_b))
    check((t["excluded_messages"], t["excluded_bytes"]) == (exc_m, exc_b),
          "%s: totals not copied %d, %d" % (label, exc_m, exc_b))
    check(t["source_messages"] == user_manifest["messages"] and
          t["source_bytes"] == user_manifest["bytes"],
          "%s: source totals equal the manifest's user totals" % label)
    return t


# ------------------------------------------------------------------ cases


def case_sizes(tmp):
    d = Dovecot(tmp)
    man = d.corpus(35, 2)
    users = [d.user(35), d.user(36)]
    path = d.csv("users.csv", [(u, u, d.password(n)) for u, n in
                               zip(users, (35, 36))])
    args = ["plan", path, "--source", d.plain, "--target", d.target,
            "--max-message-size", "1M", "--exclude", "Junk,Trash",
            "--concurrency", "2"]
    rc, doc, err = run_json(*args)
    check(rc == 0, "plan exits 0 (got %d: %s)" % (rc, err[-300:]))
    if doc is None:
        return
    plan = doc["plan"]
    check(plan["planned"] == 2 and plan["failed"] == 0, "2 planned, 0 failed")
    check(plan["max_message_size"] == MIB, "max_message_size is 1 MiB")
    check(doc["estimate"] is None and doc["from_batches"] == [],
          "no estimate without --from-batch")
    totals = []
    for mb, u in zip(plan["mailboxes"], users):
        check(mb["email"] == u and mb["ok"], "%s planned" % u)
        check(mb["size_method"] == "status", "%s: STATUS=SIZE used" % u)
        check(mb["target_checked"] and mb["source_delimiter"] == "." and
              mb["target_delimiter"] == "/", "%s: separators . and /" % u)
        t = check_against_manifest(mb, man["users"][u], MIB, u,
                                   excluded=("Junk", "Trash"))
        totals.append(t)
        f = by_source(mb)
        check(f["Sent"]["target"] == "Sent Items" and
              f["Sent"]["special_use"] == "\\Sent",
              "%s: \\Sent goes to the target's Sent Items" % u)
        r = f["Reports 2024/25"]
        check(r["target"] == "Reports 2024_25" and
              r["delimiter_replaced"] == {"from": "Reports 2024/25",
                                          "to": "Reports 2024_25"},
              "%s: the target's separator in a name is replaced" % u)
        check(f["Projects.2024.Q1"]["target"] == "Projects/2024/Q1",
              "%s: hierarchy translated" % u)
        check(f["INBOX"]["inbox"] and f["INBOX"]["target"] == "INBOX",
              "%s: INBOX" % u)
        check(mb["totals"]["folders_excluded"] == 2,
              "%s: two folders excluded" % u)
    bt = plan["totals"]
    for k in ("copy_messages", "copy_bytes", "oversize_messages",
              "oversize_bytes", "excluded_messages", "excluded_bytes"):
        check(bt[k] == sum(t[k] for t in totals),
              "batch total %s is the sum of the mailboxes" % k)
    check(bt["source_bytes"] == man["bytes"] and
          bt["source_messages"] == man["messages"],
          "batch source totals equal the manifest's")
    largest = max(plan["mailboxes"], key=lambda m: m["totals"]["copy_bytes"])
    check(plan["largest"] == largest["email"], "largest mailbox named")

    rc, out, err = run(*args)
    check(rc == 0, "text plan exits 0")
    for s in ("SOURCE FOLDER", "TARGET FOLDER", "excluded: rule (Junk)",
              "special-use \\Sent", "Sent Items",
              'separator replaced: "Reports 2024/25" -> "Reports 2024_25"',
              "batch: 2 mailboxes planned, 0 failed",
              "to copy: %d messages" % bt["copy_messages"],
              "(%d bytes)" % bt["copy_bytes"], "messages over the cap:",
              "largest mailbox: %s" % plan["largest"]):
        check(s in out, "text shows %r" % s)
    for u in users:
        for o in [m for m in plan["mailboxes"] if m["email"] == u][0][
                "oversize"]:
            check("%s  UID %d  %d bytes" % (o["folder"], o["uid"], o["size"])
                  in out, "text lists %s UID %d" % (o["folder"], o["uid"]))


def case_dryrun(tmp):
    """`batch create --dry-run` plans every mailbox like `plan` does (the
    same library), logging in with the CSV's passwords, and stores
    nothing."""
    d = Dovecot(tmp)
    man = d.corpus(42, 1)
    u = d.user(42)
    path = d.csv("dry.csv", [(u, u, d.password(42))])
    rc, doc, err = run_json("batch", "create", "dry1", "--csv", path,
                            "--source", d.plain, "--target", d.target,
                            "--max-message-size", "1M", "--exclude",
                            "Junk,Trash", "--dry-run")
    check(rc == 0, "dry run exits 0 (got %d: %s)" % (rc, err[-300:]))
    if doc is None:
        return
    check(doc["dry_run"] and doc["mailboxes"] == 1, "dry run of 1 mailbox")
    plan = doc["plan"]
    check(plan["planned"] == 1 and plan["failed"] == 0, "planned")
    check_against_manifest(plan["mailboxes"][0], man["users"][u], MIB, u,
                           excluded=("Junk", "Trash"))
    # A wrong password shows up in the dry run, before anything is stored.
    bad = d.csv("drybad.csv", [(u, u, "wrong")])
    rc, doc, err = run_json("batch", "create", "dry2", "--csv", bad,
                            "--source", d.plain, "--target", d.target,
                            "--dry-run")
    check(rc == 1 and doc and doc["plan"]["failed"] == 1,
          "a wrong password fails the dry run (exit %d)" % rc)
    check("wrong" not in json.dumps(doc), "no password in the output")


def case_names(tmp):
    """issue 13 section 2: `plan` and `batch create --dry-run` with
    --target-profile cyrus warn about every folder name the target would
    refuse and show the name it maps to; two names mapped to one are
    told apart. User 93's source folders: "A|B", "A_B", "x;y"."""
    import imaplib
    d = Dovecot(tmp)
    u = d.user(93)
    e = d.env
    m = imaplib.IMAP4("127.0.0.1", int(e["SOURCE_IMAP_PORT"]))
    m.login(u, d.password(93))
    for name in ('"A|B"', "A_B", '"x;y"'):
        m.create(name)
    m.logout()
    path = d.csv("names.csv", [(u, u, d.password(93))])
    # --rename: "A_B" names a folder (to its own name, so that A|B is
    # still told apart from it), "Nope" none (warned about), nor "x;y/z"
    # (two levels: a '/' inside a name is written "\/").
    ren = ("--rename", "A_B=A_B,Nope=N,x;y/z=Z")
    for args in (("plan", path), ("batch", "create", "names1", "--csv", path,
                                  "--dry-run")):
        rc, doc, err = run_json(*args, "--source", d.plain, "--target",
                                d.target, "--target-profile", "cyrus", *ren)
        check(rc == 0, "%s exits 0 (got %d: %s)" % (args[0], rc, err[-300:]))
        if doc is None:
            continue
        plan = doc["plan"] if "plan" in doc else doc
        mb = plan["mailboxes"][0]
        got = {f["source_path"]: f for f in mb["folders"] if f["source_path"]}
        check(got["A_B"]["target"] == "A_B" and not got["A_B"]["name_mapped"],
              "%s: A_B keeps its name" % args[0])
        check(got["A|B"]["name_mapped"] == {"from": "A|B", "to": "A_B"} and
              got["A|B"]["target"] == "A_B (2)",
              "%s: A|B mapped and told apart: %r" % (args[0], got["A|B"]))
        check(got["x;y"]["target"] == "x_y", "%s: x;y mapped" % args[0])
        warned = plan.get("rename_warnings", [])
        check(len(warned) == 2 and '"Nope=N"' in warned[0] and
              '"x;y/z=Z"' in warned[1] and "\\/" in warned[0],
              "%s: the two rules that match nothing are warned about: %r"
              % (args[0], warned))
    rc, out, err = run("plan", path, "--source", d.plain, "--target",
                       d.target, "--target-profile", "cyrus")
    check(out.count("WARNING: the target refuses") == 2,
          "the text plan warns about both refused names: %s" % out[-800:])
    rc, out, err = run("plan", path, "--source", d.plain, "--target",
                       d.target, "--target-profile", "cyrus", *ren)
    check(out.count("WARNING: --rename") == 2 and
          "WARNING: --rename \"Nope=N\" matches no folder of any mailbox"
          in out, "the text plan warns about both rules: %s" % out[-800:])


def case_quota(tmp):
    """user quota04 (a 2 MiB STORAGE quota on the target, RFC 9208):
    `plan --target` reads it with GETQUOTAROOT and warns that the
    mailbox does not fit, by how much; a user without a quota has
    none."""
    d = Dovecot(tmp)
    q = "quota04@example.test"
    man = subprocess.run(
        ["/usr/bin/python3", GEN_CORPUS, "--env",
         os.path.join(RUN_DIR, "dovecot.env"), "--user-format",
         "quota%02d@example.test", "--password-format", "pw-quota%02d",
         "--first-user", "4", "--users", "1", "--clean"],
        capture_output=True, text=True, timeout=120)
    check(man.returncode == 0, "corpus for %s: %s" % (q, man.stderr[-300:]))
    path = d.csv("quota.csv", [(q, q, "pw-quota04")])
    rc, doc, err = run_json("plan", path, "--source", d.plain, "--target",
                            d.target)
    check(rc == 0, "plan exits 0 (%d: %s)" % (rc, err[-300:]))
    if doc is None:
        return
    mb = doc["plan"]["mailboxes"][0]
    tq = mb["target_quota"]
    copy = mb["totals"]["copy_bytes"]
    check(tq is not None and tq["storage_limit"] == 2 * MIB and
          tq["storage_used"] == 0,
          "the target quota: 0 of 2 MiB used (%r)" % (tq,))
    check(copy > 2 * MIB and not tq["fits"] and
          tq["bytes_short"] == copy - 2 * MIB,
          "%d bytes to copy do not fit: %d short (%r)" % (
              copy, copy - 2 * MIB, tq))
    check(doc["plan"]["totals"]["over_quota"] == 1,
          "the batch counts one mailbox over its quota")
    rc, out, err = run("plan", path, "--source", d.plain, "--target",
                       d.target)
    check("target quota: 0 B used of 2.1 MB" in out and
          "WARNING: the plan does not fit the target quota" in out and
          "WARNING: 1 mailboxes do not fit their target quota" in out,
          "the text warns, per mailbox and for the batch:\n" + out[-800:])
    # user56's target has no quota: nothing to say.
    path = d.csv("noquota.csv", [(d.user(56), d.user(56), d.password(56))])
    rc, doc, err = run_json("plan", path, "--source", d.plain, "--target",
                            d.target)
    check(rc == 0 and doc["plan"]["mailboxes"][0]["target_quota"] is None,
          "no quota, no target_quota")


def case_fetch(tmp):
    d = Dovecot(tmp)
    man = d.corpus(37, 1)
    u = d.user(37)
    path = d.csv("users.csv", [(u, u, d.password(37))])
    cap = 2 * MIB
    base = ["plan", path, "--source", d.plain, "--max-message-size", "2M"]
    rc, doc, err = run_json(*base, "--size-method", "fetch")
    check(rc == 0, "fetch plan exits 0 (%s)" % err[-300:])
    if doc is None:
        return
    mb = doc["plan"]["mailboxes"][0]
    check(mb["size_method"] == "fetch", "FETCH used")
    check(not mb["target_checked"] and mb["target_delimiter"] == "/",
          "no target: '/' assumed")
    check(all(f["special_use"] is None for f in mb["folders"]),
          "no target: no special-use mapping")
    check(by_source(mb)["Sent"]["target"] == "Sent", "Sent stays Sent")
    check_against_manifest(mb, man["users"][u], cap, u + " (fetch)")
    rc, doc2, _ = run_json(*base, "--size-method", "status")
    if doc2 is None:
        return
    mb2 = doc2["plan"]["mailboxes"][0]
    strip = lambda m: [(f["source"], f["messages"], f["bytes"],
                        f["oversize_messages"] if f["measured"] else None)
                       for f in m["folders"]]
    check(strip(mb) == strip(mb2) and mb["oversize"] == mb2["oversize"] and
          mb["totals"] == mb2["totals"], "STATUS and FETCH agree")
    # --include: only INBOX and the Projects tree are copied.
    rc, doc3, _ = run_json(*base, "--include", "INBOX,Projects")
    if doc3:
        f = by_source(doc3["plan"]["mailboxes"][0])
        check(f["Projects.2024.Q2"]["action"] == "copy" and
              f["Sent"]["action"] == "excluded" and
              f["Sent"]["reason"] == "not-included",
              "--include: children follow, others not-included")


def case_errors(tmp):
    d = Dovecot(tmp)
    u = d.user(38)
    SECRETS.append("wrong-password-38")
    path = d.csv("mixed.csv", [
        (u, u, d.password(38)),
        ("alias38@example.test", u, "wrong-password-38"),
        ("nobody38@example.test", "nobody38@example.test", "x-pass-38")])
    rc, doc, err = run_json("plan", path, "--source", d.plain)
    check(rc == 1, "a failed mailbox: exit 1 (got %d)" % rc)
    if doc:
        p = doc["plan"]
        check(p["planned"] == 1 and p["failed"] == 2, "1 planned, 2 failed")
        mbs = p["mailboxes"]
        check(mbs[0]["ok"] and mbs[0]["error"] is None, "good one planned")
        for mb in mbs[1:]:
            check(not mb["ok"] and mb["error"]["name"] == "AUTH" and
                  "folders" not in mb,
                  "%s fails with AUTH (%s)" % (mb["email"], mb["error"]))
    rc, out, _ = run("plan", path, "--source", d.plain)
    check(rc == 1 and "NOT PLANNED" in out and
          "batch: 1 mailboxes planned, 2 failed" in out,
          "text names the failures")

    good = d.csv("good.csv", [(u, u, d.password(38))])
    # TLS: verified with the fixture's CA; refused without it.
    rc, doc, _ = run_json("plan", good, "--source", d.imaps, "--ca-file",
                          d.ca)
    check(rc == 0 and doc and doc["plan"]["planned"] == 1,
          "imaps with --ca-file plans")
    rc, doc, _ = run_json("plan", good, "--source", d.imaps)
    check(rc == 1 and doc and
          doc["plan"]["mailboxes"][0]["error"]["name"] == "TLS_VERIFY",
          "imaps without the CA: TLS_VERIFY, exit 1")
    # Admin impersonation, SASL PLAIN and Dovecot's user*admin form.
    nopw = d.csv("nopw.csv", [(u, u, "")])
    for fmt in ("sasl", "{user}*{admin}"):
        rc, doc, err = run_json("plan", nopw, "--source", d.plain,
                                "--admin", d.admin, "--admin-password-file",
                                d.admin_pw, "--admin-login-format", fmt,
                                "--target", d.target, "--target-admin",
                                d.admin, "--target-admin-password-file",
                                d.admin_pw)
        check(rc == 0 and doc and doc["plan"]["planned"] == 1,
              "admin impersonation (%s) plans (%s)" % (fmt, err[-200:]))
    # A closed port.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    rc, doc, _ = run_json("plan", good, "--source",
                          "imap://127.0.0.1:%d/?tls=off" % port)
    check(rc == 1 and doc and
          doc["plan"]["mailboxes"][0]["error"]["name"] == "CONNECT",
          "closed port: CONNECT, exit 1")
    # Usage errors: exit 2; an unreadable CSV: 3; a CSV with errors: 1.
    for args, what in (
            (["plan", good], "no --source"),
            (["plan", good, "--source", d.plain, "--size-method", "x"],
             "bad --size-method"),
            (["plan", good, "--source", d.plain, "--from-batch", "b"],
             "--from-batch without --redis"),
            (["plan", good, "--source", d.plain, "--window", "8h"],
             "--window without --from-batch"),
            (["plan", good, "--source", d.plain, "--frob"], "unknown option"),
            (["plan", "--source", d.plain], "no FILE")):
        rc, _, _ = run(*args)
        check(rc == 2, "%s: exit 2 (got %d)" % (what, rc))
    rc, _, err = run("plan", os.path.join(tmp, "missing.csv"), "--source",
                     d.plain)
    check(rc == 3, "unreadable CSV: exit 3 (got %d)" % rc)
    bad = os.path.join(tmp, "bad.csv")
    with open(bad, "w") as f:
        f.write("EmailAddress,UserName\r\nx@example.test,x\r\n")
    rc, _, _ = run("plan", bad, "--source", d.plain)
    check(rc == 1, "CSV with errors: exit 1 (got %d)" % rc)
    rc, out, _ = run("plan", "--help")
    check(rc == 0 and "--from-batch" in out and "--size-method" in out,
          "--help lists the options")


def mkbatch(redis_url, name, specs, group=1, extra=()):
    p = subprocess.run([MKBATCH, redis_url, name, "--group", str(group),
                        *extra, *specs], capture_output=True, text=True,
                       timeout=60)
    check(p.returncode == 0, "mkbatch %s: %s%s" % (name, p.stdout.strip(),
                                                   p.stderr.strip()))
    return p.stdout.split()[-1] if p.stdout else None


def close(a, b):
    """JSON numbers carry about 6 significant digits."""
    return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-9)


def case_estimate(tmp):
    d = Dovecot(tmp)
    r = fixture_env("redis")
    url = r["REDIS_URL"]
    pre = "plan-est-%d" % os.getpid()
    man = d.corpus(39, 1)
    # Test batch A: 2 Synced mailboxes at once, one Failed (ignored).
    # Per connection: (3e6 + 1e6) B / (10 + 10) s = 200000 B/s;
    # (300 + 100) msgs / 20 s = 20 msgs/s.
    st = mkbatch(url, pre + "-a", ["a@x.test:synced:3000000:300:10",
                                   "b@x.test:synced:1000000:100:10",
                                   "c@x.test:failed:500:5:1"], group=2)
    check(st == "SyncedWithErrors", "batch A is SyncedWithErrors (%s)" % st)
    # user39 twice (a second EmailAddress with the same login) and the
    # empty user38: work 2 t39, longest t39, so the floor shows at 2.
    u39, u38 = d.user(39), d.user(38)
    emails = [u39, "again39@example.test", u38]
    path = d.csv("users.csv", [(u39, u39, d.password(39)),
                               (emails[1], u39, d.password(39)),
                               (u38, u38, d.password(38))])
    args = ["plan", path, "--source", d.plain, "--from-batch", pre + "-a",
            "--redis", url, "--connections", "1,2,4",
            "--max-connections", "3", "--window", "1h"]
    rc, doc, err = run_json(*args)
    check(rc == 0, "plan with an estimate exits 0 (%s)" % err[-300:])
    if doc is None:
        return
    e = doc["estimate"]
    rate = e["rate"]
    check(rate["mailboxes"] == 2 and rate["ignored"] == 1,
          "rate from 2 Synced mailboxes, 1 ignored")
    check(close(rate["bytes_per_second"], 200000) and
          close(rate["messages_per_second"], 20),
          "200000 B/s and 20 msgs/s per connection (got %s, %s)" % (
              rate["bytes_per_second"], rate["messages_per_second"]))
    check(rate["peak_concurrency"] == 2, "test batch ran 2 at once")
    fb = doc["from_batches"][0]
    check(fb["name"] == pre + "-a" and fb["states"]["Synced"] == 2 and
          fb["states"]["Failed"] == 1, "digest of batch A")
    # By hand: each planned mailbox takes max(bytes / 200000, msgs / 20).
    mbs = doc["plan"]["mailboxes"]
    m39 = man["users"][u39]
    for m in mbs[:2]:
        check(m["totals"]["copy_bytes"] == m39["bytes"] and
              m["totals"]["copy_messages"] == m39["messages"],
              "%s: plan equals the manifest (no cap hit at 35 MB)" %
              m["email"])
    t = [max(m["totals"]["copy_bytes"] / 200000.0,
             m["totals"]["copy_messages"] / 20.0) for m in mbs]
    check(t[2] == 0, "the empty mailbox takes no time")
    work, longest = sum(t), max(t)
    check(close(e["work_seconds"], work) and
          close(e["longest_seconds"], longest),
          "work %.3f s, longest %.3f s (got %s, %s)" % (
              work, longest, e["work_seconds"], e["longest_seconds"]))
    check(e["longest_mailbox"] == u39, "the longest is user39")
    pts = {p["connections"]: p for p in e["points"]}
    check(sorted(pts) == [1, 2, 3, 4], "connections 1,2,3 (limit),4")
    want = {1: work, 2: longest, 3: longest, 4: longest}
    for n, p in pts.items():
        check(close(p["seconds"], want[n]) and
              close(p["seconds"], max(work / n, longest)),
              "%d connections: %.3f s (got %s)" % (n, want[n], p["seconds"]))
        check(p["floor"] == (n >= 2), "%d: floor flag" % n)
        check(p["extrapolated"] == (n > 2), "%d: extrapolated flag" % n)
        check(p["over_limit"] == (n > 3), "%d: over the limit flag" % n)
    # 2 connections reach the best allowed time (3: the floor).
    check(e["suggested_connections"] == 2,
          "suggested 2 connections (got %s)" % e["suggested_connections"])
    w = e["window"]
    avg = work / 3
    check(w["connections"] == 2 and
          w["mailboxes_per_window"] == math.floor(3600 * 2 / avg) and
          w["batches"] == 1 and w["largest_batch"] == 3 and
          w["too_long"] == 0 and close(w["bytes_per_window"],
                                       3600 * 2 * 200000),
          "window 1h: %d per window, 1 batch of 3 (got %s)" % (
              math.floor(3600 * 2 / avg), w))
    # A window shorter than user39 alone: each user39 copy is its own
    # batch and too long; the empty one cannot join the second (its
    # time is still user39's): 3 batches of 1.
    short = int(longest) - 1
    rc, doc, _ = run_json(*args[:-1], "%ds" % short)
    if doc:
        w = doc["estimate"]["window"]
        check(w["batches"] == 3 and w["largest_batch"] == 1 and
              w["too_long"] == 2 and
              w["mailboxes_per_window"] == math.floor(short * 2 / avg),
              "window %ds: 3 batches of 1, 2 too long (got %s)" % (short, w))
    rc, out, _ = run(*args)
    check(rc == 0, "text estimate exits 0")
    for s in ("estimate from test batch %s-a (SyncedWithErrors)" % pre,
              "throughput per connection: 200.0 KB/s, 20.0 messages/s "
              "(from 2 Synced mailboxes",
              "1 mailboxes not used", "at most 2 ran at once",
              "CONNECTIONS", "<- suggested",
              "longest mailbox (%s)" % u39, "window 1h 00m at 2"):
        check(s in out, "text shows %r" % s)

    # Two test batches merge: B adds 1e6 B in 30 s and 100 messages:
    # (4e6 + 1e6) / 50 s = 100000 B/s; 500 / 50 = 10 msgs/s.
    mkbatch(url, pre + "-b", ["d@x.test:synced:1000000:100:30"])
    rc, doc, _ = run_json("plan", path, "--source", d.plain, "--from-batch",
                          pre + "-a", "--from-batch", pre + "-b", "--redis",
                          url)
    if doc:
        rate = doc["estimate"]["rate"]
        check(rate["mailboxes"] == 3 and
              close(rate["bytes_per_second"], 100000) and
              close(rate["messages_per_second"], 10),
              "two batches: 100000 B/s, 10 msgs/s (got %s)" % rate)
        check([p["connections"] for p in doc["estimate"]["points"]] ==
              [1, 2, 4, 8, 16, 32], "default connection counts")
        check(len(doc["from_batches"]) == 2, "both digests in the JSON")
    # Errors: a missing batch, a batch with nothing Synced, Redis away.
    rc, _, err = run("plan", path, "--source", d.plain, "--from-batch",
                     pre + "-none", "--redis", url)
    check(rc == 3 and pre + "-none" in err,
          "missing test batch: exit 3 (%d: %s)" % (rc, err.strip()))
    mkbatch(url, pre + "-f", ["e@x.test:failed:10:1:1"])
    rc, _, err = run("plan", path, "--source", d.plain, "--from-batch",
                     pre + "-f", "--redis", url)
    check(rc == 3 and "Synced" in err,
          "no Synced mailbox to measure: exit 3 (%d: %s)" % (rc, err.strip()))


def case_compare(tmp):
    r = fixture_env("redis")
    url = r["REDIS_URL"]
    pre = "plan-cmp-%d" % os.getpid()
    # A: 4 mailboxes, 2 at a time, caps 8 connections / 2 mailboxes.
    mkbatch(url, pre + "-a", ["a1@x.test:synced:1000000:100:4",
                              "a2@x.test:synced:2000000:200:4",
                              "a3@x.test:synced:3000000:300:4",
                              "a4@x.test:synced:4000000:400:4"], group=2,
            extra=("--max-connections", "8", "--max-mailboxes", "2"))
    # B: 3 mailboxes one at a time; one needed 3 attempts; one failed.
    mkbatch(url, pre + "-b", ["b1@x.test:synced:5000000:500:10:3",
                              "b2@x.test:synced:1000000:100:5",
                              "b3@x.test:failed:0:0:1"], group=1)
    rc, doc, err = run_json("batch", "compare", pre + "-a", pre + "-b",
                            "--redis", url)
    check(rc == 0, "compare exits 0 (%s)" % err.strip())
    if doc is None:
        return
    a, b = doc["batches"]
    check(a["name"] == pre + "-a" and b["name"] == pre + "-b", "names")
    check(a["state"] == "Synced" and b["state"] == "SyncedWithErrors",
          "states Synced / SyncedWithErrors")
    check(a["mailboxes"] == 4 and b["mailboxes"] == 3, "mailboxes 4 / 3")
    check(a["states"]["Synced"] == 4 and b["states"]["Synced"] == 2 and
          b["states"]["Failed"] == 1, "mailbox states")
    check(a["bytes_copied"] == 10000000 and a["messages_copied"] == 1000 and
          b["bytes_copied"] == 6000000 and b["messages_copied"] == 600,
          "bytes and messages copied")
    # Per connection: A 1e7 B / 16 s = 625000 B/s; B 6e6 / 15 s = 400000.
    check(close(a["per_connection"]["bytes_per_second"], 625000) and
          close(b["per_connection"]["bytes_per_second"], 400000) and
          close(a["per_connection"]["messages_per_second"], 62.5) and
          close(b["per_connection"]["messages_per_second"], 40),
          "per-connection throughput 625000 / 400000 B/s")
    check(a["attempts"] == 4 and b["attempts"] == 5,
          "attempts 4 / 5 (3 + 1 + 1)")
    check(a["errors"] == 0 and b["errors"] >= 1, "errors 0 / >= 1")
    check(a["connections"]["max_connections"] == 8 and
          a["connections"]["max_concurrent_mailboxes"] == 2 and
          b["connections"]["max_connections"] == 0, "caps")
    check(a["connections"]["peak_concurrent_mailboxes"] == 2 and
          b["connections"]["peak_concurrent_mailboxes"] == 1,
          "peak concurrency 2 / 1 (got %s, %s)" % (
              a["connections"]["peak_concurrent_mailboxes"],
              b["connections"]["peak_concurrent_mailboxes"]))
    # A ran two groups of 1.1 s, B three: whole seconds from Redis TIME.
    check(2 <= a["duration_seconds"] <= 4 and 3 <= b["duration_seconds"] <= 5,
          "durations first start to last finish (%d, %d)" % (
              a["duration_seconds"], b["duration_seconds"]))
    check(close(a["bytes_per_second"],
                       1e7 / a["duration_seconds"]),
          "batch throughput = bytes / duration")
    rc, out, _ = run("batch", "compare", pre + "-a", pre + "-b", "--redis",
                     url)
    check(rc == 0, "text compare exits 0")
    for s in ("batch", "throughput per connection", "625.0 KB/s",
              "400.0 KB/s", "peak mailboxes at once", "attempts",
              "  Failed", "10000000 (10.0 MB)"):
        check(s in out, "text shows %r" % s)
    rc, _, err = run("batch", "compare", pre + "-a", pre + "-zz", "--redis",
                     url)
    check(rc == 3 and pre + "-zz" in err, "missing batch: exit 3")
    rc, _, _ = run("batch", "compare", pre + "-a", "--redis", url)
    check(rc == 2, "one batch only: exit 2")


def main():
    case = sys.argv[1] if len(sys.argv) > 1 else ""
    cases = {"sizes": case_sizes, "fetch": case_fetch, "errors": case_errors,
             "dryrun": case_dryrun, "quota": case_quota, "names": case_names,
             "estimate": case_estimate, "compare": case_compare}
    if case not in cases:
        sys.exit("usage: plan_test.py %s PLAN_MKBATCH" % "|".join(cases))
    with tempfile.TemporaryDirectory(prefix="mailferry-plan-") as tmp:
        cases[case](tmp)
    return verdict()


if __name__ == "__main__":
    sys.exit(main())
