"""Forwarding to outside targets through privresd, against real unbound
servers on loopback (F-10, Q-6, W-4, design.md §4)."""
import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from privres_harness import Privresd, Unbound, free_port  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

HOST = "127.0.0.1"

DEPLOYMENT = """
emulator:
  basePort: 0
  cacheEntries: 0   # these tests watch target choice (F-10), not the cache
  unresponsiveSeconds: 2
  forwardTimeoutMs: 300
  queryDeadlineMs: 1500
  addressMap:
    "10.100.0.2:53": "127.0.0.1:%(a)d"
    "10.100.0.3:53": "127.0.0.1:%(b)d"
virtualNetworks:
  - name: hub
    addressPrefixes: [10.10.0.0/16]
    subnets:
      - {name: snet-in, addressPrefix: 10.10.0.0/28, delegation: Microsoft.Network/dnsResolvers}
      - {name: snet-out, addressPrefix: 10.10.1.0/28, delegation: Microsoft.Network/dnsResolvers}
  - name: spoke
    addressPrefixes: [10.20.0.0/16]
dnsResolvers:
  - name: r
    virtualNetwork: hub
    inboundEndpoints: [{name: in, subnet: snet-in}]
    outboundEndpoints: [{name: out, subnet: snet-out}]
dnsForwardingRulesets:
  - name: rules
    dnsResolverOutboundEndpoints: [r/out]
    forwardingRules:
      - name: Corp
        domainName: corp.example.
        targetDnsServers: [{ipAddress: 10.100.0.2}, {ipAddress: 10.100.0.3}]
%(extra_rules)s
    virtualNetworkLinks: [{name: l, virtualNetwork: spoke}]
"""


def ask(port, name, rdtype="A", timeout=5):
    q = dns.message.make_query(name, rdtype)
    return dns.query.udp(q, HOST, port=port, timeout=timeout)


def addresses(resp):
    return sorted(r.address for rr in resp.answer for r in rr if rr.rdtype == dns.rdatatype.A)


class Failover(unittest.TestCase):
    def setUp(self):
        self.pa, self.pb = free_port(), free_port()
        self.a = Unbound(self.pa, ["host.corp.example. 300 IN A 192.168.5.1"])
        self.b = Unbound(self.pb, ["host.corp.example. 300 IN A 192.168.5.2"])
        self.d = Privresd(DEPLOYMENT % {"a": self.pa, "b": self.pb, "extra_rules": ""},
                          args=["--quiet"])
        self.port = self.d.port("azure-dns/spoke")

    def tearDown(self):
        rc = self.d.stop()
        self.a.stop()
        self.b.stop()
        self.assertEqual(rc, 0)

    def test_F10_first_target_then_failover_then_recovery(self):
        r = ask(self.port, "host.corp.example")
        self.assertEqual(addresses(r), ["192.168.5.1"])  # the first target, in order
        self.assertIn("host.corp.example", self.a.log())
        self.a.stop()
        # the second answers within one deadline
        t0 = time.time()
        r = ask(self.port, "host.corp.example", timeout=5)
        self.assertEqual(addresses(r), ["192.168.5.2"])
        self.assertLess(time.time() - t0, 1.5)
        # after repeated failures the first is skipped: answers come at once
        for _ in range(4):
            ask(self.port, "other%d.corp.example" % _, timeout=5)
        t0 = time.time()
        r = ask(self.port, "host.corp.example")
        self.assertEqual(addresses(r), ["192.168.5.2"])
        self.assertLess(time.time() - t0, 0.25)
        # the first comes back and is tried again once unresponsiveSeconds passed
        self.a = Unbound(self.pa, ["host.corp.example. 300 IN A 192.168.5.1"])
        time.sleep(2.5)
        deadline = time.time() + 5
        seen = []
        while time.time() < deadline:
            seen = addresses(ask(self.port, "host.corp.example"))
            if seen == ["192.168.5.1"]:
                break
            time.sleep(0.3)
        self.assertEqual(seen, ["192.168.5.1"])

    def test_F10_all_down_servfail(self):
        self.a.stop()
        self.b.stop()
        t0 = time.time()
        r = ask(self.port, "host.corp.example", timeout=5)
        self.assertEqual(r.rcode(), dns.rcode.SERVFAIL)
        self.assertLess(time.time() - t0, 3.0)

    def test_Q6_id_kept_and_reply_as_sent(self):
        q = dns.message.make_query("host.corp.example", "A")
        q.id = 4242
        r = dns.query.udp(q, HOST, port=self.port, timeout=5)
        self.assertEqual(r.id, 4242)
        self.assertEqual(r.answer[0].ttl, 300)
        # NXDOMAIN from the target is passed on
        r = ask(self.port, "missing.corp.example")
        self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)

    def test_removed_rule_stops_forwarding_at_once(self):
        self.assertEqual(addresses(ask(self.port, "host.corp.example")), ["192.168.5.1"])
        text = DEPLOYMENT % {"a": self.pa, "b": self.pb, "extra_rules": ""}
        text = text.replace("corp.example.", "other.example.")
        self.d.write_config(text)
        self.d.signal(signal.SIGHUP)
        deadline = time.time() + 5
        while "reloaded" not in self.d.log() and time.time() < deadline:
            time.sleep(0.05)
        self.assertIn("reloaded", self.d.log())
        time.sleep(0.1)
        r = ask(self.port, "host.corp.example")
        # no rule now: Azure DNS, with no public zones or upstreams, refuses
        self.assertEqual(r.rcode(), dns.rcode.REFUSED)


class Unmapped(unittest.TestCase):
    def test_unmapped_loopback_target_never_contacted(self):
        # A rule that names a loopback address directly is still outside
        # privres: without an addressMap entry it is never contacted.
        trap = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        trap.bind((HOST, 0))
        trap_port = trap.getsockname()[1]
        trap.settimeout(0.5)
        extra = ("      - {name: Direct, domainName: direct.example., targetDnsServers: "
                 "[{ipAddress: 127.0.0.1, port: %d}]}" % trap_port)
        pa, pb = free_port(), free_port()
        d = Privresd(DEPLOYMENT % {"a": pa, "b": pb, "extra_rules": extra}, args=["--quiet"])
        try:
            r = ask(d.port("azure-dns/spoke"), "x.direct.example")
            self.assertEqual(r.rcode(), dns.rcode.SERVFAIL)
            with self.assertRaises(socket.timeout):
                trap.recvfrom(512)
        finally:
            trap.close()
            self.assertEqual(d.stop(), 0)


LOOP = """
emulator:
  listeners: {"r/in": "127.0.0.1:%(ie)d"}
  basePort: 0
  hopLimit: 4
  forwardTimeoutMs: 1500
  queryDeadlineMs: 3000
  queryLog: %(log)s
  addressMap: {"10.100.0.9:53": "127.0.0.1:%(onprem)d"}
virtualNetworks:
  - name: hub
    addressPrefixes: [10.10.0.0/16]
    subnets:
      - {name: snet-in, addressPrefix: 10.10.0.0/28, delegation: Microsoft.Network/dnsResolvers}
      - {name: snet-out, addressPrefix: 10.10.1.0/28, delegation: Microsoft.Network/dnsResolvers}
  - name: spoke
    addressPrefixes: [10.20.0.0/16]
dnsResolvers:
  - name: r
    virtualNetwork: hub
    inboundEndpoints: [{name: in, subnet: snet-in}]
    outboundEndpoints: [{name: out, subnet: snet-out}]
dnsForwardingRulesets:
  - name: rules
    dnsResolverOutboundEndpoints: [r/out]
    forwardingRules:
      - {name: Loop, domainName: loop.example., targetDnsServers: [{ipAddress: 10.100.0.9}]}
    virtualNetworkLinks:
      - {name: hub, virtualNetwork: hub}
      - {name: spoke, virtualNetwork: spoke}
"""


class OutsideLoop(unittest.TestCase):
    """P-3 through an outside server: the ruleset sends loop.example to an
    on-premises unbound that forwards it back to our inbound endpoint, whose
    VNet uses the same ruleset. Invisible to P-1/P-2 (the server is outside
    the model); ended at the hop limit instead of spinning until timeouts."""

    def test_P3_loop_through_outside_forwarder(self):
        ie, onprem = free_port(), free_port()
        import tempfile
        log = os.path.join(tempfile.mkdtemp(prefix="privres-loop-"), "query.log")
        d = Privresd(LOOP % {"ie": ie, "onprem": onprem, "log": log}, args=["--quiet"])
        u = Unbound(onprem, [], forward_zones=[("loop.example.", "127.0.0.1@%d" % ie)])
        try:
            t0 = time.time()
            r = ask(d.port("azure-dns/spoke"), "x.loop.example", timeout=10)
            self.assertEqual(r.rcode(), dns.rcode.SERVFAIL)
            self.assertLess(time.time() - t0, 4.0)
            deadline = time.time() + 5
            loops = []
            while time.time() < deadline and not loops:
                with open(log) as f:
                    loops = [l for l in f if '"loop":true' in l]
                time.sleep(0.05)
            self.assertTrue(loops, "no loop in the query log")
            # privresd is still well
            r = ask(d.port("azure-dns/spoke"), "nothing.example")
            self.assertEqual(r.rcode(), dns.rcode.REFUSED)
        finally:
            u.stop()
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
