"""The management API of a running privresd (design.md §6, §7): a change is
live at once, validated like YAML, and survives kill -9."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from privres_harness import BUILD, Privresd  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

PRIVRESCTL = os.path.join(BUILD, "api", "privresctl")
HOST = "127.0.0.1"


def ask(port, name, rdtype="A"):
    return dns.query.udp(dns.message.make_query(name, rdtype), HOST, port=port, timeout=3)


def addresses(resp):
    return sorted(r.address for rr in resp.answer for r in rr if rr.rdtype == dns.rdatatype.A)


class LiveApi(unittest.TestCase):
    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="privres-state-")
        self.d = Privresd(None, args=["--quiet"], state_dir=self.state)

    def tearDown(self):
        self.d.stop()
        shutil.rmtree(self.state, ignore_errors=True)

    def ctl(self, method, request):
        p = subprocess.run([PRIVRESCTL, "--socket", os.path.join(self.d.dir, "api.sock"),
                            "call", method, json.dumps(request)],
                           capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout, p.stderr

    def test_change_is_live_durable_and_validated(self):
        port = self.d.port("azure-dns/spoke1")
        self.assertEqual(ask(port, "new.azure.contoso.com").rcode(), dns.rcode.NXDOMAIN)
        rc, out, err = self.ctl("/privres.v1.RecordSetService/CreateOrUpdate", {
            "zoneName": "azure.contoso.com",
            "recordSet": {"name": "new", "type": "A", "ttl": 60, "records": ["10.10.2.77"]}})
        self.assertEqual(rc, 0, err)
        # acknowledged → on disk (design.md §7) and live
        with open(os.path.join(self.state, "deployment.json")) as f:
            self.assertIn("10.10.2.77", f.read())
        deadline = time.time() + 3
        while time.time() < deadline and addresses(ask(port, "new.azure.contoso.com")) != ["10.10.2.77"]:
            time.sleep(0.05)
        self.assertEqual(addresses(ask(port, "new.azure.contoso.com")), ["10.10.2.77"])

        # the same validation as YAML: F-5 and P-1 are refused, nothing changes
        rc, out, err = self.ctl("/privres.v1.ForwardingRuleService/CreateOrUpdate", {
            "rulesetName": "hub-rules",
            "forwardingRule": {"name": "ToAzure", "domainName": "bad.example.",
                               "targetDnsServers": [{"ipAddress": "168.63.129.16", "port": 53}]}})
        self.assertEqual(rc, 1)
        self.assertIn("F-5", err)
        rc, out, err = self.ctl("/privres.v1.VirtualNetworkLinkService/CreateOrUpdate", {
            "rulesetName": "hub-rules",
            "virtualNetworkLink": {"name": "hub-link", "virtualNetwork": "hub"}})
        self.assertEqual(rc, 1)
        self.assertIn("P-1", err)

        # kill -9: the acknowledged change survives a restart from the state dir
        self.d.proc.send_signal(signal.SIGKILL)
        self.d.proc.wait()
        self.d = Privresd(None, args=["--quiet"], state_dir=self.state)
        port = self.d.port("azure-dns/spoke1")
        self.assertEqual(addresses(ask(port, "new.azure.contoso.com")), ["10.10.2.77"])
        rc, out, err = self.ctl("/privres.v1.ForwardingRuleService/List", {"rulesetName": "hub-rules"})
        self.assertEqual(rc, 0, err)
        self.assertNotIn("ToAzure", out)

    def test_damaged_state_is_refused(self):
        self.d.stop()
        path = os.path.join(self.state, "deployment.json")
        if not os.path.exists(path):
            # the first change writes the state
            self.d = Privresd(None, args=["--quiet"], state_dir=self.state)
            self.ctl("/privres.v1.RecordSetService/CreateOrUpdate", {
                "zoneName": "azure.contoso.com",
                "recordSet": {"name": "x", "type": "A", "records": ["10.10.2.78"]}})
            self.d.stop()
        with open(path, "r+") as f:
            text = f.read()
            f.seek(0)
            f.write(text.replace("10.10.2", "10.10.9", 1))
        with self.assertRaises(RuntimeError) as cm:
            self.d = Privresd(None, args=["--quiet"], state_dir=self.state)
        self.assertIn("checksum", str(cm.exception))
        self.d = Privresd(None, args=["--quiet"])  # for tearDown

    def test_explain(self):
        rc, out, err = self.ctl("/privres.v1.DiagnosticsService/Explain",
                                {"virtualNetwork": "spoke1", "name": "web.azure.contoso.com"})
        self.assertEqual(rc, 0, err)
        e = json.loads(out)
        self.assertEqual(e["rule"], "AzurePrivate")
        self.assertEqual(e["zone"], "azure.contoso.com.")
        self.assertEqual(e["answers"], ["web.azure.contoso.com. 300 IN A 10.10.2.5"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
