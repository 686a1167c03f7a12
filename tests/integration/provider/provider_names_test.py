#!/usr/bin/python3
"""Folder names a target refuses (issue 13 section 2) against the
provider emulator's --refuse-names: users 110 and 111, no Redis (two
`migrate --direct` runs through one emulator); and the runs' warnings
about --rename rules that match no folder: users 112 and 94
(case_renamewarn, the embedded migrate with its own Redis, and
--direct).

    provider_names_test.py CASE

  names  the emulator in front of the target Dovecot answers a CREATE of
         a name holding '|', ';', '#' or '+' with "NO [CANNOT] Invalid
         mailbox name" (RFC 5530), as a target that refuses the name:
    (a) user 110, --target-profile cyrus: `endpoint test` warns about
        "A|B" and "x;y" (and, with the profile the target looks like,
        dovecot, about none); the profile maps "A|B" and
        "x;y" to "A_B" and "x_y" before any CREATE (the emulator refuses
        none of its names), their mail lands there, and the report lists
        both as renamed (FOLDER_RENAMED); EQUAL by the comparer;
    (b) user 111, the generic profile: the CREATE of "C#D" is refused and
        sent once more under the conservative name "C_D"; its messages
        land there and the report lists the rename;
    (c) the same run: "E#F+G" is refused, and so is its conservative name
        "E_F+G" ('+' too): that folder fails with FOLDER_NAME_REFUSED, its
        messages are listed as not copied and the mailbox is not Synced;
        everything else of user 111 is EQUAL by the comparer;
    (d) `plan` after that run shows "C#D" under the name the next run
        will really use, the fallback "C_D" on the target (nothing to
        create, the refused name beside it).
Each mailbox is filled with one login and read back with one.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import provider_test as pt  # noqa: E402

mt = pt.mt
check, mailbox, TMP, RUN_ID = pt.check, pt.mailbox, pt.TMP, pt.RUN_ID
SRC_PORT, TGT_PORT = pt.SRC_PORT, pt.TGT_PORT


def fill(n, folders):
    """User n's source mailbox made anew (one login) and its target
    emptied: {folder: messages}; returns {folder: [Message-ID, ...]}."""
    mt.clean_target(n)
    c = mt.imap_login(SRC_PORT, n)
    mt.empty_mailbox(c)
    mids = {}
    for folder, count in folders.items():
        if folder != "INBOX":
            typ, d = c.create(f'"{folder}"')
            check(typ == "OK", f"source folder {folder}: {d}")
        mids[folder] = []
        for i in range(count):
            mid = f"<names-{n}-{len(mids)}-{i}-{RUN_ID}@example.test>"
            mids[folder].append(mid)
            c.append(f'"{folder}"', None, None,
                     (f"Subject: {folder} {i}\r\nFrom: a@example.test\r\n"
                      f"Message-ID: {mid}\r\n\r\nbody {i}\r\n").encode())
    c.logout()
    return mids


def run(n, target, *extra):
    """migrate --direct of user n into target: (exit code, the mailbox's
    line, its report.json row)."""
    rdir = os.path.join(TMP, f"report-{n}")
    p = pt.mf("migrate", mt.csv_for([n], f"names-{n}"), "--source",
              pt.url(SRC_PORT), "--target", target, "--direct", "--json",
              "--report-dir", rdir, *extra)
    doc = json.loads(p.stdout)
    with open(os.path.join(rdir, "report.json")) as f:
        rep = json.load(f)
    row = [m for m in rep["mailboxes"] if m["email"] == mt.user(n)[0]]
    check(len(row) == 1, f"user{n} in report.json")
    return p.returncode, mailbox(doc, n), row[0]


def renamed(row):
    return {r["folder"]: r["detail"] for r in row.get("renamed_folders", [])}


def endpoint_names(n, target):
    """`endpoint test` warns about the names the target profile refuses
    (the source mailbox's folders, read as `plan` reads them) before
    anything is copied; with the profile the target looks like (Dovecot)
    about none."""
    u, p = mt.user(n)
    pw = os.path.join(TMP, "pw-names")
    with open(pw, "w") as f:
        f.write(p)
    base = ("endpoint", "test", "--source", pt.url(SRC_PORT), "--user", u,
            "--password-file", pw, "--target", target)
    doc = json.loads(pt.mf(*base, "--target-profile", "cyrus", "--json",
                           check_exit=0).stdout)
    names = doc["source"]["folder_names"]
    got = {x["source"]: x["target"] for x in names["names"]}
    check(got == {"A|B": "A_B", "x;y": "x_y"} and names["refused"] == 2 and
          names["target_profile"] == "cyrus",
          f"endpoint test lists the names cyrus refuses: {names}")
    step = [x for x in doc["source"]["steps"] if x["name"] == "folder-names"]
    check(step and step[0]["verdict"] == "warn", f"a warn step: {step}")
    out = pt.mf(*base, "--target-profile", "cyrus", check_exit=0).stdout
    check(out.count("WARNING: ") == 2 and '"A_B"' in out,
          f"the text names both: {out[-600:]}")
    doc = json.loads(pt.mf(*base, "--json", check_exit=0).stdout)
    names = doc["source"]["folder_names"]
    check(names["refused"] == 0 and names["target_profile"] == "dovecot",
          f"the profile the target looks like (dovecot) refuses none: "
          f"{names}")


def landed(n, mids, want):
    """Each folder's messages are in want[folder] on the target (one read
    of the mailbox for all of them)."""
    where = pt.placement(TGT_PORT, n)
    for folder, folders in want.items():
        for mid in mids[folder]:
            got = where.get(mid, [])
            check(got == folders, f"{folder}'s message in {folders}: {got}")


def plan_after(n, target):
    """`plan` after the run shows the name the next run will really use
    where the target holds an earlier run's fallback: "C#D" as "C_D",
    there already (nothing to create), with the refused name beside it;
    the text says so too."""
    path = mt.csv_for([n], f"names-plan-{n}")
    base = ("plan", path, "--source", pt.url(SRC_PORT), "--target", target)
    doc = json.loads(pt.mf(*base, "--json", check_exit=0).stdout)
    got = {f["source_path"]: f for f in doc["plan"]["mailboxes"][0]["folders"]
           if f["source_path"]}
    cd = got["C#D"]
    check(cd["target"] == "C_D" and cd["name_refused"] == "C#D" and
          not cd["create"],
          f"plan shows C#D as C_D, there already: {cd}")
    check(got["E#F+G"]["target"] == "E#F+G" and
          got["E#F+G"]["name_refused"] is None,
          f"E#F+G has no fallback on the target: {got['E#F+G']}")
    out = pt.mf(*base, check_exit=0).stdout
    check('the target refused "C#D"' in out,
          f"the text plan says C#D was refused: {out[-600:]}")


def case_names():
    ex = pt.Emulator("dovecot", TGT_PORT, "--refuse-names", "|;#+")
    try:
        # (a) the cyrus profile maps the names before any CREATE.
        mids = fill(110, {"INBOX": 1, "A|B": 1, "x;y": 1})
        endpoint_names(110, ex.url)
        rc, m, row = run(110, ex.url, "--target-profile", "cyrus")
        check(rc == 0 and m["state"] == "Synced", f"user110 Synced: {m}")
        check(ex.stats()["names_refused"] == [],
              f"no CREATE refused: {ex.stats()['names_refused']}")
        landed(110, mids, {"A|B": ["A_B"], "x;y": ["x_y"]})
        ren = renamed(row)
        check(set(ren) == {"A|B", "x;y"} and '"A_B"' in ren["A|B"],
              f"the report lists both renames: {ren}")
        c = mt.compare(110)
        check(c["equal"], f"user110 EQUAL: {c.get('problems', [])[:5]}")

        # (b) and (c): the generic profile knows nothing of these names.
        mids = fill(111, {"INBOX": 1, "C#D": 1, "E#F+G": 2})
        rc, m, row = run(111, ex.url)
        refused = ex.stats()["names_refused"]
        check(sorted(refused) == ["C#D", "E#F+G", "E_F+G"],
              f"the emulator refused C#D, E#F+G and E_F+G once: {refused}")
        landed(111, mids, {"C#D": ["C_D"], "E#F+G": []})
        ren = renamed(row)
        check(set(ren) == {"C#D"} and '"C_D"' in ren["C#D"],
              f"the report lists the fallback rename: {ren}")
        failed = row["failed_items"]
        lost = [f for f in failed if f["folder"] == "E#F+G"]
        check(lost and all(f["error"]["name"] == "FOLDER_NAME_REFUSED"
                           for f in lost) and len(failed) == len(lost),
              f"E#F+G fails with FOLDER_NAME_REFUSED, nothing else: "
              f"{failed}")
        check(m["state"] != "Synced" and rc != 0 and
              m["failed"] == 2,
              f"user111 not Synced, E#F+G's 2 messages not copied: {m}")
        c = mt.compare(111, exclude=["E#F+G"])
        check(c["equal"], f"user111 EQUAL but for E#F+G: "
              f"{c.get('problems', [])[:5]}")
        plan_after(111, ex.url)
    finally:
        ex.stop()


UNMATCHED = ('--rename "Nope=N" matches no folder of any mailbox (is the '
             'name right? a \'/\' inside a folder\'s name is written \\/)')


def case_renamewarn():
    """Users 112 and 94 in one batch, --rename "Alpha=A1,Beta=B1,Nope=N":
    Alpha is in both mailboxes, Beta in 112's only, Nope in neither. The
    run warns about Nope alone, as `plan` would (a rule unmatched in one
    mailbox but matched in another is no warning): the embedded migrate
    (the batch pipeline: each mailbox's unmatched rules travel in its
    result, the batch report puts them together) prints the warning and
    its report.json and report.html carry it; so does `migrate
    --direct`'s report."""
    mids = fill(112, {"INBOX": 1, "Alpha": 1, "Beta": 1})
    fill(94, {"INBOX": 1, "Alpha": 1})
    csv = mt.csv_for([112, 94], "renamewarn")
    ren = ("--rename", "Alpha=A1,Beta=B1,Nope=N")
    for mode in ("embedded", "direct"):
        rdir = os.path.join(TMP, f"report-renamewarn-{mode}")
        p = pt.mf("migrate", csv, "--source", pt.url(SRC_PORT), "--target",
                  pt.url(TGT_PORT), "--report-dir", rdir, *ren,
                  *(["--direct"] if mode == "direct" else []), check_exit=0)
        lines = [x for x in (p.stdout + p.stderr).splitlines()
                 if x.startswith("WARNING: ")]
        check(lines == ["WARNING: " + UNMATCHED],
              f"{mode}: the run warns about Nope=N alone: {lines}")
        with open(os.path.join(rdir, "report.json")) as f:
            rep = json.load(f)
        check(rep["rename_warnings"] == [UNMATCHED] and
              all(m["state"] == "Synced" for m in rep["mailboxes"]),
              f"{mode}: report.json warns about Nope=N alone: "
              f"{rep['rename_warnings']}")
        with open(os.path.join(rdir, "report.html")) as f:
            html = f.read()
        check("<h2>Warnings</h2>" in html and "Nope=N" in html and
              "Beta=B1" not in html,
              f"{mode}: report.html warns about Nope=N alone")
    landed(112, mids, {"Alpha": ["A1"], "Beta": ["B1"]})


if __name__ == "__main__":
    pt.main({"names": case_names, "renamewarn": case_renamewarn})
