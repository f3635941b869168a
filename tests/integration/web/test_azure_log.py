"""emulator.queryLog.format: azure — each query as the cloud's DNSQueryLogs
record (reference/azure.md §3.6), field for field, on the zero-trust example
(examples/zero-trust.yaml: S-3, Q-1) and, for the forwarding fields, on the
hub-and-spoke example (Q-3). Ids come from `privresd --export`, so the test
compares with what the deployment says, not with copied text."""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from privres_harness import PRIVRESD, SOURCE, Privresd  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402

HOST = "127.0.0.1"
# The DNSQueryLogs columns (azure.md §3.6), the table's own list.
COLUMNS = {"AdditionalRecords", "Answer", "Authority", "DestinationIpAddress", "DestinationPort",
           "DnsForwardingRulesetDomain", "DnsForwardingRulesetId", "OperationName",
           "PrivateResolverEndpointId", "QueryClass", "QueryName", "QueryResponseTime",
           "QueryType", "Region", "ResolutionPath", "ResolverPolicyDomainListId",
           "ResolverPolicyId", "ResolverPolicyRuleAction", "ResponseCode", "SourceIpAddress",
           "SourcePort", "TimeGenerated", "Transport", "Version", "VirtualNetworkId"}


def example(name, log):
    with open(os.path.join(SOURCE, "examples", name)) as f:
        text = f.read()
    text = text.replace("emulator:\n", "emulator:\n  basePort: 0\n  queryLog: {path: %s, "
                        "format: azure}\n" % log, 1)
    assert "format: azure" in text
    return text


def exported(path):
    out = subprocess.run([PRIVRESD, "--export", path], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def by_name(items, name):
    return next(i for i in items if i["name"] == name)


class AzureLog(unittest.TestCase):
    def run_queries(self, name, queries):
        """Serve examples/<name> with the azure log; send (listener, qname, tcp)
        queries one at a time; return (records, sources, export)."""
        log = os.path.join(tempfile.mkdtemp(prefix="privres-azure-log-"), "azure.log")
        self.d = Privresd(example(name, log), args=["--quiet", "--workers", "1"])
        export = exported(self.d.config)
        sources = []
        try:
            for listener, qname, tcp in queries:
                q = dns.message.make_query(qname, "A")
                send = dns.query.tcp if tcp else dns.query.udp
                sock_port = self.d.port(listener)
                r = send(q, HOST, port=sock_port, timeout=5)
                self.assertEqual(r.id, q.id)
                sources.append(r)
            end = time.time() + 5
            while time.time() < end:
                with open(log) as f:
                    lines = f.read().splitlines()
                if len(lines) >= len(queries):
                    break
                time.sleep(0.05)
        finally:
            self.assertEqual(self.d.stop(), 0, self.d.log())
        records = [json.loads(line) for line in lines]
        self.assertEqual(len(records), len(queries))
        for rec in records:
            self.assertEqual(set(rec), COLUMNS)
            self.assertEqual(rec["SourceIpAddress"], HOST)
            self.assertIsInstance(rec["SourcePort"], int)
            self.assertTrue(rec["TimeGenerated"].endswith("Z"))
            self.assertGreaterEqual(rec["QueryResponseTime"], 0)
            self.assertEqual((rec["QueryType"], rec["QueryClass"], rec["Version"]),
                             ("A", "IN", "1.0"))
        return records, export

    def test_zero_trust_field_for_field(self):
        spoke, hub = "azure-dns/spoke", "hub-resolver/in"
        records, x = self.run_queries("zero-trust.yaml", [
            (spoke, "web.azure.contoso.com", False),
            (spoke, "www.contoso.com", False),
            (spoke, "pixel.ads.example", False),
            (spoke, "www.example.com", True),
            (spoke, "nothing.azure.contoso.com", False),
            (hub, "www.example.com", False),
        ])
        vnet = {v["name"]: v["id"] for v in x["virtualNetworks"]}
        policy = by_name(x["dnsResolverPolicies"], "zero-trust")["id"]
        lists = {dl["name"]: dl["id"] for dl in x["dnsResolverDomainLists"]}
        ie = by_name(by_name(x["dnsResolvers"], "hub-resolver")["inboundEndpoints"], "in")
        common = {"OperationName": "RESPONSE_SUCCESS", "Region": "eastus",
                  "DnsForwardingRulesetId": "", "DnsForwardingRulesetDomain": "",
                  "AdditionalRecords": ""}
        from_spoke = dict(common, VirtualNetworkId=vnet["spoke"], ResolverPolicyId=policy,
                          DestinationIpAddress="168.63.129.16", DestinationPort=53,
                          PrivateResolverEndpointId="", Authority="")
        expected = [
            dict(from_spoke, QueryName="web.azure.contoso.com.", Transport="UDP",
                 ResponseCode=0, ResolutionPath="PrivateDnsResolution",
                 ResolverPolicyRuleAction="Allow", ResolverPolicyDomainListId=lists["needed"],
                 Answer="web.azure.contoso.com. 300 IN A 10.10.2.5"),
            dict(from_spoke, QueryName="www.contoso.com.", Transport="UDP", ResponseCode=0,
                 ResolutionPath="PublicDnsResolution", ResolverPolicyRuleAction="Allow",
                 ResolverPolicyDomainListId=lists["needed"],
                 Answer="www.contoso.com. 3600 IN A 203.0.113.10"),
            dict(from_spoke, QueryName="pixel.ads.example.", Transport="UDP", ResponseCode=0,
                 ResolutionPath="PublicDnsResolution", ResolverPolicyRuleAction="Alert",
                 ResolverPolicyDomainListId=lists["tracking"],
                 Answer="pixel.ads.example. 3600 IN A 198.51.100.7"),
            # S-3: Block answers a CNAME to blockpolicy.azuredns.invalid.
            dict(from_spoke, QueryName="www.example.com.", Transport="TCP", ResponseCode=0,
                 ResolutionPath="DnsSecurityPolicy", ResolverPolicyRuleAction="Deny",
                 ResolverPolicyDomainListId=lists["everything"],
                 Answer="www.example.com. 60 IN CNAME blockpolicy.azuredns.invalid."),
            dict(from_spoke, QueryName="nothing.azure.contoso.com.", Transport="UDP",
                 ResponseCode=3, ResolutionPath="PrivateDnsResolution",
                 ResolverPolicyRuleAction="Allow", ResolverPolicyDomainListId=lists["needed"],
                 Answer="",
                 Authority="azure.contoso.com. 300 IN SOA azureprivatedns.net. "
                           "azureprivatedns-hostmaster.microsoft.com. 1 3600 300 2419200 300"),
            # the hub has no policy (S-2): None, and the inbound endpoint is named
            dict(common, QueryName="www.example.com.", Transport="UDP", ResponseCode=0,
                 VirtualNetworkId=vnet["hub"], ResolverPolicyId="",
                 ResolutionPath="PublicDnsResolution", ResolverPolicyRuleAction="None",
                 ResolverPolicyDomainListId="", DestinationIpAddress=ie["privateIpAddress"],
                 DestinationPort=53, PrivateResolverEndpointId=ie["id"], Authority="",
                 Answer="www.example.com. 3600 IN A 93.184.216.34"),
        ]
        for rec, want in zip(records, expected):
            for key, value in want.items():
                self.assertEqual(rec[key], value, "%s of %s" % (key, want["QueryName"]))

    def test_forwarded_query_names_ruleset_and_target(self):
        records, x = self.run_queries("hub-and-spoke.yaml", [
            ("azure-dns/spoke1", "web.azure.contoso.com", False),
        ])
        rec = records[0]
        rs = x["dnsForwardingRulesets"][0]
        rule = by_name(rs["forwardingRules"], "AzurePrivate")
        target = rule["targetDnsServers"][0]
        self.assertEqual(rec["DnsForwardingRulesetId"], rs["id"])
        self.assertEqual(rec["DnsForwardingRulesetDomain"], rule["domainName"])
        self.assertEqual(rec["ResolutionPath"], "DnsForwardingRuleset")
        self.assertEqual((rec["DestinationIpAddress"], rec["DestinationPort"]),
                         (target["ipAddress"], target.get("port", 53)))
        self.assertEqual(rec["VirtualNetworkId"], by_name(x["virtualNetworks"], "spoke1")["id"])
        self.assertEqual(rec["ResolverPolicyRuleAction"], "None")
        self.assertEqual(rec["Answer"], "web.azure.contoso.com. 300 IN A 10.10.2.5")


if __name__ == "__main__":
    unittest.main(verbosity=2)
