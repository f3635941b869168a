"""One answer cache for every worker, and identical questions in flight merged
(Q-6), through privresd with four workers and real sockets:
- a forwarded name asked 6 times over 5 s, each time from a new client socket
  (so SO_REUSEPORT spreads the questions over the workers), reaches a real
  unbound target once, and its TTL counts down on every answer;
- 100 clients asking one uncached name at once (the target answers slowly, so
  all of them arrive while the first question is out) cause one upstream
  query, and each client gets its own ID and the case it asked (W-5)."""
import os
import select
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from privres_harness import Privresd, Unbound, free_port  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rrset  # noqa: E402

HOST = "127.0.0.1"
WORKERS = 4

DEPLOYMENT = """
emulator:
  basePort: 0
  forwardTimeoutMs: 2000
  queryDeadlineMs: 4000
  addressMap:
    "10.100.0.2:53": "127.0.0.1:%(a)d"
    "10.100.0.3:53": "127.0.0.1:%(b)d"
virtualNetworks:
  - name: hub
    addressPrefixes: [10.10.0.0/16]
    subnets:
      - {name: snet-out, addressPrefix: 10.10.1.0/28, delegation: Microsoft.Network/dnsResolvers}
  - name: spoke
    addressPrefixes: [10.20.0.0/16]
dnsResolvers:
  - name: r
    virtualNetwork: hub
    outboundEndpoints: [{name: out, subnet: snet-out}]
dnsForwardingRulesets:
  - name: rules
    dnsResolverOutboundEndpoints: [r/out]
    forwardingRules:
      - {name: Corp, domainName: corp.example., targetDnsServers: [{ipAddress: 10.100.0.2}]}
      - {name: Slow, domainName: slow.example., targetDnsServers: [{ipAddress: 10.100.0.3}]}
    virtualNetworkLinks: [{name: l, virtualNetwork: spoke}]
"""


class SlowCounter:
    """A DNS server on a UDP port that counts the questions it gets and
    answers each after `delay` seconds with an A record of TTL 300."""

    def __init__(self, delay):
        self.delay = delay
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.questions = []
        self.lock = threading.Lock()
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.1)
        while not self.stopped:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            q = dns.message.from_wire(data)
            with self.lock:
                self.questions.append(str(q.question[0].name).lower())
            threading.Timer(self.delay, self._answer, (q, peer)).start()

    def _answer(self, q, peer):
        r = dns.message.make_response(q)
        r.answer.append(dns.rrset.from_text(q.question[0].name, 300, "IN", "A", "192.0.2.99"))
        try:
            self.sock.sendto(r.to_wire(), peer)
        except OSError:
            pass

    def count(self, name):
        with self.lock:
            return self.questions.count(name)

    def stop(self):
        self.stopped = True
        self.thread.join()
        self.sock.close()


def ask_from_new_socket(port, name, qid):
    """One question from a socket of its own (a new source port each time)."""
    q = dns.message.make_query(name, "A")
    q.id = qid
    return dns.query.udp(q, HOST, port=port, timeout=3)


class SharedCache(unittest.TestCase):
    def setUp(self):
        self.pa = free_port()
        self.unbound = Unbound(self.pa, ["ttl.corp.example. 60 IN A 192.0.2.60"])
        self.slow = SlowCounter(0.4)
        self.d = Privresd(DEPLOYMENT % {"a": self.pa, "b": self.slow.port},
                          args=["--quiet"], workers=WORKERS)
        self.port = self.d.port("azure-dns/spoke")

    def tearDown(self):
        rc = self.d.stop()
        self.unbound.stop()
        self.slow.stop()
        self.assertEqual(rc, 0)

    def test_Q6_one_upstream_query_per_ttl_across_workers(self):
        name = "ttl.corp.example."
        ttls = []
        first = None
        for i in range(6):
            if first is not None:
                # i whole seconds after the first answer came back (and the
                # cache kept it), plus a margin for the loop's clock
                time.sleep(max(0.0, first + i + 0.1 - time.monotonic()))
            r = ask_from_new_socket(self.port, name, 1000 + i)
            if first is None:
                first = time.monotonic()
            self.assertEqual(r.id, 1000 + i)
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            self.assertEqual([x.address for x in r.answer[0]], ["192.0.2.60"])
            ttls.append(r.answer[0].ttl)
        # The target was asked once, whichever worker each question reached.
        self.assertEqual(self.unbound.log().count("ttl.corp.example."), 1, self.unbound.log())
        # Its TTL counts down on every answer: 60, 59, 58 … (one second of
        # slack for a machine under load), never back up to 60.
        self.assertEqual(ttls[0], 60, ttls)
        for i in range(1, 6):
            self.assertLess(ttls[i], ttls[i - 1], ttls)
            self.assertIn(ttls[i], (60 - i, 60 - i - 1), ttls)

    def test_Q6_hundred_clients_one_upstream_query(self):
        socks = []
        try:
            for i in range(100):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.setblocking(False)
                socks.append(s)
            # every client its own ID and its own case of the name (W-5)
            names = ["".join(c.upper() if (i >> (k % 7)) & 1 else c
                             for k, c in enumerate("new.slow.example.")) for i in range(100)]
            for i, s in enumerate(socks):
                q = dns.message.make_query(names[i], "A")
                q.id = 2000 + i
                s.sendto(q.to_wire(), (HOST, self.port))
            answers = {}
            deadline = time.time() + 5
            while len(answers) < len(socks) and time.time() < deadline:
                ready, _, _ = select.select([s for s in socks if s.fileno() not in answers],
                                            [], [], 0.2)
                for s in ready:
                    answers[s.fileno()] = (socks.index(s), dns.message.from_wire(s.recv(4096)))
            self.assertEqual(len(answers), 100)
            for i, r in answers.values():
                self.assertEqual(r.id, 2000 + i)
                self.assertEqual(r.rcode(), dns.rcode.NOERROR)
                self.assertEqual(str(r.question[0].name), names[i])
                self.assertEqual([x.address for x in r.answer[0]], ["192.0.2.99"])
            self.assertEqual(self.slow.count("new.slow.example."), 1, self.slow.questions)
        finally:
            for s in socks:
                s.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
