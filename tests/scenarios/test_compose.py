#!/usr/bin/python3
"""privres-topo compose (design.md §8): the docker-compose export of a topology,
checked as data (no Docker engine here): one network per VNet and on-premises
network with its prefixes, privresd on every network with the inbound endpoint
address (I-2) and the outbound endpoint's O-1 address and 168.63.129.16 added,
unbound per placed server (T-4) with its zones and forwarders (T-5), one
container per host at its model address; the embedded deployment passes
privresd --check; an invalid topology is refused with file:line (T-5);
--unbound-conf appends an operator's lines to a placed server's unbound.conf.
Needs no privileges."""
import json
import ipaddress
import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("PRIVRES_SOURCE_DIR",
                     os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("PRIVRES_BUILD_DIR", os.path.join(SRC, "build"))
TOPO = os.path.join(SRC, "topology", "privres-topo")
ENV = dict(os.environ, PRIVRES_BUILD_DIR=BUILD)
EXAMPLE = os.path.join(SRC, "examples", "topology-hybrid.yaml")
failures = []


def check(cond, what, detail=""):
    if not cond:
        failures.append("%s %s" % (what, detail))
        print("FAIL %s %s" % (what, detail))


def compose(*args):
    return subprocess.run([TOPO, "compose"] + list(args), env=ENV, capture_output=True,
                          text=True)


def main():
    r = compose("--json", EXAMPLE)
    if r.returncode != 0:
        print("FAIL compose: %s" % r.stderr)
        return 1
    c = json.loads(r.stdout)
    nets = {k: [x["subnet"] for x in v["ipam"]["config"]] for k, v in c["networks"].items()}
    check(nets == {"hub": ["10.10.0.0/16"], "spoke": ["10.20.0.0/16"],
                   "corp": ["192.168.10.0/24"]}, "one network per VNet/on-prem network", nets)
    svc = c["services"]
    check(sorted(svc) == ["app1", "laptop", "onprem-dns1", "onprem-dns2", "privresd", "spoke1"],
          "one container per host, server and privresd", sorted(svc))
    p = svc["privresd"]
    check(p["networks"]["hub"]["ipv4_address"] == "10.10.0.4",
          "privresd holds the IE's dynamic address on the hub (I-2)", p["networks"])
    check(set(p["networks"]) == {"hub", "spoke", "corp"}, "privresd routes every network")
    cmd = p["command"][-1]
    check("ip addr add 168.63.129.16 dev lo" in cmd, "Azure DNS address on privresd", cmd)
    check("10.10.1.4/32" in cmd, "outbound endpoint's O-1 address on privresd", cmd)
    want = {"app1": ("hub", "10.10.2.4", ["168.63.129.16"]),
            "spoke1": ("spoke", "10.20.0.4", ["168.63.129.16"]),
            "laptop": ("corp", "192.168.10.20", ["192.168.10.4", "192.168.10.5"]),
            "onprem-dns1": ("corp", "192.168.10.4", ["192.168.10.4", "192.168.10.5"])}
    for name, (net, addr, dns) in want.items():
        s = svc[name]
        check(s["networks"] == {net: {"ipv4_address": addr}}, name + " address", s["networks"])
        check(s.get("dns") == dns, name + " resolvers", s.get("dns"))
    # every address is unique in its network and inside its prefixes
    for net, prefixes in nets.items():
        seen = []
        for name, s in svc.items():
            a = s["networks"].get(net, {}).get("ipv4_address")
            if a:
                check(any(ipaddress.ip_address(a) in ipaddress.ip_network(x) for x in prefixes),
                      "%s's %s inside %s" % (name, a, net))
                check(a not in seen, "%s unique in %s" % (a, net))
                seen.append(a)
    # the spoke reaches the hub and Azure DNS through privresd, not on premises
    sc = svc["spoke1"]["command"][-1]
    check("ip route add 168.63.129.16/32 via 10.20.0.254" in sc and "192.168.10." not in sc,
          "spoke routes", sc)
    conf = c["configs"]["unbound-onprem-dns1"]["content"]
    for line in ("interface: 192.168.10.4@53", "log-queries: yes",
                 'local-data: "fileserver.corp.contoso.com. 3600 IN A 192.168.10.30"',
                 'name: "azure.contoso.com."', "forward-addr: 10.10.0.4@53"):
        check(line in conf, "unbound.conf has " + line, conf)
    check(svc["onprem-dns1"]["configs"][0]["source"] == "unbound-onprem-dns1",
          "unbound gets its config")
    # the deployment privresd is given is valid and serves virtual addresses
    dep = json.loads(c["configs"]["deployment"]["content"])
    check(dep["emulator"]["listen"] == "virtual", "virtual mode (design.md §4)")
    check(dep["externalDnsServers"] == [], "placed servers are real, not emulated")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(dep, f)
    r = subprocess.run([os.path.join(BUILD, "daemon", "privresd"), "--check", f.name],
                       capture_output=True, text=True)
    os.unlink(f.name)
    check(r.returncode == 0, "embedded deployment passes --check", r.stdout + r.stderr)
    # the YAML form is the same document
    y = compose(EXAMPLE)
    check(y.returncode == 0, "compose YAML", y.stderr)
    try:
        import yaml
        check(yaml.safe_load(y.stdout) == c, "YAML and JSON exports agree")
    except ImportError:
        print("note: python3-yaml missing; YAML form checked for shape only")
        check(y.stdout.startswith("name: ") and "\nservices:\n" in y.stdout, "YAML shape")
    # an invalid topology is refused with its position and rule (T-5)
    with open(EXAMPLE) as f:
        bad = f.read().replace("connectedVirtualNetworks: [hub]", "connectedVirtualNetworks: []")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(bad)
    r = compose(f.name)
    os.unlink(f.name)
    check(r.returncode == 1, "invalid topology refused", r.returncode)
    check("T-5" in r.stderr and "T-6" in r.stderr and ".yaml:" in r.stderr,
          "refusal names T-5/T-6 with file:line", r.stderr)
    # --unbound-conf: the operator's lines end the server's unbound.conf (the
    # run-time-only loop of the P-3 scenario), and only a placed server takes them
    loop = os.path.join(SRC, "tests", "scenarios", "loop-onprem.yaml")
    extra = os.path.join(SRC, "tests", "scenarios", "loop-onprem-unbound.conf")
    r = compose("--json", "--unbound-conf", "onprem-dns=" + extra, loop)
    check(r.returncode == 0, "compose with --unbound-conf", r.stderr)
    if r.returncode == 0:
        conf = json.loads(r.stdout)["configs"]["unbound-onprem-dns"]["content"]
        with open(extra) as f:
            check(conf.endswith(f.read()), "unbound.conf ends with the operator's lines", conf)
        check(conf.index('local-data: "fileserver.corp.contoso.com.') < conf.index(
            'name: "loop.contoso.com."'), "generated part first", conf)
    r = compose("--unbound-conf", "app1=" + extra, loop)
    check(r.returncode == 1 and "no external DNS server" in r.stderr,
          "--unbound-conf for a VM is refused", r.stderr)
    r = compose("--unbound-conf", "onprem-dns=/nonexistent/x.conf", loop)
    check(r.returncode == 1 and "/nonexistent/x.conf" in r.stderr,
          "--unbound-conf with a missing file is refused", r.stderr)
    r = compose("--unbound-conf", "onprem-dns", loop)
    check(r.returncode == 1 and "SERVER=CONF" in r.stderr, "--unbound-conf without =", r.stderr)
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
