#!/usr/bin/python3
"""A hostile (or broken) IMAP server for deadline tests (issue 17 item 7).

    hostileimap.py MODE [--port-file FILE]

It listens on 127.0.0.1 (a free port, written to FILE and printed), greets,
answers CAPABILITY, LOGIN, NAMESPACE and LOGOUT like a server, and answers
every other command (the client's LIST, SELECT, ...) in MODE:

  trickle  "* OK " and then one byte every 2 seconds, forever: each byte
           is progress, so a no-progress timeout never fires
  flood    endless "* 1 EXISTS" lines, as fast as the client reads

Each connection has its own thread; the server runs until killed.
"""
import argparse
import socket
import threading
import time

CAPS = b"IMAP4rev1 LITERAL+ NAMESPACE"


def serve(conn):
    f = conn.makefile("rb")
    try:
        conn.sendall(b"* OK [CAPABILITY " + CAPS + b"] hostile ready\r\n")
        while True:
            line = f.readline()
            if not line:
                return
            parts = line.rstrip(b"\r\n").split(b" ", 2)
            tag = parts[0]
            cmd = parts[1].upper() if len(parts) > 1 else b""
            if cmd == b"CAPABILITY":
                conn.sendall(b"* CAPABILITY " + CAPS + b"\r\n" + tag +
                             b" OK done\r\n")
            elif cmd in (b"LOGIN", b"AUTHENTICATE"):
                conn.sendall(tag + b" OK [CAPABILITY " + CAPS +
                             b"] logged in\r\n")
            elif cmd == b"NAMESPACE":
                conn.sendall(b'* NAMESPACE (("" "/")) NIL NIL\r\n' + tag +
                             b" OK done\r\n")
            elif cmd == b"LOGOUT":
                conn.sendall(b"* BYE bye\r\n" + tag + b" OK done\r\n")
                return
            elif MODE == "trickle":
                conn.sendall(b"* OK ")
                while True:
                    time.sleep(2)
                    conn.sendall(b"x")
            else:
                chunk = b"* 1 EXISTS\r\n" * 4096
                while True:
                    conn.sendall(chunk)
    except OSError:
        return
    finally:
        conn.close()


def main():
    global MODE
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["trickle", "flood"])
    ap.add_argument("--port-file")
    a = ap.parse_args()
    MODE = a.mode
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    port = ls.getsockname()[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as fp:
            fp.write(f"{port}\n")
        import os
        os.rename(a.port_file + ".tmp", a.port_file)
    print(port, flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


MODE = "trickle"
if __name__ == "__main__":
    main()
