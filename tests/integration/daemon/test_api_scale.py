"""The management API of a running privresd with a stock gRPC client
(Debian's grpcio, stubs generated from api/privres.proto now): scale and
status codes, live changes under load, durability across kill -9
(issue "Management API", design.md §6, §7)."""
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from privres_harness import BUILD, SOURCE, Privresd, free_port  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rdatatype  # noqa: E402
import grpc  # noqa: E402
from grpc_tools import protoc  # noqa: E402

PRIVRESCTL = os.path.join(BUILD, "api", "privresctl")
TOKEN = "scale-test-token"


def generate_stubs():
    out = tempfile.mkdtemp(prefix="privres-pb-")
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    if protoc.main(["protoc", "-I" + SOURCE, "-I" + include, "--python_out=" + out,
                    os.path.join(SOURCE, "api", "privres.proto")]) != 0:
        raise RuntimeError("grpc_tools.protoc failed")
    sys.path.insert(0, out)
    from api import privres_pb2
    return privres_pb2


pb = generate_stubs()


class Api:
    """Unary calls by path over a channel (TCP with a token, or the socket)."""

    def __init__(self, target, token=None):
        self.channel = grpc.insecure_channel(target)
        self.metadata = [("authorization", "Bearer " + token)] if token else None

    def call(self, service, method, request, response_type, timeout=10):
        fn = self.channel.unary_unary("/privres.v1.%s/%s" % (service, method),
                                      request_serializer=lambda m: m.SerializeToString(),
                                      response_deserializer=response_type.FromString)
        return fn(request, timeout=timeout, metadata=self.metadata)

    def close(self):
        self.channel.close()


def ask(port, name):
    r = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=port, timeout=3)
    return sorted(x.address for rr in r.answer for x in rr if rr.rdtype == dns.rdatatype.A)


def start(state_dir=None):
    tmp = tempfile.mkdtemp(prefix="privres-token-")
    token_file = os.path.join(tmp, "token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    port = free_port()
    d = Privresd(None, args=["--quiet", "--api-listen", "127.0.0.1:%d" % port,
                             "--api-token-file", token_file], state_dir=state_dir)
    return d, "127.0.0.1:%d" % port


def record_set_request(name, address):
    return pb.CreateOrUpdateRecordSetRequest(
        zone_name="azure.contoso.com",
        record_set=pb.RecordSet(name=name, type="A", ttl=5, records=[address]))


class Scale(unittest.TestCase):
    def test_1000_rules_and_status_codes(self):
        d, target = start()
        api = Api(target, TOKEN)
        try:
            api.call("VirtualNetworkService", "CreateOrUpdate",
                     pb.CreateOrUpdateVirtualNetworkRequest(virtual_network=pb.VirtualNetwork(
                         name="spoke3", address_prefixes=["10.40.0.0/16"])), pb.VirtualNetwork)
            api.call("DnsForwardingRulesetService", "CreateOrUpdate",
                     pb.CreateOrUpdateDnsForwardingRulesetRequest(
                         dns_forwarding_ruleset=pb.DnsForwardingRuleset(
                             name="bulk", dns_resolver_outbound_endpoints=["hub-resolver/out"])),
                     pb.DnsForwardingRuleset)
            for i in range(1000):
                api.call("ForwardingRuleService", "CreateOrUpdate",
                         pb.CreateOrUpdateForwardingRuleRequest(
                             ruleset_name="bulk",
                             forwarding_rule=pb.ForwardingRule(
                                 name="r%d" % i, domain_name="d%d.bulk.example." % i,
                                 target_dns_servers=[pb.TargetDnsServer(
                                     ip_address="10.100.0.2", port=53)])),
                         pb.ForwardingRule)
            api.call("VirtualNetworkLinkService", "CreateOrUpdate",
                     pb.CreateOrUpdateVirtualNetworkLinkRequest(
                         ruleset_name="bulk", virtual_network_link=pb.VirtualNetworkLink(
                             name="spoke3-link", virtual_network="spoke3")),
                     pb.VirtualNetworkLink)
            rules = api.call("ForwardingRuleService", "List",
                             pb.ListForwardingRulesRequest(ruleset_name="bulk"),
                             pb.ListForwardingRulesResponse)
            self.assertEqual(len(rules.value), 1000)
            self.assertTrue(rules.value[999].id.endswith("/forwardingRules/r999"))

            def refused(req, code, text):
                with self.assertRaises(grpc.RpcError) as cm:
                    api.call("ForwardingRuleService", "CreateOrUpdate", req, pb.ForwardingRule)
                self.assertEqual(cm.exception.code(), code, cm.exception.details())
                self.assertIn(text, cm.exception.details())

            refused(pb.CreateOrUpdateForwardingRuleRequest(
                ruleset_name="bulk", forwarding_rule=pb.ForwardingRule(
                    name="r1000", domain_name="d1000.bulk.example.",
                    target_dns_servers=[pb.TargetDnsServer(ip_address="10.100.0.2")])),
                grpc.StatusCode.RESOURCE_EXHAUSTED, "L-1")
            refused(pb.CreateOrUpdateForwardingRuleRequest(
                ruleset_name="hub-rules", forwarding_rule=pb.ForwardingRule(
                    name="Az", domain_name="az.example.",
                    target_dns_servers=[pb.TargetDnsServer(ip_address="168.63.129.16")])),
                grpc.StatusCode.INVALID_ARGUMENT, "F-5")
            with self.assertRaises(grpc.RpcError) as cm:
                api.call("VirtualNetworkLinkService", "CreateOrUpdate",
                         pb.CreateOrUpdateVirtualNetworkLinkRequest(
                             ruleset_name="hub-rules", virtual_network_link=pb.VirtualNetworkLink(
                                 name="hub-link", virtual_network="hub")),
                         pb.VirtualNetworkLink)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
            self.assertIn("P-1", cm.exception.details())
            bad = Api(target, "wrong-token")
            with self.assertRaises(grpc.RpcError) as cm:
                bad.call("ForwardingRuleService", "List",
                         pb.ListForwardingRulesRequest(ruleset_name="bulk"),
                         pb.ListForwardingRulesResponse)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
            bad.close()

            # the same through privresctl: JSON out, exit codes
            ctl = [PRIVRESCTL, "--socket", os.path.join(d.dir, "api.sock")]
            p = subprocess.run(ctl + ["dns-resolver", "forwarding-rule", "show", "--ruleset-name",
                                      "bulk", "-n", "r7"], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(json.loads(p.stdout)["properties"]["domainName"], "d7.bulk.example.")
            p = subprocess.run(ctl + ["dns-resolver", "forwarding-rule", "create",
                                      "--ruleset-name", "bulk", "-n", "r1000", "--domain-name",
                                      "d1000.bulk.example.", "--target-dns-servers",
                                      "ip-address=10.100.0.2", "port=53"],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 1)
            self.assertIn("L-1", p.stderr)
        finally:
            api.close()
            self.assertEqual(d.stop(), 0)


class LiveChanges(unittest.TestCase):
    def test_200_changes_under_load(self):
        d, target = start()
        api = Api(target, TOKEN)
        port = d.port("azure-dns/hub")
        queries = os.path.join(d.dir, "queries")
        with open(queries, "w") as f:
            f.write("live.azure.contoso.com A\n")
        api.call("RecordSetService", "CreateOrUpdate", record_set_request("live", "10.10.3.0"),
                 pb.RecordSet)
        perf = subprocess.Popen(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", queries,
                                 "-c", "4", "-l", "8", "-Q", "5000", "-t", "2"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            time.sleep(0.5)
            for i in range(1, 201):
                address = "10.10.3.%d" % (i % 250)
                api.call("RecordSetService", "CreateOrUpdate", record_set_request("live", address),
                         pb.RecordSet)
                # acknowledged: the very next query sees it
                self.assertEqual(ask(port, "live.azure.contoso.com"), [address])
            out, _ = perf.communicate(timeout=30)
        finally:
            if perf.poll() is None:
                perf.kill()
            api.close()
            self.assertEqual(d.stop(), 0)
        lost = [l for l in out.splitlines() if "Queries lost" in l]
        self.assertTrue(lost, out)
        self.assertIn("Queries lost:         0 ", lost[0] + " ")


class Durability(unittest.TestCase):
    def one_run(self, d, target, run, rng, acknowledged, in_flight):
        port = d.port("azure-dns/hub")
        # everything acknowledged before is there, from the first query on
        for name, address in acknowledged.items():
            got = ask(port, name + ".azure.contoso.com")
            allowed = [[address]] + ([[in_flight[name]]] if name in in_flight else [])
            self.assertIn(got, allowed, "run %d lost %s" % (run, name))
            acknowledged[name] = got[0]  # what the state holds now
        in_flight.clear()
        api = Api(target, TOKEN)
        stop = threading.Event()

        def changes():
            while not stop.is_set():
                name = "k%d" % rng.randrange(20)
                address = "10.10.4.%d" % rng.randrange(1, 250)
                in_flight.clear()
                in_flight[name] = address
                try:
                    api.call("RecordSetService", "CreateOrUpdate",
                             record_set_request(name, address), pb.RecordSet, timeout=5)
                except grpc.RpcError:
                    return  # killed mid-call: not acknowledged
                acknowledged[name] = address
                in_flight.clear()

        t = threading.Thread(target=changes)
        t.start()
        time.sleep(rng.uniform(0.05, 0.4))
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        stop.set()
        t.join(timeout=10)
        api.close()

    def test_kill_9_during_acknowledged_changes(self):
        state = tempfile.mkdtemp(prefix="privres-durable-")
        acknowledged = {}
        in_flight = {}  # sent when the kill came: may or may not have been written
        rng = random.Random(7)
        for run in range(50):
            d, target = start(state)
            try:
                self.one_run(d, target, run, rng, acknowledged, in_flight)
            finally:
                d.stop()
        self.assertGreater(len(acknowledged), 5)
        d, target = start(state)
        try:
            port = d.port("azure-dns/hub")
            for name, address in acknowledged.items():
                got = ask(port, name + ".azure.contoso.com")
                self.assertIn(got, [[address]] + ([[in_flight[name]]] if name in in_flight else []))
        finally:
            d.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
