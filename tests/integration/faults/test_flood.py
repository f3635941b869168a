"""Floods, bounded (W-1, W-3): UDP garbage, thousands of idle TCP connections,
slow-loris, a pipeline of 10,000 queries on one TCP connection. A well-behaved client keeps
being answered (its QPS during each flood is printed), privresd's RSS stays
under MEMORY_BOUND_MIB, and the caps and timeouts show in `stats`
(tcpClosedCap, tcpClosedIdle, droppedShort)."""
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from privres_harness import BUILD, PRIVRESD, Privresd  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402

HOST = "127.0.0.1"
# The bound stated in README.md (ASan build: its shadow memory and quarantine
# are in RSS too). Connections: 2 workers x the 1000-connection cap.
MEMORY_BOUND_MIB = 400
IDLE_MS = 2000
WORKERS = 2


GARBAGE = """
import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end, i = time.monotonic() + float(sys.argv[2]), 0
while time.monotonic() < end:
    i += 1
    s.sendto(os.urandom(1 + i % 40) if i % 2 else bytes(11), ("127.0.0.1", int(sys.argv[1])))
"""


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


class Flood(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        text = subprocess.run([PRIVRESD, "--print-default"], capture_output=True, text=True,
                              check=True).stdout
        text = text.replace("emulator:\n", "emulator:\n  basePort: 0\n  tcpIdleTimeoutMs: %d\n"
                            % IDLE_MS, 1)
        cls.d = Privresd(text, args=["--quiet"], workers=WORKERS)
        cls.port = cls.d.port("azure-dns/spoke1")
        cls.peak_rss = 0.0
        cls.wire = dns.message.make_query("web.azure.contoso.com", "A").to_wire()

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        assert rc == 0, cls.d.log()[-2000:]
        print("\n  peak RSS %.0f MiB (bound %d MiB)" % (cls.peak_rss, MEMORY_BOUND_MIB))

    def stats(self):
        p = subprocess.run([os.path.join(BUILD, "api", "privresctl"), "--socket",
                            os.path.join(self.d.dir, "api.sock"), "stats"],
                           capture_output=True, text=True, timeout=30)
        return {k: int(v) for k, v in json.loads(p.stdout)["counters"].items()}

    def well_behaved_qps(self, seconds=3.0):
        """Answers per second to one client asking one query at a time, and
        the number that went unanswered (1 s timeout each)."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(1.0)
        n = lost = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            s.sendto(self.wire, (HOST, self.port))
            try:
                s.recv(4096)
                n += 1
            except socket.timeout:
                lost += 1
            type(self).peak_rss = max(self.peak_rss, rss_mib(self.d.proc.pid))
        s.close()
        return n / seconds, lost

    def check_memory(self):
        rss = rss_mib(self.d.proc.pid)
        type(self).peak_rss = max(self.peak_rss, rss)
        self.assertLess(rss, MEMORY_BOUND_MIB)

    def test_1_udp_garbage(self):
        base, _ = self.well_behaved_qps(2)
        # another process (one core of two), so that the client measured does
        # not share its interpreter with the flood
        garbage = subprocess.Popen(["/usr/bin/python3", "-c", GARBAGE, str(self.port), "6"])
        try:
            time.sleep(0.5)
            qps, lost = self.well_behaved_qps(5)
        finally:
            garbage.wait(timeout=30)
        st = self.stats()
        self.assertGreater(st["droppedShort"], 0)
        self.assertGreater(qps, 0)
        self.check_memory()
        print("\n  UDP garbage: well-behaved %.0f q/s (%.0f before, %d lost), droppedShort %d"
              % (qps, base, lost, st["droppedShort"]))

    def test_2_idle_tcp_connections(self):
        n = 3000  # over the cap of 2 x 1000
        conns = []
        for _ in range(n):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex((HOST, self.port))
            conns.append(c)
        time.sleep(0.5)
        qps, lost = self.well_behaved_qps(2)
        r = dns.query.tcp(dns.message.make_query("web.azure.contoso.com", "A"), HOST,
                          port=self.port, timeout=3)
        self.assertEqual(len(r.answer), 1)  # a new TCP client is served
        st = self.stats()
        self.assertGreater(st["tcpClosedCap"], 0)
        self.assertLessEqual(st["tcpOpen"], 1000 * WORKERS)
        self.check_memory()
        time.sleep(IDLE_MS / 1000.0 + 1.5)
        st2 = self.stats()
        self.assertGreater(st2["tcpClosedIdle"], 0)
        self.assertLess(st2["tcpOpen"], 10)
        for c in conns:
            c.close()
        print("\n  %d idle TCP connections: well-behaved %.0f q/s (%d lost); tcpClosedCap %d, "
              "then tcpClosedIdle %d, tcpOpen %d" % (n, qps, lost, st["tcpClosedCap"],
                                                       st2["tcpClosedIdle"], st2["tcpOpen"]))

    def test_3_slow_loris(self):
        """One byte per second: the connection does not outlive the idle
        timeout by sending a byte now and then."""
        conns = [socket.create_connection((HOST, self.port)) for _ in range(20)]
        msg = struct.pack("!H", len(self.wire)) + self.wire
        start = time.monotonic()
        closed_at = {}
        i = 0
        while time.monotonic() - start < IDLE_MS / 1000.0 * 5 and len(closed_at) < len(conns):
            for k, c in enumerate(conns):
                if k in closed_at:
                    continue
                try:
                    if c.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) == b"":
                        closed_at[k] = time.monotonic() - start  # FIN from privresd
                        continue
                except BlockingIOError:
                    pass
                except OSError:
                    closed_at[k] = time.monotonic() - start
                    continue
                try:
                    c.send(msg[i % len(msg):i % len(msg) + 1])
                except OSError:
                    closed_at[k] = time.monotonic() - start
            i += 1
            time.sleep(1.0)
        for c in conns:
            c.close()
        st = self.stats()
        self.assertEqual(len(closed_at), len(conns),
                         "slow-loris connections still open after %.0f s" % (IDLE_MS * 5 / 1000))
        print("\n  slow-loris: 20 connections closed after %.1f s at most; tcpClosedSlow %d, "
              "tcpClosedIdle %d" % (max(closed_at.values()), st["tcpClosedSlow"],
                                    st["tcpClosedIdle"]))

    def test_4_pipeline_10000_on_one_connection(self):
        c = socket.create_connection((HOST, self.port))
        c.settimeout(10)
        n = 10000
        got = [0]

        def reader():
            buf = b""
            while got[0] < n:
                try:
                    data = c.recv(65536)
                except socket.timeout:
                    return
                if not data:
                    return
                buf += data
                while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                    buf = buf[2 + struct.unpack("!H", buf[:2])[0]:]
                    got[0] += 1

        t = threading.Thread(target=reader)
        t.start()
        start = time.monotonic()
        q = bytearray(self.wire)
        for i in range(n):
            struct.pack_into("!H", q, 0, i & 0xFFFF)
            c.sendall(struct.pack("!H", len(q)) + q)
        t.join(timeout=60)
        took = time.monotonic() - start
        c.close()
        self.assertEqual(got[0], n)
        self.check_memory()
        print("\n  pipeline: %d queries on one TCP connection answered in %.1f s (%.0f q/s)"
              % (n, took, n / took))

    def test_5_grpc_socket_idle_and_garbage(self):
        """The management socket: 500 idle connections and 50 sending garbage
        in place of the HTTP/2 preface; stats is still answered."""
        path = os.path.join(self.d.dir, "api.sock")
        conns = []
        for i in range(550):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(path)
            if i >= 500:
                c.sendall(os.urandom(4096))
            conns.append(c)
        try:
            start = time.monotonic()
            st = self.stats()
            took = time.monotonic() - start
            self.assertGreater(st["answersSent"], 0)
            self.assertLess(took, 5.0)
            qps, lost = self.well_behaved_qps(2)
            self.check_memory()
        finally:
            for c in conns:
                c.close()
        self.assertGreater(self.stats()["apiCalls"], 0)
        print("\n  gRPC socket, 500 idle + 50 garbage connections: stats in %.0f ms, DNS %.0f q/s"
              % (took * 1000, qps))


if __name__ == "__main__":
    unittest.main(verbosity=2)
