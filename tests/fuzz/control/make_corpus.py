#!/usr/bin/python3
"""Seed corpus and dictionary for fuzz_journal.

Seeds: journals of changes of every kind against the embedded default
(examples/hub-and-spoke.yaml), with the first octet asking the fuzzer to sign
them (so the replay itself is reached), a few unsigned and damaged ones (torn
tail, a missing record, a checksum mismatch, not JSON), and snapshots given
whole ("<snapshot>\\0<journal>"), among them every valid example as a
deployment. Findings kept as regression inputs are named finding-*; this
script leaves them alone.

Run: /usr/bin/python3 tests/fuzz/control/make_corpus.py"""
import glob
import json
import os

import yaml

here = os.path.dirname(os.path.abspath(__file__))
src = os.path.abspath(os.path.join(here, "..", "..", ".."))
out = os.path.join(here, "corpus")
os.makedirs(out, exist_ok=True)
for f in glob.glob(os.path.join(out, "seed-*")):
    os.remove(f)

SIGN, SNAPSHOT = 1, 2


def rec(seq, change):
    return json.dumps({"sequence": seq, "change": change, "checksum": "0" * 16},
                      separators=(",", ":"))


def put(kind, resource, parent=None):
    c = {"op": "put", "kind": kind, "resource": resource}
    if parent:
        c["parent"] = parent
    return c


def delete(kind, name, parent=None, rtype=None):
    c = {"op": "delete", "kind": kind, "name": name}
    if parent:
        c["parent"] = parent
    if rtype:
        c["type"] = rtype
    return c


CHANGES = [
    put("virtualNetwork", {"name": "spoke3", "addressPrefixes": ["10.40.0.0/16"]}),
    put("subnet", {"name": "apps", "addressPrefix": "10.40.1.0/24"}, "spoke3"),
    put("forwardingRule", {"name": "Corp", "domainName": "corp.example.",
                           "targetDnsServers": [{"ipAddress": "10.100.0.3", "port": 53}]},
        "hub-rules"),
    put("recordSet", {"name": "db", "type": "A", "ttl": 60, "records": ["10.10.2.7"]},
        "azure.contoso.com"),
    put("recordSet", {"name": "loop", "type": "CNAME", "records": ["loop.azure.contoso.com."]},
        "azure.contoso.com"),
    put("privateDnsZone", {"name": "example.internal"}),
    put("dnsResolverDomainList", {"name": "bad", "domains": ["malware.example."]}),
    delete("forwardingRule", "Wildcard", "hub-rules"),
    delete("recordSet", "web", "azure.contoso.com", "A"),
    delete("virtualNetwork", "spoke2"),
    delete("privateDnsZone", "privatelink.blob.core.windows.net"),
    delete("recordSet", "nothing", "no-such-zone", "A"),
    {"op": "rename", "kind": "virtualNetwork"},
    {"op": "put", "kind": "no-such-kind", "resource": {}},
    put("virtualNetwork", {"addressPrefixes": ["10.41.0.0/16"]}),
]


def save(name, flags, body):
    with open(os.path.join(out, "seed-" + name), "wb") as f:
        f.write(bytes([flags]) + body)


def journal(changes, start=1):
    return "".join(rec(start + i, c) + "\n" for i, c in enumerate(changes)).encode()


for i, c in enumerate(CHANGES):
    save("one-%02d" % i, SIGN, journal([c]))
save("all", SIGN, journal(CHANGES[:11]))
save("after-snapshot-2", SIGN | (2 << 2), journal(CHANGES[:4], start=1))
save("torn-tail", SIGN, journal(CHANGES[:2]) + rec(3, CHANGES[2])[:40].encode())
save("gap", SIGN, journal([CHANGES[0]]) + journal([CHANGES[1]], start=3))
save("unsigned", 0, journal(CHANGES[:2]))
save("not-json", SIGN, b"{\"sequence\":1,\n")
save("empty", 0, b"")

for path in sorted(glob.glob(os.path.join(src, "examples", "*.yaml"))):
    dep = yaml.safe_load(open(path))
    env = json.dumps({"format": "privres-state", "version": 1, "checksum": "",
                      "deployment": dep}).encode()
    name = os.path.basename(path)[:-5]
    save("snapshot-" + name, SNAPSHOT | SIGN, env + b"\0" + journal(CHANGES[:1]))
save("snapshot-raw-bad", SNAPSHOT, b"{\"format\":\"privres-state\",\"version\":2}\0")
save("snapshot-raw-seq", SNAPSHOT, b"{\"format\":\"privres-state\",\"version\":1,"
     b"\"checksum\":\"x\",\"deployment\":{},\"sequence\":0}\0")

words = ["sequence", "change", "checksum", "op", "put", "delete", "kind", "parent",
         "resource", "name", "type", "format", "version", "deployment", "privres-state"]
words += ["virtualNetwork", "subnet", "dnsResolver", "inboundEndpoint", "outboundEndpoint",
          "dnsForwardingRuleset", "forwardingRule", "privateDnsZone", "recordSet",
          "dnsResolverPolicy", "dnsResolverDomainList", "virtualNetworkLink"]
with open(os.path.join(here, "dict"), "w") as f:
    for w in words:
        f.write('"%s"\n' % w)
    f.write('"\\x0a"\n')
