#!/usr/bin/python3
"""Seed corpus for fuzz_grpc: real requests of every method of api/privres.proto,
serialized by the protobuf runtime (messages generated now with protoc, never
committed) and framed as gRPC sends them, behind fuzz_grpc's two octets (method
number in path order, flags: bit 0 calls the handler). Requests name resources
of the embedded default deployment (examples/hub-and-spoke.yaml) as the api
tests do; every method also gets an empty request, and a few bodies exercise
the framing (compressed flag, truncated, two messages). Dictionary: the names
and values the requests carry.

Run: /usr/bin/python3 tests/fuzz/api/make_corpus.py"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

from google.protobuf import json_format

here = os.path.dirname(os.path.abspath(__file__))
src = os.path.abspath(os.path.join(here, "..", "..", ".."))
out = os.path.join(here, "corpus")

tmp = tempfile.mkdtemp()
subprocess.check_call(["protoc", "-I" + src, "--python_out=" + tmp,
                       os.path.join(src, "api", "privres.proto")])
sys.path.insert(0, tmp)
from api import privres_pb2  # noqa: E402

methods = []
for svc in privres_pb2.DESCRIPTOR.services_by_name.values():
    for m in svc.methods:
        methods.append(("/%s/%s" % (svc.full_name, m.name), m.input_type))
methods.sort(key=lambda m: m[0].encode())
index = {path: (i, desc) for i, (path, desc) in enumerate(methods)}

with open(os.path.join(src, "examples", "hub-and-spoke.yaml")) as f:
    HUB = f.read()

REQUESTS = {
    "VirtualNetworkService/CreateOrUpdate": [
        {"virtualNetwork": {"name": "spoke3", "location": "eastus",
                            "addressPrefixes": ["10.40.0.0/16"],
                            "subnets": [{"name": "default", "addressPrefix": "10.40.0.0/24"}],
                            "dnsServers": ["10.10.0.4"]}}],
    "VirtualNetworkService/Get": [{"name": "hub"}],
    "VirtualNetworkService/Delete": [{"name": "spoke2"}],
    "DnsResolverService/CreateOrUpdate": [
        {"dnsResolver": {"name": "hub-resolver", "location": "eastus", "virtualNetwork": "spoke1"}}],
    "DnsResolverService/Get": [{"name": "hub-resolver"}],
    "DnsResolverService/Delete": [{"name": "hub-resolver"}],
    "InboundEndpointService/CreateOrUpdate": [
        {"dnsResolverName": "hub-resolver",
         "inboundEndpoint": {"name": "in", "subnet": "snet-inbound",
                             "privateIpAllocationMethod": "Static",
                             "privateIpAddress": "10.10.0.5"}}],
    "InboundEndpointService/Get": [{"dnsResolverName": "hub-resolver", "name": "in"}],
    "InboundEndpointService/List": [{"dnsResolverName": "hub-resolver"}],
    "InboundEndpointService/Delete": [{"dnsResolverName": "hub-resolver", "name": "in"}],
    "OutboundEndpointService/CreateOrUpdate": [
        {"dnsResolverName": "hub-resolver",
         "outboundEndpoint": {"name": "out2", "subnet": "workload"}}],
    "OutboundEndpointService/Get": [{"dnsResolverName": "hub-resolver", "name": "out"}],
    "OutboundEndpointService/List": [{"dnsResolverName": "hub-resolver"}],
    "OutboundEndpointService/Delete": [{"dnsResolverName": "hub-resolver", "name": "out"}],
    "DnsForwardingRulesetService/CreateOrUpdate": [
        {"dnsForwardingRuleset": {"name": "second", "location": "eastus",
                                  "dnsResolverOutboundEndpoints": ["hub-resolver/out"]}}],
    "DnsForwardingRulesetService/Get": [{"name": "hub-rules"}],
    "DnsForwardingRulesetService/Delete": [{"name": "hub-rules"}],
    "ForwardingRuleService/CreateOrUpdate": [
        {"rulesetName": "hub-rules",
         "forwardingRule": {"name": "Corp2", "domainName": "corp2.contoso.com.",
                            "targetDnsServers": [{"ipAddress": "10.100.0.3", "port": 5353}],
                            "metadata": {"owner": "net"}}},
        {"rulesetName": "hub-rules",
         "forwardingRule": {"name": "Bad", "domainName": "bad.contoso.com.",
                            "targetDnsServers": [{"ipAddress": "168.63.129.16"}]}},
        {"rulesetName": "hub-rules",
         "forwardingRule": {"name": "Contoso", "domainName": "contoso.com.",
                            "forwardingRuleState": "Disabled",
                            "targetDnsServers": [{"ipAddress": "10.100.0.2"}]}}],
    "ForwardingRuleService/Get": [{"rulesetName": "hub-rules", "name": "Contoso"}],
    "ForwardingRuleService/List": [{"rulesetName": "hub-rules"}],
    "ForwardingRuleService/Delete": [{"rulesetName": "hub-rules", "name": "Wildcard"}],
    "VirtualNetworkLinkService/CreateOrUpdate": [
        {"rulesetName": "hub-rules",
         "virtualNetworkLink": {"name": "hub-link", "virtualNetwork": "hub",
                                "metadata": {"a": "b"}}}],
    "VirtualNetworkLinkService/Get": [{"rulesetName": "hub-rules", "name": "spoke1-link"}],
    "VirtualNetworkLinkService/List": [{"rulesetName": "hub-rules"}],
    "VirtualNetworkLinkService/Delete": [{"rulesetName": "hub-rules", "name": "spoke2-link"}],
    "PrivateDnsZoneService/CreateOrUpdate": [
        {"privateDnsZone": {"name": "internal.contoso.com",
                            "soa": {"host": "ns1.internal.contoso.com.", "email": "admin.contoso.com.",
                                    "serialNumber": 1, "refreshTime": 3600, "retryTime": 300,
                                    "expireTime": 2419200, "minimumTtl": 10, "ttl": 3600}}}],
    "PrivateDnsZoneService/Get": [{"name": "azure.contoso.com"}],
    "PrivateDnsZoneService/Delete": [{"name": "privatelink.blob.core.windows.net"}],
    "RecordSetService/CreateOrUpdate": [
        {"zoneName": "azure.contoso.com",
         "recordSet": {"name": "db", "type": "A", "ttl": 60, "records": ["10.10.2.7", "10.10.2.8"]}},
        {"zoneName": "azure.contoso.com",
         "recordSet": {"name": "@", "type": "MX", "records": ["10 mail.azure.contoso.com."]}}],
    "RecordSetService/Get": [{"zoneName": "azure.contoso.com", "name": "web", "recordType": "A"}],
    "RecordSetService/List": [{"zoneName": "azure.contoso.com"}],
    "RecordSetService/Delete": [{"zoneName": "azure.contoso.com", "name": "api",
                                 "recordType": "CNAME"}],
    "PrivateZoneVirtualNetworkLinkService/CreateOrUpdate": [
        {"zoneName": "azure.contoso.com",
         "privateZoneVirtualNetworkLink": {"name": "spoke1-link", "virtualNetwork": "spoke1",
                                           "registrationEnabled": True,
                                           "resolutionPolicy": "NxDomainRedirect"}}],
    "PrivateZoneVirtualNetworkLinkService/Get": [{"zoneName": "azure.contoso.com",
                                                  "name": "hub-link"}],
    "PrivateZoneVirtualNetworkLinkService/List": [{"zoneName": "azure.contoso.com"}],
    "PrivateZoneVirtualNetworkLinkService/Delete": [{"zoneName": "azure.contoso.com",
                                                     "name": "hub-link"}],
    "DnsResolverDomainListService/CreateOrUpdate": [
        {"dnsResolverDomainList": {"name": "needed", "location": "eastus",
                                   "domains": ["contoso.com.", "microsoft.com."]}}],
    "DnsResolverDomainListService/Get": [{"name": "needed"}],
    "DnsResolverDomainListService/Delete": [{"name": "needed"}],
    "DnsResolverPolicyService/CreateOrUpdate": [
        {"dnsResolverPolicy": {"name": "zero-trust", "location": "eastus"}}],
    "DnsResolverPolicyService/Get": [{"name": "zero-trust"}],
    "DnsResolverPolicyService/Delete": [{"name": "zero-trust"}],
    "DnsSecurityRuleService/CreateOrUpdate": [
        {"policyName": "zero-trust",
         "dnsSecurityRule": {"name": "block-rest", "priority": 65000,
                             "action": {"actionType": "Block", "blockResponseCode": "ServFail"},
                             "dnsResolverDomainLists": ["needed"],
                             "dnsSecurityRuleState": "Enabled"}}],
    "DnsSecurityRuleService/Get": [{"policyName": "zero-trust", "name": "block-rest"}],
    "DnsSecurityRuleService/List": [{"policyName": "zero-trust"}],
    "DnsSecurityRuleService/Delete": [{"policyName": "zero-trust", "name": "block-rest"}],
    "PolicyVirtualNetworkLinkService/CreateOrUpdate": [
        {"policyName": "zero-trust",
         "policyVirtualNetworkLink": {"name": "spoke-policy", "virtualNetwork": "spoke1"}}],
    "PolicyVirtualNetworkLinkService/Get": [{"policyName": "zero-trust", "name": "spoke-policy"}],
    "PolicyVirtualNetworkLinkService/List": [{"policyName": "zero-trust"}],
    "PolicyVirtualNetworkLinkService/Delete": [{"policyName": "zero-trust",
                                                "name": "spoke-policy"}],
    "VirtualMachineService/CreateOrUpdate": [
        {"virtualMachine": {"name": "app2", "virtualNetwork": "hub", "subnet": "workload",
                            "privateIpAddress": "10.10.2.40"}}],
    "VirtualMachineService/Get": [{"name": "app1"}],
    "VirtualMachineService/Delete": [{"name": "vm-spoke1"}],
    "ExternalDnsServerService/CreateOrUpdate": [
        {"externalDnsServer": {"name": "onprem-dns2", "ipAddress": "10.100.0.3", "port": 53,
                               "loopbackAddress": "127.0.0.1:5353"}}],
    "ExternalDnsServerService/Get": [{"name": "onprem-dns"}],
    "ExternalDnsServerService/Delete": [{"name": "onprem-dns"}],
    "DeploymentService/Apply": [
        {"document": HUB, "format": "yaml", "dryRun": True},
        {"document": HUB.replace("10.100.0.2, port: 53", "10.100.0.3, port: 53")}],
    "DeploymentService/Plan": [
        {"document": HUB.replace("spoke2", "spoke9"), "fileName": "hub-and-spoke.yaml",
         "prune": True}],
    "DeploymentService/Export": [{"format": "json"}, {"format": "yaml"}],
    "DiagnosticsService/Explain": [
        {"virtualNetwork": "spoke1", "name": "web.azure.contoso.com", "type": "A"}],
}

shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)


def frame(payload, compressed=0):
    return struct.pack("!BI", compressed, len(payload)) + payload


def save(name, path, body, flags=1):
    i, _ = index[path]
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([i, flags]) + body)


for path, (i, desc) in index.items():
    short = path.split(".", 2)[2]  # "Service/Method"
    cls = getattr(privres_pb2, desc.name)
    tag = short.replace("/", "-")
    save(tag + "-empty", path, frame(b""))
    for n, req in enumerate(REQUESTS.get(short, [])):
        msg = json_format.ParseDict(req, cls())
        save("%s-%d" % (tag, n), path, frame(msg.SerializeToString()))

unused = set(REQUESTS) - {p.split(".", 2)[2] for p in index}
if unused:
    sys.exit("requests for methods the schema lacks: %s" % sorted(unused))

# The framing's refusals (api_frame_unpack) and a message with unknown fields.
rule = "/privres.v1.ForwardingRuleService/CreateOrUpdate"
body = json_format.ParseDict(REQUESTS["ForwardingRuleService/CreateOrUpdate"][0],
                             privres_pb2.CreateOrUpdateForwardingRuleRequest()).SerializeToString()
save("frame-compressed", rule, frame(body, compressed=1))
save("frame-truncated", rule, frame(body)[:-3])
save("frame-two-messages", rule, frame(body) + frame(body))
save("frame-short-header", rule, b"\x00\x00\x00")
save("unknown-field", rule, frame(body + b"\xf8\x07\x2a"), flags=0)
save("timeout-header", rule, b"100m")
save("grpc-message-escapes", rule, b"rule %46-5: bad%ZZ %")
shutil.rmtree(tmp)

# Dictionary: the names and values the requests carry (short strings only).
words = set()


def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
    elif isinstance(v, str) and len(v) <= 64:
        words.add(v)


walk(REQUESTS)
words |= {"Dynamic", "Static", "Enabled", "Disabled", "Allow", "Alert", "Block", "ServFail",
          "Default", "NxDomainRedirect", "Microsoft.Network/dnsResolvers", "168.63.129.16"}


def entry(w):
    """libFuzzer's dictionary syntax: backslash, quote and hex escapes only."""
    body = "".join(c if 32 <= ord(c) < 127 and c not in '\\"' else
                   ("\\" + c if c in '\\"' else "\\x%02x" % ord(c)) for c in w)
    return '"%s"' % body


with open(os.path.join(here, "dict"), "w") as f:
    f.write("# fuzz_grpc dictionary, made by make_corpus.py\n")
    for w in sorted(words):
        f.write(entry(w) + "\n")
