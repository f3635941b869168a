"""/metrics, /healthz and /readyz of privresd --metrics-listen (issue: metrics,
health, live view). The scrape is parsed with Debian's python3-prometheus-client
(the Prometheus text parser, and the strict OpenMetrics one); after known
queries the counters hold exactly what was sent; a stopped target's F-10 state
gauge changes; /readyz is not ready until the deployment is loaded, the
listeners bound and the API answering, and a refused reload keeps it ready."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from privres_harness import PRIVRESD, Privresd, Unbound, free_port  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
from prometheus_client.openmetrics.parser import \
    text_string_to_metric_families as openmetrics_families  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

HOST = "127.0.0.1"

DEPLOYMENT = """
emulator:
  basePort: 0
  cacheEntries: 0          # every query reaches its target: counts are exact
  unresponsiveSeconds: 30
  forwardTimeoutMs: 200
  queryDeadlineMs: 600
  addressMap: {"10.100.0.2:53": "127.0.0.1:%(port)d"}
virtualNetworks:
  - name: hub
    addressPrefixes: [10.10.0.0/16]
    subnets:
      - {name: snet-in, addressPrefix: 10.10.0.0/28, delegation: Microsoft.Network/dnsResolvers}
      - {name: snet-out, addressPrefix: 10.10.1.0/28, delegation: Microsoft.Network/dnsResolvers}
  - name: spoke
    addressPrefixes: [10.20.0.0/16]
privateDnsZones:
  - name: azure.contoso.com
    recordSets: [{name: web, type: A, records: [10.10.2.5]}]
    virtualNetworkLinks: [{name: hub-link, virtualNetwork: hub}]
dnsResolvers:
  - name: r
    virtualNetwork: hub
    inboundEndpoints: [{name: in, subnet: snet-in}]
    outboundEndpoints: [{name: out, subnet: snet-out}]
dnsForwardingRulesets:
  - name: rules
    dnsResolverOutboundEndpoints: [r/out]
    forwardingRules:
      - {name: Corp, domainName: corp.example., targetDnsServers: [{ipAddress: 10.100.0.2}]}
      - {name: AzurePrivate, domainName: azure.contoso.com., targetDnsServers: [{ipAddress: 10.10.0.4}]}
    virtualNetworkLinks: [{name: l, virtualNetwork: spoke}]
dnsResolverDomainLists:
  - {name: corp, domains: [corp.example.]}
dnsResolverPolicies:
  - name: p
    dnsSecurityRules:
      - {name: allow-corp, priority: 100, action: {actionType: Allow}, dnsResolverDomainLists: [corp]}
    virtualNetworkLinks: [{name: pl, virtualNetwork: spoke}]
"""


def http(port, path, method="GET", headers=None):
    req = urllib.request.Request("http://%s:%d%s" % (HOST, port, path), method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def samples(text):
    """{(sample name, frozenset(labels)): value} from the Prometheus parser."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(metrics, name, **labels):
    return metrics.get((name, frozenset(labels.items())))


def target_value(metrics, name, target, **labels):
    """A target gauge: labelled with the rule's target and its real address."""
    found = [v for (n, ls), v in metrics.items() if n == name and
             dict(ls).get("target") == target and
             all(dict(ls).get(k) == x for k, x in labels.items())]
    return found[0] if len(found) == 1 else None


def ask(port, name, tcp=False):
    q = dns.message.make_query(name, "A")
    return (dns.query.tcp if tcp else dns.query.udp)(q, HOST, port=port, timeout=5)


class Metrics(unittest.TestCase):
    def setUp(self):
        self.up_port = free_port()
        self.unbound = Unbound(self.up_port, ["host.corp.example. 300 IN A 192.168.5.1"])
        self.d = Privresd(DEPLOYMENT % {"port": self.up_port},
                          args=["--quiet", "--metrics-listen", "127.0.0.1:0"])
        with open(self.d.ready) as f:
            self.web = json.load(f)["web"]["port"]
        self.spoke = self.d.port("azure-dns/spoke")
        self.ie = self.d.port("r/in")

    def tearDown(self):
        rc = self.d.stop()
        self.unbound.stop()
        self.assertEqual(rc, 0, self.d.log())

    def scrape(self):
        """The Prometheus text format, parsed by prometheus_client.parser; the
        same scrape in OpenMetrics (as Prometheus asks) through the strict
        OpenMetrics parser, which raises on any error."""
        status, ctype, text = http(self.web, "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        for fam in text_string_to_metric_families(text):
            self.assertNotEqual(fam.type, "unknown", fam.name)  # every sample has its TYPE
        status, ctype, om = http(self.web, "/metrics", headers={
            "Accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"})
        self.assertTrue(ctype.startswith("application/openmetrics-text"), ctype)
        self.assertTrue(om.endswith("# EOF\n"))
        om_samples = {}
        for fam in openmetrics_families(om):
            for s in fam.samples:
                om_samples[(s.name, frozenset(s.labels.items()))] = s.value
        self.assertEqual(set(om_samples), set(samples(text)))
        return samples(text)

    def test_counters_after_known_queries(self):
        for _ in range(3):
            r = ask(self.spoke, "host.corp.example")
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        for _ in range(2):
            r = ask(self.ie, "nothere.azure.contoso.com", tcp=True)
            self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)
        r = ask(self.spoke, "web.azure.contoso.com")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        m = self.scrape()
        q = "privres_queries_total"
        self.assertEqual(value(m, q, listener="azure-dns/spoke", transport="udp",
                               rcode="NOERROR"), 4)
        self.assertEqual(value(m, q, listener="r/in", transport="tcp", rcode="NXDOMAIN"), 2)
        self.assertIsNone(value(m, q, listener="r/in", transport="udp", rcode="NXDOMAIN"))
        # the counter table and the tallies agree
        self.assertEqual(value(m, "privres_udp_queries_total"), 4)
        self.assertEqual(value(m, "privres_tcp_queries_total"), 2)
        self.assertEqual(value(m, "privres_answers_sent_total"), 6)
        h = "privres_query_duration_seconds"
        self.assertEqual(value(m, h + "_count", listener="azure-dns/spoke"), 4)
        self.assertEqual(value(m, h + "_bucket", listener="r/in", le="+Inf"), 2)
        self.assertGreater(value(m, h + "_sum", listener="azure-dns/spoke"), 0)
        # forwards by rule and target; in-process to our own inbound endpoint
        f = "privres_forwards_total"
        self.assertEqual(value(m, f, rule="Corp", target="10.100.0.2:53", via="outside"), 3)
        self.assertEqual(value(m, f, rule="AzurePrivate", target="10.10.0.4:53",
                               via="in-process"), 1)
        self.assertEqual(value(m, "privres_forward_requests_total"), 3)
        # the spoke's policy allowed corp.example (no rule covers the rest:
        # no verdict to count)
        p = "privres_policy_verdicts_total"
        self.assertEqual(value(m, p, policy="p", vnet="spoke", rule="allow-corp",
                               action="allow"), 3)
        self.assertEqual(len([k for k in m if k[0] == p]), 1)
        self.assertEqual(value(m, "privres_snapshot_generation"), 1)
        self.assertGreater(value(m, "privres_last_change_timestamp_seconds"),
                           time.time() - 600)
        self.assertEqual(value(m, "privres_ready"), 1)

    def test_F10_stopped_target_changes_its_state_gauge(self):
        ask(self.spoke, "host.corp.example")
        g = "privres_forward_target_state"
        m = self.scrape()
        real = "127.0.0.1:%d" % self.up_port  # emulator.addressMap
        self.assertEqual(value(m, g, target="10.100.0.2:53", address=real, state="healthy"), 1)
        self.assertEqual(value(m, g, target="10.100.0.2:53", address=real,
                               state="unresponsive"), 0)
        self.unbound.stop()
        for _ in range(4):
            r = ask(self.spoke, "host.corp.example")
            self.assertEqual(r.rcode(), dns.rcode.SERVFAIL)
        m = self.scrape()
        self.assertEqual(target_value(m, g, "10.100.0.2:53", state="healthy"), 0)
        self.assertEqual(sum(target_value(m, g, "10.100.0.2:53", state=s)
                             for s in ("backoff", "failing", "unresponsive")), 1)
        self.assertGreater(target_value(m, "privres_forward_target_consecutive_failures",
                                        "10.100.0.2:53"), 0)
        self.assertEqual(value(m, "privres_queries_total", listener="azure-dns/spoke",
                               transport="udp", rcode="SERVFAIL"), 4)

    def test_health_endpoints_and_bad_requests(self):
        self.assertEqual(http(self.web, "/healthz")[0], 200)
        status, _, body = http(self.web, "/readyz")
        self.assertEqual((status, body), (200, "ready\n"))
        self.assertEqual(http(self.web, "/no/such/page")[0], 404)
        self.assertEqual(http(self.web, "/metrics", method="POST")[0], 405)
        self.assertEqual(http(self.web, "/api/explain?vnet=spoke")[0], 400)
        self.assertEqual(http(self.web, "/api/explain?vnet=nowhere&name=a.b")[0], 404)
        self.assertEqual(http(self.web, "/api/explain?vnet=spoke&name=a.b&type=NOPE")[0], 400)

    def test_refused_reload_keeps_serving_and_ready(self):
        self.d.write_config("virtualNetworks: [{name: broken}]\n")
        self.d.signal(signal.SIGHUP)
        end = time.time() + 10
        while "reload refused" not in self.d.log() and time.time() < end:
            time.sleep(0.05)
        self.assertIn("reload refused", self.d.log())
        status, _, body = http(self.web, "/readyz")
        self.assertEqual((status, body), (200, "ready\n"))
        self.assertEqual(ask(self.spoke, "host.corp.example").rcode(), dns.rcode.NOERROR)
        estate = json.loads(http(self.web, "/api/estate")[2])
        self.assertTrue(estate["refused"], estate)
        self.assertEqual(value(self.scrape(), "privres_snapshot_generation"), 1)


def big_deployment(rules):
    """A deployment large enough that loading it takes a while under ASan."""
    lines = ["emulator: {basePort: 0}",
             "virtualNetworks:",
             "  - name: hub",
             "    addressPrefixes: [10.10.0.0/16]",
             "    subnets:",
             "      - {name: snet-in, addressPrefix: 10.10.0.0/28, delegation: Microsoft.Network/dnsResolvers}",
             "      - {name: snet-out, addressPrefix: 10.10.1.0/28, delegation: Microsoft.Network/dnsResolvers}",
             "dnsResolvers:",
             "  - name: r",
             "    virtualNetwork: hub",
             "    inboundEndpoints: [{name: in, subnet: snet-in}]",
             "    outboundEndpoints: [{name: out, subnet: snet-out}]",
             "dnsForwardingRulesets:",
             "  - name: rules",
             "    dnsResolverOutboundEndpoints: [r/out]",
             "    forwardingRules:"]
    for i in range(rules):
        lines.append("      - {name: r%d, domainName: d%d.example., "
                     "targetDnsServers: [{ipAddress: 10.100.0.2}]}" % (i, i))
    return "\n".join(lines) + "\n"


class Readiness(unittest.TestCase):
    def test_not_ready_until_loaded_bound_and_answering(self):
        tmp = tempfile.mkdtemp(prefix="privres-web-")
        config = os.path.join(tmp, "d.yaml")
        with open(config, "w") as f:
            f.write(big_deployment(1000))
        web = free_port()
        proc = subprocess.Popen([PRIVRESD, "--quiet", "--workers", "2", "--config", config,
                                 "--api-socket", os.path.join(tmp, "api.sock"),
                                 "--metrics-listen", "127.0.0.1:%d" % web],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seen = []
        try:
            end = time.time() + 60
            while time.time() < end:
                try:
                    status, _, body = http(web, "/readyz")
                except OSError:
                    continue  # not listening yet
                seen.append((status, body))
                if status == 200:
                    break
            self.assertTrue(seen and seen[-1] == (200, "ready\n"), seen[-3:])
            not_ready = [b for s, b in seen if s == 503]
            self.assertTrue(not_ready, "never saw /readyz not ready: %s" % seen[:3])
            self.assertIn("no deployment applied yet", not_ready[0])
            # every answer before the 200 was a 503, none after it went back
            self.assertTrue(all(s == 503 for s, _ in seen[:-1]))
            self.assertEqual(http(web, "/healthz")[0], 200)
        finally:
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=20), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
