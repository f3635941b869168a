#!/usr/bin/python3
"""Faults over network namespaces (design.md §8, W-7, F-10, Q-5):

  (a) never an open resolver, never a stray packet: 168.63.129.16 REFUSES an
      address in no VNet (an on-premises host given a route to it), the inbound
      endpoint answers the connected on-premises network, a rule whose target
      is neither mapped nor routed gets SERVFAIL, and every IPv4 packet that
      leaves the fabric namespace meanwhile is counted (an AF_PACKET capture
      inside it): each goes to an address of the topology, none to the
      unrouted target (W-7);
  (b) a lossy, slow network on the on-premises DNS servers' side (30% loss,
      300 ms ± 200 ms delay, reordering, duplication; impair.py): every query
      from a spoke gets an answer or SERVFAIL within the query deadline, and
      F-10 does not mark targets that still answer.

Run as root; without permission to create namespaces it prints "skipped".
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import ipaddress

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_topology as tt  # noqa: E402

SRC, BUILD, PREFIX, STATE = tt.SRC, tt.BUILD, tt.PREFIX, tt.STATE
HYBRID = os.path.join(SRC, "examples", "topology-hybrid.yaml")
UNROUTED = "203.0.113.53"
DEADLINE = 4.0  # MODEL_DEFAULT_QUERY_DEADLINE_MS


def ns(name):
    return PREFIX + name


def netns(name, *cmd, check=True):
    r = subprocess.run(["ip", "netns", "exec", ns(name)] + list(cmd), capture_output=True,
                       text=True)
    if check and r.returncode != 0:
        raise AssertionError("%s in %s: %s" % (" ".join(cmd), name, r.stderr))
    return r.stdout


def deployment_with_stray_rule():
    text = open(HYBRID).read()
    rule = ("      - {name: Stray, domainName: stray.example., "
            "targetDnsServers: [{ipAddress: %s, port: 53}]}\n" % UNROUTED)
    anchor = "      - {name: AzurePrivate"
    text = text.replace(anchor, rule + anchor, 1)
    f = tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="privres-faults-", delete=False)
    f.write(text)
    f.close()
    return f.name


class Capture:
    """capture.py in the fabric namespace."""

    def __init__(self):
        self.out = tempfile.mktemp(prefix="privres-capture-")
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns("fabric"), "/usr/bin/python3",
                                      os.path.join(os.path.dirname(__file__), "capture.py"),
                                      self.out])
        for _ in range(100):
            if os.path.exists(self.out + ".ready"):
                return
            time.sleep(0.05)
        raise AssertionError("capture did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        with open(self.out) as f:
            packets = json.load(f)["packets"]
        os.unlink(self.out)
        os.unlink(self.out + ".ready")
        return packets


def query_time(out):
    """dig's "Query time" in seconds (what privresd took, without the start-up
    of dig in the namespace), or None."""
    m = re.search(r"Query time: (\d+) msec", out)
    return int(m.group(1)) / 1000.0 if m else None


def scenario_never_open():
    """(a) W-7."""
    path = deployment_with_stray_rule()
    try:
        tt.topo("up", path)
    finally:
        os.unlink(path)
    cap = Capture()
    try:
        out = tt.dig("spoke1", "web.azure.contoso.com")
        tt.expect(tt.answers(out) == ["10.10.2.5"], "spoke answered", out)
        out = tt.dig("spoke1", "fileserver.corp.contoso.com")
        tt.expect(tt.answers(out) == ["192.168.10.30"], "on premises through the OE", out)
        out = tt.topo("exec", "spoke1", "--", "dig", "+time=8", "+tries=1",
                      "host.stray.example", check=False).stdout
        tt.expect(tt.status(out) == "SERVFAIL", "unrouted target: SERVFAIL", out)
        tt.expect(query_time(out) <= DEADLINE + 0.2, "SERVFAIL within the deadline", out)
        # the laptop is in no VNet: given a route to 168.63.129.16, it is refused
        netns("h-laptop", "ip", "route", "add", "168.63.129.16/32", "via", "192.168.10.1")
        out = tt.dig("laptop", "@168.63.129.16", "web.azure.contoso.com")
        tt.expect(tt.status(out) == "REFUSED", "Azure DNS refuses a source in no VNet", out)
        tt.expect(tt.answers(out) == [], "and answers nothing", out)
        # ... while the inbound endpoint answers the connected network (T-5)
        out = tt.dig("laptop", "@10.10.0.4", "web.azure.contoso.com")
        tt.expect(tt.answers(out) == ["10.10.2.5"], "IE answers the connected network", out)
    finally:
        packets = cap.stop()
    nets = [ipaddress.ip_network(n) for n in ("10.10.0.0/16", "10.20.0.0/16",
                                               "192.168.10.0/24")]
    # 224.0.0.0/24 is link-local multicast (the kernel's IGMP reports when an
    # interface comes up): it never leaves the link and privresd sends none.
    link_local = ipaddress.ip_network("224.0.0.0/24")
    stray = [p for p in packets
             if not any(ipaddress.ip_address(p[2]) in n for n in nets)
             and ipaddress.ip_address(p[2]) not in link_local]
    tt.expect(not stray, "every packet leaving the fabric goes to the topology", stray[:10])
    dns = [p for p in packets if p[4] == 53]
    tt.expect(dns, "the capture saw the forwarded queries", packets[:10])
    print("     %d IPv4 packets left the fabric, %d of them DNS queries; none to %s"
          % (len(packets), len(dns), UNROUTED))


def lossy_deployment():
    """The hybrid estate with its on-premises servers (unbound) moved to port
    5353: the rules still target port 53, where impair.py relays to them."""
    # the default try timeout (800 ms): the example's 300 ms is shorter than
    # the round trips of this link
    text = open(HYBRID).read().replace("  forwardTimeoutMs: 300\n", "")
    for ip in ("192.168.10.4", "192.168.10.5"):
        text = text.replace("    ipAddress: %s\n" % ip, "    ipAddress: %s\n    port: 5353\n" % ip)
    f = tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="privres-faults-", delete=False)
    f.write(text)
    f.close()
    return f.name


LOSS, DELAY_MS, JITTER_MS, DUPLICATE = 0.30, 300, 200, 0.10


def impair(server, ip):
    """impair.py in the server's namespace: port 53 → unbound on 5353."""
    return subprocess.Popen(
        ["ip", "netns", "exec", ns("d-" + server), "/usr/bin/python3",
         os.path.join(os.path.dirname(os.path.abspath(__file__)), "impair.py"),
         "%s:53" % ip, "%s:5353" % ip, str(LOSS), str(DELAY_MS), str(JITTER_MS),
         str(DUPLICATE)], stdout=subprocess.PIPE, text=True)


def scenario_lossy():
    """(b) every query answered or SERVFAIL within the deadline; F-10 intact.
    (tc netem needs the sch_netem module, which not every kernel has: the same
    impairment is made in user space on the on-premises servers' side.)"""
    path = lossy_deployment()
    try:
        tt.topo("up", path)
    finally:
        os.unlink(path)
    relays = [impair("onprem-dns1", "192.168.10.4"), impair("onprem-dns2", "192.168.10.5")]
    results = {}

    def one(i):
        name = "fileserver.corp.contoso.com" if i % 4 == 0 else "n%d.corp.contoso.com" % i
        out = tt.topo("exec", "spoke1", "--", "dig", "+time=8", "+tries=1", name,
                      check=False).stdout
        results[i] = (tt.status(out), query_time(out), out)

    try:
        time.sleep(0.5)
        threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
        for t in threads:
            t.start()
            time.sleep(0.05)
        for t in threads:
            t.join()
        health = tt.privresctl("health")
    finally:
        stats = []
        for r in relays:
            r.terminate()
            stats.append(r.communicate(timeout=10)[0].strip())
    counts = {}
    for i, (st, took, out) in sorted(results.items()):
        tt.expect(st in ("NOERROR", "NXDOMAIN", "SERVFAIL"), "query %d answered" % i, out)
        # the deadline, plus scheduling on a loaded machine
        tt.expect(took <= DEADLINE + 0.5, "query %d within the deadline (%.2fs)" % (i, took),
                  out)
        if st == "NOERROR" and i % 4 == 0:
            tt.expect(tt.answers(out) == ["192.168.10.30"], "a right answer", out)
        if st == "NXDOMAIN":
            tt.expect("corp.contoso.com" in out and "SOA" in out, "a real negative answer", out)
        counts[st] = counts.get(st, 0) + 1
    tt.expect(counts.get("SERVFAIL", 0) < 40, "some queries got through", counts)
    states = [(t["address"], t["state"], t.get("failures", 0))
              for t in json.loads(health)["targets"]]
    print("     target health after the run (F-10): %s" % states)
    print("     40 queries, loss %d%%, delay %d±%d ms, duplicate %d%%: %s, slowest %.2fs; "
          "relays %s" % (LOSS * 100, DELAY_MS, JITTER_MS, DUPLICATE * 100, counts,
                         max(r[1] for r in results.values()), stats))


def main():
    if os.geteuid() != 0 or not tt.can_make_namespaces():
        print("skipped: creating network namespaces is not permitted (run as root)")
        return 0
    failed = 0
    only = sys.argv[1:]
    for fn in (scenario_never_open, scenario_lossy):
        if only and fn.__name__.replace("scenario_", "") not in only:
            continue
        t = time.time()
        try:
            fn()
            print("ok   %s (%.1fs)" % (fn.__name__, time.time() - t))
        except Exception as e:  # report and go on to the next scenario
            failed += 1
            print("FAIL %s: %s" % (fn.__name__, e))
            print(tt.read(os.path.join(STATE, "privresd.log"))[-2000:])
        finally:
            tt.topo("down", check=False)
            if tt.our_namespaces():
                failed += 1
                print("FAIL teardown left %s" % tt.our_namespaces())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
