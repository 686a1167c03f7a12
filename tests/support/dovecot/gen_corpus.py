#!/usr/bin/python3
"""Deterministic mail corpus for the Dovecot pair (or any IMAP server).

Fills mailboxes over IMAP with messages that exercise what a migration
tool gets wrong: nested folders, non-ASCII folder names (sent as modified
UTF-7), a name holding the other server's hierarchy separator, an empty
folder, special-use folders, every system flag but \\Deleted, keywords,
internal dates from 1998 to 2026 in many time zones, sizes from 1 KB to
several MB, duplicate Message-IDs (the same bytes twice in a folder and
across folders, and two different messages sharing one ID), messages
without a Message-ID, multipart/mixed with base64 attachments, 8-bit and
quoted-printable bodies, and long header lines.

Everything derives from --seed: the same arguments give the same bytes.
Each user is generated from its own RNG (seed, profile, user), so the
result does not depend on --jobs. Messages are appended over one
connection per user with pipelined LITERAL+ APPENDs; users run in
parallel processes.

A JSON manifest records, per user and folder, what was appended: count,
total bytes, and for each message its sha256, size, flags, internal date
and the UID the server assigned (APPENDUID). Message bytes use CRLF line
endings only, so what FETCH BODY[] returns is byte-identical to what was
appended even on servers that store LF (Dovecot maildir).

  gen_corpus.py --users 3 --profile small            # reads dovecot.env
  gen_corpus.py --host 127.0.0.1 --port 1143 --user-format u%d@x --users 5
  gen_corpus.py --profile bench --users 50 --messages-per-user 1000 -j 8
"""

import argparse
import base64
import concurrent.futures
import datetime
import hashlib
import json
import os
import quopri
import random
import re
import socket
import ssl
import sys
import time

# Modified UTF-7 lives in tests/support/mutf7.py, shared with imapcompare.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from fixturelib import (add_server_args, read_env,  # noqa: E402
                        server_address)
from mutf7 import mutf7_decode, mutf7_encode  # noqa: E402


# ------------------------------------------------------------ IMAP client


class ImapError(Exception):
    pass


def quote(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return b'"' + s.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


class Imap:
    """Just enough IMAP for appending fast: tagged commands, responses with
    literals, SASL PLAIN with an initial response, LITERAL+ pipelining."""

    def __init__(self, host, port, tls="none", cafile=None, timeout=120):
        raw = socket.create_connection((host, port), timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.ctx = None
        if tls != "none":
            self.ctx = ssl.create_default_context(cafile=cafile)
        self.host = host
        self.sock = raw
        if tls == "imaps":
            self.sock = self.ctx.wrap_socket(raw, server_hostname=host)
        self.buf = b""
        self.seq = 0
        greeting = self.read_response()
        if not greeting.startswith(b"* OK"):
            raise ImapError("bad greeting: %r" % greeting)
        if tls == "starttls":
            self.check(self.command(b"STARTTLS"))
            self.sock = self.ctx.wrap_socket(self.sock, server_hostname=host)

    def close(self):
        try:
            self.command(b"LOGOUT")
        except (OSError, ImapError):
            pass
        self.sock.close()

    def _fill(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise ImapError("connection closed by server")
        self.buf += data

    def read_response(self):
        """One response line with its literals inlined, CRLF stripped."""
        parts = []
        while True:
            while b"\r\n" not in self.buf:
                self._fill()
            line, self.buf = self.buf.split(b"\r\n", 1)
            parts.append(line)
            m = re.search(rb"\{(\d+)\}$", line)
            if not m:
                return b"\r\n".join(parts)
            n = int(m.group(1))
            while len(self.buf) < n:
                self._fill()
            parts.append(self.buf[:n])
            self.buf = self.buf[n:]

    def next_tag(self):
        self.seq += 1
        return b"g%d" % self.seq

    def send(self, data):
        self.sock.sendall(data)

    def wait(self, tag):
        """Untagged lines until tag's completion: (status line, untagged)."""
        untagged = []
        while True:
            line = self.read_response()
            if line.startswith(tag + b" "):
                return line[len(tag) + 1:], untagged
            if line.startswith(b"+"):
                raise ImapError("unexpected continuation: %r" % line)
            untagged.append(line)

    def command(self, cmd):
        tag = self.next_tag()
        self.send(tag + b" " + cmd + b"\r\n")
        return self.wait(tag)

    @staticmethod
    def check(result, what="command"):
        status, untagged = result
        if not status.startswith(b"OK"):
            raise ImapError("%s failed: %s" % (what, status.decode(
                "utf-8", "replace")))
        return untagged

    def auth_plain(self, authzid, authcid, password):
        token = base64.b64encode(b"\0".join(
            x.encode("utf-8") for x in (authzid, authcid, password)))
        self.check(self.command(b"AUTHENTICATE PLAIN " + token),
                   "AUTHENTICATE PLAIN as %s" % (authzid or authcid))

    def list_all(self):
        """[(flags, delimiter, raw mUTF-7 name)] from LIST "" "*"."""
        out = []
        for line in self.check(self.command(b'LIST "" "*"'), "LIST"):
            m = re.match(rb'\* LIST \(([^)]*)\) (NIL|"(?:\\.|[^"])") (.*)$',
                         line, re.S)
            if not m:
                continue
            flags = m.group(1).decode().split()
            delim = None if m.group(2) == b"NIL" else \
                m.group(2)[1:-1].replace(b"\\", b"")[-1:].decode()
            name = m.group(3)
            if name.startswith(b'"'):
                name = re.sub(rb'\\(.)', rb'\1', name[1:-1])
            elif b"\r\n" in name:
                name = name.split(b"\r\n", 1)[1]
            out.append((flags, delim, name.decode("utf-8")))
        return out

    def personal_prefix(self):
        """The first personal namespace's prefix (RFC 2342), "INBOX." on
        a Cyrus server; "" without NAMESPACE."""
        st, untagged = self.command(b"NAMESPACE")
        for line in untagged if st.startswith(b"OK") else []:
            m = re.match(rb'\* NAMESPACE \(\("((?:\\.|[^"])*)"', line)
            if m:
                return re.sub(rb"\\(.)", rb"\1", m.group(1)).decode()
        return ""

    def separator(self):
        for line in self.check(self.command(b'LIST "" ""'), "LIST"):
            m = re.match(rb'\* LIST \([^)]*\) "((?:\\.|[^"]))"', line)
            if m:
                return m.group(1).replace(b"\\", b"").decode() or None
        return None


# ------------------------------------------------------------ corpus plan

# Folder plan: (path components, special-use, weight). Names use the
# server's separator; special-use folders are found by their flag.
FOLDERS_COMMON = [
    (["INBOX"], None, 12),
    (None, "\\Sent", 5),
    (None, "\\Drafts", 2),
    (None, "\\Trash", 2),
    (None, "\\Junk", 2),
    (None, "\\Archive", 3),
    (["Projects"], None, 1),
    (["Projects", "2024"], None, 1),
    (["Projects", "2024", "Q1"], None, 3),
    (["Projects", "2024", "Q2"], None, 2),
    (["Entwürfe"], None, 2),
    (["日本語", "プロジェクト"], None, 1),
    (["Empty"], None, 0),
    (["Ünsubscribed & Co"], None, 1),
]
# A name holding the *other* server's separator (listescape keeps it
# whole on a server that has the plugin).
FOLDER_WITH_OTHER_SEP = {".": ["Reports 2024/25"], "/": ["Release v1.2"]}

TIMEZONES = ["+0000", "+0100", "+0200", "-0500", "-0800", "+0530", "+0900",
             "+1245", "-0330", "+1000", "-0000"]
KEYWORDS = [("$Forwarded", 0.10), ("$Label1", 0.06), ("Project-X", 0.06)]
DATE_FROM = datetime.datetime(1998, 1, 1, tzinfo=datetime.timezone.utc)
DATE_TO = datetime.datetime(2026, 6, 30, tzinfo=datetime.timezone.utc)
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
          "Oct", "Nov", "Dec"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]

WORDS_ASCII = ("the migration of mail from one server to another must keep "
               "every message flag and date exactly as it was before while "
               "the users keep working and new mail keeps arriving meeting "
               "report budget quarter project review draft invoice agenda "
               "please find attached regards thanks tomorrow schedule").split()
WORDS_UTF8 = ("Grüße Straße naïve café Ärger Øresund Ελληνικά Привет мир "
              "日本語 メール 中文 한국어 ça déjà-vu €100 Zürich").split()


def text_pool(seed):
    """A few hundred KB of wrapped text lines to slice message bodies
    from: generating words per message would dominate the bench run."""
    rng = random.Random("pool/%s" % seed)
    ascii_lines, utf8_lines = [], []
    for _ in range(6000):
        ascii_lines.append(" ".join(rng.choices(WORDS_ASCII, k=11)))
        mixed = rng.choices(WORDS_ASCII, k=7) + rng.choices(WORDS_UTF8, k=4)
        rng.shuffle(mixed)
        utf8_lines.append(" ".join(mixed))
    return ascii_lines, utf8_lines


def imap_date(dt):
    """(APPEND date-time string, Date: header) for an aware datetime."""
    off = dt.utcoffset()
    mins = int(off.total_seconds() // 60)
    sign = "-" if mins < 0 else "+"
    zone = "%s%02d%02d" % (sign, abs(mins) // 60, abs(mins) % 60)
    idate = "%02d-%s-%04d %02d:%02d:%02d %s" % (
        dt.day, MONTHS[dt.month - 1], dt.year, dt.hour, dt.minute, dt.second,
        zone)
    hdate = "%s, %d %s %04d %02d:%02d:%02d %s" % (
        DAYS[dt.weekday()], dt.day, MONTHS[dt.month - 1], dt.year, dt.hour,
        dt.minute, dt.second, zone)
    return idate, hdate


def tz_of(name):
    sign = -1 if name[0] == "-" else 1
    return datetime.timezone(sign * datetime.timedelta(
        hours=int(name[1:3]), minutes=int(name[3:5])))


def crlf(b):
    return re.sub(rb"\r?\n", b"\r\n", b)


def b64_lines(data):
    return crlf(base64.encodebytes(data))


class Builder:
    """Builds one user's messages from its own RNG."""

    def __init__(self, rng, pool, profile, user, seed):
        self.rng = rng
        self.ascii_lines, self.utf8_lines = pool
        self.profile = profile
        self.user = user
        self.local = user.split("@")[0]
        self.seed = seed

    def size_target(self):
        r = self.rng
        if self.profile == "bench":
            # log-normal body target; whole messages have a ~20 KB median
            # (headers, base64 growth), clipped to 1 KB..1 MB
            return int(min(max(r.lognormvariate(9.55, 1.0), 1024), 1 << 20))
        return int(min(max(r.lognormvariate(8.6, 1.1), 1024), 200 << 10))

    def body_lines(self, nbytes, utf8):
        lines = self.utf8_lines if utf8 else self.ascii_lines
        out, size = [], 0
        i = self.rng.randrange(len(lines))
        while size < nbytes:
            out.append(lines[i % len(lines)])
            size += len(out[-1].encode("utf-8")) + 2
            i += 1
        return out

    def build(self, n, date, msgid, big=0, force=None):
        """Message bytes and its feature list. n numbers it within the
        user; big (bytes) asks for an attachment of that size."""
        r = self.rng
        feats = []
        kind = force or r.choices(
            ["plain", "8bit", "qp", "mixed", "alternative"],
            [30, 15, 15, 25, 15])[0]
        if big:
            kind = "mixed"
        feats.append(kind)
        idate, hdate = imap_date(date)
        h = []
        h.append("Return-Path: <sender%d@corpus.mailferry.test>" % (n % 17))
        h.append("Received: from mx%d.corpus.mailferry.test (mx.example "
                 "[192.0.2.%d])\r\n\tby mail.example.test with ESMTPS id "
                 "%08X\r\n\tfor <%s>; %s" % (n % 5, n % 250 + 1,
                                              r.getrandbits(32), self.user,
                                              hdate))
        h.append("Date: " + hdate)
        h.append("From: \"Sender %d\" <sender%d@corpus.mailferry.test>"
                 % (n % 17, n % 17))
        h.append("To: %s" % self.user)
        if r.random() < 0.15:
            # a long recipient list, folded
            rcpts = ",\r\n ".join("\"Recipient %d\" <rcpt%d@example.test>"
                                  % (i, i) for i in range(40))
            h.append("Cc: " + rcpts)
            feats.append("folded-header")
        if r.random() < 0.3:
            subj = "=?UTF-8?B?%s?=" % base64.b64encode(
                ("Grüße zu Nachricht %d – 日本" % n).encode()).decode()
            feats.append("encoded-word")
        else:
            subj = "Corpus message %d for %s" % (n, self.local)
        h.append("Subject: " + subj)
        if msgid:
            h.append("Message-ID: " + msgid)
        else:
            feats.append("no-message-id")
        if r.random() < 0.1:
            refs = " ".join("<ref%d.%d@corpus.mailferry.test>" % (n, i)
                            for i in range(60))
            # one physical line of ~2 KB: beyond RFC 5322's 998, as real
            # mail sometimes is
            h.append("References: " + refs)
            feats.append("long-header")
        h.append("X-Corpus-Id: %s/%d" % (self.user, n))
        h.append("MIME-Version: 1.0")
        target = self.size_target()
        text = "\r\n".join(self.body_lines(min(target, 64 << 10),
                                           kind != "plain"))
        if kind == "plain":
            h.append("Content-Type: text/plain; charset=us-ascii")
            h.append("Content-Transfer-Encoding: 7bit")
            body = text.encode()
        elif kind == "8bit":
            h.append("Content-Type: text/plain; charset=utf-8")
            h.append("Content-Transfer-Encoding: 8bit")
            body = text.encode()
        elif kind == "qp":
            h.append("Content-Type: text/plain; charset=utf-8")
            h.append("Content-Transfer-Encoding: quoted-printable")
            body = crlf(quopri.encodestring(text.encode()))
        elif kind == "alternative":
            bnd = "alt-%016x" % r.getrandbits(64)
            h.append("Content-Type: multipart/alternative; boundary=\"%s\""
                     % bnd)
            html = "<html><body><p>%s</p></body></html>" % text.replace(
                "\r\n", "</p>\r\n<p>")
            body = ("--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n"
                    "--%s\r\nContent-Type: text/html; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                    % (bnd, text, bnd)).encode()
            body += crlf(quopri.encodestring(html.encode()))
            body += ("\r\n--%s--\r\n" % bnd).encode()
        else:  # mixed: text + base64 attachments
            bnd = "mix-%016x" % r.getrandbits(64)
            h.append("Content-Type: multipart/mixed; boundary=\"%s\"" % bnd)
            short = "\r\n".join(text.split("\r\n")[:20])
            body = ("This is a multi-part message in MIME format.\r\n\r\n"
                    "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n"
                    % (bnd, short)).encode()
            sizes = [big] if big else [max(target * 3 // 4, 512)]
            if not big and r.random() < 0.3:
                sizes.append(r.randrange(1024, 16 << 10))
            for i, sz in enumerate(sizes):
                fname = r.choice(["report-%d.pdf", "photo %d.jpg",
                                  "Übersicht-%d.xlsx", "data_%d.bin"]) % i
                if any(ord(c) > 127 for c in fname):
                    disp = "attachment; filename*=UTF-8''%s" % "".join(
                        c if c.isalnum() or c in ".-_" else
                        "".join("%%%02X" % b for b in c.encode())
                        for c in fname)
                else:
                    disp = "attachment; filename=\"%s\"" % fname
                body += ("--%s\r\nContent-Type: application/octet-stream; "
                         "name=\"attachment-%d\"\r\nContent-Disposition: %s"
                         "\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                         % (bnd, i, disp)).encode()
                body += b64_lines(r.randbytes(sz))
            body += ("--%s--\r\n" % bnd).encode()
            feats.append("attachment")
            if big:
                feats.append("large")
        head = "\r\n".join(h).encode("utf-8")
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        return head + b"\r\n\r\n" + body, feats, idate


def random_date(rng):
    span = (DATE_TO - DATE_FROM).total_seconds()
    t = DATE_FROM + datetime.timedelta(seconds=rng.randrange(int(span)))
    return t.astimezone(tz_of(rng.choice(TIMEZONES)))


def pick_flags(rng, folder_special):
    flags = []
    if rng.random() < 0.6:
        flags.append("\\Seen")
    if rng.random() < 0.15:
        flags.append("\\Answered")
    if rng.random() < 0.1:
        flags.append("\\Flagged")
    if folder_special == "\\Drafts" or rng.random() < 0.03:
        flags.append("\\Draft")
    if folder_special == "\\Sent" and "\\Seen" not in flags:
        flags.append("\\Seen")
    for kw, p in KEYWORDS:
        if rng.random() < p:
            flags.append(kw)
    return flags


# ------------------------------------------------------------ per user


def connect(a):
    return Imap(a["host"], a["port"], a["tls"], a["ca_file"])


def login(im, a, user, password):
    if a["login"] == "master":
        im.auth_plain(user, a["master_user"], a["master_password"])
    elif a["login"] == "master-sep":
        im.auth_plain("", "%s%s%s" % (user, a["master_sep"],
                                      a["master_user"]),
                      a["master_password"])
    else:
        im.auth_plain("", user, password)


def clean_user(im, sep, specials):
    """Empty every folder and delete the ones we may create again."""
    boxes = im.list_all()
    for flags, _, name in boxes:
        if "\\Noselect" in flags or "\\NonExistent" in flags:
            continue
        untagged = im.check(im.command(b"SELECT " + quote(name)), "SELECT")
        exists = any(re.match(rb"\* [1-9]\d* EXISTS", u) for u in untagged)
        if exists:
            im.check(im.command(b"STORE 1:* +FLAGS.SILENT (\\Deleted)"))
            im.check(im.command(b"EXPUNGE"))
    im.check(im.command(b"UNSELECT"))
    names = sorted((n for f, _, n in boxes
                    if n.upper() != "INBOX" and n not in specials),
                   key=lambda n: -n.count(sep or "\0"))
    for n in names:
        im.command(b"DELETE " + quote(n))  # \Noselect parents may go first


def plan_folders(sep, specials, prefix=""):
    """[(display name, imap name, path, special, weight)]; plain folders
    under the personal namespace's prefix (INBOX itself is never)."""
    out = []
    entries = list(FOLDERS_COMMON)
    entries.append((FOLDER_WITH_OTHER_SEP.get(sep, ["Release v1.2"]), None,
                    2))
    for path, special, weight in entries:
        if special:
            name = specials.get(special)
            if name is None:
                continue  # the server has no such special-use folder
            path = name.split(sep) if sep else [name]
            display = mutf7_decode(name)
            imap_name = name
        else:
            display = (sep or "/").join(path)
            if path != ["INBOX"]:
                display = mutf7_decode(prefix) + display
            imap_name = mutf7_encode(display)
        out.append((display, imap_name, path, special, weight))
    return out


def gen_user(a, idx, user, password):
    """Runs in a worker process: fill one user's mailbox, return its part
    of the manifest."""
    t0 = time.monotonic()
    rng = random.Random("%s/%s/%s" % (a["seed"], a["profile"], user))
    builder = Builder(rng, text_pool(a["seed"]), a["profile"], user,
                      a["seed"])
    im = connect(a)
    login(im, a, user, password)
    sep = im.separator()
    boxes = im.list_all()
    specials = {}
    # Attributes are case-insensitive (RFC 3501 9): Cyrus says "\\sent".
    known = {f.lower(): f for f in ("\\Sent", "\\Drafts", "\\Trash",
                                     "\\Junk", "\\Archive")}
    for flags, _, name in boxes:
        for f in flags:
            if f.lower() in known:
                specials.setdefault(known[f.lower()], name)
    if a["clean"]:
        clean_user(im, sep, set(specials.values()))
        boxes = im.list_all()
    existing = {n for _, _, n in boxes}
    folders = plan_folders(sep, specials, im.personal_prefix())

    # CREATE every plain folder (parents first, so that they are real
    # selectable folders rather than \Noselect placeholders), SUBSCRIBE all
    # but one to keep subscription handling honest.
    manifest_folders = []
    for display, imap_name, path, special, weight in folders:
        created = False
        if imap_name not in existing:
            st, _ = im.command(b"CREATE " + quote(imap_name))
            if path == FOLDER_WITH_OTHER_SEP.get(sep) and (
                    b"Invalid mailbox name" in st or b"[CANNOT]" in st):
                continue  # a server that refuses it (Cyrus refuses '/')
            if not st.startswith(b"OK") and b"ALREADYEXISTS" not in st:
                raise ImapError("CREATE %s: %s" % (display, st.decode()))
            created = True
            existing.add(imap_name)
        subscribed = not display.startswith("Ü")
        if subscribed:
            im.check(im.command(b"SUBSCRIBE " + quote(imap_name)),
                     "SUBSCRIBE")
        manifest_folders.append({
            "name": display, "imap_name": imap_name, "path": path,
            "special_use": special, "created": created,
            "subscribed": subscribed, "weight": weight,
            "messages": 0, "bytes": 0, "uidvalidity": None, "items": []})

    # Distribute messages over folders by weight, deterministically.
    total = a["messages_per_user"]
    weights = [f["weight"] for f in manifest_folders]
    targets = rng.choices(range(len(manifest_folders)), weights, k=total)
    nbig = 0
    if a["profile"] == "small":
        nbig = min(a["big"], total)
    else:
        nbig = sum(1 for _ in range(total) if rng.random() < a["big_fraction"])
    big_at = set(rng.sample(range(total), nbig)) if nbig else set()

    plan = []  # (folder index, bytes, flags, idate, item)
    by_folder = {}
    for n in range(total):
        fi = targets[n]
        f = manifest_folders[fi]
        date = random_date(rng)
        with_id = rng.random() >= 0.06
        msgid = ("<%s.%d.%s@corpus.mailferry.test>" % (
            builder.local, n, a["seed"])) if with_id else None
        # attachment bytes for a 2-5 MB message once base64 has grown them
        big = rng.randrange(2 << 20, 5 << 20) * 3 // 4 if n in big_at else 0
        data, feats, idate = builder.build(n, date, msgid, big)
        flags = pick_flags(rng, f["special_use"])
        item = {"n": n, "message_id": msgid, "features": feats}
        plan.append((fi, data, flags, idate, date, item))
        by_folder.setdefault(fi, []).append(len(plan) - 1)

    # Duplicates: the same bytes again in the same folder and in another
    # folder, and a different message reusing a Message-ID.
    if total >= 4:
        candidates = [i for i, p in enumerate(plan)
                      if p[5]["message_id"] and "large" not in
                      p[5]["features"]]
        if candidates:
            src = plan[rng.choice(candidates)]
            dup = dict(src[5], features=src[5]["features"] +
                       ["dup-same-folder"])
            plan.append((src[0], src[1], src[2], src[3], src[4], dup))
            other = [i for i, f in enumerate(manifest_folders)
                     if i != src[0] and f["weight"] > 0]
            src = plan[rng.choice(candidates)]
            dup = dict(src[5], features=src[5]["features"] +
                       ["dup-other-folder"])
            plan.append((rng.choice(other), src[1], src[2], src[3], src[4],
                         dup))
            src = plan[rng.choice(candidates)]
            date = random_date(rng)
            data, feats, idate = builder.build(total, date,
                                               src[5]["message_id"],
                                               force="plain")
            plan.append((src[0], data, [], idate, date,
                         {"n": total, "message_id": src[5]["message_id"],
                          "features": feats + ["msgid-collision"]}))

    # Append, pipelined: LITERAL+ lets us send command and bytes without
    # waiting for a continuation; keep a bounded window in flight.
    window, inflight_bytes = [], 0

    def drain(upto):
        nonlocal inflight_bytes
        while len(window) > upto or (window and inflight_bytes > (8 << 20)):
            tag, fi, item, size = window.pop(0)
            st, _ = im.wait(tag)
            inflight_bytes -= size
            if not st.startswith(b"OK"):
                raise ImapError("APPEND to %s failed: %s" % (
                    manifest_folders[fi]["name"], st.decode()))
            m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", st)
            if m:
                manifest_folders[fi]["uidvalidity"] = int(m.group(1))
                item["uid"] = int(m.group(2))

    for fi, data, flags, idate, date, item in plan:
        f = manifest_folders[fi]
        tag = im.next_tag()
        cmd = b"%s APPEND %s (%s) \"%s\" {%d+}\r\n" % (
            tag, quote(f["imap_name"]), " ".join(flags).encode(),
            idate.encode(), len(data))
        im.send(cmd + data + b"\r\n")
        item = dict(item, sha256=hashlib.sha256(data).hexdigest(),
                    size=len(data), flags=sorted(flags),
                    internal_date=idate,
                    internal_date_epoch=int(date.timestamp()), uid=None)
        f["items"].append(item)
        f["messages"] += 1
        f["bytes"] += len(data)
        window.append((tag, fi, item, len(data)))
        inflight_bytes += len(data)
        drain(64)
    drain(0)
    im.close()
    for f in manifest_folders:
        del f["weight"]
    return {
        "user": user, "index": idx, "separator": sep,
        "messages": sum(f["messages"] for f in manifest_folders),
        "bytes": sum(f["bytes"] for f in manifest_folders),
        "seconds": round(time.monotonic() - t0, 3),
        "folders": manifest_folders,
    }


# ------------------------------------------------------------ main


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # --env defaults to $MF_TEST_RUN_DIR/dovecot.env when present.
    add_server_args(p)
    p.add_argument("--seed", default="1")
    p.add_argument("--profile", choices=["small", "bench"], default="small")
    p.add_argument("--users", type=int, default=3,
                   help="number of users, numbered from --first-user")
    p.add_argument("--first-user", type=int, default=1)
    p.add_argument("--user", action="append", default=[],
                   help="explicit login (repeatable); overrides --users")
    p.add_argument("--user-format")
    p.add_argument("--password-format")
    p.add_argument("--messages-per-user", type=int)
    p.add_argument("--big-fraction", type=float, default=0.002,
                   help="bench: share of 2-5 MB messages")
    p.add_argument("--big", type=int, default=2,
                   help="small: number of 2-5 MB messages per user")
    p.add_argument("--login", choices=["user", "master", "master-sep"],
                   default="user", help="own password, SASL PLAIN with "
                   "authzid, or user*admin")
    p.add_argument("--master-user")
    p.add_argument("--master-password")
    p.add_argument("--clean", action="store_true",
                   help="empty the users' folders first")
    p.add_argument("-j", "--jobs", type=int, default=4)
    p.add_argument("--manifest", help="where to write the JSON manifest")
    p.add_argument("--no-items", action="store_true",
                   help="leave per-message entries out of the manifest")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    env = {}
    env_file = args.env
    if not env_file and os.environ.get("MF_TEST_RUN_DIR"):
        cand = os.path.join(os.environ["MF_TEST_RUN_DIR"], "dovecot.env")
        if os.path.exists(cand):
            env_file = cand
    if env_file:
        env = read_env(env_file)
    host, port, ca_file = server_address(args, env)
    if not port:
        sys.exit("gen_corpus: no --port and no dovecot.env")
    ufmt = args.user_format or env.get("USER_FORMAT", "user%02d@example.test")
    pfmt = args.password_format or env.get("PASSWORD_FORMAT", "pw-user%02d")
    if args.user:
        users = [(u, None) for u in args.user]
    else:
        users = [(ufmt % i, pfmt % i) for i in
                 range(args.first_user, args.first_user + args.users)]
    mpu = args.messages_per_user or (50 if args.profile == "small" else 1000)
    a = {
        "host": host, "port": port, "tls": args.tls,
        "ca_file": ca_file,
        "seed": str(args.seed), "profile": args.profile,
        "messages_per_user": mpu, "big_fraction": args.big_fraction,
        "big": args.big,
        "login": args.login,
        "master_user": args.master_user or env.get("MASTER_USER", "admin"),
        "master_password": args.master_password or env.get(
            "MASTER_PASSWORD", ""),
        "master_sep": env.get("MASTER_SEPARATOR", "*"),
        "clean": args.clean,
    }
    if args.user and a["login"] == "user":
        sys.exit("gen_corpus: --user needs --login master or master-sep")
    t0 = time.monotonic()
    results = []
    jobs = max(1, min(args.jobs, len(users)))
    with concurrent.futures.ProcessPoolExecutor(jobs) as ex:
        futs = [ex.submit(gen_user, a, i, u, p)
                for i, (u, p) in enumerate(users)]
        for fut in futs:
            results.append(fut.result())
    elapsed = time.monotonic() - t0
    manifest = {
        "generator": "tests/support/dovecot/gen_corpus.py", "version": 1,
        "seed": a["seed"], "profile": a["profile"], "host": host,
        "port": port, "messages_per_user": mpu,
        "messages": sum(r["messages"] for r in results),
        "bytes": sum(r["bytes"] for r in results),
        "seconds": round(elapsed, 3),
        "users": {r["user"]: r for r in results},
    }
    if args.no_items:
        for r in results:
            for f in r["folders"]:
                del f["items"]
    path = args.manifest or os.path.join(
        os.environ.get("MF_TEST_RUN_DIR", "."), "dovecot-corpus.json")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1)
    os.replace(tmp, path)
    print("gen_corpus: %d users, %d messages, %.1f MB in %.1f s -> %s" % (
        len(results), manifest["messages"], manifest["bytes"] / 1e6, elapsed,
        path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
