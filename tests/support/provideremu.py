#!/usr/bin/python3
"""An IMAP front that makes the Dovecot fixture look like Exchange Online
or Gmail (issue 13 section 3), for the integration.provider.* tests.

    provideremu.py --upstream HOST:PORT
                   --provider exchange-online|exchange-onprem|gmail
                   [--port-file FILE] [--stats-file FILE]
                   [--throttle-every N --throttle-ms MS]
                   [--throttle-append-at N[,N...]]
                   [--refuse-malformed] [--reencode]
                   [--throttle-fetch-at N[,N...]] [--fetch-delay-ms MS]
                   [--append-delay-ms MS]
                   [--hide FOLDER,...] [--log-file FILE]
                   [--refuse-names CHARS]
                   [--upload-quota BYTES --quota-window-ms MS]
                   [--download-quota BYTES [--quota-bye]]
                   [--max-append-size BYTES]

(exchange-onprem: Exchange Server as a source, see below; dovecot: the
upstream's own greeting and capabilities, for the options alone.) It
listens on
127.0.0.1 (a free port, written to FILE and printed) and
relays every connection to the upstream server, a plain IMAP port
(Dovecot's, tls=off). Between the two it changes what the provider is
documented to do differently:

  greeting, CAPABILITY, ID   the provider's words. Exchange Online's
      capability list is the one outlook.office365.com sends (issue 13;
      github.com/Cocoanetics/SwiftMail/pull/109 captured it); Gmail's
      greeting, CAPABILITY (with X-GM-EXT-1) and ID answer are those of
      https://developers.google.com/gmail/imap/imap-extensions. Neither
      has MULTIAPPEND, so an APPEND with more than one message is refused
      with BAD, as those servers would.
  Exchange Server (exchange-onprem)   its greeting and the CAPABILITY
      of Exchange 2016/2019 (AUTH=NTLM and AUTH=GSSAPI before AUTH=PLAIN,
      no SPECIAL-USE; STARTTLS left out, the test speaks plain IMAP).
      Without SPECIAL-USE its LIST carries no special-use attributes
      (RFC 6154): they are taken out of Dovecot's answers, so a client
      can only go by Exchange's folder names. Its admin impersonation
      login "domain/admin/user" with the admin's password (Microsoft's
      Exchange Server documentation, "IMAP4 Account Name": the account
      name may give "the mailbox's Windows NT domain, user account, and
      alias name", which "Windows NT Challenge/Response" (NTLM) cannot;
      the "/"-separated form: chilkatsoft.com/p/p_175.asp) is
      passed to Dovecot as its master login: SASL PLAIN with the user as
      authorization identity (AUTHENTICATE PLAIN, with or without an
      initial response) or LOGIN "user*admin"; stats count them as
      impersonations.
  --hide FOLDER,...   LIST and LSUB leave these folders out (Dovecot's own
      special folders, which an Exchange mailbox does not have).
  X-GM-MSGID (Gmail)   a FETCH that asks for X-GM-MSGID is sent upstream
      asking for the message's Message-ID instead, and the answer carries
      X-GM-MSGID <n>, n a 63-bit hash of the Message-ID: as Gmail's, the
      same number in every label folder (one message, several labels, is
      laid out in Dovecot as copies of it in several folders).
  throttling (--throttle-every N)   every Nth APPEND (counted over all
      connections) is answered, without reaching the upstream:
        Exchange  "NO Request is throttled. Suggested Backoff Time: MS
                   milliseconds" (the words imapsync's FAQ and
                   github.com/imapsync/imapsync/issues/198 quote)
        Gmail     "NO [THROTTLED] Account exceeded command or bandwidth
                   limits. (Failure)"
      and for MS milliseconds after that, an APPEND from any connection
      that starts more than GRACE_MS after the throttling answer was sent
      is counted as a violation (a client that did not pause): the test
      reads the count from the stats file.
  --throttle-append-at N,...   the Nth APPEND (counted over all
      connections) is throttled in the same way: one throttling episode
      at a chosen point.
  connections   the client connections open at once are counted (from
      accept to close), and for every throttling answer the stats'
      "phases" list gets {"at": connections open when it was sent,
      "after": the most open at once from the end of its pause on
      (null until the pause ends)}: a test reads from it whether the
      client lowered its concurrency after throttling, as Exchange
      Online asks (issue 13 section 1: fewer connections "for a
      while").
  --throttle-fetch-at N,...   the Nth body FETCH (UID FETCH ...
      BODY.PEEK[], counted over all connections) is throttled with the
      same words, a source's throttling: it is sent upstream as NOOP and
      the tagged answer is rewritten, so that the answer keeps its place
      among the other responses on the connection.
  --fetch-delay-ms MS   every body FETCH waits that long before it goes
      upstream: a slow source (Gmail and Exchange serve bodies far slower
      than a Dovecot on loopback), so that a copy is still reading when a
      test throttles it.
  --append-delay-ms MS   every APPEND waits that long before it is
      judged and sent upstream: a slow target (Exchange Online takes far
      longer to store a message than a Dovecot on loopback), so that
      several copies are still writing when a test throttles them.
  --log-file FILE   one line per client command, "T CONN COMMAND" (T:
      time.monotonic(), COMMAND its first 80 bytes), and "T CONN
      THROTTLE MS" for every throttling answer: a test reads from it what
      was sent during a pause.
  --refuse-malformed   Exchange's "BAD Command Argument Error. 11" to an
      APPEND whose message has a bare LF, a line longer than 998 bytes
      (RFC 5322 2.1.1), or a header line that is neither a field nor a
      continuation.
  --reencode   the message is stored re-encoded, as Exchange and Gmail
      store their own rendering of it: header fields unfolded and folded
      again at 60 columns, and an X-MS-Exchange-Organization-Emulated
      field added, so its RFC822.SIZE and bytes differ from the source's
      (the Message-ID and INTERNALDATE stay). Exchange stores mail as
      MAPI items, not as the bytes it was given (Content conversion in
      Exchange Server: the Mailbox Transport Delivery service converts
      every incoming message to MAPI,
      https://learn.microsoft.com/en-us/exchange/mail-flow/
      content-conversion/content-conversion), so what its IMAP service
      serves is MIME made again from the item. Google
      documents no such thing for Gmail; the issue (and migration
      tools' experience) says its sizes differ too, so the gmail
      profile is lenient as well and the same emulation tests it.

  --refuse-names CHARS   a CREATE whose mailbox name holds any of these
      characters is answered "NO [CANNOT] Invalid mailbox name" and never
      reaches the upstream: the words of a server that refuses a name
      (Cyrus's IMAP_MAILBOX_BADNAME, "Invalid mailbox name", from
      mboxname_policycheck() in imap/mboxname.c; Exchange and Gmail refuse
      their own characters the same way), with RFC 5530 section 3's
      CANNOT code ("this operation violates some invariant of the server
      and can never succeed"). The name is judged as sent (modified
      UTF-7), so only ASCII characters can be chosen. Each refused name
      is in the stats' names_refused list.
  --upload-quota BYTES   Gmail's daily IMAP upload quota (Google's "Gmail
      bandwidth limits", support.google.com/a/answer/1071518: "Upload
      via IMAP 500 MB" per day; "Reaching the sync limit triggers a
      safeguard that temporarily stops IMAP uploads for the account"),
      in a window of --quota-window-ms that opens with the first APPEND
      (counted over all connections): an APPEND whose message would
      bring the window's bytes past BYTES is answered, without reaching
      the upstream, with the words Gmail's users see when the account's
      bandwidth is used up (on FETCH and APPEND; e.g.
      github.com/ljmerza/ha-email-sensor/issues/16):
        "NO [OVERQUOTA] Account exceeded command or bandwidth limits.
         (Failure)"
      and the account stays locked until the window ends: every APPEND
      meanwhile gets the same answer, and one that comes more than
      GRACE_MS after the first answer and more than GRACE_MS before the
      window's end is counted as a quota violation (a client that did not
      wait for the next window).

  --download-quota BYTES   Gmail's daily IMAP download quota, the
      source side: Google's "Gmail bandwidth limits" page
      (support.google.com/a/answer/1071518) lists "Download via IMAP
      2500 MB" per day, and its "Request limits" page (support.google.com/
      a/answer/1359240) says "Reaching the limit triggers a safeguard,
      which temporarily suspends the account ... The suspension typically
      lasts for one hour, but can last as long as 24 hours". The window
      (--quota-window-ms) opens with the first body FETCH (UID FETCH ...
      BODY.PEEK[], over all connections); the BODY[] literals sent to the
      client count against BYTES. Once the window holds BYTES, the
      account is locked until the window ends: every body FETCH meanwhile
      is answered, in its place among the connection's answers (sent
      upstream as NOOP, the tagged answer rewritten), with the words
      Gmail's users see when the account's bandwidth is used up:
        "NO [OVERQUOTA] Account exceeded command or bandwidth limits.
         (Failure)"
      or, with --quota-bye, as mbsync and imapsync users report it on
      FETCH (e.g. "IMAP error: unexpected BYE response: [OVERQUOTA]
      Account exceeded command or bandwidth limits."), the untagged
      "* BYE [OVERQUOTA] Account exceeded command or bandwidth limits."
      and the connection closed. A body FETCH that comes more than
      GRACE_MS after the lock and more than GRACE_MS before the window's
      end is counted as a download quota violation (a client that did not
      wait for the next window). Gmail also refuses logins while the
      account is suspended; that is not emulated (a login goes through).
  --max-append-size BYTES   Exchange Online's message size limit for an
      IMAP migration (35 MB: "IMAP migration ... messages larger than
      35 MB" are not migrated, learn.microsoft.com/en-us/exchange/
      mailbox-migration/migrating-imap-mailboxes/
      migrating-imap-mailboxes; its CAPABILITY has no APPENDLIMIT, so a
      client cannot learn it from the server): an APPEND whose message is
      larger is answered "NO [TOOBIG] Message too large" (RFC 7889's
      code; no public page shows Exchange's own words) without reaching
      the upstream, and counted as toobig. Every APPEND's message size is
      in the stats' append_max (the largest) and, with --log-file, in a
      line "T CONN APPEND-SIZE N": a test sees that a message never
      reached the server.

The stats file (JSON, rewritten after every change) says: appends,
multiappends (APPENDs of more than one message, refused even where the
upstream's MULTIAPPEND is advertised, as with --provider dovecot),
throttled, violations, refused, reencoded, gm_msgids, body_fetches,
impersonations, names_refused (a list), overquota (answers),
quota_violations, uploaded (the message bytes stored, all windows),
downloaded (BODY[] bytes sent to the client, all windows), dl_overquota
(body FETCHes answered with the download quota's words), dl_violations,
toobig, append_max, append_queue_max (the most APPENDs one connection
had sent, read whole, and not yet seen answered: what a client queued on
the server, the figure appends_in_flight bounds), conns (open now),
conns_max (the most open at once), phases (above).

Literals: every synchronising literal from the client is answered "+"
here and sent upstream as LITERAL+ ({n+}, RFC 7888), so whole APPEND
commands can be read, judged and rewritten before anything reaches
Dovecot. Runs until killed.
"""
import argparse
import asyncio
import base64
import hashlib
import json
import os
import re
import time

GRACE_MS = 400

PROVIDERS = {
    "exchange-online": {
        "greeting": b"* OK The Microsoft Exchange IMAP4 service is ready. "
                    b"[TQBXADIAUABSADAAMQBDAEEAMAAwADAAMgAuAG4AYQBtAHAAcgBk]",
        "caps": b"IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS "
                b"MOVE ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+",
        # No public page shows Exchange's ID answer: NIL is what a server
        # that names nobody sends (RFC 2971 3.2); detection then rests on
        # the greeting and the capabilities, as it must for a real one.
        "id": b"* ID NIL",
        "throttle": "NO Request is throttled. Suggested Backoff Time: "
                    "{ms} milliseconds",
    },
    "exchange-onprem": {
        "greeting": b"* OK The Microsoft Exchange IMAP4 service is ready.",
        "caps": b"IMAP4 IMAP4rev1 AUTH=NTLM AUTH=GSSAPI AUTH=PLAIN UIDPLUS "
                b"MOVE ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+",
        "id": b"* ID NIL",
        "throttle": "NO Request is throttled. Suggested Backoff Time: "
                    "{ms} milliseconds",
        "no_special_use": True,
    },
    # Dovecot as it is: only the options change what it says.
    "dovecot": {},
    "gmail": {
        "greeting": b"* OK Gimap ready for requests from 127.0.0.1 "
                    b"k2if6111336rvb.0",
        "caps": b"IMAP4rev1 UNSELECT LITERAL+ IDLE NAMESPACE QUOTA ID XLIST "
                b"CHILDREN X-GM-EXT-1 UIDPLUS MOVE SPECIAL-USE "
                b"APPENDLIMIT=35651584",
        "id": b'* ID ("name" "GImap" "vendor" "Google, Inc." "support-url" '
              b'"http://mail.google.com/support" "remote-host" "127.0.0.1")',
        "throttle": "NO [THROTTLED] Account exceeded command or bandwidth "
                    "limits. (Failure)",
    },
}

LITERAL_RE = re.compile(rb"\{(\d+)(\+?)\}\r\n$")
# The item that stands for X-GM-MSGID upstream, and its answer.
GMID_ASK = b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID X-EMU-GM)]"
GMID_RE = re.compile(rb"BODY\[HEADER\.FIELDS \(MESSAGE-ID X-EMU-GM\)\] "
                     rb"\{(\d+)\}\r\n$")
# A body in a FETCH answer (counted by --download-quota).
BODY_RE = re.compile(rb"^\* \d+ FETCH .*BODY\[\] \{(\d+)\}\r\n$")
OVERQUOTA = b"Account exceeded command or bandwidth limits."
# A tagged answer that stands for the connection's end: its BYE is sent
# in the answer's place and the connection closed (--quota-bye).
BYE_MARK = b"BYE"

CAPCODE_RE = re.compile(rb"\[CAPABILITY [^\]]*\]")
LIST_RE = re.compile(rb'^\* (?:LIST|LSUB) \(([^)]*)\) (?:NIL|"[^"]*") (.*)\r\n$')
SPECIAL_USE_RE = re.compile(rb"\s*\\(?:Sent|Trash|Drafts|Junk|Archive|All|"
                            rb"Flagged|Important)\b", re.I)
LOGIN_RE = re.compile(rb'^(\S+ LOGIN )"?([^"/ ]+)/([^"/ ]+)/([^" ]+)"? (.*)$',
                      re.I | re.S)


class Stats:
    def __init__(self, path):
        self.path = path
        self.v = {"appends": 0, "multiappends": 0, "throttled": 0,
                  "violations": 0,
                  "refused": 0, "reencoded": 0, "gm_msgids": 0,
                  "body_fetches": 0, "impersonations": 0,
                  "names_refused": [], "overquota": 0,
                  "quota_violations": 0, "uploaded": 0,
                  "downloaded": 0, "dl_overquota": 0, "dl_violations": 0,
                  "toobig": 0, "append_max": 0, "append_queue_max": 0,
                  "conns": 0, "conns_max": 0, "phases": []}
        self.pause_from = 0.0   # monotonic s: the last throttling answer
        self.pause_until = 0.0
        self.up = self.down = None  # --upload-quota, --download-quota
        self.save()

    def add(self, key, n=1):
        self.v[key] += n
        self.save()

    def conn(self, n):
        """A client connection opened (1) or closed (-1)."""
        v = self.v
        v["conns"] += n
        v["conns_max"] = max(v["conns_max"], v["conns"])
        for ph in v["phases"]:
            if ph["after"] is not None:
                ph["after"] = max(ph["after"], v["conns"])
        self.save()

    def appends_open(self, n):
        """One connection has n APPENDs received and not answered."""
        if n > self.v["append_queue_max"]:
            self.v["append_queue_max"] = n
            self.save()

    def throttle(self, ms):
        """A throttling answer of ms goes out: a new phase, whose "after"
        starts with the connections open when its pause ends."""
        ph = {"at": self.v["conns"], "after": None}
        self.v["phases"].append(ph)
        self.add("throttled")

        def over():
            ph["after"] = self.v["conns"]
            self.save()
        asyncio.get_running_loop().call_later(ms / 1000, over)

    def save(self):
        if not self.path:
            return
        with open(self.path + ".tmp", "w") as f:
            json.dump(self.v, f)
        os.replace(self.path + ".tmp", self.path)


class QuotaWindow:
    """One quota (--upload-quota, --download-quota): a window that opens
    with the first use, its bytes, and the first refusal in it (the
    account locked from then to the window's end)."""

    def __init__(self, limit, window_ms):
        self.limit, self.window = limit, window_ms / 1000
        self.start, self.used, self.locked = None, 0, 0.0

    def refuse(self, now, n):
        """Whether n more bytes now are refused, and whether that is a
        violation: asked more than GRACE_MS after the lock and more than
        GRACE_MS before the window's end (not the requests in flight
        when the first refusal went out, nor one that comes a moment
        before the end: the client's window opened a little earlier)."""
        if self.start is not None and now >= self.start + self.window:
            self.start, self.used, self.locked = None, 0, 0.0
        if self.start is None:
            self.start = now
        if not self.locked and self.used + n <= self.limit:
            return False, False
        grace = GRACE_MS / 1000
        violation = bool(self.locked) and self.locked + grace < now < \
            self.start + self.window - grace
        self.locked = self.locked or now
        return True, violation


def is_message(literal):
    """A message literal, not a mailbox name sent as a literal."""
    return b"\n" in literal


def malformed(msg):
    """What Exchange would refuse in msg, or None."""
    if re.search(rb"(?<!\r)\n", msg):
        return "bare LF"
    lines = msg.split(b"\r\n")
    if any(len(line) > 998 for line in lines):
        return "line over 998 bytes"
    for line in lines:
        if line == b"":
            break
        if line[:1] not in (b" ", b"\t") and not re.match(rb"[!-9;-~]+:",
                                                            line):
            return "header line without a field name"
    return None


def reencode(msg):
    """The message as the provider would store it (see the top)."""
    head, sep, body = msg.partition(b"\r\n\r\n")
    fields = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b" " + line.strip()
        else:
            fields.append(line)
    out = [b"X-MS-Exchange-Organization-Emulated: re-encoded"]
    for f in fields:
        words = f.split(b" ")
        cur = words[0]
        for w in words[1:]:
            if len(cur) + 1 + len(w) > 60:
                out.append(cur)
                cur = b"\t" + w
            else:
                cur += b" " + w
        out.append(cur)
    return b"\r\n".join(out) + (sep or b"\r\n\r\n") + body


def log(a, conn, what, when=None):
    if a.log_file:
        with open(a.log_file, "ab") as f:
            f.write(b"%.3f %d %s\n" % (when or time.monotonic(), conn, what))


class Conn:
    count = 0

    def __init__(self, a, cr, cw):
        self.a, self.cr, self.cw = a, cr, cw
        self.p = PROVIDERS[a.provider]
        Conn.count += 1
        self.id = Conn.count
        self.fake = {}  # tag: the tagged answer that replaces upstream's
        self.open_appends = set()  # tags of APPENDs not answered yet
        self.auth_next = False

    async def run(self):
        self.a.stats.conn(1)
        try:
            await self.relay_all()
        finally:
            self.a.stats.conn(-1)

    async def relay_all(self):
        host, port = self.a.upstream.rsplit(":", 1)
        self.ur, self.uw = await asyncio.open_connection(host, int(port))
        greeting = await self.ur.readline()  # Dovecot's: ours instead
        self.cw.write(self.p["greeting"] + b"\r\n" if "greeting" in self.p
                      else greeting)
        await self.cw.drain()
        t = asyncio.ensure_future(self.down())
        try:
            await self.up()
        finally:
            t.cancel()
            self.uw.close()
            self.cw.close()

    def fix_line(self, line):
        """A line from upstream as the provider would send it, or None to
        leave it out."""
        m = LIST_RE.match(line)
        if m and m.group(2).strip(b'"').decode("latin-1") in self.a.hide:
            return None
        if m and self.p.get("no_special_use"):
            attrs = SPECIAL_USE_RE.sub(b"", m.group(1)).strip()
            return line[:m.start(1)] + attrs + line[m.end(1):]
        if "caps" not in self.p:
            return line
        if line.startswith(b"* CAPABILITY "):
            return b"* CAPABILITY " + self.p["caps"] + b"\r\n"
        if line.startswith(b"* ID "):
            return self.p["id"] + b"\r\n"
        return CAPCODE_RE.sub(b"[CAPABILITY " + self.p["caps"] + b"]", line)

    async def down(self):
        """Upstream to client: lines rewritten, literals passed on (the
        text after a literal comes as the next line)."""
        try:
            while True:
                line = await self.ur.readline()
                if not line:
                    break
                m = GMID_RE.search(line)
                if m:
                    lit = await self.ur.readexactly(int(m.group(1)))
                    mid = re.search(rb"(?i)message-id:\s*(\S+)", lit)
                    h = hashlib.sha1(mid.group(1) if mid else lit).digest()
                    gmid = int.from_bytes(h[:8], "big") >> 1
                    self.cw.write(line[:m.start()] + b"X-GM-MSGID %d" % gmid)
                    self.a.stats.add("gm_msgids")
                    continue
                m = BODY_RE.match(line)
                if m and self.a.download_quota:
                    self.a.stats.down.used += int(m.group(1))
                    self.a.stats.add("downloaded", int(m.group(1)))
                tag = line.split(b" ", 1)[0]
                if self.fake.get(tag) == BYE_MARK:
                    self.cw.write(b"* BYE [OVERQUOTA] " + OVERQUOTA +
                                  b"\r\n")
                    await self.cw.drain()
                    break
                if tag in self.fake:
                    line = tag + b" " + self.fake.pop(tag) + b"\r\n"
                self.open_appends.discard(tag)
                fixed = self.fix_line(line)
                if fixed is not None:
                    self.cw.write(fixed)
                m = LITERAL_RE.search(line)
                if m:
                    self.cw.write(await self.ur.readexactly(int(m.group(1))))
                await self.cw.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        self.cw.close()

    def impersonate(self, parts, cmd):
        """Exchange's "domain/admin/user" login as Dovecot's master login
        (see the top); parts unchanged for any other login."""
        line = parts[0]
        if cmd == b"LOGIN":
            m = LOGIN_RE.match(line)
            if m:
                self.a.stats.add("impersonations")
                return [m.group(1) + b'"%s*%s" ' % (m.group(4), m.group(3))
                        + m.group(5)] + parts[1:]
            return parts
        words = line.rstrip(b"\r\n").split(b" ")
        if cmd == b"AUTHENTICATE" and len(words) == 4:
            words[3] = self.plain(words[3])
            return [b" ".join(words) + b"\r\n"] + parts[1:]
        if cmd == b"AUTHENTICATE":
            self.auth_next = True  # the response comes after "+"
        return parts

    def plain(self, b64):
        """A SASL PLAIN response (RFC 4616) with the login rewritten."""
        try:
            authz, authc, pw = base64.b64decode(b64).split(b"\0")
        except ValueError:
            return b64
        if authc.count(b"/") != 2:
            return b64
        _, admin, user = authc.split(b"/")
        self.a.stats.add("impersonations")
        return base64.b64encode(user + b"\0" + admin + b"\0" + pw)

    async def read_command(self):
        """One whole command from the client: its lines and literals
        (parts alternate: text, literal, text, ...)."""
        parts = []
        while True:
            line = await self.cr.readline()
            if not line:
                return None
            m = LITERAL_RE.search(line)
            if not m:
                parts.append(line)
                return parts
            parts.append(line[:m.start()])
            if not m.group(2):
                self.cw.write(b"+ Ready for additional command text.\r\n")
                await self.cw.drain()
            parts.append(await self.cr.readexactly(int(m.group(1))))

    async def arrivals(self, q):
        """Commands as they arrive, with the time they did (the log's
        time, even when --fetch-delay-ms holds the ones before)."""
        parts = None
        try:
            while True:
                parts = await self.read_command()
                if parts is None:
                    break
                words = parts[0].split(b" ", 2)
                if len(words) > 2 and words[1].upper() == b"APPEND":
                    self.open_appends.add(words[0])
                    self.a.stats.appends_open(len(self.open_appends))
                await q.put((time.monotonic(), parts))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        await q.put((time.monotonic(), None))

    async def up(self):
        q = asyncio.Queue()
        t = asyncio.ensure_future(self.arrivals(q))
        try:
            await self.relay(q)
        finally:
            t.cancel()

    async def relay(self, q):
        st = self.a.stats
        while True:
            when, parts = await q.get()
            if parts is None:
                return
            if self.auth_next:  # the SASL response line
                self.auth_next = False
                self.uw.write(self.plain(parts[0].rstrip(b"\r\n")) +
                              b"\r\n")
                await self.uw.drain()
                continue
            words = parts[0].split(b" ", 2)
            tag = words[0]
            cmd = words[1].upper().rstrip(b"\r\n") if len(words) > 1 else b""
            if self.a.provider == "exchange-onprem" and \
                    cmd in (b"LOGIN", b"AUTHENTICATE"):
                parts = self.impersonate(parts, cmd)
            # A login's words are its user and secret: not in the log.
            log(self.a, self.id, b" ".join(words[:2]).rstrip(b"\r\n")
                if cmd in (b"LOGIN", b"AUTHENTICATE")
                else parts[0][:80].rstrip(b"\r\n"), when)
            if self.a.provider == "gmail" and b"X-GM-MSGID" in parts[0]:
                parts[0] = parts[0].replace(b"X-GM-MSGID", GMID_ASK)
            if cmd == b"UID" and b"BODY.PEEK[]" in parts[0].upper():
                parts = self.judge_fetch(tag, parts)
                await asyncio.sleep(self.a.fetch_delay_ms / 1000)
            if cmd == b"CREATE" and self.refused_name(parts):
                self.cw.write(tag + b" NO [CANNOT] Invalid mailbox name\r\n")
                await self.cw.drain()
                continue
            if cmd == b"APPEND":
                await asyncio.sleep(self.a.append_delay_ms / 1000)
                answer = self.judge_append(parts)
                if answer:
                    self.cw.write(tag + b" " + answer + b"\r\n")
                    self.open_appends.discard(tag)
                    await self.cw.drain()
                    continue
                if self.a.reencode:
                    for i in range(1, len(parts), 2):
                        if is_message(parts[i]):
                            parts[i] = reencode(parts[i])
                            st.add("reencoded")
            # Part by part: a 35 MB message is not copied again.
            for i, p in enumerate(parts):
                if i % 2:
                    self.uw.write(b"{%d+}\r\n" % len(p))
                self.uw.write(p)
            await self.uw.drain()

    def refused_name(self, parts):
        """A CREATE of a name with a --refuse-names character (the name
        quoted, atom or literal: all of the command after "CREATE")."""
        name = parts[0].split(b" ", 2)[2] if parts[0].count(b" ") >= 2 \
            else b""
        name = (name + b"".join(parts[1:])).rstrip(b"\r\n").strip(b'"')
        if not any(ch.encode() in name for ch in self.a.refuse_names):
            return False
        self.a.stats.v["names_refused"].append(name.decode("latin-1"))
        self.a.stats.save()
        return True

    def judge_fetch(self, tag, parts):
        st = self.a.stats
        st.add("body_fetches")
        if self.a.download_quota and self.download_locked(st):
            self.fake[tag] = BYE_MARK if self.a.quota_bye else \
                b"NO [OVERQUOTA] " + OVERQUOTA + b" (Failure)"
            return [tag + b" NOOP\r\n"]
        if st.v["body_fetches"] not in self.a.throttle_fetch_at:
            return parts
        ms = self.a.throttle_ms
        st.throttle(ms)
        log(self.a, self.id, b"THROTTLE %d" % ms)
        self.fake[tag] = self.p["throttle"].format(ms=ms).encode()
        return [tag + b" NOOP\r\n"]

    def download_locked(self, st):
        """--download-quota (see the top): whether the account is locked
        for a body FETCH now (the window holds the quota: one byte more
        is refused)."""
        refused, violation = st.down.refuse(time.monotonic(), 1)
        if not refused:
            return False
        if violation:
            st.add("dl_violations")
        st.add("dl_overquota")
        log(self.a, self.id, b"DL-OVERQUOTA")
        return True

    def judge_append(self, parts):
        st = self.a.stats
        now = time.monotonic()
        st.add("appends")
        if now < st.pause_until and now > st.pause_from + GRACE_MS / 1000:
            st.add("violations")
        msgs = [p for p in parts[1::2] if is_message(p)]
        for msg in msgs:
            log(self.a, self.id, b"APPEND-SIZE %d" % len(msg), now)
            if len(msg) > st.v["append_max"]:
                st.v["append_max"] = len(msg)
        if len(msgs) > 1:
            st.add("multiappends")
            return b"BAD Command Argument Error. 12"  # no MULTIAPPEND
        if (self.a.throttle_every and
                st.v["appends"] % self.a.throttle_every == 0) or \
                st.v["appends"] in self.a.throttle_append_at:
            st.pause_from = now
            st.pause_until = now + self.a.throttle_ms / 1000
            st.throttle(self.a.throttle_ms)
            return self.p["throttle"].format(ms=self.a.throttle_ms).encode()
        if self.a.max_append_size and msgs and \
                len(msgs[0]) > self.a.max_append_size:
            st.add("toobig")
            return b"NO [TOOBIG] Message too large"
        if self.a.refuse_malformed and msgs and malformed(msgs[0]):
            st.add("refused")
            return b"BAD Command Argument Error. 11"
        if self.a.upload_quota and msgs:
            return self.judge_quota(st, now, len(msgs[0]))
        if msgs:
            st.add("uploaded", len(msgs[0]))
        return None

    def judge_quota(self, st, now, n):
        """--upload-quota (see the top): None when the message of n bytes
        fits in the window, else Gmail's answer."""
        refused, violation = st.up.refuse(now, n)
        if refused:
            if violation:
                st.add("quota_violations")
            st.add("overquota")
            log(self.a, self.id, b"OVERQUOTA")
            return (b"NO [OVERQUOTA] Account exceeded command or bandwidth "
                    b"limits. (Failure)")
        st.up.used += n
        st.add("uploaded", n)
        return None


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--provider", choices=sorted(PROVIDERS), required=True)
    ap.add_argument("--port-file")
    ap.add_argument("--stats-file")
    ap.add_argument("--throttle-every", type=int, default=0)
    ap.add_argument("--throttle-ms", type=int, default=2000)
    ap.add_argument("--refuse-malformed", action="store_true")
    ap.add_argument("--reencode", action="store_true")
    ap.add_argument("--throttle-fetch-at", default="")
    ap.add_argument("--throttle-append-at", default="")
    ap.add_argument("--log-file")
    ap.add_argument("--hide", default="")
    ap.add_argument("--fetch-delay-ms", type=int, default=0)
    ap.add_argument("--append-delay-ms", type=int, default=0)
    ap.add_argument("--refuse-names", default="")
    ap.add_argument("--upload-quota", type=int, default=0)
    ap.add_argument("--quota-window-ms", type=int, default=3000)
    ap.add_argument("--download-quota", type=int, default=0)
    ap.add_argument("--quota-bye", action="store_true")
    ap.add_argument("--max-append-size", type=int, default=0)
    a = ap.parse_args()
    a.throttle_fetch_at = {int(x) for x in a.throttle_fetch_at.split(",")
                           if x}
    a.throttle_append_at = {int(x) for x in
                            a.throttle_append_at.split(",") if x}
    a.hide = {x for x in a.hide.split(",") if x}
    a.stats = Stats(a.stats_file)
    a.stats.up = QuotaWindow(a.upload_quota, a.quota_window_ms)
    a.stats.down = QuotaWindow(a.download_quota, a.quota_window_ms)

    async def on_conn(r, w):
        try:
            await Conn(a, r, w).run()
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            w.close()

    srv = await asyncio.start_server(on_conn, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(f"{port}\n")
        os.replace(a.port_file + ".tmp", a.port_file)
    print(port, flush=True)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
