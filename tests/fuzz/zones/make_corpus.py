#!/usr/bin/python3
"""Seed corpus for fuzz_query: real query packets made with dnspython, each
behind the two-octet answer buffer size the fuzzer reads first (low bit: TCP).
Run: /usr/bin/python3 tests/fuzz/zones/make_corpus.py tests/fuzz/zones/corpus"""
import os
import struct
import sys

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rdataclass
import dns.rdatatype

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
os.makedirs(out, exist_ok=True)


def save(name, size, tcp, msg):
    wire = msg if isinstance(msg, bytes) else msg.to_wire()
    with open(os.path.join(out, name), "wb") as f:
        f.write(struct.pack("!H", (size & ~1) | (1 if tcp else 0)) + wire)


def q(name, rdtype, **kw):
    m = dns.message.make_query(name, rdtype, **kw)
    m.id = 4242
    return m


save("a-web", 512, False, q("web.contoso.com.", "A"))
save("a-mixed-case", 512, False, q("WeB.CONTOSO.com.", "A"))
save("mx-apex-edns", 1232, False, q("contoso.com.", "MX", use_edns=0, payload=1232))
save("wildcard", 512, False, q("foo.apps.contoso.com.", "A"))
save("ent-nodata", 512, False, q("y.apps.contoso.com.", "A"))
save("cname-chain", 512, False, q("q.wild.contoso.com.", "A"))
save("cname-loop", 512, False, q("loop1.contoso.com.", "AAAA"))
save("nxdomain-do", 4096, False, q("nope.contoso.com.", "A", want_dnssec=True))
save("big-txt-udp", 512, False, q("big.contoso.com.", "TXT"))
save("big-txt-tcp", 65534, True, q("big.contoso.com.", "TXT"))
save("srv", 1232, False, q("_sip._tcp.contoso.com.", "SRV", use_edns=0))
save("any", 1232, False, q("contoso.com.", "ANY", use_edns=0))
save("outside", 512, False, q("www.fabrikam.com.", "A"))
save("edns-v1", 1232, False, q("web.contoso.com.", "A", use_edns=1))
m = q("contoso.com.", "SOA")
m.set_opcode(dns.opcode.NOTIFY)
save("notify", 512, False, m)
save("chaos", 512, False, q("version.bind.", "TXT", rdclass=dns.rdataclass.CH))
save("cookie", 1232, False,
     q("web.contoso.com.", "A", use_edns=0,
       options=[dns.edns.GenericOption(10, b"\x01\x02\x03\x04\x05\x06\x07\x08")]))
save("short-header", 512, False, b"\x12\x34\x01\x00\x00\x01")
