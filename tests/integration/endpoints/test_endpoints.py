#!/usr/bin/python3
"""Integration tests of endpoints/ with real clients (dnspython, dig, kdig, raw
sockets) against ep_testd on 127.0.0.1: UDP and TCP (W-1), RFC 7766
pipelining answered out of order, idle timeout, connection cap, slow readers,
malformed input (W-3), live listener changes, stop with clients connected.

Usage: test_endpoints.py PATH/TO/ep_testd
"""
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import time
import unittest

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

TESTD = None
LO = "127.0.0.1"


class Server:
    """ep_testd as a child process; commands on its stdin, replies on stdout."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([TESTD, *map(str, args)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline().split()
        if len(line) != 3 or line[0] != "ready":
            self.proc.kill()
            raise RuntimeError("ep_testd did not start: %r %s" % (line, self.proc.stderr.read()))
        self.port = int(line[2])

    def command(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def stats(self):
        words = self.command("stats").split()
        assert words[0] == "stats", words
        return {k: int(v) for k, v in (w.split("=") for w in words[1:])}

    def wait_stat(self, key, want, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            st = self.stats()
            if st[key] >= want or time.monotonic() > deadline:
                return st
            time.sleep(0.02)

    def stop(self, timeout=10):
        """quit: the server stops, its loops close (exit 0 only if stop() == 0),
        and ASan finds no leak (it would make the exit status non-zero)."""
        out, err = self.proc.communicate("quit\n", timeout=timeout)
        assert self.proc.returncode == 0, (self.proc.returncode, out, err)
        assert "stopped 0" in out, out
        return out

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def query(name, rdtype="A", **kw):
    return dns.message.make_query(name, rdtype, **kw)


def txt(resp):
    return b"".join(resp.answer[0][0].strings).decode()


def framed(msg):
    wire = msg.to_wire() if hasattr(msg, "to_wire") else msg
    return struct.pack("!H", len(wire)) + wire


def read_exact(sock, n, timeout=3.0):
    sock.settimeout(timeout)
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_answer(sock, timeout=3.0):
    pre = read_exact(sock, 2, timeout)
    if pre is None:
        return None
    (n,) = struct.unpack("!H", pre)
    return dns.message.from_wire(read_exact(sock, n, timeout))


def closed_by_server(sock, timeout=3.0):
    """True if the server closed the connection (EOF or reset) within timeout."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def tcp(port):
    s = socket.create_connection((LO, port), timeout=3)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Endpoints(unittest.TestCase):
    def setUp(self):
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.kill()

    def start(self, *args):
        s = Server(*args)
        self.servers.append(s)
        return s

    def test_udp_and_tcp_with_dnspython_w1(self):
        s = self.start("--workers", 2)
        r = dns.query.udp(query("www.example.", "A"), LO, port=s.port, timeout=3)
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertEqual(r.answer[0][0].address, "192.0.2.1")
        r = dns.query.tcp(query("www.example.", "TXT"), LO, port=s.port, timeout=3)
        self.assertIn("listener=main transport=tcp", txt(r))
        workers = set()
        for i in range(40):
            r = dns.query.udp(query("w%d.example." % i, "TXT"), LO, port=s.port, timeout=3)
            self.assertIn("listener=main transport=udp", txt(r))
            workers.add(txt(r).split("worker=")[1])
        # SO_REUSEPORT spreads clients over both workers' sockets (design.md §3).
        self.assertEqual(workers, {"0", "1"})
        st = s.stats()
        self.assertEqual(st["udp_queries"], 41)
        self.assertEqual(st["tcp_queries"], 1)
        s.stop()

    def test_dig_and_kdig_w1(self):
        s = self.start()
        for cmd in (["dig", "+tcp"], ["dig", "+notcp"], ["kdig", "+tcp"], ["kdig", "+notcp"]):
            out = subprocess.run(cmd + ["+short", "@" + LO, "-p", str(s.port), "host.example.",
                                        "TXT"], capture_output=True, text=True, timeout=10)
            self.assertEqual(out.returncode, 0, out.stderr)
            want = "transport=tcp" if cmd[1] == "+tcp" else "transport=udp"
            self.assertIn(want, out.stdout, cmd)
        # Q-7 with a real client: TC over UDP, dig retries over TCP by itself.
        out = subprocess.run(["dig", "@" + LO, "-p", str(s.port), "+noedns", "big-3000.example.",
                              "TXT"], capture_output=True, text=True, timeout=10)
        self.assertIn("Truncated, retrying in TCP mode", out.stdout)
        self.assertIn("ANSWER: 1", out.stdout)
        s.stop()

    def test_pipelined_answers_out_of_order_rfc7766(self):
        s = self.start("--workers", 2)
        sock = tcp(s.port)
        q1 = query("delay-400.example.", "A")  # answered after a uv_timer
        q2 = query("two.example.", "A")
        q3 = query("three.example.", "TXT")
        q1.id, q2.id, q3.id = 1, 2, 3
        sock.sendall(framed(q1) + framed(q2) + framed(q3))  # one write, three queries
        got = [read_answer(sock) for _ in range(3)]
        self.assertNotIn(None, got)
        ids = [m.id for m in got]
        self.assertEqual(sorted(ids), [1, 2, 3])
        self.assertEqual(ids[2], 1, "the delayed answer must come last, after the others")
        for m in got:
            self.assertEqual(m.rcode(), dns.rcode.NOERROR)
        sock.close()
        s.stop()

    def test_partial_writes_from_client(self):
        s = self.start()
        sock = tcp(s.port)
        wire = framed(query("slow.example.", "A"))
        for b in wire:  # one octet per segment
            sock.sendall(bytes([b]))
            time.sleep(0.005)
        r = read_answer(sock)
        self.assertEqual(r.answer[0][0].address, "192.0.2.1")
        sock.close()
        s.stop()

    def test_idle_timeout_rfc7766(self):
        s = self.start("--idle-ms", 300)
        sock = tcp(s.port)
        # Activity resets the timer: 3 queries 200 ms apart span 600 ms.
        for i in range(3):
            sock.sendall(framed(query("a%d.example." % i)))
            self.assertIsNotNone(read_answer(sock))
            time.sleep(0.2)
        t0 = time.monotonic()
        self.assertTrue(closed_by_server(sock, 3.0))
        self.assertLess(time.monotonic() - t0, 1.5)
        sock.close()
        # A connection with a query in flight is not idle (answer after 700 ms).
        sock = tcp(s.port)
        sock.sendall(framed(query("delay-700.example.")))
        r = read_answer(sock, 3.0)
        self.assertIsNotNone(r, "closed while a query was in flight")
        self.assertTrue(closed_by_server(sock, 3.0))
        sock.close()
        st = s.stats()
        self.assertEqual(st["tcp_closed_idle"], 2)
        self.assertEqual(st["tcp_open"], 0)
        s.stop()

    def test_connection_cap(self):
        s = self.start("--workers", 1, "--max-conns", 2)
        c1, c2 = tcp(s.port), tcp(s.port)
        for c in (c1, c2):
            c.sendall(framed(query("x.example.")))
            self.assertIsNotNone(read_answer(c))
        c2.sendall(framed(query("y.example.")))  # c2 is now more recent than c1
        self.assertIsNotNone(read_answer(c2))
        c3 = tcp(s.port)
        c3.sendall(framed(query("z.example.")))
        self.assertIsNotNone(read_answer(c3))
        # The least recently active idle connection made room.
        self.assertTrue(closed_by_server(c1))
        self.assertFalse(closed_by_server(c2, 0.2))
        # All busy: a new connection is closed at once.
        c2.sendall(framed(query("delay-1500.example.")))
        c3.sendall(framed(query("delay-1500.example.")))
        s.wait_stat("tcp_queries", 6)
        c4 = tcp(s.port)
        self.assertTrue(closed_by_server(c4, 1.0))
        self.assertIsNotNone(read_answer(c2))
        self.assertIsNotNone(read_answer(c3))
        st = s.stats()
        self.assertEqual(st["tcp_closed_cap"], 2)
        self.assertEqual(st["tcp_accepted"], 4)
        for c in (c1, c2, c3, c4):
            c.close()
        s.stop()

    def test_short_and_garbage_udp_w3(self):
        s = self.start("--workers", 2)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(0.3)
        for junk in (b"", b"\x00", b"\x01" * 11):
            u.sendto(junk, (LO, s.port))
            with self.assertRaises(socket.timeout):
                u.recv(4096)
        # A header but garbage after it: FORMERR with the same ID (W-3).
        junk = b"\xab\xcd" + b"\x01\x00\x00\x05" + bytes(range(40))
        u.sendto(junk, (LO, s.port))
        u.settimeout(3)
        r = dns.message.from_wire(u.recv(4096), question_only=True)
        self.assertEqual(r.id, 0xabcd)
        self.assertEqual(r.rcode(), dns.rcode.FORMERR)
        # A bounded burst of random datagrams does not crash anything.
        rnd = random.Random(7)
        for _ in range(500):
            u.sendto(bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 80))),
                     (LO, s.port))
        r = dns.query.udp(query("still.example."), LO, port=s.port, timeout=3)
        self.assertEqual(r.answer[0][0].address, "192.0.2.1")
        st = s.wait_stat("dropped_short", 3)
        self.assertGreaterEqual(st["dropped_short"], 3)
        u.close()
        s.stop()

    def test_udp_queries_wait_out_a_stalled_worker(self):
        """[privres] A worker kept off the CPU (here: stopped) for a moment
        loses no query: 1,200 queries wait in the socket's receive buffer
        (1 MiB asked; the system's default holds a few hundred) and are all
        answered once it runs again."""
        s = self.start("--workers", 1)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        u.connect((LO, s.port))
        wire = bytearray(query("stall.example.").to_wire())
        n = 1200
        os.kill(s.proc.pid, signal.SIGSTOP)
        try:
            for i in range(n):
                struct.pack_into("!H", wire, 0, i)
                u.send(wire)
        finally:
            os.kill(s.proc.pid, signal.SIGCONT)
        u.settimeout(3)
        seen = set()
        try:
            while len(seen) < n:
                seen.add(struct.unpack("!H", u.recv(4096)[:2])[0])
        except socket.timeout:
            pass
        self.assertEqual(len(seen), n)
        u.close()
        s.stop()

    def test_tcp_bad_lengths_close_w3(self):
        s = self.start()
        for bad in (b"\x00\x00", b"\x00\x05hello"):
            sock = tcp(s.port)
            sock.sendall(bad)
            self.assertTrue(closed_by_server(sock))
            sock.close()
        # Good queries before a bad one are still answered.
        sock = tcp(s.port)
        sock.sendall(framed(query("ok.example.")) + b"\x00\x00")
        self.assertIsNotNone(read_answer(sock))
        self.assertTrue(closed_by_server(sock))
        sock.close()
        self.assertEqual(s.stats()["tcp_closed_badlen"], 3)
        s.stop()

    def test_slow_reader_write_queue_cap_w3(self):
        s = self.start("--workers", 1, "--max-write-queue", 131072)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((LO, s.port))
        burst = b"".join(framed(query("big-60000.n%d.example." % i, "TXT")) for i in range(400))
        try:
            sock.sendall(burst)  # never read: the answers pile up on the server
        except (BrokenPipeError, ConnectionResetError):
            pass
        st = s.wait_stat("tcp_closed_slow", 1, timeout=10)
        self.assertEqual(st["tcp_closed_slow"], 1)
        self.assertEqual(s.wait_stat("tcp_open", 0)["tcp_open"], 0)
        sock.close()
        r = dns.query.tcp(query("after.example."), LO, port=s.port, timeout=3)
        self.assertEqual(r.answer[0][0].address, "192.0.2.1")
        s.stop()

    def test_set_listeners_at_run_time(self):
        s = self.start("--workers", 2)
        words = s.command("add second 0").split()
        self.assertEqual(words[:2], ["ok", "second"])
        p2 = int(words[2])
        self.assertNotEqual(p2, s.port)
        r = dns.query.udp(query("n.example.", "TXT"), LO, port=p2, timeout=3)
        self.assertIn("listener=second transport=udp", txt(r))
        r = dns.query.tcp(query("n.example.", "TXT"), LO, port=p2, timeout=3)
        self.assertIn("listener=second transport=tcp", txt(r))
        keep = tcp(s.port)  # a connection to main lives through the changes
        self.assertEqual(s.command("remove second"), "ok")
        with self.assertRaises(dns.exception.Timeout):
            dns.query.udp(query("n.example."), LO, port=p2, timeout=0.5)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection((LO, p2), timeout=2)
        keep.sendall(framed(query("main.example.", "TXT")))
        self.assertIn("listener=main", txt(read_answer(keep)))
        keep.close()
        # A port held by someone else: the change fails and changes nothing.
        busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        busy.bind((LO, 0))
        reply = s.command("add third %d" % busy.getsockname()[1])
        self.assertTrue(reply.startswith("err "), reply)
        self.assertIn("listeners[third]: 127.0.0.1:%d" % busy.getsockname()[1], reply)
        busy.close()
        r = dns.query.udp(query("n.example.", "TXT"), LO, port=s.port, timeout=3)
        self.assertIn("listener=main", txt(r))
        s.stop()

    def test_stop_with_clients_connected(self):
        s = self.start("--workers", 2)
        socks = [tcp(s.port) for _ in range(5)]
        socks[0].sendall(framed(query("delay-5000.example.")))
        socks[1].sendall(b"\x00\x40" + b"\x00" * 10)  # half a message
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(query("delay-5000.example.").to_wire(), (LO, s.port))
        s.wait_stat("udp_queries", 1)
        s.wait_stat("tcp_queries", 1)
        t0 = time.monotonic()
        s.stop()
        self.assertLess(time.monotonic() - t0, 3.0, "stop waited for the delayed answers")
        for c in socks:
            self.assertTrue(closed_by_server(c, 1.0))
            c.close()
        u.close()

    def test_start_failure_names_address(self):
        busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        busy.bind((LO, 0))
        port = busy.getsockname()[1]
        p = subprocess.run([TESTD, "--port", str(port)], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=10)
        busy.close()
        self.assertEqual(p.returncode, 1)
        self.assertIn("listeners[main]: 127.0.0.1:%d" % port, p.stderr)
        self.assertIn("Address already in use", p.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
        sys.exit("usage: test_endpoints.py PATH/TO/ep_testd")
    TESTD = sys.argv.pop(1)
    unittest.main(verbosity=2)
