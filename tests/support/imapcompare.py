#!/usr/bin/python3
"""Independent source/target comparer for migration tests.

Logs in to the source and the target IMAP servers with Python's imaplib
(nothing of mailferry's own code is used, so a bug in the engine cannot
hide itself) and checks that the target holds what the source holds:

  * every selectable source folder exists on the target under the
    expected name: the path below the source's personal namespace prefix
    (NAMESPACE: "INBOX." on Cyrus), decoded from modified UTF-7, re-joined
    with the target's separator under the target's prefix; a component
    containing the target's separator has it replaced
    (--separator-replacement), and where the target lacks that name, the
    characters strict servers refuse too (mailferry's fallback for a
    refused name); with --special-use, a source
    folder marked \\Sent, \\Trash, ... maps to the target folder with the
    same attribute; INBOX maps to INBOX;
  * per folder, the same multiset of messages: exact bytes (SHA-256),
    flags and keywords (\\Recent ignored), and INTERNALDATE (as an instant);
    every missing, extra or changed message is listed;
  * subscriptions (with --subscriptions).

With --gmail-archive FOLDER the source is a Gmail mailbox, where a label
is a folder and one message is in several (issue 13): each distinct
source message (by its bytes) must be on the target exactly once, in
the target folder of one of its label folders, or in FOLDER when it is
only in [Gmail]/All Mail (archived), with that folder's copy's system
flags and INTERNALDATE (keywords are left out: labels may become
keywords); nothing from [Gmail]/Spam or [Gmail]/Trash, and nothing the
source does not hold.

Usage:
  imapcompare.py --source HOST:PORT --target HOST:PORT --user U --password P
                 [--target-user U --target-password P]
                 [--master ADMIN --master-password P] [--special-use]
                 [--separator-replacement C] [--exclude NAME ...]
                 [--subscriptions] [--gmail-archive FOLDER] [--json]
Exit 0 when equal, 1 when different, 2 on usage or connection errors.
"""

import argparse
import email.utils
import hashlib
import imaplib
import json
import re
import sys

from mutf7 import mutf7_decode, mutf7_encode

SPECIAL = ("\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive", "\\All",
           "\\Flagged", "\\Important")
LIST_RE = re.compile(rb'^\((?P<attrs>[^)]*)\) (?P<delim>"(?:\\.|[^"])*"|NIL) (?P<name>.*)$')


def unquote(tok):
    tok = tok.strip()
    if tok.startswith(b'"') and tok.endswith(b'"'):
        return re.sub(rb'\\(.)', rb'\1', tok[1:-1])
    return tok


class Side:
    def __init__(self, hostport, user, password, master, master_password):
        host, port = hostport.rsplit(":", 1)
        self.imap = imaplib.IMAP4(host, int(port))
        if master:
            self.imap.login("%s*%s" % (user, master), master_password)
        else:
            self.imap.login(user, password)
        self.folders = {}  # raw name -> (attrs, delim)
        self.subscribed = set()
        typ, data = self.imap.list('""', "*")
        self._parse_list(data, self.folders)
        typ, data = self.imap.lsub('""', "*")
        subs = {}
        self._parse_list(data, subs)
        self.subscribed = set(subs)
        self.delim = next((d for _, d in self.folders.values() if d), None)
        self.prefix = self._personal_prefix()

    def _personal_prefix(self):
        """The personal namespace's prefix (RFC 2342 5): "INBOX." on
        Cyrus, "" on the Dovecot pair."""
        try:
            typ, data = self.imap.namespace()
        except imaplib.IMAP4.error:
            return ""
        m = re.match(rb'\(\("((?:\\.|[^"])*)"', data[0] or b"")
        return unquote(b'"' + m.group(1) + b'"').decode() if m else ""

    @staticmethod
    def _parse_list(data, into):
        pending = None
        for item in data:
            if item is None:
                continue
            if isinstance(item, tuple):  # name sent as a literal
                head, lit = item
                m = LIST_RE.match(head.rstrip() + b' ""')
                into[lit.decode()] = (m.group("attrs").decode().split(),
                                      unquote(m.group("delim")).decode() or None)
                continue
            if item in (b")",):
                continue
            m = LIST_RE.match(item)
            if not m:
                raise RuntimeError("cannot parse LIST line %r" % item)
            delim = m.group("delim")
            delim = None if delim == b"NIL" else unquote(delim).decode()
            into[unquote(m.group("name")).decode()] = (
                m.group("attrs").decode().split(), delim)

    def messages(self, raw_name):
        """Multiset of (sha256, flags, internaldate) in a folder."""
        quoted = '"%s"' % raw_name.replace("\\", "\\\\").replace('"', '\\"')
        typ, data = self.imap.select(quoted, readonly=True)
        if typ != "OK":
            raise RuntimeError("SELECT %s: %s" % (raw_name, data))
        typ, data = self.imap.uid("SEARCH", None, "ALL")
        uids = data[0].split()
        result = []
        for k in range(0, len(uids), 200):
            chunk = b",".join(uids[k:k + 200]).decode()
            typ, data = self.imap.uid("FETCH", chunk,
                                      "(FLAGS INTERNALDATE BODY.PEEK[])")
            for item in data:
                if not isinstance(item, tuple):
                    continue
                head, body = item
                flags = re.search(rb"FLAGS \(([^)]*)\)", head)
                idate = re.search(rb'INTERNALDATE "([^"]+)"', head)
                fl = sorted(f for f in flags.group(1).decode().split()
                            if f != "\\Recent")
                when = email.utils.parsedate_to_datetime(
                    _rfc2822(idate.group(1).decode())).timestamp()
                result.append((hashlib.sha256(body).hexdigest(), " ".join(fl),
                               int(when), len(body)))
        return result

    def special_use(self):
        out = {}
        for name, (attrs, _) in self.folders.items():
            for a in map(special_attr, attrs):
                if a in SPECIAL and a not in out:
                    out[a] = name
        return out


def special_attr(attr):
    """An attribute in SPECIAL's spelling: attributes are case-insensitive
    (RFC 3501 9), and Cyrus lists "\\sent"."""
    return next((a for a in SPECIAL if a.lower() == attr.lower()), attr)


# What the strictest targets refuse inside a level: a target that refuses
# a name gets it with these replaced (mailferry's documented fallback,
# core/src/folders/folderplan_fallback.c, its set in folderplan_names.c;
# Cyrus refuses '/', ';', '|', '<', '{' ...). Kept the same as mailferry's:
# without "<>`{}" a Cyrus target's "lt_gt_" was missed.
STRICT = "/\\!;|*%\"#~^?<>`{}"


def conservative(level, delim, repl):
    return "".join(repl if (c in STRICT and c != delim) or ord(c) < 0x20
                   or ord(c) == 0x7f else c for c in level)


def _rfc2822(idate):
    # "05-Mar-2024 14:07:09 +0100" -> "05 Mar 2024 14:07:09 +0100"
    return idate.strip().replace("-", " ", 2)


def expected_target_name(src, raw, tgt, args, src_special, tgt_special):
    """The target name of source folder raw: the special-use folder of
    the same use, or the path below the source's personal namespace
    prefix under the target's, levels joined with the target's separator
    (and, when the target lacks that name, with the characters strict
    servers refuse replaced)."""
    attrs, delim = src.folders[raw]
    if raw.upper() == "INBOX":
        return "INBOX"
    if args.special_use:
        for a in map(special_attr, attrs):
            if a in SPECIAL and src_special.get(a) == raw and a in tgt_special:
                return tgt_special[a]
    decoded = mutf7_decode(raw)
    sprefix = mutf7_decode(src.prefix)
    if sprefix and decoded.startswith(sprefix):
        decoded = decoded[len(sprefix):]
    parts = decoded.split(delim) if delim else [decoded]
    tdelim = tgt.delim or "/"
    repl = args.separator_replacement
    parts = [p.replace(tdelim, repl) for p in parts]
    want = mutf7_encode(mutf7_decode(tgt.prefix) + tdelim.join(parts))
    if want not in tgt.folders:
        safe = mutf7_encode(mutf7_decode(tgt.prefix) + tdelim.join(
            conservative(p, tdelim, repl) for p in parts))
        if safe in tgt.folders:
            return safe
    return want


GMAIL_ROOTS = ("[Gmail]", "[Google Mail]")
GMAIL_NOT_COPIED = ("Spam", "Trash")     # the messages must not arrive
GMAIL_VIEWS = ("Important", "Starred")  # not places: views of labels


def selectable(side):
    return [raw for raw, (attrs, _) in sorted(side.folders.items())
            if "\\Noselect" not in attrs and "\\NonExistent" not in attrs]


def system_flags(flags):
    return " ".join(f for f in flags.split() if f.startswith("\\"))


def compare_gmail(src, tgt, args):
    """--gmail-archive: (problems, folders, messages) of a Gmail source
    whose messages must each land once (see the docstring)."""
    problems = []
    places = {}  # sha -> [(target folder, system flags, date)]
    unwanted = set()  # sha of Spam and Trash messages
    src_special, tgt_special = src.special_use(), tgt.special_use()
    folders = 0
    for raw in selectable(src):
        if mutf7_decode(raw) in args.exclude or raw in args.exclude:
            continue
        parts = mutf7_decode(raw).split(src.folders[raw][1] or "/")
        gm = len(parts) == 2 and parts[0] in GMAIL_ROOTS
        if gm and parts[1] in GMAIL_VIEWS:
            continue
        folders += 1
        msgs = src.messages(raw)
        if gm and parts[1] in GMAIL_NOT_COPIED:
            unwanted.update(m[0] for m in msgs)
            continue
        want = None if gm and parts[1] == "All Mail" else expected_target_name(
            src, raw, tgt, args, src_special, tgt_special)
        for sha, fl, when, _ in msgs:
            places.setdefault(sha, []).append((want, system_flags(fl), when))
    found = {}
    for name in selectable(tgt):
        for sha, fl, when, _ in tgt.messages(name):
            found.setdefault(sha, []).append((name, system_flags(fl), when))
    for sha, pl in sorted(places.items()):
        labels = [p for p in pl if p[0] is not None]
        ok = labels or [(args.gmail_archive, f, w) for _, f, w in pl]
        got = found.pop(sha, [])
        if len(got) != 1:
            problems.append("message %s (in %s): %d copies on target %s" % (
                sha[:12], sorted({p[0] or "All Mail" for p in pl}), len(got),
                [g[0] for g in got]))
        elif got[0] not in ok:
            problems.append("message %s: on target as %s, want one of %s" % (
                sha[:12], got[0], ok))
    for sha, got in sorted(found.items()):
        problems.append("message %s: %s on target in %s" % (
            sha[:12], "from Spam or Trash" if sha in unwanted else "extra",
            [g[0] for g in got]))
    return problems, folders, len(places)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password")
    ap.add_argument("--target-user")
    ap.add_argument("--target-password")
    ap.add_argument("--master")
    ap.add_argument("--master-password")
    ap.add_argument("--special-use", action="store_true")
    ap.add_argument("--separator-replacement", default="_")
    ap.add_argument("--exclude", action="append", default=[])
    ap.add_argument("--subscriptions", action="store_true")
    ap.add_argument("--gmail-archive")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    try:
        src = Side(args.source, args.user, args.password, args.master,
                   args.master_password)
        tgt = Side(args.target, args.target_user or args.user,
                   args.target_password or args.password, args.master,
                   args.master_password)
    except (OSError, imaplib.IMAP4.error) as e:
        print("imapcompare: cannot log in: %s" % e, file=sys.stderr)
        return 2

    problems = []
    folders = 0
    messages = 0
    src_special, tgt_special = src.special_use(), tgt.special_use()
    for raw in sorted(src.folders) if not args.gmail_archive else ():
        attrs, _ = src.folders[raw]
        if "\\Noselect" in attrs or "\\NonExistent" in attrs:
            continue
        if mutf7_decode(raw) in args.exclude or raw in args.exclude:
            continue
        want = expected_target_name(src, raw, tgt, args, src_special,
                                    tgt_special)
        if want not in tgt.folders and not (want == "INBOX"):
            problems.append("folder %r: missing on target as %r" % (raw, want))
            continue
        folders += 1
        a = src.messages(raw)
        b = tgt.messages(want)
        messages += len(a)
        ka = sorted(m[:3] for m in a)
        kb = sorted(m[:3] for m in b)
        if ka != kb:
            from collections import Counter
            ca, cb = Counter(ka), Counter(kb)
            for m, n in (ca - cb).items():
                problems.append("folder %r: %d x message %s flags [%s] date %d "
                                "missing on target" % (raw, n, m[0][:12], m[1], m[2]))
            for m, n in (cb - ca).items():
                problems.append("folder %r -> %r: %d x message %s flags [%s] "
                                "date %d extra on target" % (raw, want, n,
                                                             m[0][:12], m[1], m[2]))
        if args.subscriptions and raw in src.subscribed and \
                want not in tgt.subscribed:
            problems.append("folder %r: not subscribed on target" % want)

    if args.gmail_archive:
        problems, folders, messages = compare_gmail(src, tgt, args)
    if args.json:
        print(json.dumps({"equal": not problems, "folders": folders,
                          "messages": messages, "problems": problems}))
    else:
        for p in problems:
            print("DIFF " + p)
        print("imapcompare: %d folders, %d messages: %s" %
              (folders, messages, "EQUAL" if not problems else
               "%d differences" % len(problems)))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
