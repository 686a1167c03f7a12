#!/usr/bin/python3
"""Progress a person can watch (issue 16 section 6), against the Dovecot
pair and redis-server. The copy is slowed by a bandwidth cap
(--max-bytes-per-second) so that it lasts a few seconds whatever the
machine's load; nothing here asserts a time, only what was shown.

  tty    user 31: `migrate` under a pseudo-terminal (100 x 30, then the
         width the test sets): the display is redrawn in place. A small
         terminal emulator replays the output: on the final screen the
         mailbox's finish line stands above the display, which shows the
         final figures (1/1 mailboxes, every message and byte of the
         report), and no earlier frame is left over; no display line was
         wider than the terminal; some frame showed the source connection
         held (the cap's lease).
  lines  user 32 (Redis database 2): `migrate` with stdout a pipe: the
         plain lines as before, a "progress:" line every second
         (--progress-interval 1) and a last one with the final figures,
         no escape sequence; meanwhile `batch status NAME --watch
         --interval 1` on the same batch prints summary lines and ends
         by itself when the batch settles, its last line the same final
         figures. Then --no-progress prints no progress line.
  direct_lines  user 104 (Redis database 7): `migrate --direct` with
         stdout a pipe prints the same "progress:" lines (a first, one a
         second, a last with the final figures) among its own lines;
         --no-progress and --json print none.
  caps_wait  users 105, 106 (Redis database 7): two mailboxes at a time
         under a cap of one source connection; the one left out is shown
         waiting for the slot (`batch status --json` and text, migrate's
         progress lines, `batch status --watch`'s display on a terminal),
         and no longer once it is granted.
"""
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import fcntl
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "migrate"))
import migrate_test as mt  # noqa: E402

REDIS2 = mt.REDIS["REDIS_URL"].rstrip("/") + "/2"
REDIS7 = mt.REDIS["REDIS_URL"].rstrip("/") + "/7"
MESSAGES = 40
BODY_LINES = 120  # about 8.6 KB a message, 345 KB a mailbox
RATE = "100000"   # bytes a second from the source: a copy of 3 s or more
COLS, ROWS = 72, 30


def fill(n, count=MESSAGES):
    """count messages on the source (half in INBOX, half in Work), an
    empty target."""
    mt.clean_target(n, port=mt.SRC_PORT)
    mt.clean_target(n)
    c = mt.imap_login(mt.SRC_PORT, n)
    c.create("Work")
    body = ("p" * 70 + "\r\n") * BODY_LINES
    for i in range(count):
        msg = (f"From: a@example.test\r\nSubject: progress {i}\r\n"
               f"Message-ID: <progress{i}-{n}-{mt.RUN_ID}@example.test>"
               f"\r\n\r\n{body}").encode()
        typ, _ = c.append("INBOX" if i % 2 else "Work", None, None, msg)
        mt.check(typ == "OK", f"APPEND {i}")
    c.logout()


def report_totals(report_dir):
    with open(os.path.join(report_dir, "report.json")) as f:
        doc = json.load(f)
    m = doc["mailboxes"][0]
    return m["copied_messages"], m["copied_bytes"]


def fmt_bytes(n):
    """mf_plan_format_bytes(): powers of 1000, one decimal."""
    units = ["B", "KB", "MB", "GB", "TB", "PB"]
    v, u = float(n), 0
    while v >= 1000 and u + 1 < len(units):
        v /= 1000
        u += 1
    return f"{n} B" if u == 0 else f"{v:.1f} {units[u]}"


def migrate_cmd(csv, report, *extra):
    return [mt.MAILFERRY, "migrate", csv, "--source", mt.SRC, "--target",
            mt.TGT, "--max-bytes-per-second", RATE, "--report-dir",
            report] + list(extra)


# ------------------------------------------------------------------ tty


class Screen:
    """Just enough of a terminal: printable text with auto-wrap at the
    width, CR, LF, CSI n A (up), CSI 2 K (erase line), CSI K, CSI J
    (erase below). Lines scroll into an unbounded list."""

    def __init__(self, width):
        self.width, self.lines, self.r, self.c = width, [""], 0, 0

    def _line(self):
        while len(self.lines) <= self.r:
            self.lines.append("")
        return self.lines[self.r]

    def _put(self, ch):
        if self.c >= self.width:  # auto-wrap
            self.r, self.c = self.r + 1, 0
        line = self._line().ljust(self.c)
        self.lines[self.r] = line[:self.c] + ch + line[self.c + 1:]
        self.c += 1

    def feed(self, text):
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "\x1b":
                m = re.match(r"\x1b\[(\d*)([A-Za-z])", text[i:])
                mt.check(m is not None, f"unknown escape {text[i:i+8]!r}")
                n, op = int(m.group(1) or 0), m.group(2)
                if op == "A":
                    self.r = max(0, self.r - (n or 1))
                elif op == "K" and n == 2:
                    self.lines[self.r] = "" if self.r < len(self.lines) \
                        else ""
                    self._line()
                elif op == "K":
                    self.lines[self.r] = self._line()[:self.c]
                elif op == "J":
                    self.lines[self.r] = self._line()[:self.c]
                    del self.lines[self.r + 1:]
                i += m.end()
                continue
            if ch == "\r":
                self.c = 0
            elif ch == "\n":
                self.r += 1
                self._line()
            else:
                self._put(ch)
            i += 1

    def text(self):
        return [ln.rstrip() for ln in self.lines]


def run_pty(cmd, cols, rows, timeout=180):
    """Runs cmd with stdin, stdout and stderr on a new pseudo-terminal of
    cols x rows; returns (exit status, everything it wrote)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols,
                                                       0, 0))
    p = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave,
                         close_fds=True, start_new_session=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 1.0)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not data:
                break
            out += data
        elif p.poll() is not None:
            break
    else:
        os.killpg(p.pid, signal.SIGKILL)
        mt.fail(f"{' '.join(cmd)}: still running after {timeout} s")
    rc = p.wait(timeout=30)
    os.close(master)
    return rc, out.decode("utf-8", "replace")


def final_screen(out, n, head_re, width=COLS):
    """The screen out leaves on a terminal width columns wide: its lines,
    as one text, the indexes of user n's finish lines and of the
    display's head lines (head_re)."""
    scr = Screen(width)
    scr.feed(out)
    lines = scr.text()
    ok = [i for i, ln in enumerate(lines)
          if ln.startswith(f"ok     user{n}@example.test: ")]
    head = [i for i, ln in enumerate(lines) if re.match(head_re, ln)]
    return lines, "\n".join(lines), ok, head


def case_tty():
    n = 31
    fill(n)
    csv = mt.csv_for([n], "progress31")
    report = os.path.join(mt.TMP, "report31")
    rc, out = run_pty(migrate_cmd(csv, report, "--batch", "p31"), COLS, ROWS)
    mt.check(rc == 0, f"migrate under a terminal: exit {rc}\n{out}")
    copied, nbytes = report_totals(report)
    mt.check(copied == MESSAGES, f"report: {copied} copied")

    # Redrawn in place: more than one frame, each after the first going
    # back up over the last one.
    frames = out.count("\x1b[2Kbatch ")
    mt.check(frames >= 2, f"{frames} frames drawn:\n{out!r}")
    mt.check(re.search(r"\r\x1b\[\d+A", out) is not None,
             f"no cursor-up redraw:\n{out!r}")
    # Some frame showed the source connection held under its lease.
    mt.check(re.search(r"connections source [1-9]\d* held", out)
             is not None, f"no frame with a source connection held:\n{out}")

    # Every display line (each drawn after an erase) fits the terminal
    # with a column to spare; a wider one would wrap and the next
    # redraw's cursor-up would leave a stale line behind.
    drawn = re.findall(r"\x1b\[2K([^\r\n]*)", out)
    wide = [ln for ln in drawn if len(ln) > COLS - 1]
    mt.check(drawn and not wide, f"display lines wider than {COLS - 1}: "
                                 f"{wide}")
    lines, screen, ok, head = final_screen(out, n,
                                           r"batch p31: \w+, mailboxes ")
    mt.check(len(ok) == 1 and len(head) == 1,
             f"final screen: one finish line and one display:\n{screen}")
    mt.check(ok[0] < head[0], f"the finish line above the display:\n{screen}")
    # No earlier frame left over: only the final figures are on screen.
    mt.check("0/1 done" not in screen and "running, 0 queued" in screen,
             f"a stale frame on the screen:\n{screen}")
    disp = lines[head[0]:head[0] + 3]
    mt.check(re.match(r"batch p31: Synced, mailboxes 1/1 done, 0 running, "
                      r"0 queued, ", disp[0]) is not None, f"head: {disp[0]}")
    want = (f"messages {copied}/{copied} (100%), bytes {fmt_bytes(nbytes)}/"
            f"{fmt_bytes(nbytes)}, ")
    mt.check(disp[1].startswith(want), f"figures: {disp[1]!r}, want {want}")
    mt.check(disp[2].startswith("connections source 0 held, 0 waiting"),
             f"connections at the end: {disp[2]!r}")
    mt.check(max(len(ln) for ln in disp) <= COLS - 1,
             f"display wider than {COLS - 1}: {disp}")
    # The summary after the display, as without a terminal.
    mt.check(re.search(r"batch p31 Synced: 1 mailboxes, 1 synced", screen)
             is not None, f"summary:\n{screen}")

    # `migrate --direct` draws the same display (nothing left to copy:
    # every message is recognised), its finish line above it, and not
    # its old one-line progress.
    rc, out = run_pty([mt.MAILFERRY, "migrate", csv, "--source", mt.SRC,
                       "--target", mt.TGT, "--report-dir", report + "-direct",
                       "--direct", "--batch", "d31"], COLS, ROWS)
    mt.check(rc == 0, f"migrate --direct under a terminal: exit {rc}\n{out}")
    mt.check("\x1b[2Kbatch d31: " in out and
             re.search(r"\d+/\d+ mailboxes done, \d+ running", out) is None,
             f"--direct display:\n{out!r}")
    lines, screen, ok, head = final_screen(
        out, n, r"batch d31: Synced, mailboxes 1/1 done, 0 running, 0 "
                r"queued, ")
    mt.check(len(ok) == 1 and len(head) == 1 and ok[0] < head[0],
             f"--direct final screen:\n{screen}")
    mt.check(lines[head[0] + 2].startswith("connections not counted"),
             f"--direct connections: {lines[head[0]:head[0] + 3]}")


# ---------------------------------------------------------------- lines


SUMMARY = re.compile(
    r"progress: mailboxes (\d+)/(\d+) done(?: \(\d+ failed\))?, (\d+) "
    r"running, (\d+) queued; messages (\d+)/(~?\d+|\?)(?: \((\d+)%\))?; "
    r"bytes ([^;]+)/([^;]+); (?:rate -|[\d.]+ msgs/s, [^;]+/s); ETA "
    r"(?:-|~?\S+); (?:connections source (\d+) held, (\d+) waiting, target "
    r"(\d+) held, (\d+) waiting|connections not counted \(no caps\)), "
    r"(?:\d+ mailbox(?:es)? waiting for a slot, )?waited \S+$")


def summaries(text, who):
    out = []
    for ln in text.splitlines():
        if ln.startswith("progress:"):
            m = SUMMARY.match(ln)
            mt.check(m is not None, f"{who}: malformed line {ln!r}")
            out.append(m)
    return out


def check_final(m, copied, nbytes, who):
    want = (1, 1, 0, 0, copied)
    got = (int(m.group(1)), int(m.group(2)), int(m.group(3)),
           int(m.group(4)), int(m.group(5)))
    mt.check(got == want and m.group(6) == str(copied) and
             m.group(7) == "100" and m.group(8) == fmt_bytes(nbytes) and
             m.group(9) == fmt_bytes(nbytes),
             f"{who}: final figures {m.group(0)!r}, want {copied} messages, "
             f"{fmt_bytes(nbytes)}")


def piped_lines(text, n, copied, nbytes, who):
    """The mailbox's finish line and the progress lines of a piped run:
    the first at once, the last with the final figures after the finish
    line, every one consistent (done never above a known planned total,
    one mailbox counted once); returns them."""
    mt.check(re.search(rf"^ok     user{n}@example.test: folders \d+, messages "
                       rf"{MESSAGES}, copied {MESSAGES} \(", text, re.M)
             is not None, f"{who}: finish line:\n{text}")
    got = summaries(text, who)
    mt.check(len(got) >= 2, f"{who}: {len(got)} progress lines:\n{text}")
    for m in got:
        planned = m.group(6).lstrip("~")
        mt.check(planned == "?" or int(m.group(5)) <= int(planned),
                 f"done above planned: {m.group(0)}")
        mt.check(int(m.group(1)) + int(m.group(3)) + int(m.group(4)) <= 1,
                 f"mailbox counts: {m.group(0)}")
    check_final(got[-1], copied, nbytes, who)
    mt.check(text.index(got[-1].group(0)) > text.index(f"ok     user{n}"),
             f"{who}: the last progress line after the finish line:\n{text}")
    return got


def end_migrate(mig, reader, lines):
    """Waits for a migrate run whose stdout reader fills lines: its exit
    status, its stdout as one text, its stderr."""
    try:
        rc = mig.wait(timeout=180)
    except subprocess.TimeoutExpired:
        mig.kill()
        mt.fail("migrate did not end")
    reader.join()
    return rc, "\n".join(lines), mig.stderr.read()


def case_lines():
    n = 32
    fill(n)
    csv = mt.csv_for([n], "progress32")
    report = os.path.join(mt.TMP, "report32")
    batch = f"progress-{mt.RUN_ID}"
    mig = subprocess.Popen(migrate_cmd(csv, report, "--redis", REDIS2,
                                       "--batch", batch,
                                       "--progress-interval", "1"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    lines, watch = [], {}
    queued = threading.Event()

    def read_migrate():
        for ln in mig.stdout:
            lines.append(ln.rstrip("\n"))
            if " mailboxes queued" in ln:
                queued.set()
        queued.set()

    reader = threading.Thread(target=read_migrate)
    reader.start()
    mt.check(queued.wait(120), "migrate did not queue its batch")

    # `batch status --watch` on the running batch, until it ends by
    # itself when the batch settles.
    w = subprocess.run([mt.MAILFERRY, "batch", "status", batch, "--redis",
                        REDIS2, "--watch", "--interval", "1"],
                       capture_output=True, text=True, timeout=180)
    watch["rc"], watch["out"] = w.returncode, w.stdout
    rc, text, err = end_migrate(mig, reader, lines)
    mt.check(rc == 0, f"migrate: exit {rc}\n{text}\n{err}")
    copied, nbytes = report_totals(report)
    mt.check(copied == MESSAGES, f"report: {copied} copied")

    # Today's plain lines, unchanged, and no terminal control.
    mt.check("\x1b" not in text + err, f"escape sequences in:\n{text}")
    mt.check(re.search(rf"^batch {batch}: 1 mailboxes queued, \d+ at a time$",
                       text, re.M) is not None, f"queued line:\n{text}")
    mt.check(re.search(rf"^batch {batch} Synced: 1 mailboxes, 1 synced",
                       text, re.M) is not None, f"summary:\n{text}")
    piped_lines(text, n, copied, nbytes, "migrate")

    # The watcher: lines, no escapes, ended by itself, final figures.
    mt.check(watch["rc"] == 0, f"batch status --watch: exit {watch['rc']}\n"
                               f"{watch['out']}")
    mt.check("\x1b" not in watch["out"], "escape sequences from --watch")
    wl = summaries(watch["out"], "batch status --watch")
    mt.check(len(wl) >= 1 and len(wl) == len(watch["out"].splitlines()),
             f"--watch output:\n{watch['out']}")
    check_final(wl[-1], copied, nbytes, "batch status --watch")

    # --no-progress: the same run prints no progress line (a new batch on
    # a private Redis: every message is recognised, nothing copied).
    p = subprocess.run(migrate_cmd(csv, report + "-quiet", "--no-progress",
                                   "--progress-interval", "1"),
                       capture_output=True, text=True, timeout=180)
    mt.check(p.returncode == 0 and "progress:" not in p.stdout and
             f"ok     user{n}@example.test" in p.stdout,
             f"--no-progress: exit {p.returncode}\n{p.stdout}\n{p.stderr}")


# --------------------------------------------------------- direct_lines


def case_direct_lines():
    """`migrate --direct` with stdout a pipe prints the same `progress:`
    lines as the embedded `migrate` (one rule: mf_progress_view_open()),
    among its own lines, the last one with the final figures; --json and
    --no-progress print none."""
    n = 104
    fill(n)
    csv = mt.csv_for([n], "progress104")
    report = os.path.join(mt.TMP, "report104")
    batch = f"pdirect-{mt.RUN_ID}"
    # The bandwidth cap lives in Redis: --direct needs --redis for it.
    p = subprocess.run(migrate_cmd(csv, report, "--direct", "--redis",
                                   REDIS7, "--batch", batch,
                                   "--progress-interval", "1"),
                       capture_output=True, text=True, timeout=180)
    text = p.stdout
    mt.check(p.returncode == 0, f"migrate --direct: exit {p.returncode}\n"
                                f"{text}\n{p.stderr}")
    copied, nbytes = report_totals(report)
    mt.check(copied == MESSAGES, f"report: {copied} copied")
    mt.check("\x1b" not in text + p.stderr, f"escape sequences in:\n{text}")
    mt.check(re.search(r"^1 mailboxes: 1 ok, 0 failed, 0 not run$", text,
                       re.M) is not None, f"summary:\n{text}")
    got = piped_lines(text, n, copied, nbytes, "migrate --direct")
    mt.check(text.index(got[-1].group(0)) < text.index("1 mailboxes: "),
             f"the progress lines before the summary:\n{text}")

    # --no-progress and --json: no progress line (a second pass: every
    # message is there already).
    for flag in ("--no-progress", "--json"):
        p = subprocess.run(migrate_cmd(csv, report + flag, "--direct",
                                       "--redis", REDIS7, "--batch", batch,
                                       "--progress-interval", "1", flag),
                           capture_output=True, text=True, timeout=180)
        mt.check(p.returncode == 0 and "progress:" not in p.stdout,
                 f"--direct {flag}: exit {p.returncode}\n{p.stdout}\n"
                 f"{p.stderr}")


# ------------------------------------------------------------ caps_wait


WAIT_MESSAGES = 60  # 515 KB a mailbox: 5 s or more each at RATE; the wait
# lasts that long, time for `--watch` (a new process) to draw it under load
# (at 35, 3 s, one loaded run missed it)
WATCH_COLS = 132    # room for a waiting mailbox's line uncut


def status_json(batch, must=True):
    """The batch's status document; None, unless must, when there is no
    such batch yet."""
    p = subprocess.run([mt.MAILFERRY, "batch", "status", batch, "--redis",
                        REDIS7, "--json"], capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0 and not must:
        return None
    mt.check(p.returncode == 0, f"batch status --json: exit {p.returncode}"
                                f"\n{p.stdout}\n{p.stderr}")
    return json.loads(p.stdout)


def status_text(batch):
    p = subprocess.run([mt.MAILFERRY, "batch", "status", batch, "--redis",
                        REDIS7], capture_output=True, text=True, timeout=60)
    mt.check(p.returncode == 0, f"batch status: exit {p.returncode}\n"
                                f"{p.stdout}\n{p.stderr}")
    return p.stdout


def case_caps_wait():
    """Users 105 and 106 (Redis database 7), two mailboxes at a time under
    a fleet-wide cap of one source connection: the one that does not get
    it shows as waiting (its live progress, published while it blocks on
    the cap) in `batch status --json` (the mailbox's "connections", the
    totals' "connections"), in the text status and in migrate's progress
    lines; the wait clears once the slot is granted (the same mailbox
    seen copying, holding the connection, waiting false)."""
    users = [105, 106]
    for n in users:
        fill(n, WAIT_MESSAGES)
    csv = mt.csv_for(users, "progress105")
    report = os.path.join(mt.TMP, "report105")
    batch = f"pwait-{mt.RUN_ID}"
    mig = subprocess.Popen(migrate_cmd(csv, report, "--redis", REDIS7,
                                       "--batch", batch, "--concurrency", "2",
                                       "--max-connections", "1",
                                       "--progress-interval", "1"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    lines = []
    reader = threading.Thread(
        target=lambda: lines.extend(ln.rstrip("\n") for ln in mig.stdout))
    reader.start()

    waited = None        # the mailbox seen waiting
    text_seen = totals_seen = granted = False
    display = {}         # `batch status --watch` on a terminal
    watcher = None
    deadline = time.monotonic() + 120
    while mig.poll() is None and time.monotonic() < deadline and not (
            granted and text_seen):
        doc = status_json(batch, must=False)
        if doc is None:  # the batch is not created yet
            time.sleep(0.2)
            continue
        if watcher is None:
            watcher = threading.Thread(target=lambda: display.update(
                zip(("rc", "out"), run_pty(
                    [mt.MAILFERRY, "batch", "status", batch, "--redis",
                     REDIS7, "--watch", "--interval", "1"], WATCH_COLS,
                    ROWS))))
            watcher.start()
        for m in doc["mailboxes"]:
            c = m["connections"]
            if m["state"] == "Syncing" and c["waiting"]:
                mt.check(c["waiting_for"] == "source" and
                         c["cap"] == "total" and c["source_held"] == 0,
                         f"a waiting mailbox: {m}")
                mt.check("waiting for a source connection slot (total cap "
                         "full)" in m["pending"]["text"],
                         f"pending text: {m['pending']}")
                waited = waited or m["email"]
                tc = doc["totals"]["connections"]
                if tc["mailboxes_waiting"] >= 1:
                    mt.check(tc["source"] is not None and
                             tc["source"]["held"] <= 1, f"totals: {tc}")
                    totals_seen = True
            elif waited == m["email"] and m["state"] == "Syncing" and \
                    c["source_held"] == 1:
                mt.check(c["waiting_for"] is None and c["cap"] is None,
                         f"granted but still waiting: {m}")
                granted = True
        if waited and not granted and not text_seen:
            text = status_text(batch)
            if re.search(r"waiting for a source connection slot \(total "
                         r"cap full\)", text):
                mt.check(re.search(r"^  slots     \d running mailboxes "
                                   r"waiting for a slot", text, re.M),
                         f"the text status's slots line:\n{text}")
                text_seen = True
        time.sleep(0.2)
    rc, text, err = end_migrate(mig, reader, lines)
    mt.check(rc == 0, f"migrate: exit {rc}\n{text}\n{err}")
    mt.check(watcher is not None, "batch status --watch never started")
    watcher.join()
    mt.check(waited is not None, f"no mailbox seen waiting for the slot:\n"
                                 f"{text}")
    mt.check(totals_seen, "totals.connections.mailboxes_waiting never 1")
    mt.check(text_seen, "the text status never showed the wait")
    mt.check(granted, f"{waited}: never seen copying after its wait")

    # migrate's own progress lines said it too, and the last says no
    # more (every mailbox done: nothing waits, nothing held).
    got = summaries(text, "migrate")
    mt.check(any("1 mailbox waiting for a slot" in m.group(0) for m in got),
             f"no progress line with the wait:\n{text}")
    mt.check("waiting for a slot" not in got[-1].group(0) and
             got[-1].group(10) == "0" and got[-1].group(11) == "0",
             f"the last progress line: {got[-1].group(0)}")
    # The display (`batch status --watch` on a terminal, the one migrate
    # draws): some frame had the waiting mailbox's line with its wait and
    # the count of mailboxes waiting; the final screen has neither.
    out = display.get("out", "")
    mt.check(display.get("rc") == 0, f"--watch: exit {display.get('rc')}"
                                     f"\n{out}")
    mt.check(re.search(rf"\x1b\[2K  {re.escape(waited)} +\[\.+\] waiting "
                       r"for a source connection slot \(total cap full\) ",
                       out) is not None, f"no display line with the wait:"
                                         f"\n{out!r}")
    mt.check("; 1 mailbox waiting for a slot; " in out,
             f"no display with the count:\n{out!r}")
    _, screen, _, head = final_screen(out, 0, rf"batch {batch}: ",
                                      WATCH_COLS)
    mt.check(len(head) == 1 and "waiting for a" not in screen,
             f"--watch's final screen:\n{screen}")

    # And after the run: both mailboxes synced, nothing waiting.
    doc = status_json(batch)
    for m in doc["mailboxes"]:
        mt.check(m["state"] == "Synced" and not m["connections"]["waiting"],
                 f"after the run: {m}")
    mt.check(doc["totals"]["connections"]["mailboxes_waiting"] == 0,
             f"after the run: {doc['totals']['connections']}")
    print(f"{waited} waited; migrate's progress lines:")
    for m in got:
        print("  " + m.group(0))


CASES = {"tty": case_tty, "lines": case_lines,
         "direct_lines": case_direct_lines, "caps_wait": case_caps_wait}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        mt.fail(f"usage: {sys.argv[0]} {'|'.join(CASES)}")
    CASES[sys.argv[1]]()
    print(f"PASS {sys.argv[1]}")
