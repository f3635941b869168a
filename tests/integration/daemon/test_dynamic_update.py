"""Dynamic update on the emulated on-premises servers (E-2..E-6) with real
clients: nsupdate (bind9-dnsutils) with and without TSIG, kdig, and dnspython for
the exact rcodes of every prerequisite and for messages nsupdate won't send.
Durability: an acknowledged update survives kill -9. Run by CTest with
PRIVRES_BUILD_DIR and PRIVRES_SOURCE_DIR set."""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from privres_harness import BUILD, Privresd, Unbound, free_port  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.tsig  # noqa: E402
import dns.tsigkeyring  # noqa: E402
import dns.update  # noqa: E402

HOST = "127.0.0.1"
PRIVRESCTL = os.path.join(BUILD, "api", "privresctl")
SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="
OTHER_SECRET = "b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXI="

YAML = """
emulator: {basePort: 0}
virtualNetworks:
  - name: hub
    addressPrefixes: [10.10.0.0/16]
    subnets:
      - {name: snet-in, addressPrefix: 10.10.0.0/28, delegation: Microsoft.Network/dnsResolvers}
dnsResolvers:
  - name: r
    virtualNetwork: hub
    inboundEndpoints: [{name: in, subnet: snet-in}]
privateDnsZones:
  - name: azure.contoso.com
    virtualNetworkLinks: [{name: l, virtualNetwork: hub}]
externalDnsServers:
  - name: dc1
    ipAddress: 10.100.0.2
    tsigKeys: [{name: dhcp-key, algorithm: hmac-sha256, secret: "%s"}]
    zones:
      - name: corp.contoso.com
        dynamicUpdate: Nonsecure
        registerPtr: true
        recordSets:
          - {name: static1, type: A, records: [10.100.1.1]}
          - {name: multi, type: A, records: [10.100.1.2, 10.100.1.3]}
          - {name: alias, type: CNAME, records: [static1.corp.contoso.com.]}
      - name: 1.100.10.in-addr.arpa
        dynamicUpdate: Nonsecure
      - name: secure.contoso.com
        dynamicUpdate: Secure
      - name: filebacked.contoso.com
      - name: aged.contoso.com
        dynamicUpdate: Nonsecure
        aging: {enabled: true, noRefreshHours: 2, refreshHours: 3}
        recordSets:
          - {name: static2, type: A, records: [10.100.3.1]}
""" % SECRET


def nsupdate(port, commands, key=None):
    """nsupdate's exit code and output for commands (a list of lines)."""
    script = "server %s %d\n%s\nsend\n" % (HOST, port, "\n".join(commands))
    args = ["nsupdate"] + (["-y", key] if key else [])
    p = subprocess.run(args, input=script, capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout + p.stderr


def kdig(port, name, rdtype="A"):
    out = subprocess.run(["kdig", "@%s" % HOST, "-p", str(port), "+short", name, rdtype],
                         capture_output=True, text=True, timeout=10).stdout
    return sorted(out.split())


def serial(port):
    return int(kdig_soa(port)[2])


def kdig_soa(port, zone="corp.contoso.com"):
    return subprocess.run(["kdig", "@%s" % HOST, "-p", str(port), "+short", zone, "SOA"],
                          capture_output=True, text=True, timeout=10).stdout.split()


def send(port, msg, tcp=False):
    if tcp:
        return dns.query.tcp(msg, HOST, port=port, timeout=5)
    return dns.query.udp(msg, HOST, port=port, timeout=5)


class Served(unittest.TestCase):
    """privresd on YAML with a state directory; dc1's port."""

    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="privres-state-")
        self.d = Privresd(YAML, args=["--quiet"], state_dir=self.state)
        self.port = self.d.port("external/dc1")

    def tearDown(self):
        if self.d:
            self.d.stop()
        shutil.rmtree(self.state, ignore_errors=True)

    def ctl(self, *args):
        p = subprocess.run([PRIVRESCTL, "--socket", os.path.join(self.d.dir, "api.sock")] +
                           list(args), capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout, p.stderr

    def update(self, zone="corp.contoso.com"):
        return dns.update.UpdateMessage(zone)


class DynamicUpdate(Served):

    # ---- E-2: nsupdate adds, replaces, deletes; the serial grows ----------------
    def test_E2_nsupdate_add_replace_delete_and_serial(self):
        s0 = serial(self.port)
        rc, out = nsupdate(self.port, ["zone corp.contoso.com",
                                       "update add laptop.corp.contoso.com 300 A 10.100.1.50"])
        self.assertEqual(rc, 0, out)
        self.assertEqual(kdig(self.port, "laptop.corp.contoso.com"), ["10.100.1.50"])
        s1 = serial(self.port)
        self.assertEqual(s1, s0 + 1)
        # Windows' name conflict rule: a new address replaces the old A records
        rc, out = nsupdate(self.port, ["zone corp.contoso.com",
                                       "update add laptop.corp.contoso.com 300 A 10.100.1.51"])
        self.assertEqual(rc, 0, out)
        self.assertEqual(kdig(self.port, "laptop.corp.contoso.com"), ["10.100.1.51"])
        self.assertEqual(serial(self.port), s1 + 1)
        # delete with a prerequisite that holds, then one that does not
        rc, out = nsupdate(self.port, ["zone corp.contoso.com",
                                       "prereq yxrrset laptop.corp.contoso.com A 10.100.1.51",
                                       "update delete laptop.corp.contoso.com A"])
        self.assertEqual(rc, 0, out)
        self.assertEqual(kdig(self.port, "laptop.corp.contoso.com"), [])
        rc, out = nsupdate(self.port, ["zone corp.contoso.com",
                                       "prereq yxdomain laptop.corp.contoso.com",
                                       "update delete laptop.corp.contoso.com"])
        self.assertNotEqual(rc, 0)
        self.assertIn("NXDOMAIN", out)
        self.assertEqual(serial(self.port), s1 + 2)

    def test_E2_refresh_changes_nothing_and_keeps_the_serial(self):
        nsupdate(self.port, ["zone corp.contoso.com",
                             "update add pc.corp.contoso.com 300 A 10.100.1.60"])
        s = serial(self.port)
        rc, out = nsupdate(self.port, ["zone corp.contoso.com",
                                       "update add pc.corp.contoso.com 300 A 10.100.1.60"])
        self.assertEqual(rc, 0, out)
        self.assertEqual(serial(self.port), s)

    # ---- E-2: every prerequisite's rcode (RFC 2136 §3.2) ---------------------------
    def test_E2_prerequisite_rcodes(self):
        cases = [
            (lambda u: u.present("static1"), dns.rcode.NOERROR),
            (lambda u: u.present("nobody"), dns.rcode.NXDOMAIN),
            (lambda u: u.absent("static1"), dns.rcode.YXDOMAIN),
            (lambda u: u.absent("nobody"), dns.rcode.NOERROR),
            (lambda u: u.present("static1", "A"), dns.rcode.NOERROR),
            (lambda u: u.present("static1", "TXT"), dns.rcode.NXRRSET),
            (lambda u: u.absent("static1", "A"), dns.rcode.YXRRSET),
            (lambda u: u.absent("static1", "TXT"), dns.rcode.NOERROR),
            # RRset exists with exactly these values (all of them, no more)
            (lambda u: u.present("multi", "A", "10.100.1.2", "10.100.1.3"), dns.rcode.NOERROR),
            (lambda u: u.present("multi", "A", "10.100.1.2"), dns.rcode.NXRRSET),
            (lambda u: u.present("multi", "A", "10.100.1.2", "10.100.1.9"), dns.rcode.NXRRSET),
        ]
        for i, (pre, want) in enumerate(cases):
            u = self.update()
            pre(u)
            u.add("marker%d" % i, 60, "TXT", '"x"')
            r = send(self.port, u)
            self.assertEqual(r.rcode(), want, "case %d" % i)
            # applied only when every prerequisite held: all or nothing
            got = kdig(self.port, "marker%d.corp.contoso.com" % i, "TXT")
            self.assertEqual(got, ['"x"'] if want == dns.rcode.NOERROR else [], "case %d" % i)

    def test_E2_all_or_nothing_when_a_later_prerequisite_fails(self):
        u = self.update()
        u.present("static1")
        u.absent("static1")
        u.add("never", 60, "A", "10.100.1.77")
        self.assertEqual(send(self.port, u).rcode(), dns.rcode.YXDOMAIN)
        self.assertEqual(kdig(self.port, "never.corp.contoso.com"), [])

    def test_E2_cname_and_other_data_do_not_mix(self):
        u = self.update()
        u.add("alias", 60, "A", "10.100.1.5")  # ignored (RFC 2136 §3.4.2.2)
        self.assertEqual(send(self.port, u).rcode(), dns.rcode.NOERROR)
        self.assertEqual(kdig(self.port, "alias.corp.contoso.com", "CNAME"),
                         ["static1.corp.contoso.com."])

    # ---- E-2: bad input gets the RFC's answer ----------------------------------------
    def test_E2_notzone_notauth_refused_formerr(self):
        u = self.update()
        u.add("x.elsewhere.com.", 60, "A", "10.1.1.1")
        self.assertEqual(send(self.port, u).rcode(), dns.rcode.NOTZONE)
        u = self.update()
        u.present("x.elsewhere.com.")
        self.assertEqual(send(self.port, u).rcode(), dns.rcode.NOTZONE)
        u = self.update("not-held.example")
        u.add("x", 60, "A", "10.1.1.1")
        self.assertEqual(send(self.port, u).rcode(), dns.rcode.NOTAUTH)
        # a zone with dynamicUpdate: None (the default, a file-backed zone)
        u = self.update("filebacked.contoso.com")
        u.add("x", 60, "A", "10.1.1.1")
        self.assertEqual(send(self.port, u).rcode(), dns.rcode.REFUSED)
        # a zone section of type A instead of SOA; two zones; a truncated record
        u = self.update()
        wire = bytearray(u.to_wire())
        struct.pack_into("!H", wire, len(wire) - 4, 1)
        self.assertEqual(self.raw(bytes(wire))[3] & 0xF, dns.rcode.FORMERR)
        wire = bytearray(u.to_wire())
        struct.pack_into("!H", wire, 4, 2)
        self.assertEqual(self.raw(bytes(wire))[3] & 0xF, dns.rcode.FORMERR)
        u.add("x", 60, "A", "10.1.1.1")
        self.assertEqual(self.raw(u.to_wire()[:-2])[3] & 0xF, dns.rcode.FORMERR)
        # class ANY with data, and TTL on a delete: FORMERR (§3.4.1.3)
        u = self.update()
        u.delete("static1", "A", "10.100.1.1")
        wire = bytearray(u.to_wire())
        struct.pack_into("!I", wire, len(wire) - 10, 60)  # the TTL of the NONE-class record
        self.assertEqual(self.raw(bytes(wire))[3] & 0xF, dns.rcode.FORMERR)
        self.assertEqual(kdig(self.port, "static1.corp.contoso.com"), ["10.100.1.1"])

    def raw(self, wire):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        try:
            s.sendto(wire, (HOST, self.port))
            return s.recvfrom(65535)[0]
        finally:
            s.close()

    def test_E2_oversized_update_is_whole_or_nothing(self):
        u = self.update()
        for i in range(1200):  # about 50 KB: near the most a TCP message holds
            u.add("bulk%d" % i, 60, "TXT", '"%s"' % ("y" * 20))
        r = dns.query.tcp(u, HOST, port=self.port, timeout=60)
        self.assertIn(r.rcode(), (dns.rcode.NOERROR, dns.rcode.REFUSED))
        first = kdig(self.port, "bulk0.corp.contoso.com", "TXT")
        last = kdig(self.port, "bulk1199.corp.contoso.com", "TXT")
        self.assertEqual(bool(first), r.rcode() == dns.rcode.NOERROR)
        self.assertEqual(first and 1, last and 1)
        self.assertEqual(kdig(self.port, "static1.corp.contoso.com"), ["10.100.1.1"])

    def test_E2_flood_every_update_answered(self):
        s0 = serial(self.port)
        socks = []
        for i in range(200):
            u = self.update()
            u.add("flood%d" % i, 60, "A", "10.100.2.%d" % (i % 250 + 1))
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(30)
            s.sendto(u.to_wire(), (HOST, self.port))
            socks.append(s)
        rcodes = []
        for s in socks:
            rcodes.append(s.recvfrom(65535)[0][3] & 0xF)
            s.close()
        ok = rcodes.count(dns.rcode.NOERROR)
        # SERVFAIL only when the queue is full; every NOERROR is in the zone
        self.assertEqual(set(rcodes) - {dns.rcode.NOERROR, dns.rcode.SERVFAIL}, set())
        self.assertEqual(serial(self.port), s0 + ok)

    # ---- E-3: TSIG --------------------------------------------------------------------
    def test_E3_secure_zone_takes_signed_updates_only(self):
        key = "hmac-sha256:dhcp-key:" + SECRET
        rc, out = nsupdate(self.port, ["zone secure.contoso.com",
                                       "update add h1.secure.contoso.com 300 A 10.1.1.1"], key)
        self.assertEqual(rc, 0, out)
        self.assertEqual(kdig(self.port, "h1.secure.contoso.com"), ["10.1.1.1"])
        rc, out = nsupdate(self.port, ["zone secure.contoso.com",
                                       "update add h2.secure.contoso.com 300 A 10.1.1.2"])
        self.assertNotEqual(rc, 0)
        self.assertIn("REFUSED", out)
        rc, out = nsupdate(self.port, ["zone secure.contoso.com",
                                       "update add h3.secure.contoso.com 300 A 10.1.1.3"],
                           "hmac-sha256:dhcp-key:" + OTHER_SECRET)
        self.assertIn("BADSIG", out)
        rc, out = nsupdate(self.port, ["zone secure.contoso.com",
                                       "update add h4.secure.contoso.com 300 A 10.1.1.4"],
                           "hmac-sha256:unknown-key:" + SECRET)
        self.assertIn("BADKEY", out)
        for h in ("h2", "h3", "h4"):
            self.assertEqual(kdig(self.port, h + ".secure.contoso.com"), [])
        # a signed update to a Nonsecure zone is fine too, and its answer is signed
        ring = dns.tsigkeyring.from_text({"dhcp-key": ("hmac-sha256", SECRET)})
        u = dns.update.UpdateMessage("corp.contoso.com", keyring=ring, keyname="dhcp-key",
                                     keyalgorithm="hmac-sha256")
        u.add("signed", 60, "A", "10.100.1.99")
        r = send(self.port, u)  # dnspython verifies the answer's MAC
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertTrue(r.had_tsig)

    def test_E3_badtime(self):
        ring = dns.tsigkeyring.from_text({"dhcp-key": ("hmac-sha256", SECRET)})
        u = dns.update.UpdateMessage("secure.contoso.com", keyring=ring, keyname="dhcp-key",
                                     keyalgorithm="hmac-sha256")
        u.add("late", 60, "A", "10.1.1.9")
        real = dns.message.time.time
        dns.message.time.time = lambda: real() - 3600  # an hour behind (fudge 300)
        try:
            wire = u.to_wire()
        finally:
            dns.message.time.time = real
        answer = self.raw(wire)
        self.assertEqual(answer[3] & 0xF, dns.rcode.NOTAUTH)
        # signed with the key, error BADTIME (RFC 8945 §5.2.3): dnspython checks the
        # MAC and then raises for the error
        with self.assertRaises(dns.tsig.PeerBadTime):
            dns.message.from_wire(answer, keyring=ring, request_mac=u.mac)
        self.assertEqual(kdig(self.port, "late.secure.contoso.com"), [])

    # ---- E-5: the PTR of an A added by update ------------------------------------------
    def test_E5_register_ptr(self):
        rc, out = nsupdate(self.port, ["zone corp.contoso.com",
                                       "update add ws7.corp.contoso.com 300 A 10.100.1.77"])
        self.assertEqual(rc, 0, out)
        self.assertEqual(kdig(self.port, "77.1.100.10.in-addr.arpa", "PTR"),
                         ["ws7.corp.contoso.com."])
        # the reverse zone takes updates of its own
        rc, out = nsupdate(self.port, ["zone 1.100.10.in-addr.arpa",
                                       "update add 5.1.100.10.in-addr.arpa 300 PTR printer."])
        self.assertEqual(rc, 0, out)
        self.assertEqual(kdig(self.port, "5.1.100.10.in-addr.arpa", "PTR"), ["printer."])

    # ---- E-6: the cloud's DNS refuses UPDATE -------------------------------------------
    def test_E6_inbound_endpoint_and_azure_dns_refuse_update(self):
        for listener in ("r/in", "azure-dns/hub"):
            u = dns.update.UpdateMessage("azure.contoso.com")
            u.add("x", 60, "A", "10.10.2.9")
            r = send(self.d.port(listener), u)
            self.assertEqual(r.rcode(), dns.rcode.REFUSED, listener)
            rc, out = nsupdate(self.d.port(listener), ["zone azure.contoso.com",
                                                       "update add y.azure.contoso.com 60 A 1.2.3.4"])
            self.assertIn("REFUSED", out)
        r = send(self.d.port("azure-dns/hub"), dns.message.make_query("x.azure.contoso.com", "A"))
        self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)

    # ---- durability and visibility --------------------------------------------------------
    def test_acknowledged_update_survives_kill9_and_is_exported_as_dynamic(self):
        rc, out = nsupdate(self.port, ["zone corp.contoso.com",
                                       "update add durable.corp.contoso.com 300 A 10.100.1.88"])
        self.assertEqual(rc, 0, out)
        s = serial(self.port)
        self.d.proc.send_signal(signal.SIGKILL)
        self.d.proc.wait()
        self.d.out.close()
        self.d = Privresd(YAML, args=["--quiet"], state_dir=self.state)
        self.port = self.d.port("external/dc1")
        self.assertEqual(kdig(self.port, "durable.corp.contoso.com"), ["10.100.1.88"])
        self.assertEqual(serial(self.port), s)
        rc, out, err = self.ctl("export", "-o", "json")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        zone = [z for z in doc["externalDnsServers"][0]["zones"]
                if z["name"] == "corp.contoso.com"][0]
        sets = {r["name"]: r for r in zone["recordSets"]}
        self.assertTrue(sets["durable"]["dynamic"])
        self.assertGreater(sets["durable"]["timestamp"], time.time() - 600)
        self.assertNotIn("dynamic", sets["static1"])
        self.assertEqual(zone["soa"]["serialNumber"], s)


class Scavenging(Served):
    """E-4 through privresctl, the clock given with --at (no sleeping hours)."""

    def scavenge(self, *args):
        rc, out, err = self.ctl("scavenge", *args)
        self.assertEqual(rc, 0, err)
        return json.loads(out)

    def test_E4_scavenge_on_demand(self):
        rc, out = nsupdate(self.port, ["zone aged.contoso.com",
                                       "update add old.aged.contoso.com 300 A 10.100.3.9"])
        self.assertEqual(rc, 0, out)
        t0 = time.time()
        life = (2 + 3) * 3600
        # not yet stale: no-refresh + refresh have not passed
        got = self.scavenge("--server", "dc1", "--at", str(int(t0 + life - 120)))
        self.assertEqual(int(got.get("removed", 0)), 0)
        self.assertEqual(kdig(self.port, "old.aged.contoso.com"), ["10.100.3.9"])
        s = int(kdig_soa(self.port, "aged.contoso.com")[2])
        got = self.scavenge("--at", str(int(t0 + life + 120)))
        self.assertEqual(int(got["removed"]), 1)
        self.assertEqual(kdig(self.port, "old.aged.contoso.com"), [])
        self.assertEqual(int(kdig_soa(self.port, "aged.contoso.com")[2]), s + 1)
        # static records never age; zones without aging keep dynamic ones
        self.assertEqual(kdig(self.port, "static2.aged.contoso.com"), ["10.100.3.1"])
        got = self.scavenge("--at", str(int(t0 + 1000 * life)))
        self.assertEqual(int(got.get("removed", 0)), 0)
        rc, out, err = self.ctl("scavenge", "--server", "nosuch")
        self.assertEqual(rc, 1)
        self.assertIn("nosuch", err)


FORWARDING = """
emulator:
  basePort: 0
  addressMap: {"10.100.9.9:53": "127.0.0.1:%(silent)d", "10.100.9.10:53": "127.0.0.1:%(second)d"}
externalDnsServers:
  - name: dc1
    ipAddress: 10.100.0.2
    forwarderTimeoutSeconds: %(timeout)d
    forwarders:
      - {domainName: partner.example., targetDnsServers: [{ipAddress: 10.100.9.9}, {ipAddress: 10.100.9.10}]}
    zones: [{name: corp.contoso.com, recordSets: [{name: h, type: A, records: [10.100.1.1]}]}]
  - name: dc2
    ipAddress: 10.100.0.3
    recursion: false
    forwarders:
      - {domainName: partner.example., targetDnsServers: [{ipAddress: 10.100.9.10}]}
    zones: [{name: corp.contoso.com, recordSets: [{name: h, type: A, records: [10.100.1.2]}]}]
"""


class ForwarderOrder(unittest.TestCase):
    """E-1: forwarders in list order, each waited for the server's timeout."""

    def setUp(self):
        self.silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # reads, never answers
        self.silent.bind((HOST, 0))
        second = free_port()
        self.unbound = Unbound(second, ["www.partner.example. 60 IN A 192.0.2.44"])
        self.d = None
        self.params = {"silent": self.silent.getsockname()[1], "second": second}

    def tearDown(self):
        if self.d:
            self.d.stop()
        self.unbound.stop()
        self.silent.close()

    def timed(self, timeout):
        self.d = Privresd(FORWARDING % dict(self.params, timeout=timeout), args=["--quiet"])
        q = dns.message.make_query("www.partner.example", "A")
        t = time.monotonic()
        r = dns.query.udp(q, HOST, port=self.d.port("external/dc1"), timeout=30)
        return r, time.monotonic() - t

    def test_E1_first_forwarder_silent_answer_from_second_after_timeout(self):
        for timeout in (3, 2):
            r, took = self.timed(timeout)
            print("forwarderTimeoutSeconds %d: answered after %.3f s" % (timeout, took),
                  file=sys.stderr)
            self.assertEqual([a.address for rr in r.answer for a in rr], ["192.0.2.44"])
            self.assertGreaterEqual(took, timeout * 0.9, "timeout %d" % timeout)
            self.assertLessEqual(took, timeout * 1.1, "timeout %d" % timeout)
            self.d.stop()
            self.d = None

    def test_E1_recursion_off_answers_own_zones_only(self):
        self.d = Privresd(FORWARDING % dict(self.params, timeout=3), args=["--quiet"])
        port = self.d.port("external/dc2")
        r = dns.query.udp(dns.message.make_query("www.partner.example", "A"), HOST, port=port,
                          timeout=5)
        self.assertEqual(r.rcode(), dns.rcode.REFUSED)
        self.assertEqual(kdig(port, "h.corp.contoso.com"), ["10.100.1.2"])


class Validation(unittest.TestCase):
    """The new keys are checked with their rule ids (privresd --check)."""

    def check(self, servers):
        d = tempfile.mkdtemp(prefix="privres-check-")
        try:
            path = os.path.join(d, "d.yaml")
            with open(path, "w") as f:
                f.write("externalDnsServers:\n" + servers)
            p = subprocess.run([os.path.join(BUILD, "daemon", "privresd"), "--check", path],
                               capture_output=True, text=True, timeout=30)
            return p.returncode, p.stdout + p.stderr
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_rule_ids(self):
        cases = [
            ("    zones: [{name: a.example, dynamicUpdate: Sometimes}]\n", "(E-2)"),
            ("    zones: [{name: a.example, dynamicUpdate: Secure}]\n", "(E-3)"),
            ("    tsigKeys: [{name: k, algorithm: hmac-sha256, secret: '!!!'}]\n", "(E-3)"),
            ("    tsigKeys: [{name: k, algorithm: hmac-foo, secret: YWJj}]\n", "(E-3)"),
            ("    scavenging: {enabled: true, periodHours: 0}\n", "(E-4)"),
            ("    zones: [{name: a.example, aging: {enabled: true, noRefresh: 3}}]\n",
             "noRefresh"),
            ("    forwarderTimeoutSeconds: 0\n", "forwarderTimeoutSeconds"),
        ]
        for body, want in cases:
            rc, out = self.check("  - name: dc1\n    ipAddress: 10.100.0.2\n" + body)
            self.assertEqual(rc, 1, body + out)
            self.assertIn(want, out, body)
        rc, out = self.check("  - name: dc1\n    ipAddress: 10.100.0.2\n"
                             "    tsigKeys: [{name: k, secret: YWJjZGVm}]\n"
                             "    zones: [{name: a.example, dynamicUpdate: Secure, "
                             "registerPtr: true}]\n")
        self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
