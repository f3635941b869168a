#!/usr/bin/python3
"""Seed corpus for fuzz_resolve: real query packets made with dnspython, each
behind the two-octet answer ceiling (low bit: TCP) and the selector octet
(low 4 bits: listener; bits 4-5: reply kind; bits 6-7: hops) the fuzzer reads.
Listeners 0-4 are the default deployment's (hub-resolver/in, azure-dns/hub,
azure-dns/spoke1, azure-dns/spoke2, external/onprem-dns), 5-6 the forwarding
deployment's (r/in, azure-dns/hub).
Run: /usr/bin/python3 tests/fuzz/resolve/make_corpus.py tests/fuzz/resolve/corpus"""
import os
import struct
import sys

import dns.edns
import dns.message

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
os.makedirs(out, exist_ok=True)


def save(name, size, tcp, sel, msg):
    wire = msg if isinstance(msg, bytes) else msg.to_wire()
    with open(os.path.join(out, name), "wb") as f:
        f.write(struct.pack("!HB", (size & ~1) | (1 if tcp else 0), sel) + wire)


def q(name, rdtype, **kw):
    m = dns.message.make_query(name, rdtype, **kw)
    m.id = 4242
    return m


save("spoke1-web", 512, False, 2, q("web.azure.contoso.com.", "A"))
save("spoke1-case", 512, False, 2, q("WeB.AzUrE.Contoso.COM.", "A"))
save("hub-api-cname", 1232, False, 1, q("api.azure.contoso.com.", "A", use_edns=0))
save("hub-privatelink", 512, False, 1, q("contosostorage.blob.core.windows.net.", "A"))
save("spoke2-reserved", 512, False, 3, q("contosostorage.blob.core.windows.net.", "A"))
save("spoke1-onprem", 512, False, 2, q("intranet.contoso.com.", "A"))
save("external-forwarder", 512, True, 4, q("web.azure.contoso.com.", "A"))
save("external-refused", 512, False, 4, q("www.fabrikam.com.", "A"))
save("ie-mx", 1232, False, 0, q("azure.contoso.com.", "MX", use_edns=0, want_dnssec=True))
save("ie-srv", 1232, False, 0, q("_sip._tcp.azure.contoso.com.", "SRV", use_edns=0))
save("hub-any", 4096, False, 1, q("azure.contoso.com.", "ANY", use_edns=0, payload=4096))
save("hub-hops", 512, False, 0xc1, q("web.azure.contoso.com.", "A"))
save("fwd-none", 512, False, 0x06, q("www.example.net.", "A"))
save("fwd-self", 512, False, 0x16, q("www.example.net.", "A"))
save("fwd-empty", 512, False, 0x26, q("www.example.net.", "A"))
save("fwd-cname", 1232, False, 0x36,
     q("Alias.Example.NET.", "A", use_edns=0,
       options=[dns.edns.GenericOption(10, b"\x01\x02\x03\x04\x05\x06\x07\x08")]))
save("fwd-redirect", 512, False, 0x35, q("nope.contoso.com.", "AAAA"))
save("fwd-unmapped", 512, False, 0x36, q("www.fabrikam.com.", "A"))
save("edns-v1", 1232, False, 1, q("web.azure.contoso.com.", "A", use_edns=1))
save("short-header", 512, False, 1, b"\x12\x34\x01\x00\x00\x01")
