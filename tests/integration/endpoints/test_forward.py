#!/usr/bin/python3
"""Integration tests of the outbound forwarder (endpoints/forward.c) against
real servers on 127.0.0.1: Debian's unbound, and small dnspython servers
that misbehave on purpose. Driven through ep_fwd_probe (one forwarder, one
health table, kept across queries as in the daemon).

Rules: F-10 (target order, failover within the deadline, unresponsive
targets skipped then tried again, all down → failure at the deadline), W-4
(fresh ID and source port per try; replies accepted only from the target
with the same ID and question), Q-7 (TC over UDP → retry over TCP), O-1
(source address bound, never substituted), design.md §4 (unmapped targets
never contacted).

Usage: test_forward.py PATH/TO/ep_fwd_probe
"""
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import dns.flags
import dns.name
import dns.query
import dns.rdata
import dns.rdataclass
import dns.message
import dns.rdatatype
import dns.rrset

PROBE = None
LO = "127.0.0.1"
UNRESPONSIVE_MS = 2000
BACKOFF_MS = 100
PR_ETIMEOUT = -1011
PR_EUNMAPPED = -1010
EADDRNOTAVAIL = 99
CLIENT_ID = 0xABCD


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    while True:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((LO, 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind((LO, port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()


class Unbound:
    """unbound -d on a loopback port, answering who.fwd.test. with its own
    address so a test can see which target answered."""

    def __init__(self, answer, port=None):
        self.answer = answer
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="privres-unbound-")
        self.conf = os.path.join(self.dir, "unbound.conf")
        with open(self.conf, "w") as f:
            f.write(f"""server:
    interface: 127.0.0.1@{self.port}
    port: {self.port}
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "{self.dir}"
    pidfile: "{self.dir}/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 0
    do-ip6: no
    num-threads: 1
    module-config: "iterator"
    local-zone: "fwd.test." static
    local-data: "who.fwd.test. 60 IN A {answer}"
remote-control:
    control-enable: no
""")
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(["unbound", "-d", "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        q = dns.message.make_query("who.fwd.test.", "A")
        while time.monotonic() < deadline:
            try:
                dns.query.udp(q, LO, port=self.port, timeout=0.2)
                return
            except Exception:
                if self.proc.poll() is not None:
                    raise RuntimeError("unbound failed: %s" % self.proc.stderr.read())
                time.sleep(0.05)
        raise RuntimeError("unbound did not answer on port %d" % self.port)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.proc.stderr.close()
        self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class BadServer:
    """A dnspython server on UDP (and TCP) that records every query it gets
    (source address, port, ID) and answers according to mode:
    silent, good, wrong_id, other_port, wrong_question, tc (TC over UDP,
    the full answer over TCP)."""

    def __init__(self, mode, answers=1):
        self.mode = mode
        self.answers = answers
        self.seen = []  # (transport, src addr, src port, id)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((LO, 0))
        self.port = self.udp.getsockname()[1]
        self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.other.bind((LO, 0))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((LO, self.port))
        self.tcp.listen(8)
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def reply_for(self, q, tcp):
        r = dns.message.make_response(q)
        if self.mode == "wrong_question":
            r.question = [dns.rrset.RRset(dns.name.from_text("other.fwd.test."),
                                          dns.rdataclass.IN, dns.rdatatype.A)]
        if self.mode == "tc" and not tcp:
            r.flags |= dns.flags.TC
            return r
        rrs = r.find_rrset(r.answer, q.question[0].name, dns.rdataclass.IN,
                           dns.rdatatype.A, create=True)
        for i in range(self.answers):
            rrs.add(dns.rdata.from_text("IN", "A", "10.77.%d.%d" % (i // 250, i % 250 + 1)),
                    ttl=60)
        if self.mode == "wrong_id":
            r.id = q.id ^ 0x5555
        return r

    def run(self):
        while not self.stopping:
            ready, _, _ = select.select([self.udp, self.tcp], [], [], 0.05)
            for s in ready:
                if s is self.udp:
                    data, src = self.udp.recvfrom(65535)
                    q = dns.message.from_wire(data)
                    self.seen.append(("udp", src[0], src[1], q.id))
                    if self.mode == "silent":
                        continue
                    wire = self.reply_for(q, False).to_wire()
                    out = self.other if self.mode == "other_port" else self.udp
                    out.sendto(wire, src)
                else:
                    c, src = self.tcp.accept()
                    with c:
                        c.settimeout(1)
                        try:
                            n = struct.unpack("!H", c.recv(2, socket.MSG_WAITALL))[0]
                            q = dns.message.from_wire(c.recv(n, socket.MSG_WAITALL))
                        except Exception:
                            continue
                        self.seen.append(("tcp", src[0], src[1], q.id))
                        if self.mode != "silent":
                            wire = self.reply_for(q, True).to_wire()
                            c.sendall(struct.pack("!H", len(wire)) + wire)

    def close(self):
        self.stopping = True
        self.thread.join()
        for s in (self.udp, self.other, self.tcp):
            s.close()


class Probe:
    def __init__(self):
        self.proc = subprocess.Popen([PROBE, str(UNRESPONSIVE_MS), str(BACKOFF_MS)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def command(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def query(self, targets, name="who.fwd.test.", rdtype="A", try_ms=300, deadline_ms=1500,
              source="-"):
        line = self.command("query %s %s %d %d %s %s" % (name, rdtype, try_ms, deadline_ms,
                                                         source, " ".join(targets)))
        words = line.split()
        assert words and words[0] == "result", line
        r = dict(w.split("=", 1) for w in words[1:])
        for k in ("status", "target", "tcp", "tries", "ms"):
            r[k] = int(r[k])
        r["msg"] = None if r["reply"] == "-" else dns.message.from_wire(bytes.fromhex(r["reply"]))
        return r

    def stats(self):
        words = self.command("stats").split()
        assert words[0] == "stats", words
        return {k: int(v) for k, v in (w.split("=") for w in words[1:])}

    def health(self):
        words = self.command("health").split()
        assert words[0] == "health", words
        out = {}
        for w in words[1:]:
            key, val = w.split("=")
            state, fails = val.split("/")
            out[key] = (state, int(fails))
        return out

    def quit(self):
        out, err = self.proc.communicate("quit\n", timeout=10)
        assert self.proc.returncode == 0, (self.proc.returncode, out, err)
        assert "closed 0" in out, out


def addresses(msg):
    return sorted(rd.address for rrs in msg.answer for rd in rrs)


def tgt(server):
    return "%s:%d" % (LO, server.port)


class ForwardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.u1 = Unbound("10.0.0.1")
        cls.u2 = Unbound("10.0.0.2")

    @classmethod
    def tearDownClass(cls):
        cls.u1.close()
        cls.u2.close()

    def setUp(self):
        self.probe = Probe()
        self.servers = []

    def tearDown(self):
        try:
            self.probe.quit()
        finally:
            for s in self.servers:
                s.close()

    def bad(self, mode, **kw):
        s = BadServer(mode, **kw)
        self.servers.append(s)
        return s

    def test_first_target_answers_f10(self):
        r = self.probe.query([tgt(self.u1), tgt(self.u2)])
        self.assertEqual(r["status"], 0)
        self.assertEqual(r["target"], 0)
        self.assertEqual(r["tries"], 1)
        self.assertEqual(addresses(r["msg"]), ["10.0.0.1"])
        # W-4: the reply carries the try's ID, not the client's; the question
        # is the client's.
        self.assertNotEqual(r["msg"].id, CLIENT_ID)
        self.assertEqual(str(r["msg"].question[0].name), "who.fwd.test.")

    def test_failover_unresponsive_and_recovery_f10(self):
        # A private pair, so other tests' health does not interfere.
        a, b = Unbound("10.0.1.1"), Unbound("10.0.1.2")
        try:
            targets = [tgt(a), tgt(b)]
            self.assertEqual(self.probe.query(targets)["target"], 0)
            a.stop()
            # The first target is gone: the second answers within one deadline.
            r = self.probe.query(targets, try_ms=300, deadline_ms=1500)
            self.assertEqual((r["status"], r["target"], r["tries"]), (0, 1, 2))
            self.assertLess(r["ms"], 1500)
            self.assertEqual(addresses(r["msg"]), ["10.0.1.2"])
            # Just failed: backing off, not tried.
            r = self.probe.query(targets)
            self.assertEqual((r["target"], r["tries"]), (1, 1))
            self.assertEqual(self.probe.health()[tgt(a)], ("backoff", 1))
            # After each backoff it is tried again, until it is unresponsive.
            time.sleep(BACKOFF_MS * 1.5 / 1000)
            self.assertEqual(self.probe.query(targets)["tries"], 2)
            time.sleep(BACKOFF_MS * 2.5 / 1000)
            self.assertEqual(self.probe.query(targets)["tries"], 2)
            marked = time.monotonic()
            self.assertEqual(self.probe.health()[tgt(a)], ("unresponsive", 3))
            # Unresponsive: skipped even though it is back.
            a.start()
            for _ in range(3):
                r = self.probe.query(targets)
                self.assertEqual((r["target"], r["tries"]), (1, 1))
            self.assertLess(time.monotonic() - marked, UNRESPONSIVE_MS / 1000)
            # unresponsive_ms later it is first again; the success resets it.
            time.sleep(max(0, UNRESPONSIVE_MS / 1000 + 0.1 - (time.monotonic() - marked)))
            r = self.probe.query(targets)
            self.assertEqual((r["status"], r["target"], r["tries"]), (0, 0, 1))
            self.assertEqual(addresses(r["msg"]), ["10.0.1.1"])
            self.assertEqual(self.probe.health()[tgt(a)], ("healthy", 0))
        finally:
            a.close()
            b.close()

    def test_all_down_fails_at_deadline_with_fresh_ids_and_ports_f10_w4(self):
        s1, s2 = self.bad("silent"), self.bad("silent")
        r = self.probe.query([tgt(s1), tgt(s2)], try_ms=200, deadline_ms=1000)
        self.assertEqual(r["status"], PR_ETIMEOUT)
        self.assertIsNone(r["msg"])
        self.assertGreaterEqual(r["ms"], 1000)
        self.assertLess(r["ms"], 1400)
        seen = s1.seen + s2.seen
        # Tries alternate within the deadline, each its own socket and ID.
        self.assertEqual(len(seen), r["tries"])
        self.assertGreaterEqual(len(seen), 4)
        self.assertGreaterEqual(len(s1.seen), 2)
        self.assertGreaterEqual(len(s2.seen), 2)
        self.assertEqual(len({p for _, _, p, _ in seen}), len(seen), seen)
        self.assertEqual(len({i for _, _, _, i in seen}), len(seen), seen)
        self.assertNotIn(CLIENT_ID, [i for _, _, _, i in seen])
        st = self.probe.stats()
        self.assertGreaterEqual(st["try_timeouts"], 4)
        self.assertEqual(st["failed"], 1)

    def test_wrong_id_ignored_w4(self):
        bad = self.bad("wrong_id")
        r = self.probe.query([tgt(bad), tgt(self.u2)], try_ms=300)
        self.assertEqual((r["status"], r["target"]), (0, 1))
        self.assertGreaterEqual(r["ms"], 300)
        self.assertEqual(addresses(r["msg"]), ["10.0.0.2"])
        self.assertEqual(len(bad.seen), 1)
        self.assertEqual(self.probe.stats()["dropped_bad_id"], 1)
        # Alone, it never counts as an answer.
        r = self.probe.query([tgt(bad)], try_ms=200, deadline_ms=500)
        self.assertEqual(r["status"], PR_ETIMEOUT)

    def test_reply_from_other_port_ignored_w4(self):
        bad = self.bad("other_port")
        r = self.probe.query([tgt(bad), tgt(self.u2)], try_ms=300)
        self.assertEqual((r["status"], r["target"]), (0, 1))
        self.assertGreaterEqual(r["ms"], 300)
        self.assertEqual(len(bad.seen), 1)  # it did answer, from elsewhere
        self.assertEqual(self.probe.stats()["try_timeouts"], 1)

    def test_wrong_question_ignored_w4(self):
        bad = self.bad("wrong_question")
        r = self.probe.query([tgt(bad), tgt(self.u2)], try_ms=300)
        self.assertEqual((r["status"], r["target"]), (0, 1))
        self.assertEqual(self.probe.stats()["dropped_bad_question"], 1)

    def test_truncated_answer_retried_over_tcp_q7(self):
        big = self.bad("tc", answers=200)
        r = self.probe.query([tgt(big)])
        self.assertEqual((r["status"], r["target"], r["tcp"], r["tries"]), (0, 0, 1, 2))
        self.assertFalse(r["msg"].flags & dns.flags.TC)
        self.assertEqual(len(addresses(r["msg"])), 200)
        self.assertEqual([t for t, _, _, _ in big.seen], ["udp", "tcp"])
        # The TCP retry has its own ID too.
        self.assertNotEqual(big.seen[0][3], big.seen[1][3])
        st = self.probe.stats()
        self.assertEqual((st["udp_tries"], st["tcp_tries"]), (1, 1))

    def test_unmapped_target_never_contacted_design4(self):
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind((LO, 0))
        try:
            unmapped = "!%s:%d" % (LO, sink.getsockname()[1])
            r = self.probe.query([unmapped, tgt(self.u1)])
            self.assertEqual((r["status"], r["target"]), (0, 1))
            r = self.probe.query([unmapped, unmapped])
            self.assertEqual(r["status"], PR_EUNMAPPED)
            self.assertLess(r["ms"], 100)  # at once, nothing to wait for
            self.assertEqual(r["tries"], 0)
            ready, _, _ = select.select([sink], [], [], 0.2)
            self.assertEqual(ready, [], "an unmapped target received a packet")
            st = self.probe.stats()
            self.assertEqual(st["unmapped_targets"], 3)
            self.assertEqual(st["udp_tries"], 1)
        finally:
            sink.close()

    def test_source_address_bound_o1(self):
        good = self.bad("good")
        r = self.probe.query([tgt(good)], source="127.0.0.2")
        self.assertEqual(r["status"], 0)
        self.assertEqual(good.seen[0][1], "127.0.0.2")
        # An address this host does not have: fail, never send from another.
        r = self.probe.query([tgt(good)], source="192.0.2.1")
        self.assertEqual(r["status"], -EADDRNOTAVAIL)
        self.assertLess(r["ms"], 100)
        time.sleep(0.1)
        self.assertEqual(len(good.seen), 1)
        self.assertEqual(self.probe.stats()["source_bind_errors"], 1)
        # The local failure is not the target's: it stays healthy.
        self.assertNotIn(tgt(good), self.probe.health())

    def test_tcp_retry_from_source_address_o1_q7(self):
        big = self.bad("tc", answers=100)
        r = self.probe.query([tgt(big)], source="127.0.0.3")
        self.assertEqual((r["status"], r["tcp"]), (0, 1))
        self.assertEqual([(t, a) for t, a, _, _ in big.seen],
                         [("udp", "127.0.0.3"), ("tcp", "127.0.0.3")])


if __name__ == "__main__":
    PROBE = sys.argv.pop(1)
    unittest.main(verbosity=2)
