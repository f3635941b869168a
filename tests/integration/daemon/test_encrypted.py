"""DNS over TLS and DNS over HTTPS on privresd's listeners (W-6, [privres]), with
real clients: kdig (+tls, +https), curl (--http2, --doh-url), dnspython
(dns.query.tls, dns.query.https) and Python's ssl module for what those do not
expose (pipelining, resumption, raw HTTP/2 and bad input)."""
import base64
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from privres_harness import Privresd, free_port  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

HOST = "127.0.0.1"
HOSTNAME = "in.hub-resolver.privres"      # the local CA's name for hub-resolver/in
AZ_HOSTNAME = "hub.azure-dns.privres"     # and for azure-dns/hub
SLOW_MS = 700

DEPLOYMENT = """
location: eastus
virtualNetworks:
  - name: hub
    addressPrefixes: [10.10.0.0/16]
    subnets:
      - {name: snet-inbound, addressPrefix: 10.10.0.0/28, delegation: Microsoft.Network/dnsResolvers}
      - {name: snet-outbound, addressPrefix: 10.10.1.0/28, delegation: Microsoft.Network/dnsResolvers}
privateDnsZones:
  - name: azure.contoso.com
    recordSets:
      - {name: web, type: A, ttl: 300, records: [10.10.2.5]}
      - {name: here, type: A, ttl: 300, records: [127.0.0.1]}
      - {name: big, type: TXT, records: [%(txt)s]}
    virtualNetworkLinks: [{name: hub-link, virtualNetwork: hub}]
dnsResolvers:
  - name: hub-resolver
    virtualNetwork: hub
    inboundEndpoints: [{name: in, subnet: snet-inbound}]
    outboundEndpoints: [{name: out, subnet: snet-outbound}]
dnsForwardingRulesets:
  - name: rules
    dnsResolverOutboundEndpoints: [hub-resolver/out]
    forwardingRules:
      - {name: Slow, domainName: slow.example., targetDnsServers: [{ipAddress: 10.100.0.9, port: 53}]}
    virtualNetworkLinks: [{name: hub-link, virtualNetwork: hub}]
emulator:
  basePort: 0
  stateDir: %(state)s
  queryLog: %(qlog)s
  tcpIdleTimeoutMs: %(idle)d
  addressMap: {"10.100.0.9:53": "127.0.0.1:%(slow)d"}
  encryptedListeners:
    hub-resolver/in: {dot: true, doh: true}
    azure-dns/hub: {dot: "127.0.0.1:%(azdot)d", doh: "127.0.0.1:%(azdoh)d", plainDns: false,
                    requireClientCertificate: true}
"""


class SlowServer(threading.Thread):
    """A UDP DNS server answering every question after SLOW_MS, so a query
    forwarded to it is still in flight when a later one is answered."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.stopped = False

    def run(self):
        while not self.stopped:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            q = dns.message.from_wire(data)
            r = dns.message.make_response(q)
            r.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "A", "192.0.2.7"))
            threading.Timer(SLOW_MS / 1000.0, self._send, (r.to_wire(), peer)).start()

    def _send(self, wire, peer):
        try:
            self.sock.sendto(wire, peer)
        except OSError:
            pass

    def stop(self):
        self.stopped = True
        self.sock.close()


def run(cmd, timeout=20):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def query_wire(name, rdtype="A", qid=0, pad=False):
    q = dns.message.make_query(name, rdtype, use_edns=0, pad=468 if pad else 0)
    q.id = qid
    return q.to_wire()


class Encrypted(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import dns.rrset  # noqa: F401
        cls.tmp = tempfile.mkdtemp(prefix="privres-tls-")
        cls.state = os.path.join(cls.tmp, "state")
        cls.qlog = os.path.join(cls.tmp, "query.log")
        cls.slow = SlowServer()
        cls.slow.start()
        cls.az_dot, cls.az_doh = free_port(), free_port()
        txt = ", ".join('"%s"' % ("x" * 200) for _ in range(10))
        cls.d = Privresd(DEPLOYMENT % {"state": cls.state, "qlog": cls.qlog, "idle": 2000,
                                       "slow": cls.slow.port, "azdot": cls.az_dot,
                                       "azdoh": cls.az_doh, "txt": txt})
        with open(cls.d.ready) as f:
            cls.ready = json.load(f)["listeners"]
        cls.ca = os.path.join(cls.state, "tls", "ca.pem")
        cls.dot = cls.port_of("hub-resolver/in", "dot")
        cls.doh = cls.port_of("hub-resolver/in", "doh")
        cls.plain = cls.port_of("hub-resolver/in", "dns")

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        cls.slow.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert rc == 0, "privresd exited %d" % rc

    @classmethod
    def port_of(cls, name, protocol):
        for l in cls.ready:
            if l["name"] == name and l["protocol"] == protocol:
                return l["port"]
        return None

    def ctx(self, alpn="dot", cert=None, key=None):
        c = ssl.create_default_context(cafile=self.ca)
        c.set_alpn_protocols([alpn])
        if cert:
            c.load_cert_chain(cert, key)
        return c

    def dot_conn(self, port=None, hostname=HOSTNAME, **kw):
        s = socket.create_connection((HOST, port or self.dot), timeout=5)
        return self.ctx(**kw).wrap_socket(s, server_hostname=hostname)

    @staticmethod
    def read_frame(s):
        head = b""
        while len(head) < 2:
            chunk = s.recv(2 - len(head))
            if not chunk:
                return None
            head += chunk
        n = struct.unpack("!H", head)[0]
        body = b""
        while len(body) < n:
            chunk = s.recv(n - len(body))
            if not chunk:
                return None
            body += chunk
        return body

    def kdig(self, port, *args, hostname=HOSTNAME):
        return run(["kdig", "@%s" % HOST, "-p", str(port), "+tls-ca=%s" % self.ca,
                    "+tls-hostname=%s" % hostname, "+timeout=3", "+retry=0"] + list(args))

    # --- the core: DoT and DoH with real clients (W-6) ---------------------------

    def test_listeners_in_ready_file(self):
        self.assertIsNotNone(self.dot)
        self.assertIsNotNone(self.doh)
        self.assertIsNotNone(self.plain)  # plainDns defaults to true
        self.assertEqual(self.port_of("azure-dns/hub", "dot"), self.az_dot)
        self.assertEqual(self.port_of("azure-dns/hub", "doh"), self.az_doh)
        self.assertIsNone(self.port_of("azure-dns/hub", "dns"))  # plainDns: false

    def test_kdig_dot(self):
        r = self.kdig(self.dot, "+tls", "web.azure.contoso.com", "A")
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        self.assertRegex(r.stdout, r"web\.azure\.contoso\.com\.\s+300\s+IN\s+A\s+10\.10\.2\.5")
        self.assertIn("(TCP)", r.stdout)
        # RFC 8467: kdig pads its queries over TLS; the answer fills 468-octet blocks
        size = int(re.search(r"Received (\d+) B", r.stdout).group(1))
        self.assertEqual(size % 468, 0, r.stdout)
        self.assertIn("PADDING", r.stdout)

    def test_kdig_dot_without_padding(self):
        # a query without the padding option gets no padding (RFC 7830 §4)
        r = self.kdig(self.dot, "+tls", "+nopadding", "web.azure.contoso.com", "A")
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        self.assertNotIn("PADDING", r.stdout)

    def test_kdig_dot_wrong_name_refused_by_client(self):
        # the certificate names the listener: another name fails verification
        r = self.kdig(self.dot, "+tls", "web.azure.contoso.com", hostname="other.example")
        self.assertNotIn("10.10.2.5", r.stdout)

    def test_kdig_doh(self):
        for method in ("+https", "+https-get"):
            r = self.kdig(self.doh, method, "web.azure.contoso.com", "A")
            self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
            self.assertRegex(r.stdout, r"IN\s+A\s+10\.10\.2\.5", method)
            size = int(re.search(r"Received (\d+) B", r.stdout).group(1))
            self.assertEqual(size % 468, 0, r.stdout)

    def curl(self, *args):
        return run(["curl", "-s", "--http2", "--cacert", self.ca, "-o", "/dev/null",
                    "-w", "\n%{http_code} %{http_version} %{content_type}"] + list(args))

    def doh_url(self, port=None, suffix=""):
        return "https://localhost:%d/dns-query%s" % (port or self.doh, suffix)

    def test_curl_post_and_get(self):
        wire = query_wire("web.azure.contoso.com", qid=4242)
        path = os.path.join(self.tmp, "q.bin")
        with open(path, "wb") as f:
            f.write(wire)
        post = subprocess.run(["curl", "-s", "--http2", "--cacert", self.ca, "-H",
                               "content-type: application/dns-message", "--data-binary",
                               "@" + path, "-D", "-", self.doh_url()],
                              capture_output=True, timeout=20)
        head, _, body = post.stdout.partition(b"\r\n\r\n")
        self.assertIn(b"HTTP/2 200", head)
        self.assertIn(b"content-type: application/dns-message", head.lower())
        r = dns.message.from_wire(body)
        self.assertEqual(r.id, 4242)
        self.assertEqual(str(r.answer[0][0]), "10.10.2.5")
        b64 = base64.urlsafe_b64encode(query_wire("web.azure.contoso.com", qid=0)).rstrip(b"=")
        get = subprocess.run(["curl", "-s", "--http2", "--cacert", self.ca,
                              self.doh_url(suffix="?dns=" + b64.decode())],
                             capture_output=True, timeout=20)
        self.assertEqual(str(dns.message.from_wire(get.stdout).answer[0][0]), "10.10.2.5")

    def test_curl_http_errors(self):
        status = lambda *a: self.curl(*a).stdout.rsplit("\n", 1)[1].split()[0]  # noqa: E731
        self.assertEqual(status(self.doh_url(suffix="?dns=%%%")), "400")
        self.assertEqual(status(self.doh_url(suffix="?nodns=1")), "400")
        self.assertEqual(status("https://localhost:%d/other" % self.doh), "404")
        self.assertEqual(status("-X", "PUT", self.doh_url()), "405")
        self.assertEqual(status("-H", "content-type: text/plain", "--data-binary", "x" * 20,
                                self.doh_url()), "415")
        big = os.path.join(self.tmp, "big.bin")
        with open(big, "wb") as f:
            f.write(b"\0" * 70000)
        self.assertEqual(status("-H", "content-type: application/dns-message",
                                "--data-binary", "@" + big, self.doh_url()), "413")
        # and the listener answers on
        self.assertEqual(status(self.doh_url(suffix="?dns=" + base64.urlsafe_b64encode(
            query_wire("web.azure.contoso.com")).rstrip(b"=").decode())), "200")

    def test_curl_doh_url(self):
        # curl resolves through privresd's DoH, then connects to what it got
        # (127.0.0.1, a closed port: the connection is refused, locally)
        port = free_port()
        r = run(["curl", "-sv", "--cacert", self.ca, "--connect-timeout", "2",
                 "--doh-url", self.doh_url(), "http://here.azure.contoso.com:%d/" % port])
        self.assertIn("DoH A: 127.0.0.1", r.stderr)

    def test_dnspython(self):
        q = dns.message.make_query("web.azure.contoso.com", "A")
        r = dns.query.https(q, self.doh_url(port=self.doh).replace("localhost", HOST),
                            verify=self.ca, timeout=5)
        self.assertEqual(str(r.answer[0][0]), "10.10.2.5")
        r = dns.query.tls(q, HOST, port=self.dot, ssl_context=self.ctx(),
                          server_hostname=HOSTNAME, timeout=5)
        self.assertEqual(str(r.answer[0][0]), "10.10.2.5")
        # a large answer whole over both (no truncation on a stream, Q-7)
        q = dns.message.make_query("big.azure.contoso.com", "TXT")
        r = dns.query.tls(q, HOST, port=self.dot, ssl_context=self.ctx(),
                          server_hostname=HOSTNAME, timeout=5)
        self.assertEqual(len(r.answer[0]), 1)
        self.assertFalse(r.flags & dns.flags.TC)

    def test_query_log_transport(self):
        r = self.kdig(self.dot, "+tls", "logged-dot.azure.contoso.com", "A")
        self.assertEqual(r.returncode, 0)
        entries = wait_for(self.qlog, "logged-dot.azure.contoso.com.")
        self.assertEqual(entries[0]["transport"], "dot")
        self.assertNotIn("clientSubject", entries[0])

    # --- RFC 7858: reuse, pipelining out of order, idle timeout, resumption -----

    def test_pipelined_out_of_order(self):
        with self.dot_conn() as s:
            self.assertEqual(s.selected_alpn_protocol(), "dot")
            self.assertIn(s.version(), ("TLSv1.3", "TLSv1.2"))
            # the slow one first, then three answered from a private zone
            msgs = [query_wire("a.slow.example", qid=1)] + [
                query_wire("web.azure.contoso.com", qid=i) for i in (2, 3, 4)]
            s.sendall(b"".join(struct.pack("!H", len(m)) + m for m in msgs))
            order = [dns.message.from_wire(self.read_frame(s)).id for _ in msgs]
            self.assertEqual(sorted(order), [1, 2, 3, 4])
            self.assertEqual(order[-1], 1, order)  # the slow one came last
            # the same connection serves more (reuse)
            s.sendall(struct.pack("!H", len(msgs[1])) + msgs[1])
            self.assertEqual(dns.message.from_wire(self.read_frame(s)).id, 2)

    def test_pipelined_burst_padded(self):
        # 300 padded queries in one write: over the in-flight cap (reading
        # pauses and resumes), answers gathered into records, each answer padded
        with self.dot_conn() as s:
            msgs = [query_wire("web.azure.contoso.com", qid=i, pad=True) for i in range(300)]
            s.sendall(b"".join(struct.pack("!H", len(m)) + m for m in msgs))
            ids = set()
            for _ in msgs:
                frame = self.read_frame(s)
                self.assertEqual(len(frame) % 468, 0)
                ids.add(dns.message.from_wire(frame).id)
            self.assertEqual(ids, set(range(300)))

    def test_idle_timeout(self):
        with self.dot_conn() as s:
            m = query_wire("web.azure.contoso.com", qid=7)
            s.sendall(struct.pack("!H", len(m)) + m)
            self.assertIsNotNone(self.read_frame(s))
            t0 = time.time()
            s.settimeout(6)
            self.assertIsNone(self.read_frame(s))  # closed by the server
            self.assertLess(time.time() - t0, 5)

    def test_session_resumption(self):
        ctx = self.ctx()
        with ctx.wrap_socket(socket.create_connection((HOST, self.dot)),
                             server_hostname=HOSTNAME) as s:
            m = query_wire("web.azure.contoso.com", qid=9)
            s.sendall(struct.pack("!H", len(m)) + m)
            self.read_frame(s)  # TLS 1.3 tickets come after the handshake
            session = s.session
            self.assertFalse(s.session_reused)
        with ctx.wrap_socket(socket.create_connection((HOST, self.dot)),
                             server_hostname=HOSTNAME, session=session) as s:
            s.sendall(struct.pack("!H", len(m)) + m)
            self.assertIsNotNone(self.read_frame(s))
            self.assertTrue(s.session_reused)

    def test_tls12(self):
        ctx = self.ctx()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with ctx.wrap_socket(socket.create_connection((HOST, self.dot)),
                             server_hostname=HOSTNAME) as s:
            self.assertEqual(s.version(), "TLSv1.2")
            m = query_wire("web.azure.contoso.com", qid=12)
            s.sendall(struct.pack("!H", len(m)) + m)
            self.assertEqual(dns.message.from_wire(self.read_frame(s)).id, 12)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        with self.assertRaises((ssl.SSLError, OSError)):
            ctx.wrap_socket(socket.create_connection((HOST, self.dot)),
                            server_hostname=HOSTNAME)

    # --- client certificates and no fallback (W-6) ------------------------------

    def client_cert(self, name, own_ca=False):
        """A client certificate from privresctl tls issue-client, or one from
        a CA privresd does not know."""
        d = tempfile.mkdtemp(dir=self.tmp)
        cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
        if own_ca:
            run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                 "-days", "1", "-subj", "/CN=" + name, "-addext",
                 "extendedKeyUsage=clientAuth"])
        else:
            r = run([PRIVRESCTL, "tls", "issue-client", name, "--state-dir", self.state,
                     "--out", d])
            self.assertEqual(r.returncode, 0, r.stderr)
        return cert, key

    def counters(self):
        r = run([PRIVRESCTL, "--socket", os.path.join(self.d.dir, "api.sock"), "stats"])
        self.assertEqual(r.returncode, 0, r.stderr)
        return {k: int(v) for k, v in json.loads(r.stdout)["counters"].items()}

    def test_client_certificate_required(self):
        before = self.counters()
        # none: the handshake fails, nothing is answered
        r = self.kdig(self.az_dot, "+tls", "web.azure.contoso.com", hostname=AZ_HOSTNAME)
        self.assertNotIn("10.10.2.5", r.stdout)
        # one from another CA: refused the same way
        cert, key = self.client_cert("stranger", own_ca=True)
        r = self.kdig(self.az_dot, "+tls", "+tls-certfile=" + cert, "+tls-keyfile=" + key,
                      "web.azure.contoso.com", hostname=AZ_HOSTNAME)
        self.assertNotIn("10.10.2.5", r.stdout)
        with self.assertRaises((ssl.SSLError, OSError, ConnectionError)):
            with self.dot_conn(port=self.az_dot, hostname=AZ_HOSTNAME, cert=cert, key=key) as s:
                m = query_wire("web.azure.contoso.com")
                s.sendall(struct.pack("!H", len(m)) + m)
                if self.read_frame(s) is None:
                    raise ConnectionError("closed")
        # one the local CA issued: answered, its subject logged
        cert, key = self.client_cert("laptop-7")
        r = self.kdig(self.az_dot, "+tls", "+tls-certfile=" + cert, "+tls-keyfile=" + key,
                      "cert-dot.azure.contoso.com", hostname=AZ_HOSTNAME)
        self.assertIn("NXDOMAIN", r.stdout)  # answered (a name the zone lacks)
        # stats count the refusals (three clients above) apart from other failures
        after = self.counters()
        refused = after["tlsClientCertRefused"] - before["tlsClientCertRefused"]
        self.assertGreaterEqual(refused, 3, after)
        self.assertGreaterEqual(after["tlsFailed"] - before["tlsFailed"], refused)
        self.assertGreater(after["tlsAccepted"], before["tlsAccepted"])
        self.assertGreater(after["dotQueries"], before["dotQueries"])
        r = run(["curl", "-s", "--http2", "--cacert", self.ca, "--cert", cert, "--key", key,
                 "-o", "/dev/null", "-w", "%{http_code}",
                 "https://%s:%d/dns-query?dns=%s" % (HOST, self.az_doh, base64.urlsafe_b64encode(
                     query_wire("cert-doh.azure.contoso.com")).rstrip(b"=").decode())])
        self.assertEqual(r.stdout, "200")
        r = run(["curl", "-s", "--http2", "--cacert", self.ca, "-o", "/dev/null", "-w",
                 "%{http_code}", "https://%s:%d/dns-query?dns=AAAA" % (HOST, self.az_doh)])
        self.assertNotEqual(r.stdout, "200")
        for name, transport in (("cert-dot", "dot"), ("cert-doh", "doh")):
            e = wait_for(self.qlog, name + ".azure.contoso.com.")
            self.assertEqual(e[0]["transport"], transport)
            self.assertEqual(e[0]["clientSubject"], "CN=laptop-7")

    def test_no_plain_fallback(self):
        # plainDns: false: nothing answers plain DNS for azure-dns/hub; the DoT
        # port does not speak UDP
        with self.assertRaises(dns.exception.Timeout):
            dns.query.udp(dns.message.make_query("web.azure.contoso.com", "A"), HOST,
                          port=self.az_dot, timeout=1)

    # --- bad input: everyone else served -----------------------------------------

    def assert_still_serving(self):
        r = dns.query.tls(dns.message.make_query("web.azure.contoso.com", "A"), HOST,
                          port=self.dot, ssl_context=self.ctx(), server_hostname=HOSTNAME,
                          timeout=5)
        self.assertEqual(str(r.answer[0][0]), "10.10.2.5")

    def test_garbage_before_and_during_handshake(self):
        for junk in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\xff\xff" + b"A" * 600,
                     os.urandom(3000)):
            s = socket.create_connection((HOST, self.dot), timeout=5)
            s.sendall(junk)
            try:
                while s.recv(4096):
                    pass
            except ConnectionError:
                pass
            s.close()
        # a ClientHello cut in the middle, then garbage
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        inner = self.ctx().wrap_bio(incoming, outgoing, server_hostname=HOSTNAME)
        with self.assertRaises(ssl.SSLWantReadError):
            inner.do_handshake()
        hello = outgoing.read()
        s = socket.create_connection((HOST, self.dot), timeout=5)
        s.sendall(hello[:len(hello) // 2] + os.urandom(2000))
        try:
            while s.recv(4096):
                pass
        except ConnectionError:
            pass
        s.close()
        self.assert_still_serving()

    def test_garbage_after_handshake(self):
        with self.dot_conn() as s:
            s.sendall(b"\x00\x05hello")  # a length under 12 (W-3): closed
            self.assertIsNone(self.read_frame(s))
        with self.dot_conn(port=self.doh, alpn="h2") as s:
            s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x04\x09\x00\x00\x00\x00\x00junk")
            data = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except (ConnectionError, ssl.SSLError):
                pass
            self.assertIn(b"\x07", data[:200])  # a GOAWAY frame (type 7) was sent
        self.assert_still_serving()

    def test_alpn_mismatch_refused(self):
        with self.assertRaises(ssl.SSLError):
            self.dot_conn(port=self.doh, alpn="http/1.1")

    def rss_kb(self):
        with open("/proc/%d/status" % self.d.proc.pid) as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    def test_many_idle_connections(self):
        # 1000 idle TLS clients: each costs one session, the others are served
        conns = []
        before = self.rss_kb()
        try:
            for _ in range(1000):
                conns.append(self.dot_conn())
            self.assert_still_serving()
            grown = self.rss_kb() - before
            print("1000 idle TLS connections: +%d kB resident" % grown, file=sys.stderr)
            self.assertLess(grown, 400 * 1024)  # bounded (under ASan's own overhead)
        finally:
            for c in conns:
                c.close()
        self.assert_still_serving()


class ZeroTrustOverDoH(unittest.TestCase):
    """examples/zero-trust.yaml served to its workload spoke over DoH only, as a
    protective resolver with no fallback: allowed names answered, the rest
    blocked (S-3), plain DNS not served at all (W-6)."""

    @classmethod
    def setUpClass(cls):
        from privres_harness import SOURCE
        with open(os.path.join(SOURCE, "examples", "zero-trust.yaml")) as f:
            text = f.read()
        body = text[:text.index("\nemulator:")]
        cls.tmp = tempfile.mkdtemp(prefix="privres-ztdns-")
        cls.state = os.path.join(cls.tmp, "state")
        cls.d = Privresd(body + "\nemulator:\n  basePort: 0\n  stateDir: %s\n"
                         "  encryptedListeners:\n"
                         "    azure-dns/spoke: {doh: true, plainDns: false}\n" % cls.state)
        with open(cls.d.ready) as f:
            cls.ready = json.load(f)["listeners"]
        cls.doh = [l["port"] for l in cls.ready
                   if l["name"] == "azure-dns/spoke" and l["protocol"] == "doh"][0]
        cls.ca = os.path.join(cls.state, "tls", "ca.pem")

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert rc == 0, "privresd exited %d" % rc

    def ask(self, name):
        return dns.query.https(dns.message.make_query(name, "A"),
                               "https://%s:%d/dns-query" % (HOST, self.doh), verify=self.ca,
                               timeout=5)

    def test_allowed_and_blocked(self):
        r = self.ask("web.azure.contoso.com")
        self.assertEqual([str(x) for rr in r.answer for x in rr], ["10.10.2.5"])
        r = self.ask("www.contoso.com")
        self.assertEqual([str(x) for rr in r.answer for x in rr], ["203.0.113.10"])
        r = self.ask("www.example.com")
        self.assertIn("blockpolicy.azuredns.invalid.",
                      [str(x.target) for rr in r.answer for x in rr
                       if rr.rdtype == dns.rdatatype.CNAME])

    def test_no_plain_dns(self):
        self.assertEqual([l for l in self.ready
                          if l["name"] == "azure-dns/spoke" and l["protocol"] == "dns"], [])
        with self.assertRaises(dns.exception.Timeout):
            dns.query.udp(dns.message.make_query("web.azure.contoso.com", "A"), HOST,
                          port=self.doh, timeout=1)


class ZeroTrustAuditOverDoH(unittest.TestCase):
    """The same example with its policy in Audit mode (S-4): over DoH only,
    every name is answered, the would-be blocks are logged in both query-log
    formats and shown by explain; plain UDP still gets nothing (W-6)."""

    @classmethod
    def setUpClass(cls):
        from privres_harness import SOURCE
        with open(os.path.join(SOURCE, "examples", "zero-trust.yaml")) as f:
            text = f.read()
        body = text[:text.index("\nemulator:")]
        body = body.replace("  - name: zero-trust\n", "  - name: zero-trust\n    mode: Audit\n")
        cls.tmp = tempfile.mkdtemp(prefix="privres-ztaudit-")
        cls.state = os.path.join(cls.tmp, "state")
        cls.qlog = {fmt: os.path.join(cls.tmp, fmt + ".log") for fmt in ("privres", "azure")}
        cls.d = {}
        for fmt in ("privres", "azure"):
            cls.d[fmt] = Privresd(
                body + "\nemulator:\n  basePort: 0\n  stateDir: %s-%s\n"
                "  queryLog: {path: %s, format: %s}\n"
                "  encryptedListeners:\n"
                "    azure-dns/spoke: {doh: true, plainDns: false}\n"
                % (cls.state, fmt, cls.qlog[fmt], fmt))
        cls.ready, cls.doh = {}, {}
        for fmt, d in cls.d.items():
            with open(d.ready) as f:
                cls.ready[fmt] = json.load(f)["listeners"]
            cls.doh[fmt] = [l["port"] for l in cls.ready[fmt]
                            if l["name"] == "azure-dns/spoke" and l["protocol"] == "doh"][0]

    @classmethod
    def tearDownClass(cls):
        rcs = [d.stop() for d in cls.d.values()]
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert rcs == [0, 0], "privresd exited %s" % rcs

    def ask(self, fmt, name):
        return dns.query.https(dns.message.make_query(name, "A"),
                               "https://%s:%d/dns-query" % (HOST, self.doh[fmt]),
                               verify=os.path.join("%s-%s" % (self.state, fmt), "tls", "ca.pem"),
                               timeout=5)

    def log_entries(self, fmt, key, value, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(self.qlog[fmt]):
                with open(self.qlog[fmt]) as f:
                    got = [json.loads(l) for l in f if l.strip()]
                got = [e for e in got if e.get(key) == value]
                if got:
                    return got
            time.sleep(0.05)
        return []

    def test_S4_blocked_names_answered_and_logged(self):
        for fmt in ("privres", "azure"):
            r = self.ask(fmt, "web.azure.contoso.com")
            self.assertEqual([str(x) for rr in r.answer for x in rr], ["10.10.2.5"])
            r = self.ask(fmt, "www.example.com")  # block-rest in Enforce
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            self.assertNotIn("blockpolicy.azuredns.invalid.", r.to_text())
            self.assertEqual([str(x) for rr in r.answer for x in rr], ["93.184.216.34"])
        e = self.log_entries("privres", "name", "www.example.com.")
        self.assertTrue(e, self.d["privres"].log())
        self.assertFalse(e[0]["blocked"])
        self.assertTrue(e[0]["wouldBlock"])
        self.assertEqual(e[0]["transport"], "doh")
        self.assertIn("Q-1 policy would-block block-rest", e[0]["path"])
        ok = self.log_entries("privres", "name", "web.azure.contoso.com.")
        self.assertNotIn("wouldBlock", ok[0])
        a = self.log_entries("azure", "QueryName", "www.example.com.")
        self.assertTrue(a, self.d["azure"].log())
        self.assertEqual(a[0]["ResolverPolicyRuleAction"], "AuditDeny")
        self.assertTrue(a[0]["ResolverPolicyDomainListId"].endswith("/everything"))
        self.assertNotEqual(a[0]["ResolutionPath"], "DnsSecurityPolicy")

    def test_S4_explain_shows_would_block(self):
        d = self.d["privres"]
        from privres_harness import BUILD
        r = run([os.path.join(BUILD, "api", "privresctl"), "--socket",
                 os.path.join(d.dir, "api.sock"), "explain", "--vnet", "spoke",
                 "www.example.com", "A"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Q-1 policy would-block block-rest", json.loads(r.stdout)["text"])
        self.assertIn("93.184.216.34", r.stdout)

    def test_no_plain_dns(self):
        with self.assertRaises(dns.exception.Timeout):
            dns.query.udp(dns.message.make_query("www.example.com", "A"), HOST,
                          port=self.doh["privres"], timeout=1)


class AddedByReload(unittest.TestCase):
    """DoT added to a running privresd by SIGHUP: the local CA is made then,
    and the new listener answers; removed again, it is gone (W-6)."""

    def test_sighup_adds_and_removes_dot(self):
        tmp = tempfile.mkdtemp(prefix="privres-tls-reload-")
        state = os.path.join(tmp, "state")
        base = DEPLOYMENT.split("  encryptedListeners:")[0] % {
            "state": state, "qlog": os.path.join(tmp, "q.log"), "idle": 2000, "slow": 9,
            "azdot": 0, "azdoh": 0, "txt": '"x"'}
        d = Privresd(base)
        try:
            ready = lambda: json.load(open(d.ready))["listeners"]  # noqa: E731
            self.assertEqual([l for l in ready() if l["protocol"] != "dns"], [])
            port = free_port()
            os.unlink(d.ready)
            d.write_config(base + "  encryptedListeners:\n"
                           "    hub-resolver/in: {dot: 127.0.0.1:%d}\n" % port)
            d.signal(signal.SIGHUP)
            deadline = time.time() + 10
            while time.time() < deadline and not os.path.exists(d.ready):
                time.sleep(0.05)
            self.assertIn(("hub-resolver/in", "dot", port),
                          [(l["name"], l["protocol"], l["port"]) for l in ready()])
            r = run(["kdig", "@127.0.0.1", "-p", str(port), "+tls-ca=%s/tls/ca.pem" % state,
                     "+tls-hostname=" + HOSTNAME, "+timeout=3", "+retry=0",
                     "web.azure.contoso.com"])
            self.assertIn("10.10.2.5", r.stdout, r.stderr + d.log())
            os.unlink(d.ready)
            d.write_config(base)
            d.signal(signal.SIGHUP)
            deadline = time.time() + 10
            while time.time() < deadline and not os.path.exists(d.ready):
                time.sleep(0.05)
            self.assertEqual([l for l in ready() if l["protocol"] != "dns"], [])
        finally:
            rc = d.stop()
            shutil.rmtree(tmp, ignore_errors=True)
        self.assertEqual(rc, 0)


def openssl_ca(d, name):
    """A CA of the user's own (openssl): its certificate and key."""
    cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    r = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + name,
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
             "keyUsage=critical,keyCertSign,cRLSign"])
    assert r.returncode == 0, r.stderr
    return cert, key


def openssl_issue(d, ca, name, ext):
    """A certificate for name signed by ca, with the given extensions."""
    cert, key, csr = (os.path.join(d, name + s) for s in (".pem", ".key", ".csr"))
    extfile = os.path.join(d, name + ".ext")
    with open(extfile, "w") as f:
        f.write(ext)
    r = run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", csr, "-subj", "/CN=" + name])
    assert r.returncode == 0, r.stderr
    r = run(["openssl", "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
             "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", extfile])
    assert r.returncode == 0, r.stderr
    return cert, key


class UserCertificates(unittest.TestCase):
    """emulator.tls: the user's server certificate and client CA (W-6)."""

    def test_own_certificate_and_client_ca(self):
        tmp = tempfile.mkdtemp(prefix="privres-tls-own-")
        try:
            srv_ca = openssl_ca(tmp, "server-ca")
            cli_ca = openssl_ca(tmp, "client-ca")
            srv = openssl_issue(tmp, srv_ca, "dns.corp.example",
                                "subjectAltName=DNS:dns.corp.example,IP:127.0.0.1\n"
                                "extendedKeyUsage=serverAuth\n")
            good = openssl_issue(tmp, cli_ca, "workstation-1", "extendedKeyUsage=clientAuth\n")
            bad = openssl_issue(tmp, srv_ca, "intruder", "extendedKeyUsage=clientAuth\n")
            port = free_port()
            text = DEPLOYMENT.split("  encryptedListeners:")[0] % {
                "state": os.path.join(tmp, "state"), "qlog": os.path.join(tmp, "q.log"),
                "idle": 2000, "slow": 9, "azdot": 0, "azdoh": 0, "txt": '"x"'}
            text += ("  tls: {certificate: %s, privateKey: %s, clientCa: %s}\n"
                     "  encryptedListeners:\n"
                     "    hub-resolver/in: {dot: 127.0.0.1:%d, requireClientCertificate: true}\n"
                     % (srv[0], srv[1], cli_ca[0], port))
            d = Privresd(text)
            try:
                def kdig(cert):
                    extra = ["+tls-certfile=" + cert[0], "+tls-keyfile=" + cert[1]] if cert else []
                    return run(["kdig", "@127.0.0.1", "-p", str(port), "+tls-ca=" + srv_ca[0],
                                "+tls-hostname=dns.corp.example", "+timeout=3", "+retry=0"]
                               + extra + ["web.azure.contoso.com"]).stdout
                self.assertIn("10.10.2.5", kdig(good))
                self.assertNotIn("10.10.2.5", kdig(bad))   # signed by another CA
                self.assertNotIn("10.10.2.5", kdig(None))  # none
                # no local CA was made: the user's certificates are used
                self.assertFalse(os.path.exists(os.path.join(tmp, "state", "tls")))
            finally:
                self.assertEqual(d.stop(), 0)
            # a key that is not the certificate's: refused at start, the file named
            text2 = text.replace("privateKey: %s" % srv[1], "privateKey: %s" % good[1])
            with self.assertRaises(RuntimeError) as e:
                Privresd(text2)
            self.assertIn("certificate and private key", str(e.exception))
            text3 = text.replace(srv[0], os.path.join(tmp, "missing.pem"))
            with self.assertRaises(RuntimeError) as e:
                Privresd(text3)
            self.assertIn("missing.pem", str(e.exception))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def wait_for(path, name, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                found = [json.loads(l) for l in f if name in l]
            if found:
                return found
        time.sleep(0.05)
    raise AssertionError("%s not in the query log" % name)


PRIVRESCTL = os.path.join(os.environ.get("PRIVRES_BUILD_DIR", "build"), "api", "privresctl")

if __name__ == "__main__":
    import dns.exception  # noqa: F401
    import dns.flags  # noqa: F401
    os.chdir(tempfile.gettempdir())
    unittest.main(verbosity=2)
