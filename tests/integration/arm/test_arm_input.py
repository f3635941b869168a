#!/usr/bin/python3
"""Bad input of every kind against privresd's ARM REST surface, over real HTTPS
(http.client + ssl): no or malformed bearer tokens, api-versions, malformed
JSON, unknown properties, wrong types, huge bodies, unknown paths, a slow
client and 1,000 concurrent connections — the cloud's 4xx answers, nothing
crashes, other clients are served. Also the DNS security policy resources
(api-version 2025-05-01, not in Debian's SDK) and a private zone's SOA
record set, by plain HTTP."""
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.chdir("/")

import dns.message  # noqa: E402
import dns.query  # noqa: E402

from arm_harness import NET, SUB, check, finish, start  # noqa: E402
import privres_harness as h  # noqa: E402,I100

TOKEN = "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJwcml2cmVzIn0.c2ln"



class Arm:
    def __init__(self, port, ca):
        self.port = port
        self.ctx = ssl.create_default_context(cafile=ca)

    def call(self, method, path, body=None, headers=None, version="2022-07-01", raw=None):
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=30)
        hd = {"Authorization": TOKEN, "Content-Type": "application/json"}
        hd.update(headers or {})
        hd = {k: v for k, v in hd.items() if v is not None}
        url = path + ("?api-version=" + version if version else "")
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        c.request(method, url, body=data, headers=hd)
        r = c.getresponse()
        text = r.read()
        c.close()
        try:
            j = json.loads(text) if text else None
        except ValueError:
            j = None
        return r.status, j, dict(r.getheaders())


def code(j):
    return (j or {}).get("error", {}).get("code")


class Versioned:
    """Calls with another default api-version."""

    def __init__(self, arm, version):
        self.arm, self.version = arm, version

    def call(self, *a, **kw):
        kw.setdefault("version", self.version)
        return self.arm.call(*a, **kw)


def too_big(arm, path, chunked=False):
    """The status of a PUT of a 5 MiB body: announced (and not sent), or
    chunked (sent whole, with no length given)."""
    raw = socket.create_connection(("127.0.0.1", arm.port))
    tls = arm.ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    framing = "Transfer-Encoding: chunked" if chunked else "Content-Length: %d" % (5 << 20)
    tls.sendall(("PUT %s?api-version=2020-06-01 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Authorization: %s\r\n%s\r\n\r\n" % (path, TOKEN, framing)).encode())
    tls.settimeout(10)
    if chunked:
        piece = b" " * 65536
        for _ in range(80):
            tls.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        tls.sendall(b"0\r\n\r\n")
    head = tls.recv(4096).decode(errors="replace")
    tls.close()
    m = re.match(r"HTTP/1\.1 (\d+)", head)
    return int(m.group(1)) if m else 0


def auth_and_versions(arm):
    s, j, _ = arm.call("GET", NET + "/virtualNetworks", headers={"Authorization": None})
    check(s == 401 and code(j) == "AuthenticationFailed", "no token → 401 AuthenticationFailed")
    s, j, _ = arm.call("GET", NET + "/virtualNetworks", headers={"Authorization": "Bearer x y"})
    check(s == 401, "a malformed token → 401")
    s, j, _ = arm.call("GET", NET + "/virtualNetworks", version=None)
    check(s == 400 and code(j) == "MissingApiVersionParameter", "no api-version → 400")
    s, j, _ = arm.call("GET", NET + "/dnsResolvers", version="1999-01-01")
    check(s == 400 and code(j) == "InvalidApiVersionParameter" and "2022-07-01" in
          j["error"]["message"], "unknown api-version → 400 listing the supported ones")
    for v in ("2022-07-01", "2025-05-01"):
        s, _, _ = arm.call("GET", NET + "/dnsResolvers", version=v)
        check(s == 200, "dnsresolver api-version %s accepted" % v)
    for v in ("2020-06-01", "2024-06-01"):
        s, _, _ = arm.call("GET", NET + "/privateDnsZones", version=v)
        check(s == 200, "privatedns api-version %s accepted" % v)
    s, j, _ = arm.call("GET", NET + "/noSuchThings/x")
    check(s == 404 and code(j) == "InvalidResourceType", "an unknown type → 404")
    s, j, _ = arm.call("GET", "/subscriptions/%s/resourceGroups/other/providers/"
                       "Microsoft.Network/dnsResolvers" % SUB)
    check(s == 404 and code(j) == "ResourceGroupNotFound", "another resource group → 404")
    s, j, _ = arm.call("GET", NET + "/dnsResolvers/nope")
    check(s == 404 and code(j) == "ResourceNotFound", "a missing resource → 404")
    s, j, _ = arm.call("GET", NET + "/dnsForwardingRulesets/nope/forwardingRules/x")
    check(s == 404 and code(j) == "ParentResourceNotFound", "a missing parent → 404")
    s, _, _ = arm.call("DELETE", NET + "/dnsResolvers/nope")
    check(s == 204, "deleting what does not exist → 204")


def bodies(arm):
    path = NET + "/privateDnsZones/bad.example"
    arm = Versioned(arm, "2020-06-01")
    s, j, _ = arm.call("PUT", path, raw="{\"location\": \"global\",")
    check(s == 400 and code(j) == "InvalidRequestContent", "malformed JSON → 400")
    s, j, _ = arm.call("PUT", path, raw="[1, 2]")
    check(s == 400 and code(j) == "InvalidRequestContent", "a JSON array → 400")
    s, j, _ = arm.call("PUT", path, raw="")
    check(s == 400, "no body → 400")
    s, j, _ = arm.call("PUT", path, raw="{\"a\": 1, \"a\": 2}")
    check(s == 400, "duplicate keys → 400")
    s, j, _ = arm.call("PUT", path, {"location": "global", "properties": {"colour": "red"}})
    check(s == 400 and "colour" in json.dumps(j), "an unknown property → 400 naming it")
    s, j, _ = arm.call("PUT", path, {"location": "global", "properties": "x"})
    check(s == 400, "properties of the wrong type → 400")
    s, _, _ = arm.call("PUT", path, {"location": "global"})
    check(s == 201, "the zone itself → 201")
    s, j, _ = arm.call("PUT", path + "/A/www", {"properties": {"ttl": "long", "aRecords": []}},
                       version="2020-06-01")
    check(s == 400 and "ttl" in json.dumps(j), "a ttl of the wrong type → 400 naming ttl")
    s, j, _ = arm.call("PUT", path + "/A/www", {"properties": {"aRecords": [{"ipv4Address": 7}]}},
                       version="2020-06-01")
    check(s == 400, "an address of the wrong type → 400")
    s, j, _ = arm.call("PUT", path + "/A/www", {"properties": {"mxRecords": [
        {"preference": 1, "exchange": "x."}]}}, version="2020-06-01")
    check(s == 400, "MX records in an A record set → 400")
    check(too_big(arm.arm, path) == 413, "a 5 MiB body announced → 413 before it is sent")
    check(too_big(arm.arm, path, chunked=True) == 413,
          "a 5 MiB chunked body (no length given) → 413")
    s, soa, _ = arm.call("GET", path + "/SOA/@", version="2020-06-01")
    check(s == 200 and soa["properties"]["soaRecord"]["host"].startswith("azureprivatedns.net"),
          "the zone's SOA record set is there (Z-2)")
    soa["properties"]["soaRecord"]["minimumTtl"] = 600
    s, j, _ = arm.call("PUT", path + "/SOA/@", soa, version="2020-06-01")
    check(s == 200 and j["properties"]["soaRecord"]["minimumTtl"] == 600,
          "the SOA record set takes an update")
    s, j, _ = arm.call("PATCH", path + "/SOA/@", {"properties": {"soaRecord": {"refreshTime": 1800}}},
                       version="2020-06-01")
    check(s == 200 and j["properties"]["soaRecord"]["refreshTime"] == 1800
          and j["properties"]["soaRecord"]["minimumTtl"] == 600,
          "the SOA record set takes a PATCH, the rest kept (Z-2)")
    s, _, _ = arm.call("DELETE", path)
    check(s == 202, "the zone deleted (202, long-running)")


def slow_and_many(arm, port):
    slow = socket.create_connection(("127.0.0.1", port))
    tls = arm.ctx.wrap_socket(slow, server_hostname="127.0.0.1")
    tls.sendall(b"GET " + NET.encode() + b"/virtualNetworks?api-version=2022-07-01 HTTP/1.1\r\n")
    s, _, _ = arm.call("GET", NET + "/virtualNetworks")
    check(s == 200, "a slow client does not hold others up")
    socks = []
    t0 = time.time()
    for i in range(1000):
        raw = socket.create_connection(("127.0.0.1", port))
        socks.append(raw)
    s, _, _ = arm.call("GET", NET + "/virtualNetworks")
    check(s == 200, "1,000 open connections: another client is served (%.1fs)"
          % (time.time() - t0))
    for x in socks:
        x.close()
    tls.close()
    s, _, _ = arm.call("GET", NET + "/virtualNetworks")
    check(s == 200, "served after the connections closed")


def policies(arm, d):
    v = "2025-05-01"
    vnet = {"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": [
        "10.40.0.0/16"]}, "subnets": [{"name": "default", "properties": {
            "addressPrefix": "10.40.0.0/24"}}]}}
    s, j, hd = arm.call("PUT", NET + "/virtualNetworks/pv", vnet)
    check(s == 201 and "Azure-AsyncOperation" in hd, "VNet created: 201 with Azure-AsyncOperation")
    op = hd.get("Azure-AsyncOperation", "")
    m = re.match(r"https://[^/]+(/.*)", op)
    s, j, _ = arm.call("GET", m.group(1) if m else "/", version=None)
    check(s == 200 and j.get("status") == "Succeeded", "the operation status is Succeeded")
    s, j, _ = arm.call("PUT", NET + "/dnsResolverDomainLists/bad", {
        "location": "eastus", "properties": {"domains": ["malware.example."]}}, version=v)
    check(s == 201 and j["properties"]["domains"] == ["malware.example."], "domain list created")
    s, j, _ = arm.call("PUT", NET + "/dnsResolverPolicies/pol", {"location": "eastus"},
                       version=v)
    check(s == 201, "policy created")
    s, j, _ = arm.call("PUT", NET + "/dnsResolverPolicies/pol/dnsSecurityRules/block", {
        "location": "eastus", "properties": {
            "priority": 100, "action": {"actionType": "Block"},
            "dnsResolverDomainLists": [{"id": NET + "/dnsResolverDomainLists/bad"}]}},
        version=v)
    check(s == 201 and j["properties"]["dnsResolverDomainLists"][0]["id"].endswith("/bad"),
          "security rule created, domain list as {id}")
    s, j, _ = arm.call("PUT", NET + "/dnsResolverPolicies/pol/virtualNetworkLinks/pv", {
        "location": "eastus", "properties": {"virtualNetwork": {"id": NET + "/virtualNetworks/pv"}}},
        version=v)
    check(s == 201, "policy linked to the VNet")
    s, j, _ = arm.call("POST", NET + "/virtualNetworks/pv/listDnsResolverPolicies", version=v)
    check(s == 200 and [x["id"].split("/")[-1] for x in j["value"]] == ["pol"],
          "listDnsResolverPolicies by VNet")
    d.reload_listeners()
    q = dns.message.make_query("malware.example.", "A")
    r = dns.query.udp(q, "127.0.0.1", port=d.port("azure-dns/pv"), timeout=3)
    check("blockpolicy.azuredns.invalid." in r.to_text(),
          "dns: the blocked domain is answered with blockpolicy.azuredns.invalid. (S-3)")
    for p in ("/dnsResolverPolicies/pol/virtualNetworkLinks/pv",
              "/dnsResolverPolicies/pol/dnsSecurityRules/block", "/dnsResolverPolicies/pol",
              "/dnsResolverDomainLists/bad"):
        s, _, _ = arm.call("DELETE", NET + p, version=v)
        check(s == 202, "deleted %s (202)" % p)


def settings_in_yaml():
    """emulator.arm: listen, the user's certificate and key, the one token."""
    tmp = tempfile.mkdtemp(prefix="privres-arm-yaml-")
    cert, key, tok = (os.path.join(tmp, n) for n in ("cert.pem", "key.pem", "token"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    with open(tok, "w") as f:
        f.write("only-this-token\n")
    port = h.free_port()
    d = h.Privresd("location: eastus\nemulator:\n  listen: loopback\n  basePort: 0\n"
                   "  arm: {listen: '127.0.0.1:%d', certificate: %s, privateKey: %s, "
                   "tokenFile: %s}\n" % (port, cert, key, tok),
                   state_dir=os.path.join(tmp, "state"))
    try:
        arm = Arm(port, cert)
        s, j, _ = arm.call("GET", NET + "/virtualNetworks")
        check(s == 401 and code(j) == "InvalidAuthenticationToken",
              "emulator.arm.tokenFile: another well-formed token → 401")
        s, j, _ = arm.call("GET", NET + "/virtualNetworks",
                           headers={"Authorization": "Bearer only-this-token"})
        check(s == 200, "emulator.arm: the user's certificate and the configured token → 200")
    finally:
        d.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    p = subprocess.run([h.PRIVRESD, "--check", "/dev/stdin"], input="emulator:\n  arm: "
                       "{listen: 127.0.0.1:1, certificate: c.pem}\n", text=True,
                       capture_output=True)
    check(p.returncode == 1 and "privateKey" in p.stdout + p.stderr,
          "emulator.arm: a certificate without its key is refused")


def main():
    d, port, ca = start("location: eastus\nemulator: {listen: loopback, basePort: 0}\n",
                        "arm-input")
    try:
        arm = Arm(port, ca)
        auth_and_versions(arm)
        bodies(arm)
        slow_and_many(arm, port)
        policies(arm, d)
        check(d.proc.poll() is None, "privresd is still running")
    finally:
        d.stop()
    settings_in_yaml()
    finish()


main()
