#!/usr/bin/python3
"""Scenarios over network namespaces (design.md §8): topology/privres-topo builds
the estate, privresd serves it in virtual mode, unbound plays the on-premises
servers, and dig runs inside the hosts' namespaces.

  (a) hub-and-spoke: a spoke VM resolves the hub-linked zone through the ruleset
      and the hub's inbound endpoint at its dynamic address 10.10.0.4 (Q-3, I-2,
      Q-2, I-4);
  (b) hybrid both ways: on premises → unbound → inbound endpoint (T-5), and spoke
      → ruleset → outbound endpoint → unbound, which logs the query arriving from
      the outbound endpoint's address (O-1, T-6);
  (c) failover: with the first on-premises server stopped, the second target
      answers (F-10);
  (d) autoregistration: VMs of a VNet with a registration link are resolvable
      as <vm>.<zone> at their allocated addresses from another VNet that links
      the zone for resolution only, whose own VMs are not registered; a manual
      record overrides an automatic one until it is removed; a deleted VM's
      record goes (Z-3);
  (f) dynamic update (E-2, E-3, E-5): an on-premises laptop registers its own
      name by TSIG-signed update on the domain controller privresd emulates;
      a spoke VM resolves it through the ruleset and the outbound endpoint, and
      the DC's PTR answers, on the DC and from the spoke;
  (g) DNS over TLS and over HTTPS in virtual mode (W-6, [privres]): a VM
      reaches the hub's inbound endpoint on its virtual address, DoT on
      10.10.0.4:853 and DoH on 10.10.0.4:443, with kdig verifying the
      certificate (emulator.tls, made here with certtool); with plainDns off,
      port 53 of that address gives no answer;
  (e) a loop made on purpose through an on-premises unbound (the forwarder
      back to the inbound endpoint is in its configuration only, so the
      deployment passes --check): the host gets SERVFAIL within seconds,
      the query log shows "loop":true, and privresd goes on answering (P-3).

Run as root; without permission to create namespaces it prints "skipped" and
exits 0. Each scenario uses its own prefix and state directory and tears its
topology down, whatever happens.
"""
import json
import os
import re
import subprocess
import sys
import time

SRC = os.environ.get("PRIVRES_SOURCE_DIR",
                     os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("PRIVRES_BUILD_DIR", os.path.join(SRC, "build"))
TOPO = os.path.join(SRC, "topology", "privres-topo")
PREFIX = "prts%d-" % (os.getpid() % 10000)
STATE = "/tmp/privres-topo-test-%d" % os.getpid()
ENV = dict(os.environ, PRIVRES_BUILD_DIR=BUILD, PRIVRES_TOPO_PREFIX=PREFIX,
           PRIVRES_TOPO_STATE=STATE)


def can_make_namespaces():
    probe = PREFIX + "probe"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True)
    if r.returncode != 0:
        return False
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return True


def topo(*args, check=True):
    r = subprocess.run([TOPO] + list(args), env=ENV, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError("privres-topo %s: exit %d\n%s%s" % (
            " ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def dig(host, *args):
    """dig inside host's namespace; its resolv.conf is the host's (ip netns exec)."""
    r = topo("exec", host, "--", "dig", "+time=3", "+tries=1", *args, check=False)
    return r.stdout


def answers(out):
    """The A records of dig's answer section."""
    got = []
    section = False
    for line in out.splitlines():
        if line.startswith(";; ANSWER SECTION"):
            section = True
            continue
        if section:
            if not line.strip():
                break
            parts = line.split()
            if len(parts) >= 5 and parts[3] == "A":
                got.append(parts[4])
    return got


def status(out):
    """dig's rcode, or None when no answer came."""
    m = re.search(r"status: ([A-Z]+)", out)
    return m.group(1) if m else None


def query_log(pred, timeout=2.0, since=0):
    """Entries of privresd's query log (from the since-th on) that satisfy
    pred, waiting for the writer thread (the log is written after the answer
    is sent); and all entries."""
    end = time.time() + timeout
    while True:
        qlog = read(os.path.join(STATE, "privresd-queries.log"))
        entries = [json.loads(l) for l in qlog.splitlines() if l.strip()]
        hit = [e for e in entries[since:] if pred(e)]
        if hit or time.time() > end:
            return hit, entries
        time.sleep(0.05)


def privresctl(*args):
    r = subprocess.run([os.path.join(BUILD, "api", "privresctl"), "-s",
                        os.path.join(STATE, "privres.sock")] + list(args),
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("privresctl %s: exit %d\n%s%s" % (
            " ".join(args), r.returncode, r.stdout, r.stderr))
    return r.stdout


def expect(cond, what, detail=""):
    if not cond:
        raise AssertionError("%s\n%s" % (what, detail))


def our_namespaces():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(PREFIX)]


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def queries_from(log, name):
    """Client addresses of unbound's log-queries lines for name."""
    out = []
    for line in log.splitlines():
        parts = line.split()
        if "info:" in parts and len(parts) >= parts.index("info:") + 3:
            i = parts.index("info:")
            if parts[i + 2] == name:
                out.append(parts[i + 1])
    return out


def scenario_hub_and_spoke():
    """(a) examples/hub-and-spoke.yaml, unchanged: Q-3 → in-process IE (I-2) → Q-2."""
    topo("up", os.path.join(SRC, "examples", "hub-and-spoke.yaml"))
    # through the VM's resolv.conf: nameserver 168.63.129.16 (Azure DNS)
    resolv = read("/etc/netns/%sh-vm-spoke1/resolv.conf" % PREFIX)
    expect("nameserver 168.63.129.16" in resolv, "spoke VM resolves with Azure DNS", resolv)
    out = dig("vm-spoke1", "web.azure.contoso.com")
    expect(answers(out) == ["10.10.2.5"], "spoke resolves the hub-linked zone (Q-3)", out)
    expect("SERVER: 168.63.129.16#53" in out, "answered by 168.63.129.16", out)
    # the query went through the AzurePrivate rule to the IE at 10.10.0.4 (I-2)
    hit = []
    for _ in range(40):  # the query log is written after the answer is sent
        qlog = read(os.path.join(STATE, "privresd-queries.log"))
        entries = [json.loads(l) for l in qlog.splitlines() if l.strip()]
        hit = [e for e in entries if e["name"] == "web.azure.contoso.com." and
               e["client"].startswith("10.20.0.4:")]
        if hit:
            break
        time.sleep(0.05)
    expect(hit and hit[0]["view"] == "spoke1", "query seen in the spoke's view", qlog)
    expect(any("10.10.0.4:53" in step for step in hit[0]["path"]),
           "forwarded to the inbound endpoint 10.10.0.4 (I-2)", hit[0])
    # the IE answers the peered spoke directly, in the hub's view (I-4)
    out = dig("vm-spoke1", "@10.10.0.4", "mail.azure.contoso.com")
    expect(answers(out) == ["10.10.2.25"], "IE 10.10.0.4 reachable over peering (I-4)", out)
    # a hub VM sees its own registration record (Z-3) through Azure DNS
    out = dig("app1", "app1.azure.contoso.com")
    expect(answers(out) == ["10.10.2.4"], "hub VM's autoregistered record (Z-3)", out)
    # the spoke without a zone link gets NXDOMAIN for names not forwarded there:
    # privatelink is linked to the hub only, and the spoke's ruleset sends
    # "." to the emulated on-premises server, which knows example.org
    out = dig("vm-spoke1", "www.example.org")
    expect(answers(out) == ["192.0.2.80"], "wildcard rule to the emulated server", out)
    # up again is idempotent: same namespaces, one privresd
    before = sorted(our_namespaces())
    topo("up", os.path.join(SRC, "examples", "hub-and-spoke.yaml"))
    expect(sorted(our_namespaces()) == before, "up twice gives the same namespaces",
           "%s vs %s" % (before, our_namespaces()))
    out = dig("vm-spoke1", "web.azure.contoso.com")
    expect(answers(out) == ["10.10.2.5"], "serving after a second up", out)


def scenario_hybrid():
    """(b) both directions between the spoke and on premises."""
    topo("up", os.path.join(SRC, "examples", "topology-hybrid.yaml"))
    status = topo("status").stdout
    expect("unbound-onprem-dns1" in status and "running" in status, "status lists unbound",
           status)
    # on premises → its unbound → forward-zone → IE 10.10.0.4 over the VPN (T-5)
    out = dig("laptop", "web.azure.contoso.com")
    expect(answers(out) == ["10.10.2.5"], "on-premises host resolves the Azure zone", out)
    expect("SERVER: 192.168.10.4#53" in out, "through its own DNS server", out)
    log1 = read(os.path.join(STATE, "unbound-onprem-dns1.log"))
    expect("192.168.10.20" in queries_from(log1, "web.azure.contoso.com."),
           "unbound logged the laptop's query", log1)
    # spoke → ruleset → OE → unbound: the query arrives from 10.10.1.4 (O-1)
    out = dig("spoke1", "fileserver.corp.contoso.com")
    expect(answers(out) == ["192.168.10.30"], "spoke resolves the on-premises name", out)
    log1 = read(os.path.join(STATE, "unbound-onprem-dns1.log"))
    expect(queries_from(log1, "fileserver.corp.contoso.com.") == ["10.10.1.4"],
           "unbound saw the query from the outbound endpoint's address (O-1)", log1)
    # routes are as the VPN gives them: on premises has no Azure DNS, the spoke
    # has no route to on premises (it is connected to the hub only)
    out = dig("laptop", "@168.63.129.16", "web.azure.contoso.com")
    expect(not answers(out), "168.63.129.16 is not reachable from on premises", out)
    out = dig("spoke1", "@192.168.10.4", "fileserver.corp.contoso.com")
    expect(not answers(out), "the spoke does not reach on premises directly", out)


def scenario_failover():
    """(c) F-10: the first target stopped, the second one answers."""
    topo("up", os.path.join(SRC, "examples", "topology-hybrid.yaml"))
    with open(os.path.join(STATE, "pids", "unbound-onprem-dns1.pid")) as f:
        pid = int(f.read().split()[0])
    os.kill(pid, 15)
    for _ in range(100):
        if not os.path.exists("/proc/%d" % pid):
            break
        time.sleep(0.05)
    out = topo("exec", "spoke1", "--", "dig", "+time=5", "+tries=1",
               "intranet.corp.contoso.com", check=False).stdout
    expect(answers(out) == ["192.168.10.31"], "the second target answers (F-10)", out)
    log2 = read(os.path.join(STATE, "unbound-onprem-dns2.log"))
    expect(queries_from(log2, "intranet.corp.contoso.com.") == ["10.10.1.4"],
           "onprem-dns2 got the query from the outbound endpoint", log2)
    # once marked failing, the next name goes to the second target at once
    start = time.time()
    out = dig("spoke1", "fileserver.corp.contoso.com")
    expect(answers(out) == ["192.168.10.30"], "second query answered", out)
    expect(time.time() - start < 2.5, "no long wait for the failed target", out)


def scenario_autoregistration():
    """(d) Z-3 across VNets: registration link in "apps", resolution-only link
    in "clients", no link in "isolated"."""
    path = os.path.join(SRC, "tests", "scenarios", "autoregistration.yaml")
    exp = subprocess.run([os.path.join(BUILD, "daemon", "privresd"), "--export", path],
                         capture_output=True, text=True)
    expect(exp.returncode == 0, "privresd --export", exp.stderr)
    allocated = {vm["name"]: vm["privateIpAddress"]
                 for vm in json.loads(exp.stdout)["virtualMachines"]}
    topo("up", path)
    zone = "internal.contoso.com"
    for vm in ("web1", "web2", "db1"):
        # the host really sits at the allocated address (I-2 style allocation, N-2)
        eth = subprocess.run(["ip", "-n", "%sh-%s" % (PREFIX, vm), "-4", "-br", "addr", "show",
                              "eth0"], capture_output=True, text=True).stdout
        expect(allocated[vm] + "/" in eth, "%s's namespace has %s" % (vm, allocated[vm]), eth)
        out = dig("client1", "%s.%s" % (vm, zone))
        expect(answers(out) == [allocated[vm]],
               "%s.%s resolves from the resolution-only VNet to %s (Z-3)"
               % (vm, zone, allocated[vm]), out)
        expect("SERVER: 168.63.129.16#53" in out, "answered by Azure DNS", out)
    expect(allocated["db1"] == "10.30.2.17" and allocated["web1"] != allocated["web2"],
           "static address kept, dynamic ones distinct", allocated)
    hit, entries = query_log(lambda e: e["name"] == "db1.%s." % zone and
                             e["client"].startswith(allocated["client1"] + ":"))
    # one socket on 168.63.129.16 serves every VNet: the view is the client's (design.md §4)
    expect(hit and hit[0]["view"] == "clients" and
           hit[0]["path"] == ["view clients", "Q-2 zone %s." % zone],
           "answered from the zone in the clients VNet's view (Q-2)", hit or entries[-3:])
    # the registration VNet sees its own VMs too
    out = dig("web1", "db1.%s" % zone)
    expect(answers(out) == [allocated["db1"]], "db1 from the registration VNet", out)
    # a resolution-only link registers nothing: client1 has no record (NXDOMAIN
    # with the zone's SOA, Q-2)
    out = dig("client1", "client1.%s" % zone)
    expect(status(out) == "NXDOMAIN" and not answers(out) and "SOA" in out,
           "no automatic record through a resolution-only link (Z-3)", out)
    # a VNet without a link does not see the zone (no public zones: REFUSED, Q-4)
    out = dig("outsider", "db1.%s" % zone)
    expect(status(out) == "REFUSED" and not answers(out), "unlinked VNet sees nothing", out)
    # the manual record set answers as well
    out = dig("client1", "api.%s" % zone)
    expect(answers(out) == ["10.30.1.100"], "manual record set", out)
    # Z-3: a manual record of the same name overrides the automatic one, and its
    # removal brings the automatic one back
    privresctl("private-dns", "record-set", "a", "add-record", "--zone-name", zone,
               "-n", "web2", "-a", "10.30.1.200", "--ttl", "60")
    out = dig("client1", "web2.%s" % zone)
    expect(answers(out) == ["10.30.1.200"], "manual record overrides the automatic one", out)
    privresctl("private-dns", "record-set", "a", "delete", "--zone-name", zone, "-n", "web2")
    out = dig("client1", "web2.%s" % zone)
    expect(answers(out) == [allocated["web2"]], "automatic record back after removal", out)
    # the record exists while the VM does
    privresctl("vm", "delete", "-n", "web1")
    out = dig("client1", "web1.%s" % zone)
    expect(status(out) == "NXDOMAIN", "deleted VM's record is gone (Z-3)", out)
    out = dig("client1", "db1.%s" % zone)
    expect(answers(out) == [allocated["db1"]], "other VMs keep theirs", out)


def scenario_loop_through_onprem():
    """(e) P-3: hub rule Loop → OE → on-premises unbound → forward-zone back to
    the IE 10.10.0.4 → hub rule Loop → … ended at the hop limit."""
    path = os.path.join(SRC, "tests", "scenarios", "loop-onprem.yaml")
    extra = os.path.join(SRC, "tests", "scenarios", "loop-onprem-unbound.conf")
    # the static checks (P-1/P-2) see no cycle: it exists only in unbound's config
    chk = subprocess.run([os.path.join(BUILD, "daemon", "privresd"), "--check", path],
                         capture_output=True, text=True)
    expect(chk.returncode == 0, "the deployment is accepted (P-1/P-2 see no cycle)",
           chk.stdout + chk.stderr)
    topo("up", "--unbound-conf", "onprem-dns=" + extra, path)
    conf = read(os.path.join(STATE, "unbound-onprem-dns.conf"))
    expect("forward-addr: 10.10.0.4@53" in conf, "unbound forwards back to the IE", conf)
    start = time.time()
    out = topo("exec", "app1", "--", "dig", "+time=15", "+tries=1", "loop.contoso.com",
               check=False).stdout
    took = time.time() - start
    expect(status(out) == "SERVFAIL", "the loop ends in SERVFAIL (P-3)", out)
    # unbound merges the copies that come back into the question it is already
    # forwarding and retries it on its own timeouts (~0.4 s, growing); each
    # retry is one more copy out, and the one beyond hopLimit (4) ends the round
    # at about 1.5 s. Without P-3 (hopLimit 32) the round ends only on
    # timeouts, after about 4 s, and nothing in the log says "loop".
    expect(took < 3.0, "within seconds, not a hang (%.1fs)" % took, out)
    loops, entries = query_log(lambda e: e["name"] == "loop.contoso.com." and e["loop"])
    expect(loops, 'the query log shows "loop":true', "\n".join(map(json.dumps, entries)))
    expect(all(e["rcode"] == "SERVFAIL" and "P-3 loop" in e["path"] and
               e["listener"] == "hub-resolver/in" for e in loops),
           "loops are found where the question comes back in at the IE", loops)
    # it did go round: unbound received it from the outbound endpoint (O-1) and
    # sent it back to the inbound endpoint, more than once
    sent = queries_from(read(os.path.join(STATE, "unbound-onprem-dns.log")), "loop.contoso.com.")
    expect(len(sent) >= 2 and set(sent) == {"10.10.1.4"}, "the question went round", sent)
    # privresd still answers: its own zone, and forwarding through the same server
    out = dig("app1", "web.azure.contoso.com")
    expect(answers(out) == ["10.10.2.5"], "private zone answered after the loop", out)
    out = dig("app1", "fileserver.corp.contoso.com")
    expect(answers(out) == ["192.168.10.30"], "forwarding answered after the loop", out)
    # every copy counted out was counted back: once the round is over, a new
    # client query for the name is forwarded again, not taken for a loop at once
    n = len(query_log(lambda e: True)[1])
    out = dig("app1", "loop.contoso.com")
    expect(status(out) == "SERVFAIL", "the name still fails", out)
    again, entries = query_log(lambda e: e["name"] == "loop.contoso.com." and
                               e["client"].startswith("10.10.2.4:"), since=n)
    expect(again and not again[0]["loop"] and "forward 192.168.10.4:53" in again[0]["path"],
           "the in-flight table drained (P-3 counts copies back)",
           "\n".join(map(json.dumps, entries[n:])))


def nsupdate_in(host, commands, key=None):
    """nsupdate inside host's namespace: exit code and output."""
    argv = [TOPO, "exec", host, "--", "nsupdate"] + (["-y", key] if key else [])
    r = subprocess.run(argv, env=ENV, input="\n".join(commands) + "\nsend\n",
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout + r.stderr


def scenario_dynamic_update():
    """(f) E-2/E-3/E-5: the laptop registers itself on the emulated DC."""
    topo("up", os.path.join(SRC, "tests", "scenarios", "dynamic-update.yaml"))
    key = "hmac-sha256:laptop-key:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="
    add = ["server 192.168.20.2", "zone corp.contoso.com",
           "update add laptop.corp.contoso.com 300 A 192.168.10.20"]
    rc, out = nsupdate_in("laptop", add)
    expect(rc != 0 and "REFUSED" in out, "an unsigned update to the Secure zone is refused", out)
    rc, out = nsupdate_in("laptop", add, key)
    expect(rc == 0, "the laptop's signed update is accepted", out)
    out = dig("spoke1", "laptop.corp.contoso.com")
    expect(answers(out) == ["192.168.10.20"] and "SERVER: 168.63.129.16#53" in out,
           "the spoke resolves the registered name through the ruleset", out)
    hit, entries = query_log(lambda e: e["name"] == "laptop.corp.contoso.com.")
    expect(hit and any("OnPrem" in step for step in hit[-1]["path"]),
           "answered through the forwarding rule (Q-3)", hit or entries[-3:])
    out = topo("exec", "laptop", "--", "dig", "+time=3", "+tries=1", "@192.168.20.2",
               "-x", "192.168.10.20", check=False).stdout
    expect("laptop.corp.contoso.com." in out and status(out) == "NOERROR",
           "the DC answers the PTR it registered (E-5)", out)
    out = dig("spoke1", "-x", "192.168.10.20")
    expect("laptop.corp.contoso.com." in out, "the spoke gets the PTR through the ruleset", out)


ENCRYPTED = """
  tls: {certificate: %(dir)s/server.pem, privateKey: %(dir)s/server.key}
  encryptedListeners:
    hub-resolver/in: {dot: true, doh: true, plainDns: false}
"""


def certificates(d):
    """A CA and a certificate for the inbound endpoint: its name and its
    virtual address 10.10.0.4 (made with certtool, as a user would)."""
    def certtool(*args, template=None):
        cmd = ["certtool"] + list(args)
        if template:
            path = os.path.join(d, "template")
            with open(path, "w") as f:
                f.write(template)
            cmd += ["--template", path]
        subprocess.run(cmd, cwd=d, check=True, capture_output=True)
    certtool("--generate-privkey", "--key-type=ecdsa", "--outfile", "ca.key")
    certtool("--generate-self-signed", "--load-privkey", "ca.key", "--outfile", "ca.pem",
             template='cn = "scenario CA"\nca\ncert_signing_key\nexpiration_days = 2\n')
    certtool("--generate-privkey", "--key-type=ecdsa", "--outfile", "server.key")
    certtool("--generate-certificate", "--load-privkey", "server.key", "--load-ca-certificate",
             "ca.pem", "--load-ca-privkey", "ca.key", "--outfile", "server.pem",
             template='cn = "dns.hub.contoso.com"\ndns_name = "dns.hub.contoso.com"\n'
                      'ip_address = "10.10.0.4"\ntls_www_server\nsigning_key\n'
                      'expiration_days = 2\n')


def kdig(host, *args):
    r = topo("exec", host, "--", "kdig", "+time=3", "+retry=0", *args, check=False)
    return r.stdout + r.stderr


def scenario_encrypted():
    """(g) DoT on 10.10.0.4:853 and DoH on 10.10.0.4:443 in virtual mode (W-6)."""
    d = STATE + "-certs"
    os.makedirs(d, exist_ok=True)
    try:
        certificates(d)
        with open(os.path.join(SRC, "examples", "hub-and-spoke.yaml")) as f:
            text = f.read()
        expect(text.rstrip().endswith("listen: loopback"), "the example ends with emulator")
        path = os.path.join(d, "encrypted.yaml")
        with open(path, "w") as f:
            f.write(text.rstrip() + "\n" + ENCRYPTED % {"dir": d})
        topo("up", path)
        ca = "+tls-ca=%s" % os.path.join(d, "ca.pem")
        name = "+tls-hostname=dns.hub.contoso.com"
        # a spoke VM, over peering, and a hub VM, each by the virtual address
        for vm in ("vm-spoke1", "app1"):
            out = kdig(vm, "@10.10.0.4", "+tls", ca, name, "web.azure.contoso.com", "A")
            expect("10.10.2.5" in out and "NOERROR" in out and "TLS" in out,
                   "%s: DoT on 10.10.0.4:853 answers (W-6)" % vm, out)
            out = kdig(vm, "@10.10.0.4", "+https", ca, name, "mail.azure.contoso.com", "A")
            expect("10.10.2.25" in out and "NOERROR" in out and "HTTP/2" in out,
                   "%s: DoH on 10.10.0.4:443 answers (W-6)" % vm, out)
        # the certificate is checked: another name fails the handshake
        out = kdig("vm-spoke1", "@10.10.0.4", "+tls", ca, "+tls-hostname=other.example",
                   "web.azure.contoso.com", "A")
        expect("10.10.2.5" not in out, "a certificate for another name is refused", out)
        # plainDns: false — no fallback on the same address (W-6)
        out = dig("vm-spoke1", "@10.10.0.4", "web.azure.contoso.com")
        expect(status(out) is None, "plain DNS on 10.10.0.4:53 is off", out)
        hit, entries = query_log(lambda e: e["name"] == "mail.azure.contoso.com." and
                                 e.get("transport") == "doh")
        expect(hit, "the query log names the DoH transport", entries[-3:])
    finally:
        subprocess.run(["rm", "-rf", d])


def main():
    if os.geteuid() != 0 or not can_make_namespaces():
        print("skipped: creating network namespaces is not permitted (run as root)")
        return 0
    if not os.access(os.path.join(BUILD, "daemon", "privresd"), os.X_OK):
        print("FAIL: no privresd in %s" % BUILD)
        return 1
    failed = 0
    t0 = time.time()
    only = sys.argv[1:]
    for fn in (scenario_hub_and_spoke, scenario_hybrid, scenario_failover,
               scenario_autoregistration, scenario_loop_through_onprem,
               scenario_dynamic_update, scenario_encrypted):
        if only and fn.__name__.replace("scenario_", "") not in only:
            continue
        t = time.time()
        try:
            fn()
            print("ok   %s (%.1fs)" % (fn.__name__, time.time() - t))
        except Exception as e:  # report and go on to the next scenario
            failed += 1
            print("FAIL %s: %s" % (fn.__name__, e))
            print(read(os.path.join(STATE, "privresd.log"))[-2000:])
        finally:
            topo("down", check=False)
            left = our_namespaces()
            if left or os.path.exists(STATE):
                failed += 1
                print("FAIL teardown of %s left %s" % (fn.__name__, left or STATE))
    # down is idempotent
    r = topo("down", check=False)
    if r.returncode != 0:
        failed += 1
        print("FAIL second down: %s" % r.stderr)
    print("%d failed, %.1fs" % (failed, time.time() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
