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
      answers (F-10).

Run as root; without permission to create namespaces it prints "skipped" and
exits 0. Each scenario uses its own prefix and state directory and tears its
topology down, whatever happens.
"""
import json
import os
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


def main():
    if os.geteuid() != 0 or not can_make_namespaces():
        print("skipped: creating network namespaces is not permitted (run as root)")
        return 0
    if not os.access(os.path.join(BUILD, "daemon", "privresd"), os.X_OK):
        print("FAIL: no privresd in %s" % BUILD)
        return 1
    failed = 0
    t0 = time.time()
    for fn in (scenario_hub_and_spoke, scenario_hybrid, scenario_failover):
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
