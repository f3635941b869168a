"""Forwarding to targets over DNS over TLS ([privres], F-4, F-10, W-4, RFC 7858),
against a real unbound serving DoT (tls-service-key/pem) with a certificate
from a CA made here with certtool: the certificate verified against
tlsHostname or the rule's address, one kept-open connection per target and
worker shared by pipelined questions, a refused certificate seen by the
client as SERVFAIL and explained in the query log and target health, a
connection the server closed opened again, and nonsense refused when the
deployment is checked."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from privres_harness import BUILD, PRIVRESD, Privresd, Unbound, free_port  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402

PRIVRESCTL = os.path.join(BUILD, "api", "privresctl")
NAMES = 40  # distinct names asked at once (pipelined on the workers' connections)

DEPLOYMENT = """
location: eastus
virtualNetworks:
  - name: hub
    addressPrefixes: [10.10.0.0/16]
    subnets:
      - {name: snet-in, addressPrefix: 10.10.0.0/28, delegation: Microsoft.Network/dnsResolvers}
      - {name: snet-out, addressPrefix: 10.10.1.0/28, delegation: Microsoft.Network/dnsResolvers}
dnsResolvers:
  - name: r
    virtualNetwork: hub
    inboundEndpoints: [{name: in, subnet: snet-in}]
    outboundEndpoints: [{name: out, subnet: snet-out}]
dnsForwardingRulesets:
  - name: rules
    dnsResolverOutboundEndpoints: [r/out]
    forwardingRules:
      - {name: ByName, domainName: corp.example., targetDnsServers: [{ipAddress: 10.100.0.2,
         protocol: Tls, tlsHostname: dot.corp.example, tlsCa: %(ca)s}]}
      - {name: ByAddress, domainName: byaddr.example., targetDnsServers: [{ipAddress: 10.100.0.2,
         port: 853, protocol: Tls, tlsCa: %(ca)s}]}
      - {name: WrongName, domainName: wrongname.example., targetDnsServers: [{ipAddress: 10.100.0.3,
         protocol: Tls, tlsHostname: elsewhere.corp.example, tlsCa: %(ca)s}]}
      - {name: WrongCa, domainName: wrongca.example., targetDnsServers: [{ipAddress: 10.100.0.4,
         protocol: Tls, tlsHostname: dot.corp.example, tlsCa: %(other)s}]}
      - {name: Unmapped, domainName: unmapped.example., targetDnsServers: [{ipAddress: 10.100.0.5,
         protocol: Tls, tlsHostname: dot.corp.example, tlsCa: %(ca)s}]}
    virtualNetworkLinks: [{name: hub, virtualNetwork: hub}]
emulator:
  listeners: {"r/in": "127.0.0.1:%(ie)d"}
  basePort: 0
  forwardTimeoutMs: 400
  queryDeadlineMs: 1500
  queryLog: %(qlog)s
  addressMap: {"10.100.0.2:853": "127.0.0.1:%(t1)d", "10.100.0.3:853": "127.0.0.1:%(t2)d",
               "10.100.0.4:853": "127.0.0.1:%(t3)d"}
"""


def certtool(*args, template=None, cwd=None):
    cmd = ["certtool"] + list(args)
    if template is not None:
        path = os.path.join(cwd, "tmpl-%d" % abs(hash(template)))
        with open(path, "w") as f:
            f.write(template)
        cmd += ["--template", path]
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    certtool("--generate-privkey", "--key-type=ecdsa", "--outfile", name + ".key", cwd=d)
    certtool("--generate-self-signed", "--load-privkey", name + ".key", "--outfile",
             name + ".pem", cwd=d,
             template='cn = "%s"\nca\ncert_signing_key\nexpiration_days = 30\n' % name)


def make_server_cert(d):
    """dot.corp.example and 10.100.0.2 (the rule's address, not the mapped one)."""
    certtool("--generate-privkey", "--key-type=ecdsa", "--outfile", "server.key", cwd=d)
    certtool("--generate-certificate", "--load-privkey", "server.key", "--load-ca-certificate",
             "ca.pem", "--load-ca-privkey", "ca.key", "--outfile", "server.pem", cwd=d,
             template='cn = "dot.corp.example"\ndns_name = "dot.corp.example"\n'
                      'ip_address = "10.100.0.2"\ntls_www_server\nsigning_key\n'
                      'encryption_key\nexpiration_days = 30\n')


def ask(port, name, rdtype="A", timeout=5):
    return dns.query.udp(dns.message.make_query(name, rdtype), "127.0.0.1", port=port,
                         timeout=timeout)


class ForwardOverTls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="privres-dot-fwd-")
        make_ca(cls.tmp, "ca")
        make_ca(cls.tmp, "other")
        make_server_cert(cls.tmp)
        cls.t1, cls.t2, cls.t3, plain = free_port(), free_port(), free_port(), free_port()
        data = ["host.corp.example. 300 IN A 192.168.5.1",
                "host.byaddr.example. 300 IN A 192.168.5.2",
                "host.wrongname.example. 300 IN A 192.168.5.3",
                "host.wrongca.example. 300 IN A 192.168.5.4",
                "r1.corp.example. 300 IN A 192.168.7.1", "r2.corp.example. 300 IN A 192.168.7.2",
                "p.corp.example. 300 IN A 192.168.7.3"]
        data += ["n%d.corp.example. 300 IN A 192.168.6.%d" % (i, i) for i in range(NAMES)]
        # Three DoT ports of one unbound (health is per target address and
        # port: the failing rules get their own); the server closes a
        # connection idle for 1 s (RFC 7766 §6.2.3), for the reconnect test.
        extra = "\n".join([
            "  interface: 127.0.0.1@%d" % cls.t1, "  interface: 127.0.0.1@%d" % cls.t2,
            "  interface: 127.0.0.1@%d" % cls.t3, "  tls-port: %d" % cls.t1,
            "  tls-additional-port: %d" % cls.t2, "  tls-additional-port: %d" % cls.t3,
            '  tls-service-key: "%s/server.key"' % cls.tmp,
            '  tls-service-pem: "%s/server.pem"' % cls.tmp,
            "  tcp-idle-timeout: 1000", "  incoming-num-tcp: 100"])
        cls.unbound = Unbound(plain, data, extra=extra)
        cls.ie = free_port()
        cls.qlog = os.path.join(cls.tmp, "query.log")
        cls.d = Privresd(DEPLOYMENT % {"ca": os.path.join(cls.tmp, "ca.pem"),
                                       "other": os.path.join(cls.tmp, "other.pem"),
                                       "ie": cls.ie, "t1": cls.t1, "t2": cls.t2, "t3": cls.t3,
                                       "qlog": cls.qlog})

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        cls.unbound.stop()
        if rc != 0:
            print(cls.d.log(), file=sys.stderr)
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert rc == 0, "privresd exited %d" % rc

    def ctl(self, *args):
        p = subprocess.run([PRIVRESCTL, "--socket", os.path.join(self.d.dir, "api.sock")] +
                           list(args), capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def counters(self):
        return {k: int(v) for k, v in self.ctl("stats")["counters"].items()
                if k.startswith("forward")}

    def health(self, port):
        for t in self.ctl("health")["targets"]:
            if t["address"] == "127.0.0.1" and t["port"] == port:
                return t
        return None

    def query_log(self, needle, timeout=5):
        end = time.time() + timeout
        while time.time() < end:
            if os.path.exists(self.qlog):
                with open(self.qlog) as f:
                    lines = [l for l in f if needle in l]
                if lines:
                    return lines
            time.sleep(0.1)
        return []

    def test_by_name(self):
        """F-4: tlsHostname is what the certificate must name."""
        before = self.counters()
        r = ask(self.ie, "host.corp.example")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertEqual(r.answer[0][0].address, "192.168.5.1")
        after = self.counters()
        self.assertGreaterEqual(after["forwardDotTries"] - before["forwardDotTries"], 1)
        self.assertEqual(after["forwardUdpTries"], before["forwardUdpTries"],
                         "nothing went to the target over plain UDP")

    def test_by_address(self):
        """Without tlsHostname the certificate must carry the rule's address
        (10.100.0.2), not the loopback address it is mapped to."""
        r = ask(self.ie, "host.byaddr.example")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertEqual(r.answer[0][0].address, "192.168.5.2")

    def test_pipelined_on_kept_connections(self):
        """RFC 7858 §3.4: questions at once share each worker's connection."""
        ask(self.ie, "p.corp.example")  # connections up, if the idle timer allows
        before = self.counters()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        want = {}
        for i in range(NAMES):
            q = dns.message.make_query("n%d.corp.example" % i, "A")
            want[q.id] = "192.168.6.%d" % i
            s.sendto(q.to_wire(), ("127.0.0.1", self.ie))
        got = {}
        while len(got) < NAMES:
            m = dns.message.from_wire(s.recvfrom(4096)[0])
            got[m.id] = m.answer[0][0].address if m.answer else dns.rcode.to_text(m.rcode())
        s.close()
        self.assertEqual(got, want)
        after = self.counters()
        opened = after["forwardDotConnections"] - before["forwardDotConnections"]
        tries = after["forwardDotTries"] - before["forwardDotTries"]
        self.assertEqual(tries, NAMES)
        # two workers: at most one new connection each (none when still open)
        self.assertLessEqual(opened, 2, "%d connections for %d questions" % (opened, tries))

    def test_reconnect_after_server_closed(self):
        """The server closes idle connections after 1 s; the next question
        opens a new one and is answered, and the target is not failed."""
        # names asked by no other test: privres' cache (Q-6) would answer them
        self.assertEqual(ask(self.ie, "r1.corp.example").rcode(), dns.rcode.NOERROR)
        before = self.counters()
        time.sleep(2.5)
        r = ask(self.ie, "r2.corp.example")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertEqual(r.answer[0][0].address, "192.168.7.2")
        self.assertGreater(self.counters()["forwardDotConnections"],
                           before["forwardDotConnections"])
        h = self.health(self.t1)
        # proto3 JSON leaves a count of 0 out: a target seen once (a slow
        # first try) and healthy again reads without "failures"
        self.assertTrue(h is None or h.get("failures", 0) == 0, h)

    def check_refused(self, name, port, reason):
        t0 = time.time()
        r = ask(self.ie, name)
        self.assertEqual(r.rcode(), dns.rcode.SERVFAIL)
        self.assertLess(time.time() - t0, 3.0)
        lines = self.query_log(name)
        self.assertTrue(lines, "no query log line for %s" % name)
        self.assertIn(reason, lines[-1])
        h = self.health(port)
        self.assertIsNotNone(h)
        self.assertGreaterEqual(h["failures"], 1)
        self.assertEqual(h.get("lastFailureReason"), reason)

    def test_wrong_name_refused(self):
        """The certificate names dot.corp.example, the rule asks for another
        name: the handshake fails, the target counts as failed (F-10), the
        client gets SERVFAIL, and the query log and health say why."""
        before = self.counters()
        self.check_refused("host.wrongname.example", self.t2,
                           "certificate does not match the name")
        self.assertGreater(self.counters()["forwardDotHandshakeFailures"],
                           before["forwardDotHandshakeFailures"])

    def test_other_ca_refused(self):
        self.check_refused("host.wrongca.example", self.t3,
                           "certificate not issued by a trusted CA")

    def test_shown_by_the_api(self):
        """The keys survive the management API (gRPC) and the cloud's shape;
        a DoT target without a port shows 853."""
        r = self.ctl("dns-resolver", "forwarding-rule", "show", "--ruleset-name", "rules",
                     "--name", "ByName")
        t = r["properties"]["targetDnsServers"]
        self.assertEqual(t, [{"ipAddress": "10.100.0.2", "port": 853, "protocol": "Tls",
                              "tlsHostname": "dot.corp.example",
                              "tlsCa": os.path.join(self.tmp, "ca.pem")}])

    def test_unmapped_never_contacted(self):
        """W-7, design.md §4: an unmapped DoT target is never contacted."""
        before = self.counters()
        r = ask(self.ie, "host.unmapped.example")
        self.assertEqual(r.rcode(), dns.rcode.SERVFAIL)
        after = self.counters()
        self.assertEqual(after["forwardDotTries"], before["forwardDotTries"])
        self.assertEqual(after["forwardDotConnections"], before["forwardDotConnections"])


BAD = """
virtualNetworks:
  - {name: hub, addressPrefixes: [10.10.0.0/16], subnets: [{name: o, addressPrefix: 10.10.1.0/28,
     delegation: Microsoft.Network/dnsResolvers}]}
dnsResolvers:
  - {name: r, virtualNetwork: hub, outboundEndpoints: [{name: out, subnet: o}]}
dnsForwardingRulesets:
  - name: rules
    dnsResolverOutboundEndpoints: [r/out]
    forwardingRules:
      - {name: R, domainName: corp.example., targetDnsServers: [%s]}
"""


class Validation(unittest.TestCase):
    """F-4 [privres]: what makes no sense is refused with the key's path."""

    def check(self, target, *words):
        d = tempfile.mkdtemp(prefix="privres-dot-check-")
        try:
            path = os.path.join(d, "d.yaml")
            with open(path, "w") as f:
                f.write(BAD % target)
            p = subprocess.run([PRIVRESD, "--check", path], capture_output=True, text=True,
                               timeout=30)
        finally:
            shutil.rmtree(d, ignore_errors=True)
        return p

    def refused(self, target, *words):
        p = self.check(target)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        out = p.stdout + p.stderr
        for w in words:
            self.assertIn(w, out)

    def test_accepted(self):
        p = self.check("{ipAddress: 10.100.0.2, protocol: Tls, tlsHostname: dns.corp.example}")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        p = self.check("{ipAddress: 10.100.0.2, port: 53, protocol: Dns}")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_tls_on_port_53(self):
        self.refused("{ipAddress: 10.100.0.2, port: 53, protocol: Tls}", "F-4", "port 53",
                     "853")

    def test_bad_hostname(self):
        self.refused("{ipAddress: 10.100.0.2, protocol: Tls, tlsHostname: 'bad name!'}",
                     "tlsHostname", "not a host name")
        self.refused("{ipAddress: 10.100.0.2, protocol: Tls, tlsHostname: 10.1.2.3}",
                     "not a host name")

    def test_tls_keys_without_tls(self):
        self.refused("{ipAddress: 10.100.0.2, tlsHostname: dns.corp.example}",
                     "protocol: Tls")

    def test_unknown_protocol(self):
        self.refused("{ipAddress: 10.100.0.2, protocol: Quic}", "not a target protocol", "Tls")


if __name__ == "__main__":
    os.chdir(tempfile.gettempdir())
    unittest.main(verbosity=2)
