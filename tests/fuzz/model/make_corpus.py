#!/usr/bin/python3
"""Seed corpus and dictionary for fuzz_deployment.

Seeds: every examples/*.yaml and examples/invalid/*.yaml as written, the valid
examples again as JSON (JSON is YAML too, and the API sends deployments as
JSON), and a few small files for the loader's corners (anchors and aliases,
flow style, a second document, limits: overrides, a topology: section).
Dictionary: every property name, enum value and limit key the model's decoder
knows (read from model/*.c), record types and YAML syntax tokens.

Run: /usr/bin/python3 tests/fuzz/model/make_corpus.py"""
import glob
import json
import os
import re
import shutil

import yaml

here = os.path.dirname(os.path.abspath(__file__))
src = os.path.abspath(os.path.join(here, "..", "..", ".."))
out = os.path.join(here, "corpus")
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)


def save(name, text):
    with open(os.path.join(out, name), "w") as f:
        f.write(text)


for path in sorted(glob.glob(os.path.join(src, "examples", "*.yaml"))):
    name = os.path.basename(path)
    shutil.copy(path, os.path.join(out, name))
    with open(path) as f:
        save(name[:-5] + ".json", json.dumps(yaml.safe_load(f), indent=1) + "\n")
for path in sorted(glob.glob(os.path.join(src, "examples", "invalid", "*.yaml"))):
    shutil.copy(path, os.path.join(out, "invalid-" + os.path.basename(path)))

SMALL = """\
virtualNetworks:
  - name: hub
    addressPrefixes: [10.10.0.0/16]
    subnets:
      - {name: i, addressPrefix: 10.10.0.0/28, delegation: Microsoft.Network/dnsResolvers}
      - {name: o, addressPrefix: 10.10.1.0/28, delegation: Microsoft.Network/dnsResolvers}
      - {name: w, addressPrefix: 10.10.2.0/24}
dnsResolvers:
  - {name: r, virtualNetwork: hub, inboundEndpoints: [{name: in, subnet: i}],
     outboundEndpoints: [{name: out, subnet: o}]}
"""
save("small.yaml", SMALL)
save("anchors.yaml", """\
virtualNetworks:
  - &v {name: hub, addressPrefixes: [10.10.0.0/16], subnets: [{name: a, addressPrefix: 10.10.0.0/24}]}
privateDnsZones:
  - name: contoso.com
    recordSets:
      - {name: web, type: &t A, ttl: 300, records: &r [10.10.0.5]}
      - {name: www, type: *t, records: *r}
    virtualNetworkLinks: [{name: l, virtualNetwork: hub, registrationEnabled: true}]
virtualMachines: [{name: vm1, virtualNetwork: hub, subnet: a}]
""")
save("two-documents.yaml", SMALL + "---\n" + SMALL)
save("limits.yaml", SMALL + """\
dnsForwardingRulesets:
  - name: rs
    dnsResolverOutboundEndpoints: [r/out]
    forwardingRules:
      - {name: A, domainName: a.example., targetDnsServers: [{ipAddress: 10.100.0.2}, {ipAddress: 10.100.0.3}]}
      - {name: B, domainName: ., targetDnsServers: [{ipAddress: 10.10.0.4, port: 53}]}
    virtualNetworkLinks: [{name: l, virtualNetwork: hub}]
limits: {rulesPerRuleset: 2, targetsPerRule: 3}
""")
save("topology.yaml", SMALL + """\
externalDnsServers:
  - name: onprem
    ipAddress: 192.168.10.53
    zones: [{name: corp.example, recordSets: [{name: www, type: A, records: [192.168.10.80]}]}]
    forwarders: [{domainName: azure.example., targetDnsServers: [{ipAddress: 10.10.0.4}]}]
topology:
  onPremisesNetworks:
    - name: corp
      addressPrefixes: [192.168.10.0/24]
      connectedVirtualNetworks: [hub]
      hosts: [{name: laptop, privateIpAddress: 192.168.10.20}]
      dnsServers: [onprem]
emulator: {listen: virtual, hopLimit: 3, cacheEntries: 0, workers: 1}
""")
save("records.yaml", """\
virtualNetworks: [{name: hub, addressPrefixes: [10.10.0.0/16]}]
privateDnsZones:
  - name: Contoso.COM.
    soa: {host: ns1.contoso.com., email: admin.contoso.com., serialNumber: 7, minimumTtl: 60}
    recordSets:
      - {name: "@", type: MX, records: ["10 mail.contoso.com."]}
      - {name: _sip._tcp, type: SRV, records: ["0 5 5060 sip.contoso.com."]}
      - {name: "*.apps", type: CNAME, records: [web.contoso.com.]}
      - {name: txt, type: TXT, records: ["v=spf1 -all", "a \\"quoted\\" text"]}
      - {name: v6, type: AAAA, records: ["fd00::1"]}
      - {name: p, type: PTR, records: [web.contoso.com.]}
    virtualNetworkLinks: [{name: l, virtualNetwork: hub, resolutionPolicy: NxDomainRedirect}]
publicDns:
  zones: [{name: example.com, recordSets: [{name: www, type: A, records: [93.184.216.34]}]}]
""")

# The dictionary: string literals of the decoder that look like keys or enum values.
words = set()
for path in glob.glob(os.path.join(src, "model", "*.c")):
    with open(path) as f:
        for lit in re.findall(r'"([A-Za-z][A-Za-z0-9./_-]{1,60})"', f.read()):
            words.add(lit)
words |= {"A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT", "CAA",
          "Microsoft.Network/dnsResolvers", "168.63.129.16", "10.10.0.0/16", "10.10.0.0/28",
          "."}
tokens = [": ", "- ", "---\n", "...\n", "{", "}", "[", "]", ", ", "&a ", "*a", "<<: ", "!!str ",
          "? ", "|\n", ">\n", "'", '"', "\n  ", "#", "%YAML 1.1\n", "null", "true", "false", "~"]


def entry(w):
    """libFuzzer's dictionary syntax: backslash, quote and hex escapes only."""
    body = "".join(c if 32 <= ord(c) < 127 and c not in '\\"' else
                   ("\\" + c if c in '\\"' else "\\x%02x" % ord(c)) for c in w)
    return '"%s"' % body


with open(os.path.join(here, "dict"), "w") as f:
    f.write("# fuzz_deployment dictionary, made by make_corpus.py\n")
    for w in sorted(words):
        f.write(entry(w) + "\n")
    for t in tokens:
        f.write(entry(t) + "\n")
