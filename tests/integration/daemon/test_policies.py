"""DNS security policy at Q-1 and the query log, over real sockets
(semantics.md §8, S-1..S-3; issue "DNS security policy")."""
import json
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from privres_harness import SOURCE, Privresd  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

HOST = "127.0.0.1"
BLOCK_TARGET = "blockpolicy.azuredns.invalid."


def ask(port, name, rdtype="A"):
    return dns.query.udp(dns.message.make_query(name, rdtype), HOST, port=port, timeout=3)


def addresses(resp):
    return sorted(r.address for rr in resp.answer for r in rr if rr.rdtype == dns.rdatatype.A)


def cname_targets(resp):
    return [str(r.target) for rr in resp.answer for r in rr if rr.rdtype == dns.rdatatype.CNAME]


def wait_for_lines(path, n, timeout=5):
    deadline = time.time() + timeout
    lines = []
    while time.time() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                lines = [l for l in f.read().splitlines() if l]
            if len(lines) >= n:
                return lines
        time.sleep(0.05)
    return lines


class ZeroTrust(unittest.TestCase):
    """examples/zero-trust.yaml, served with a query log."""

    @classmethod
    def setUpClass(cls):
        with open(os.path.join(SOURCE, "examples", "zero-trust.yaml")) as f:
            text = f.read()
        # the example's own emulator section is replaced by one for the test
        lines = [l for l in text.splitlines()]
        body, skip = [], False
        for l in lines:
            if l.startswith("emulator:"):
                skip = True
                continue
            if skip and (l.startswith(" ") or not l.strip()):
                continue
            skip = False
            body.append(l)
        cls.tmp_log = os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                   "privres-qlog-%d.log" % os.getpid())
        if os.path.exists(cls.tmp_log):
            os.unlink(cls.tmp_log)
        cls.d = Privresd("\n".join(body) + "\nemulator: {basePort: 0, queryLog: %s}\n"
                         % cls.tmp_log, args=["--quiet"])
        cls.spoke = cls.d.port("azure-dns/spoke")
        cls.hub = cls.d.port("hub-resolver/in")

    @classmethod
    def tearDownClass(cls):
        assert cls.d.stop() == 0
        for p in (cls.tmp_log, cls.tmp_log + ".1"):
            if os.path.exists(p):
                os.unlink(p)

    def test_S3_allowed_names_resolve(self):
        self.assertEqual(addresses(ask(self.spoke, "web.azure.contoso.com")), ["10.10.2.5"])
        self.assertEqual(addresses(ask(self.spoke, "www.contoso.com")), ["203.0.113.10"])
        self.assertEqual(addresses(ask(self.spoke, "login.microsoft.com")), ["203.0.113.30"])

    def test_S3_block_answers_cname(self):
        for name in ("www.example.com", "anything.else.org"):
            r = ask(self.spoke, name)
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            self.assertEqual(cname_targets(r), [BLOCK_TARGET])

    def test_S3_cname_chain_into_blocked_name(self):
        r = ask(self.spoke, "cdn.contoso.com")
        self.assertIn(BLOCK_TARGET, cname_targets(r))
        self.assertEqual(addresses(r), [])

    def test_S2_other_vnet_unaffected(self):
        self.assertEqual(ask(self.hub, "www.example.com").rcode(), dns.rcode.NOERROR)
        self.assertNotIn(BLOCK_TARGET, cname_targets(ask(self.hub, "www.example.com")))

    def test_alert_answers_and_is_logged(self):
        r = ask(self.spoke, "pixel.ads.example")
        self.assertEqual(addresses(r), ["198.51.100.7"])
        deadline = time.time() + 5
        found = None
        while time.time() < deadline and not found:
            for line in wait_for_lines(self.tmp_log, 1):
                e = json.loads(line)
                if e["name"] == "pixel.ads.example." and e["alert"]:
                    found = e
            time.sleep(0.05)
        self.assertIsNotNone(found, "no alert in the query log")

    def test_log_lines_are_json_with_documented_fields(self):
        ask(self.spoke, "web.azure.contoso.com")
        lines = wait_for_lines(self.tmp_log, 1)
        self.assertTrue(lines)
        for line in lines:
            e = json.loads(line)
            for key in ("time", "listener", "view", "client", "transport", "name", "type",
                        "rcode", "alert", "blocked", "loop", "latencyUs", "path"):
                self.assertIn(key, e)
            self.assertIsInstance(e["path"], list)

    def test_sighup_reopens_log(self):
        ask(self.spoke, "web.azure.contoso.com")
        wait_for_lines(self.tmp_log, 1)
        os.rename(self.tmp_log, self.tmp_log + ".1")
        self.d.signal(signal.SIGHUP)
        time.sleep(0.3)
        ask(self.spoke, "www.contoso.com")
        # entries written before the reopen may land in either file; the new
        # query's must reach the new one
        deadline = time.time() + 5
        found = False
        while time.time() < deadline and not found:
            found = any(json.loads(l)["name"] == "www.contoso.com."
                        for l in wait_for_lines(self.tmp_log, 1, timeout=0.2))
        self.assertTrue(found)


PRIORITIES = """
emulator: {basePort: 0}
virtualNetworks:
  - name: hub
    addressPrefixes: [10.10.0.0/16]
    subnets:
      - {name: i, addressPrefix: 10.10.0.0/28, delegation: Microsoft.Network/dnsResolvers}
dnsResolvers:
  - {name: r, virtualNetwork: hub, inboundEndpoints: [{name: in, subnet: i}]}
dnsResolverDomainLists:
  - {name: shop, domains: [shop.example.]}
  - {name: bad, domains: [bad.example.]}
dnsResolverPolicies:
  - name: p
    dnsSecurityRules:
      - {name: allow-shop, priority: 100, action: {actionType: Allow}, dnsResolverDomainLists: [shop]}
      - {name: block-shop, priority: 200, action: {actionType: Block}, dnsResolverDomainLists: [shop]}
      - {name: block-bad, priority: 300, action: {actionType: Block, blockResponseCode: SERVFAIL}, dnsResolverDomainLists: [bad]}
    virtualNetworkLinks: [{name: l, virtualNetwork: hub}]
publicDns:
  zones:
    - name: example
      recordSets:
        - {name: www.shop, type: A, records: [198.51.100.1]}
        - {name: www.bad, type: A, records: [198.51.100.2]}
"""


class Priorities(unittest.TestCase):
    """At an inbound endpoint of the VNet the policy is linked to (Q-1)."""

    @classmethod
    def setUpClass(cls):
        cls.d = Privresd(PRIORITIES, args=["--quiet"])
        cls.port = cls.d.port("r/in")

    @classmethod
    def tearDownClass(cls):
        assert cls.d.stop() == 0

    def test_S3_allow_100_beats_block_200(self):
        self.assertEqual(addresses(ask(self.port, "www.shop.example")), ["198.51.100.1"])

    def test_S3_block_with_servfail(self):
        self.assertEqual(ask(self.port, "www.bad.example").rcode(), dns.rcode.SERVFAIL)


if __name__ == "__main__":
    unittest.main(verbosity=2)
