#!/usr/bin/python3
"""A fake IMAP server that answers with a certificate the client must not
trust, and records whether a credential ever reached it (issue 17 item 1).

It plays the on-path relay of the review: the first --trusted-first
connections are served with a certificate the client trusts (signed by the
CA the test passes as --ca-file), every later one with an impostor's
certificate. On every connection not made with the trusted certificate it
records each command it receives, and above all any LOGIN or AUTHENTICATE
(the line itself and any SASL continuation that follows).

    tlstrap.py --port-file F --record R --trusted CERT KEY --untrusted CERT KEY
               [--trusted-first K] [--login accept|refuse] [--starttls]

Implicit TLS by default; --starttls serves a plain greeting that offers
STARTTLS and upgrades on request. Logins on trusted connections are
accepted or refused ("NO [AUTHENTICATIONFAILED]") as --login says; on
untrusted ones they are always refused. R gets one line per event:

    untrusted 3 CREDENTIAL a002 AUTHENTICATE PLAIN
    untrusted 3 COMMAND a001 CAPABILITY

SIGTERM stops it. Python standard library only.
"""
import argparse
import os
import signal
import socket
import ssl
import sys
import threading

LOCK = threading.Lock()
COUNT = [0]


def record(path, text):
    with LOCK:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text + "\n")


def context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


class Conn:
    def __init__(self, args, sock, n, trusted):
        self.args, self.sock, self.n, self.trusted = args, sock, n, trusted
        self.buf = b""

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                return None
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode("utf-8", "replace")

    def note(self, what, line):
        if not self.trusted:
            record(self.args.record, "untrusted %d %s %s" % (self.n, what,
                                                             line[:60]))

    def caps(self):
        if self.args.starttls and not isinstance(self.sock, ssl.SSLSocket):
            return "IMAP4rev1 STARTTLS LOGINDISABLED"
        return "IMAP4rev1 AUTH=PLAIN SASL-IR"

    def login_answer(self, tag):
        if self.trusted and self.args.login == "accept":
            self.send("%s OK [CAPABILITY %s] Logged in" % (tag, self.caps()))
        else:
            self.send("%s NO [AUTHENTICATIONFAILED] Authentication failed."
                      % tag)

    def run(self):
        self.send("* OK [CAPABILITY %s] tlstrap ready" % self.caps())
        while True:
            line = self.line()
            if line is None:
                return
            tag, _, rest = line.partition(" ")
            cmd = rest.split(" ", 1)[0].upper()
            if cmd in ("LOGIN", "AUTHENTICATE"):
                self.note("CREDENTIAL", line)
                if cmd == "AUTHENTICATE" and len(rest.split()) < 3:
                    self.send("+ ")
                    cont = self.line()
                    if cont is None:
                        return
                    self.note("CREDENTIAL", "continuation")
                self.login_answer(tag)
                continue
            self.note("COMMAND", line)
            if cmd == "CAPABILITY":
                self.send("* CAPABILITY " + self.caps())
                self.send(tag + " OK done")
            elif cmd == "STARTTLS":
                self.send(tag + " OK begin TLS")
                self.sock = self.wrap(self.sock)
                if self.sock is None:
                    return
            elif cmd == "LOGOUT":
                self.send("* BYE bye")
                self.send(tag + " OK done")
                return
            elif cmd == "LIST":
                self.send('* LIST () "/" INBOX')
                self.send(tag + " OK done")
            else:
                self.send(tag + " OK done")

    def wrap(self, sock):
        a = self.args
        cert = a.trusted if self.trusted else a.untrusted
        try:
            return context(*cert).wrap_socket(sock, server_side=True)
        except (ssl.SSLError, OSError):
            return None  # the client refused the certificate: good


def serve(args, sock):
    with LOCK:
        COUNT[0] += 1
        n = COUNT[0]
    trusted = n <= args.trusted_first
    try:
        c = Conn(args, sock, n, trusted)
        if not args.starttls:
            c.sock = c.wrap(sock)
            if c.sock is None:
                return
        c.run()
    except (OSError, ssl.SSLError):
        pass
    finally:
        try:
            sock.close()
        except OSError:
            pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--record", required=True)
    p.add_argument("--trusted", nargs=2, required=True)
    p.add_argument("--untrusted", nargs=2, required=True)
    p.add_argument("--trusted-first", type=int, default=0)
    p.add_argument("--login", choices=("accept", "refuse"), default="refuse")
    p.add_argument("--starttls", action="store_true")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    open(args.record, "a").close()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(ls.getsockname()[1]))
    os.rename(tmp, args.port_file)
    while True:
        s, _ = ls.accept()
        threading.Thread(target=serve, args=(args, s), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
