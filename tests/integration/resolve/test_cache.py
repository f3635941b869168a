"""The answer cache through privresd and a real unbound target on loopback
(Q-6, RFC 2308): a forwarded answer is served again with its TTL counted down
after the target is gone; a negative answer lives min(SOA TTL, MINIMUM); a rule
removed by SIGHUP is never answered from the cache."""
import os
import signal
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
  workers: 1
  forwardTimeoutMs: 300
  queryDeadlineMs: 1000
  addressMap:
    "10.100.0.2:53": "127.0.0.1:%(a)d"
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
      - {name: Corp, domainName: %(domain)s, targetDnsServers: [{ipAddress: 10.100.0.2}]}
    virtualNetworkLinks: [{name: l, virtualNetwork: spoke}]
"""

# unbound answers NXDOMAIN under its local zone with this SOA (MINIMUM 2 s).
ZONE = ["corp.example. 3600 IN SOA ns.corp.example. admin.corp.example. 1 3600 300 86400 2",
        "host.corp.example. 300 IN A 192.168.5.1"]


def ask(port, name, rdtype="A", timeout=3):
    q = dns.message.make_query(name, rdtype)
    return dns.query.udp(q, HOST, port=port, timeout=timeout)


class Cache(unittest.TestCase):
    def setUp(self):
        self.pa = free_port()
        self.a = Unbound(self.pa, ZONE)
        self.text = DEPLOYMENT % {"a": self.pa, "domain": "corp.example."}
        self.d = Privresd(self.text, args=["--quiet"], workers=1)
        self.port = self.d.port("azure-dns/spoke")

    def tearDown(self):
        rc = self.d.stop()
        self.a.stop()
        self.assertEqual(rc, 0)

    def test_Q6_hit_after_target_gone_ttl_counts_down(self):
        r = ask(self.port, "host.corp.example")
        self.assertEqual(r.answer[0].ttl, 300)
        self.a.stop()
        time.sleep(1.1)
        q = dns.message.make_query("HOST.corp.example", "A")
        q.id = 777
        r = dns.query.udp(q, HOST, port=self.port, timeout=3)
        self.assertEqual(r.id, 777)
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertEqual(str(r.answer[0].name), "HOST.corp.example.")  # W-5
        self.assertEqual([x.address for x in r.answer[0]], ["192.168.5.1"])
        self.assertLess(r.answer[0].ttl, 300)
        self.assertGreaterEqual(r.answer[0].ttl, 297)

    def test_Q6_negative_for_soa_minimum(self):
        r = ask(self.port, "missing.corp.example")
        self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)
        n = self.a.log().count("missing.corp.example")
        self.assertEqual(ask(self.port, "missing.corp.example").rcode(), dns.rcode.NXDOMAIN)
        self.assertEqual(self.a.log().count("missing.corp.example"), n)  # from the cache
        time.sleep(2.2)  # past SOA MINIMUM (RFC 2308 §5)
        self.assertEqual(ask(self.port, "missing.corp.example").rcode(), dns.rcode.NXDOMAIN)
        deadline = time.time() + 2
        while self.a.log().count("missing.corp.example") == n and time.time() < deadline:
            time.sleep(0.05)
        self.assertGreater(self.a.log().count("missing.corp.example"), n)

    def test_removed_rule_never_answered_from_cache(self):
        self.assertEqual(ask(self.port, "host.corp.example").rcode(), dns.rcode.NOERROR)
        self.d.write_config(DEPLOYMENT % {"a": self.pa, "domain": "other.example."})
        self.d.signal(signal.SIGHUP)
        deadline = time.time() + 5
        while "reloaded" not in self.d.log() and time.time() < deadline:
            time.sleep(0.05)
        self.assertIn("reloaded", self.d.log())
        time.sleep(0.1)
        # no rule now: Azure DNS, with no public zones or upstreams, refuses
        self.assertEqual(ask(self.port, "host.corp.example").rcode(), dns.rcode.REFUSED)


if __name__ == "__main__":
    unittest.main(verbosity=2)
