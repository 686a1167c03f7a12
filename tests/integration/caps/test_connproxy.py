#!/usr/bin/python3
"""The connection-counting proxy (tests/support/connproxy) with real sockets.

An echo server stands in for the IMAP server; clients bind to 127.0.0.1,
127.0.0.2 and 127.0.0.3 to look like three hosts. The proxy's stats file
must show the right current and peak counts, in total and per client IP,
and it must exit 0 on SIGTERM.

    test_connproxy.py PATH/TO/connproxy
"""
import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.request.sendall(data)


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def wait_for(pred, what, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def connect(port, src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    s.sendall(b"hello " + src.encode())
    got = b""
    while len(got) < 6 + len(src):
        chunk = s.recv(100)
        assert chunk, "proxy closed the connection"
        got += chunk
    assert got == b"hello " + src.encode(), got
    return s


def main():
    proxy_bin = sys.argv[1]
    echo = EchoServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    tmp = tempfile.mkdtemp(prefix="mailferry-connproxy.")
    port_file = os.path.join(tmp, "port")
    stats_file = os.path.join(tmp, "stats.json")
    proc = subprocess.Popen([
        proxy_bin, "--listen-port-file", port_file,
        "--upstream", "127.0.0.1:%d" % echo.server_address[1],
        "--stats", stats_file])
    socks = []
    try:
        port = int(wait_for(lambda: os.path.exists(port_file) and
                            open(port_file).read().strip(), "the port file"))

        def stats_match(cond):
            def pred():
                st = read_json(stats_file)
                return st if st and cond(st) else None
            return pred

        plan = {"127.0.0.1": 1, "127.0.0.2": 2, "127.0.0.3": 3}
        for ip, n in plan.items():
            for _ in range(n):
                socks.append((ip, connect(port, ip)))
        st = wait_for(stats_match(lambda s: s["current"] == 6), "6 open")
        assert st["peak"] == 6, st
        for ip, n in plan.items():
            assert st["per_ip"][ip]["current"] == n, st
            assert st["per_ip"][ip]["peak"] == n, st

        # Close the 127.0.0.3 connections, open one more from 127.0.0.2:
        # current drops, peaks stay, 127.0.0.2's peak rises to 3.
        for ip, s in [x for x in socks if x[0] == "127.0.0.3"]:
            s.close()
        socks = [x for x in socks if x[0] != "127.0.0.3"]
        wait_for(stats_match(lambda s: s["current"] == 3), "3 open")
        socks.append(("127.0.0.2", connect(port, "127.0.0.2")))
        st = wait_for(stats_match(
            lambda s: s["per_ip"]["127.0.0.2"]["current"] == 3), "3 from .2")
        assert st["peak"] == 6, st
        assert st["current"] == 4, st
        assert st["per_ip"]["127.0.0.2"]["peak"] == 3, st
        assert st["per_ip"]["127.0.0.3"] == \
            {"current": 0, "peak": 3, "accepted": 3}, st
        assert st["accepted"] == 7, st
        assert st["upstream_errors"] == 0, st

        # SIGTERM with connections open: exits 0, final stats written.
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=10)
        assert rc == 0, "connproxy exited %d" % rc
        st = read_json(stats_file)
        assert st["peak"] == 6 and st["current"] == 0, st
        print("connproxy: ok; final stats", json.dumps(st, sort_keys=True))
    finally:
        for _, s in socks:
            s.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        echo.shutdown()
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)


if __name__ == "__main__":
    main()
