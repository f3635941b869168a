"""What privresd serves and logs from the one home of a rule: the SOA of a
private zone is the cloud's (Z-2, reference/azure.md §2.2), asked with dig and
dnspython; the query log names the extended rcode through libknot, so a query
with EDNS version 1 is logged BADVERS (W-2), not NOERROR; explain and the query
log word a trace alike; stats reports every counter."""
import json
import os
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from privres_harness import BUILD, Privresd  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

HOST = "127.0.0.1"

DEPLOYMENT = """
virtualNetworks:
  - name: hub
    addressPrefixes: [10.10.0.0/16]
    subnets:
      - {name: snet-in, addressPrefix: 10.10.0.0/28, delegation: Microsoft.Network/dnsResolvers}
dnsResolvers:
  - name: r
    virtualNetwork: hub
    inboundEndpoints: [{name: in, subnet: snet-in}]
privateDnsZones:
  - name: azure.contoso.com
    recordSets: [{name: web, type: A, records: [10.10.2.5]}]
    virtualNetworkLinks: [{name: hub-link, virtualNetwork: hub}]
  - name: chosen.contoso.com
    soa: {email: dns-admin.contoso.com., minimumTtl: 60}
    virtualNetworkLinks: [{name: hub-link, virtualNetwork: hub}]
emulator: {basePort: 0, queryLog: %(log)s}
"""

# Z-2: host, email, serial, refresh, retry, expire, minimum TTL; record TTL
CLOUD_SOA = ("azureprivatedns.net.", "azureprivatedns-hostmaster.microsoft.com.",
             1, 3600, 300, 2419200, 300)
CLOUD_SOA_TTL = 3600


def soa_of(resp):
    rrset = [rr for rr in resp.answer if rr.rdtype == dns.rdatatype.SOA][0]
    r = rrset[0]
    return (str(r.mname), str(r.rname), r.serial, r.refresh, r.retry, r.expire,
            r.minimum), rrset.ttl


class SoaAndQueryLog(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.log = os.path.join(os.environ.get("TMPDIR", "/tmp"),
                               "privres-soa-qlog-%d.log" % os.getpid())
        if os.path.exists(cls.log):
            os.unlink(cls.log)
        cls.d = Privresd(DEPLOYMENT % {"log": cls.log}, args=["--quiet"], workers=1)
        cls.port = cls.d.port("r/in")

    @classmethod
    def tearDownClass(cls):
        assert cls.d.stop() == 0
        if os.path.exists(cls.log):
            os.unlink(cls.log)

    def ask(self, name, rdtype="A", edns=-1):
        q = dns.message.make_query(name, rdtype)
        q.use_edns(edns)  # the EDNS version; -1: none
        return dns.query.udp(q, HOST, port=self.port, timeout=3)

    def logged(self, name, rdtype=None, timeout=5):
        """The query log's entries for name (and type), waiting for the writer."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(self.log):
                with open(self.log) as f:
                    hits = [json.loads(l) for l in f if l.strip()]
                hits = [e for e in hits
                        if e["name"] == name and rdtype in (None, e["type"])]
                if hits:
                    return hits
            time.sleep(0.05)
        self.fail("%s never reached the query log" % name)

    def test_Z2_served_soa_is_the_clouds_dnspython(self):
        soa, ttl = soa_of(self.ask("azure.contoso.com", "SOA"))
        self.assertEqual(soa, CLOUD_SOA)
        self.assertEqual(ttl, CLOUD_SOA_TTL)

    def test_Z2_served_soa_is_the_clouds_dig(self):
        out = subprocess.run(["dig", "@" + HOST, "-p", str(self.port), "+short", "SOA",
                              "azure.contoso.com"],
                             capture_output=True, text=True, timeout=10).stdout.split()
        self.assertEqual(out, [str(v) for v in CLOUD_SOA])

    def test_Z2_negative_answer_carries_the_same_soa(self):
        r = self.ask("nope.azure.contoso.com")
        self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)
        soa = r.authority[0][0]
        self.assertEqual(str(soa.rname), CLOUD_SOA[1])
        # RFC 2308 §3: the TTL of the negative answer's SOA is min(TTL, minimum)
        self.assertEqual(r.authority[0].ttl, min(CLOUD_SOA_TTL, CLOUD_SOA[6]))

    def test_Z2_changed_fields_kept_others_default(self):
        soa, ttl = soa_of(self.ask("chosen.contoso.com", "SOA"))
        self.assertEqual(soa, (CLOUD_SOA[0], "dns-admin.contoso.com.") + CLOUD_SOA[2:6] + (60,))
        self.assertEqual(ttl, CLOUD_SOA_TTL)

    def test_W2_edns_version_1_logged_badvers(self):
        r = self.ask("web.azure.contoso.com", edns=1)
        self.assertEqual(r.rcode(), dns.rcode.BADVERS)
        entries = self.logged("web.azure.contoso.com.", "A")
        self.assertEqual([e["rcode"] for e in entries], ["BADVERS"])

    def test_rcodes_logged_by_libknot_name(self):
        self.assertEqual(self.ask("nx.azure.contoso.com", edns=0).rcode(), dns.rcode.NXDOMAIN)
        self.assertEqual([e["rcode"] for e in self.logged("nx.azure.contoso.com.")],
                         ["NXDOMAIN"])
        self.ask("chosen.contoso.com", "SOA", edns=0)
        self.assertEqual([e["rcode"] for e in self.logged("chosen.contoso.com.")], ["NOERROR"])

    def test_explain_and_query_log_word_a_trace_alike(self):
        self.ask("web.azure.contoso.com", "TXT", edns=0)
        path = self.logged("web.azure.contoso.com.", "TXT")[0]["path"]
        self.assertEqual(path, ["view hub", "Q-2 zone azure.contoso.com."])
        ctl = os.path.join(BUILD, "api", "privresctl")
        p = subprocess.run([ctl, "--socket", os.path.join(self.d.dir, "api.sock"), "explain",
                            "--vnet", "hub", "web.azure.contoso.com", "TXT"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        text = json.loads(p.stdout)["text"]
        self.assertIn(" → ".join(path), text)

    # Collected before, reported by stats only now (the daemon's stats of
    # endpoints/, the forwarders and the cache).
    NEWLY_REPORTED = ("tcpClosedIdle", "tcpClosedCap", "tcpClosedSlow", "tcpClosedBadLength",
                      "sendErrors", "recvErrors", "forwardTryErrors", "forwardSourceBindErrors",
                      "forwardDroppedMalformed", "forwardCancelled", "cacheExpired",
                      "cacheBytes")

    def stats(self):
        ctl = os.path.join(BUILD, "api", "privresctl")
        p = subprocess.run([ctl, "--socket", os.path.join(self.d.dir, "api.sock"), "stats"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)["counters"]

    def test_stats_reports_every_counter(self):
        before = self.stats()
        for name in self.NEWLY_REPORTED:
            self.assertIn(name, before)
        # W-3: a TCP length prefix under a header's 12 octets closes the connection
        with socket.create_connection((HOST, self.port), timeout=3) as s:
            s.sendall(b"\x00\x05hello")
            self.assertEqual(s.recv(10), b"")
        deadline = time.time() + 5
        while time.time() < deadline:
            if int(self.stats()["tcpClosedBadLength"]) > int(before["tcpClosedBadLength"]):
                break
            time.sleep(0.05)
        self.assertGreater(int(self.stats()["tcpClosedBadLength"]),
                           int(before["tcpClosedBadLength"]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
