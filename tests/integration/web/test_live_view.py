"""The live view in a real browser: headless Debian Chromium driven by
playwright-core (npm, tests/integration/web/browser). On the hub-and-spoke
example the diagram shows every resource; the query box draws the path of
web.azure.contoso.com from spoke1 through rule AzurePrivate (Q-3) to the hub's
inbound endpoint (I-4) and its zone (Q-2); a dig sent meanwhile appears in the
live stream; an accepted reload redraws the diagram; a refused reload with a
P-2 loop shows the loop as a cycle while the estate keeps serving. Screenshots of each state: <build>/web-screenshots."""
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from privres_harness import BUILD, PRIVRESD, SOURCE, Privresd, free_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER = os.path.join(HERE, "browser")
CHROMIUM = os.environ.get("PRIVRES_CHROMIUM", "/usr/bin/chromium")


def export():
    text = subprocess.run([PRIVRESD, "--print-default"], capture_output=True, text=True,
                          check=True).stdout
    out = subprocess.run([PRIVRESD, "--export", "/dev/stdin"], input=text, capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def expected_nodes(d):
    """A node id for every resource of the deployment (the view's naming)."""
    ids = set()
    for v in d["virtualNetworks"]:
        ids.add("vnet:" + v["name"])
        ids |= {"subnet:%s/%s" % (v["name"], s["name"]) for s in v.get("subnets", [])}
    for r in d.get("dnsResolvers", []):
        ids.add("resolver:" + r["name"])
        ids |= {"ie:%s/%s" % (r["name"], e["name"]) for e in r.get("inboundEndpoints", [])}
        ids |= {"oe:%s/%s" % (r["name"], e["name"]) for e in r.get("outboundEndpoints", [])}
    for rs in d.get("dnsForwardingRulesets", []):
        ids.add("ruleset:" + rs["name"])
        ids |= {"rule:%s/%s" % (rs["name"], r["name"]) for r in rs.get("forwardingRules", [])}
        ids |= {"rslink:%s/%s" % (rs["name"], l["name"]) for l in rs.get("virtualNetworkLinks", [])}
    for z in d.get("privateDnsZones", []):
        ids.add("zone:" + z["name"].rstrip("."))
        ids |= {"zonelink:%s/%s" % (z["name"], l["name"]) for l in z.get("virtualNetworkLinks", [])}
    for p in d.get("dnsResolverPolicies", []):
        ids.add("policy:" + p["name"])
    ids |= {"vm:" + m["name"] for m in d.get("virtualMachines", [])}
    ids |= {"external:" + s["name"] for s in d.get("externalDnsServers", [])}
    return ids


@unittest.skipUnless(os.path.exists(CHROMIUM) and shutil.which("node") and
                     os.path.isdir(os.path.join(BROWSER, "node_modules", "playwright-core")),
                     "needs chromium and playwright-core (scripts/setup-deps --test)")
class LiveView(unittest.TestCase):
    def test_hub_and_spoke_in_chromium(self):
        d = Privresd(None, args=["--quiet", "--metrics-listen", "127.0.0.1:0"])
        shots = os.path.join(os.path.abspath(BUILD), "web-screenshots")
        os.makedirs(shots, exist_ok=True)
        try:
            with open(d.ready) as f:
                ready = json.load(f)
            url = "http://127.0.0.1:%d/" % ready["web"]["port"]
            grown = os.path.join(d.dir, "grown.yaml")
            with open(d.config) as f:
                text = f.read()
            # one VNet more, and a rule whose outside target never answers (F-10)
            text = text.replace("virtualNetworks:\n", "virtualNetworks:\n  - name: spoke3\n"
                                "    addressPrefixes: [10.40.0.0/16]\n", 1)
            text = text.replace("    forwardingRules:\n", "    forwardingRules:\n      - {name: Dead, "
                                "domainName: dead.example., targetDnsServers: [{ipAddress: "
                                "10.200.0.9}]}\n", 1)
            text = text.replace("emulator:\n", "emulator:\n  forwardTimeoutMs: 100\n"
                                "  queryDeadlineMs: 300\n  addressMap: {\"10.200.0.9:53\": "
                                "\"127.0.0.1:%d\"}\n" % free_port(), 1)
            self.assertEqual(text.count("10.200.0.9"), 2)
            with open(grown, "w") as f:
                f.write(text)
            run = subprocess.run(
                ["node", os.path.join(BROWSER, "view.js"), url,
                 str(d.port("azure-dns/spoke1")), shots, str(ready["pid"]), d.config, grown,
                 os.path.join(SOURCE, "examples", "invalid", "p2-three-hop-cycle.yaml")],
                capture_output=True, text=True, timeout=180, cwd=BROWSER)
            self.assertEqual(run.returncode, 0, run.stderr + d.log())
            seen = json.loads(run.stdout)
        finally:
            self.assertEqual(d.stop(), 0, d.log())
        self.assertEqual(seen["errors"], [])
        missing = expected_nodes(export()) - set(seen["nodes"])
        self.assertFalse(missing, "not drawn: %s" % sorted(missing))
        # every VNet link is an edge to its VNet
        self.assertIn("rslink:hub-rules/spoke1-link", seen["edges"])
        self.assertIn("zonelink:azure.contoso.com/hub-link", seen["edges"])
        # Q-3 then I-4 then Q-2, in that order on the drawn path
        path = seen["path"]
        want = ["vnet:spoke1", "rule:hub-rules/AzurePrivate", "ie:hub-resolver/in", "vnet:hub",
                "zone:azure.contoso.com"]
        self.assertEqual([p for p in path if p in want], want, path)
        self.assertIn("AzurePrivate", seen["explainText"])
        # the dig's own line, with its answer and path
        self.assertIn("NXDOMAIN", seen["dig"])
        self.assertIn(seen["digName"], seen["logLine"])
        self.assertIn("NXDOMAIN", seen["logLine"])
        self.assertIn("Q-3 rule AzurePrivate", seen["logLine"])
        self.assertIn("rule:hub-rules/AzurePrivate", seen["livePath"])
        # an accepted change is drawn: a new deployment, one VNet more
        self.assertEqual(seen["generation"], "deployment #2")
        # F-10: the target that never answers is listed and its rule marked
        self.assertIn("10.200.0.9:53", seen["unresponsive"])
        self.assertIn("rule:hub-rules/Dead", seen["marked"])
        # P-2: the refused change's loop drawn as a cycle; the estate still drawn
        self.assertEqual(seen["cycle"], ["a", "rb/in", "rc/in", "ra/in"], seen["findings"])
        self.assertIn("P-2", seen["findings"])
        self.assertEqual(seen["nodesAfter"], len(seen["nodes"]) + 2)  # spoke3 and rule Dead kept
        for shot in ("1-estate", "2-explain-path", "3-live-query", "4-reloaded", "5-refused-loop"):
            self.assertGreater(os.path.getsize(os.path.join(shots, shot + ".png")), 10000)


if __name__ == "__main__":
    unittest.main(verbosity=2)
