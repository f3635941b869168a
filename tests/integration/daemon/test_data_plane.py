"""The data plane over real sockets with real clients (dnspython, dig, kdig):
every Q rule by example, wire behaviour (W-1..W-5, Q-7), P-3, reload.
Run by CTest with PRIVRES_BUILD_DIR and PRIVRES_SOURCE_DIR set."""
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from privres_harness import Privresd  # noqa: E402

import dns.edns  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

HOST = "127.0.0.1"

# Two VNets: a hub with a resolver and zones, a spoke linked to the ruleset.
BASE = """
emulator: {basePort: 0}
virtualNetworks:
  - name: hub
    addressPrefixes: [10.10.0.0/16]
    subnets:
      - {name: snet-in, addressPrefix: 10.10.0.0/28, delegation: Microsoft.Network/dnsResolvers}
      - {name: snet-out, addressPrefix: 10.10.1.0/28, delegation: Microsoft.Network/dnsResolvers}
  - name: spoke
    addressPrefixes: [10.20.0.0/16]
    subnets: [{name: default, addressPrefix: 10.20.0.0/24}]
dnsResolvers:
  - name: r
    virtualNetwork: hub
    inboundEndpoints: [{name: in, subnet: snet-in}]
    outboundEndpoints: [{name: out, subnet: snet-out}]
externalDnsServers:
  - name: onprem
    ipAddress: 10.100.0.2
    zones:
      - name: corp.example
        recordSets:
          - {name: fileserver, type: A, records: [192.168.1.10]}
          - {name: shadowed, type: A, records: [192.168.1.11]}
"""


def query(port, name, rdtype="A", tcp=False, **kw):
    q = dns.message.make_query(name, rdtype, **kw)
    if tcp:
        return dns.query.tcp(q, HOST, port=port, timeout=3)
    return dns.query.udp(q, HOST, port=port, timeout=3)


def addresses(resp):
    return sorted(r.address for rr in resp.answer for r in rr if rr.rdtype == dns.rdatatype.A)


class DefaultDeployment(unittest.TestCase):
    """The embedded default: the documentation's hub-and-spoke."""

    @classmethod
    def setUpClass(cls):
        cls.d = Privresd(None, args=["--quiet"])

    @classmethod
    def tearDownClass(cls):
        assert cls.d.stop() == 0

    def test_Q3_spoke_through_ruleset_to_hub_zone(self):
        # spoke1 → rule AzurePrivate → 10.10.0.4 (hub IE, in-process) → hub's zone
        r = query(self.d.port("azure-dns/spoke1"), "web.azure.contoso.com")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertEqual(addresses(r), ["10.10.2.5"])
        self.assertEqual(r.answer[0].ttl, 300)  # the record TTL

    def test_dig_and_kdig_agree(self):
        port = str(self.d.port("azure-dns/spoke2"))
        out = subprocess.run(["dig", "@" + HOST, "-p", port, "+short", "web.azure.contoso.com"],
                             capture_output=True, text=True, timeout=10).stdout.split()
        self.assertEqual(out, ["10.10.2.5"])
        out = subprocess.run(["kdig", "@" + HOST, "-p", port, "+short", "+tcp",
                              "api.azure.contoso.com"],
                             capture_output=True, text=True, timeout=10).stdout.split()
        self.assertEqual(out, ["web.azure.contoso.com.", "10.10.2.5"])

    def test_Q3_rule_to_external_server(self):
        r = query(self.d.port("azure-dns/spoke1"), "www.contoso.com")
        self.assertEqual(addresses(r), ["10.100.1.10"])
        r = query(self.d.port("azure-dns/spoke1"), "www.example.org")  # the "." rule
        self.assertEqual(addresses(r), ["192.0.2.80"])

    def test_F9_reserved_domain_goes_to_azure_dns(self):
        # The wildcard rule does not capture core.windows.net: Azure DNS answers
        # with the public CNAME; spoke1 links no privatelink zone, so the chase
        # (Q-5, same view) ends in the public zone: NXDOMAIN, the chain kept.
        r = query(self.d.port("azure-dns/spoke1"), "contosostorage.blob.core.windows.net")
        self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)
        self.assertEqual([str(rr[0].target) for rr in r.answer],
                         ["contosostorage.privatelink.blob.core.windows.net."])

    def test_Q5_cname_from_public_into_privatelink_zone(self):
        r = query(self.d.port("azure-dns/hub"), "contosostorage.blob.core.windows.net")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        types = [rr.rdtype for rr in r.answer]
        self.assertEqual(types, [dns.rdatatype.CNAME, dns.rdatatype.A])
        self.assertEqual(addresses(r), ["10.10.2.10"])

    def test_Z3_autoregistered_host(self):
        r = query(self.d.port("azure-dns/hub"), "app1.azure.contoso.com")
        self.assertEqual(addresses(r), ["10.10.2.4"])

    def test_Q2_nxdomain_with_soa(self):
        r = query(self.d.port("hub-resolver/in"), "nope.azure.contoso.com")
        self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)
        self.assertTrue(r.flags & dns.flags.AA)
        self.assertEqual(r.authority[0].rdtype, dns.rdatatype.SOA)

    def test_W5_case_kept(self):
        r = query(self.d.port("hub-resolver/in"), "WeB.AzUrE.CoNtOsO.cOm")
        self.assertEqual(str(r.question[0].name), "WeB.AzUrE.CoNtOsO.cOm.")
        self.assertEqual(addresses(r), ["10.10.2.5"])

    def test_W2_edns_echo_and_badvers(self):
        r = query(self.d.port("hub-resolver/in"), "web.azure.contoso.com", use_edns=0,
                  payload=1232, want_dnssec=True)
        self.assertEqual(r.edns, 0)
        self.assertTrue(r.ednsflags & dns.flags.DO)
        q = dns.message.make_query("web.azure.contoso.com", "A")
        q.use_edns(1)
        r = dns.query.udp(q, HOST, port=self.d.port("hub-resolver/in"), timeout=3)
        self.assertEqual(r.rcode(), dns.rcode.BADVERS)

    def test_W3_formerr_and_garbage(self):
        port = self.d.port("hub-resolver/in")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        # a readable header claiming two questions and carrying none
        s.sendto(struct.pack(">HHHHHH", 0x1234, 0x0100, 2, 0, 0, 0), (HOST, port))
        data, _ = s.recvfrom(4096)
        self.assertEqual(struct.unpack(">H", data[:2])[0], 0x1234)
        self.assertEqual(data[3] & 0x0F, dns.rcode.FORMERR)
        # fewer bytes than a header: dropped, and the server keeps answering
        s.sendto(b"\x01\x02\x03", (HOST, port))
        s.settimeout(0.3)
        with self.assertRaises(socket.timeout):
            s.recvfrom(4096)
        s.close()
        self.assertEqual(addresses(query(port, "web.azure.contoso.com")), ["10.10.2.5"])

    def test_refused_opcode_and_class(self):
        port = self.d.port("hub-resolver/in")
        q = dns.message.make_query("web.azure.contoso.com", "A", rdclass="CH")
        self.assertEqual(dns.query.udp(q, HOST, port=port, timeout=3).rcode(), dns.rcode.REFUSED)
        q = dns.message.make_query("web.azure.contoso.com", "SOA")
        q.set_opcode(dns.opcode.NOTIFY)
        self.assertEqual(dns.query.udp(q, HOST, port=port, timeout=3).rcode(), dns.rcode.REFUSED)

    def test_W1_pipelined_tcp(self):
        port = self.d.port("azure-dns/spoke1")
        names = ["web.azure.contoso.com", "www.contoso.com", "mail.azure.contoso.com"]
        wire = b""
        for i, n in enumerate(names):
            q = dns.message.make_query(n, "A")
            q.id = 100 + i
            w = q.to_wire()
            wire += struct.pack(">H", len(w)) + w
        s = socket.create_connection((HOST, port), timeout=3)
        s.sendall(wire)  # all three at once, before reading any answer
        got = {}
        buf = b""
        while len(got) < 3:
            chunk = s.recv(65535)
            self.assertTrue(chunk, "connection closed early")
            buf += chunk
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
                n = struct.unpack(">H", buf[:2])[0]
                m = dns.message.from_wire(buf[2:2 + n])
                got[m.id] = m
                buf = buf[2 + n:]
        s.close()
        self.assertEqual(addresses(got[100]), ["10.10.2.5"])
        self.assertEqual(addresses(got[101]), ["10.100.1.10"])
        self.assertEqual(addresses(got[102]), ["10.10.2.25"])


class ResolutionRules(unittest.TestCase):
    """Q-2 shadowing, NxDomainRedirect, wildcards, NODATA, truncation."""

    YAML = BASE + """
privateDnsZones:
  - name: corp.example
    recordSets:
      - {name: shadowed, type: A, records: [10.20.0.50]}
    virtualNetworkLinks: [{name: l, virtualNetwork: spoke}]
  - name: redirect.example
    recordSets:
      - {name: here, type: A, records: [10.20.0.60]}
    virtualNetworkLinks: [{name: l, virtualNetwork: spoke, resolutionPolicy: NxDomainRedirect}]
  - name: apps.internal
    recordSets:
      - {name: "*", type: A, records: [10.20.0.70]}
      - {name: web, type: A, records: [10.20.0.71]}
      - {name: big, type: TXT, records: [%s]}
    virtualNetworkLinks: [{name: l, virtualNetwork: spoke}]
dnsForwardingRulesets:
  - name: rules
    dnsResolverOutboundEndpoints: [r/out]
    forwardingRules:
      - {name: Corp, domainName: corp.example., targetDnsServers: [10.100.0.2]}
      - {name: Redirect, domainName: redirect.example., targetDnsServers: [10.100.0.2]}
    virtualNetworkLinks: [{name: l, virtualNetwork: spoke}]
""" % ", ".join('"%s"' % (("record-%02d-" % i) + "x" * 60) for i in range(20))

    @classmethod
    def setUpClass(cls):
        # the external server also answers redirect.example for the redirect
        yaml = cls.YAML.replace("""          - {name: shadowed, type: A, records: [192.168.1.11]}
""", """          - {name: shadowed, type: A, records: [192.168.1.11]}
      - name: redirect.example
        recordSets:
          - {name: elsewhere, type: A, records: [192.168.2.20]}
""")
        cls.d = Privresd(yaml, args=["--quiet"])
        cls.port = cls.d.port("azure-dns/spoke")

    @classmethod
    def tearDownClass(cls):
        assert cls.d.stop() == 0

    def test_Q2_zone_answers_before_rule(self):
        self.assertEqual(addresses(query(self.port, "shadowed.corp.example")), ["10.20.0.50"])

    def test_Q2_miss_is_nxdomain_not_forwarded(self):
        # fileserver.corp.example exists on the rule's target, but the linked zone wins
        r = query(self.port, "fileserver.corp.example")
        self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)
        self.assertEqual(r.authority[0].rdtype, dns.rdatatype.SOA)

    def test_Q2_nxdomain_redirect(self):
        self.assertEqual(addresses(query(self.port, "here.redirect.example")), ["10.20.0.60"])
        r = query(self.port, "elsewhere.redirect.example")
        self.assertEqual(addresses(r), ["192.168.2.20"])
        # only A, AAAA and CNAME queries fall through
        r = query(self.port, "elsewhere.redirect.example", "MX")
        self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)

    def test_wildcard_and_nodata(self):
        r = query(self.port, "anything.apps.internal")
        self.assertEqual(addresses(r), ["10.20.0.70"])
        self.assertEqual(str(r.answer[0].name), "anything.apps.internal.")
        r = query(self.port, "web.apps.internal", "AAAA")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertEqual(len(r.answer), 0)
        self.assertEqual(r.authority[0].rdtype, dns.rdatatype.SOA)

    def test_Q7_truncation_then_tcp(self):
        q = dns.message.make_query("big.apps.internal", "TXT", use_edns=False)
        r = dns.query.udp(q, HOST, port=self.port, timeout=3)
        self.assertTrue(r.flags & dns.flags.TC)
        r = dns.query.tcp(q, HOST, port=self.port, timeout=3)
        self.assertFalse(r.flags & dns.flags.TC)
        self.assertEqual(sum(len(rr) for rr in r.answer), 20)
        # a larger EDNS buffer takes it whole over UDP
        q = dns.message.make_query("big.apps.internal", "TXT", use_edns=0, payload=4096)
        r = dns.query.udp(q, HOST, port=self.port, timeout=3)
        self.assertFalse(r.flags & dns.flags.TC)


class Loops(unittest.TestCase):
    """P-3: a loop the static check cannot see (it goes through CNAMEs in the
    public zones) ends in SERVFAIL at the hop limit, quickly."""

    YAML = """
emulator: {basePort: 0, hopLimit: 4}
virtualNetworks:
  - name: a
    addressPrefixes: [10.1.0.0/16]
    subnets:
      - {name: i, addressPrefix: 10.1.0.0/28, delegation: Microsoft.Network/dnsResolvers}
      - {name: o, addressPrefix: 10.1.1.0/28, delegation: Microsoft.Network/dnsResolvers}
  - name: b
    addressPrefixes: [10.2.0.0/16]
    subnets:
      - {name: i, addressPrefix: 10.2.0.0/28, delegation: Microsoft.Network/dnsResolvers}
      - {name: o, addressPrefix: 10.2.1.0/28, delegation: Microsoft.Network/dnsResolvers}
dnsResolvers:
  - {name: ra, virtualNetwork: a, inboundEndpoints: [{name: in, subnet: i}], outboundEndpoints: [{name: out, subnet: o}]}
  - {name: rb, virtualNetwork: b, inboundEndpoints: [{name: in, subnet: i}], outboundEndpoints: [{name: out, subnet: o}]}
dnsForwardingRulesets:
  - name: rs-a
    dnsResolverOutboundEndpoints: [ra/out]
    forwardingRules: [{name: X, domainName: x.test., targetDnsServers: [10.2.0.4]}]
    virtualNetworkLinks: [{name: l, virtualNetwork: a}]
  - name: rs-b
    dnsResolverOutboundEndpoints: [rb/out]
    forwardingRules: [{name: Y, domainName: y.test., targetDnsServers: [10.1.0.4]}]
    virtualNetworkLinks: [{name: l, virtualNetwork: b}]
publicDns:
  zones:
    - name: test
      recordSets:
        - {name: x, type: CNAME, records: [y.test.]}
        - {name: y, type: CNAME, records: [x.test.]}
"""

    def test_P3_hop_limit_ends_loop(self):
        d = Privresd(self.YAML, args=["--quiet"])
        try:
            t0 = time.time()
            r = query(d.port("azure-dns/a"), "x.test")
            self.assertEqual(r.rcode(), dns.rcode.SERVFAIL)
            self.assertLess(time.time() - t0, 2.0)
            # the daemon is still well
            r = query(d.port("azure-dns/a"), "nothing.test")
            self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)
        finally:
            self.assertEqual(d.stop(), 0)


class Reload(unittest.TestCase):
    """SIGHUP re-reads the file; a file with errors changes nothing."""

    ZONE = BASE + """
privateDnsZones:
  - name: app.internal
    recordSets: [{name: www, type: A, records: [%s]}]
    virtualNetworkLinks: [{name: l, virtualNetwork: hub}]
"""

    def test_sighup_swaps_and_refuses_bad_files(self):
        d = Privresd(self.ZONE % "10.0.0.1", args=["--quiet"])
        try:
            port = d.port("r/in")
            self.assertEqual(addresses(query(port, "www.app.internal")), ["10.0.0.1"])
            d.write_config(self.ZONE % "10.0.0.2")
            d.signal(signal.SIGHUP)
            deadline = time.time() + 5
            while time.time() < deadline:
                if addresses(query(port, "www.app.internal")) == ["10.0.0.2"]:
                    break
                time.sleep(0.05)
            self.assertEqual(addresses(query(port, "www.app.internal")), ["10.0.0.2"])
            d.write_config(self.ZONE % "not-an-address")
            d.signal(signal.SIGHUP)
            deadline = time.time() + 5
            while "reload refused" not in d.log() and time.time() < deadline:
                time.sleep(0.05)
            self.assertIn("reload refused", d.log())
            self.assertIn("not valid A data", d.log())
            self.assertEqual(addresses(query(port, "www.app.internal")), ["10.0.0.2"])
        finally:
            self.assertEqual(d.stop(), 0)


class Unmapped(unittest.TestCase):
    """design.md §4: an outside target that is not in addressMap is never
    contacted; the client gets SERVFAIL."""

    def test_unmapped_target_servfail(self):
        yaml = BASE + """
dnsForwardingRulesets:
  - name: rules
    dnsResolverOutboundEndpoints: [r/out]
    forwardingRules: [{name: Out, domainName: outside.example., targetDnsServers: [10.99.0.1]}]
    virtualNetworkLinks: [{name: l, virtualNetwork: spoke}]
"""
        d = Privresd(yaml, args=["--quiet"])
        try:
            r = query(d.port("azure-dns/spoke"), "www.outside.example")
            self.assertEqual(r.rcode(), dns.rcode.SERVFAIL)
        finally:
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
