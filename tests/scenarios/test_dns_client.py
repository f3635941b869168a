#!/usr/bin/python3
"""Client-side scenarios over network namespaces (topology/README.md, "Clients
that resolve as Windows does"): privres-topo places privres-stub on a host, the
host's resolv.conf points at it, and dig inside the host resolves through it.

  (a) windows_order — tests/scenarios/dns-client.yaml: a laptop with a VPN
      adapter (metric 5; the corporate unbound, which forwards privatelink names
      to the inbound endpoint) and a Wi-Fi adapter (metric 25; the home router's
      unbound, which answers them with public addresses). The preferred adapter
      decides the answer (private); with the VPN server stopped, the Wi-Fi's
      public answer comes after the 1 s step; a name the Wi-Fi server denies
      takes the whole schedule — asks at 0, 1, 3, 5 and 9 s, the end at 17 s
      (the 1 s / 2 s / 2 s / 4 s / 8 s waits, each within 10%) — with the Wi-Fi
      server out of the search after its NXDOMAIN, and the silent VPN adapter
      is then skipped for 30 s.
  (b) overlay_agent — the same file's ws1 runs an overlay agent (metric 1) and a
      LAN adapter: the agent answers its names with one system the host's
      policy reaches, chosen at random (over many queries each of them, never
      the unreachable one), TTL 0; {systemId}.id names; a manual record
      overriding an automatic one; no name for a hostname with '_'; SERVFAIL
      for other names, which then resolve through the LAN adapter at once.

Run as root; without permission to create namespaces it prints "skipped".
"""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_topology as base  # noqa: E402  (the shared scenario helpers)

from test_topology import SRC, STATE, answers, expect, read, status, topo  # noqa: E402

PRIVATE = "privatelink.blob.core.windows.net"


def dig_long(host, name, seconds):
    r = topo("exec", host, "--", "dig", "+time=%d" % seconds, "+tries=1", name, check=False)
    return r.stdout


def stub_log(host):
    return [json.loads(l) for l in read(os.path.join(STATE, "stub-%s.log" % host)).splitlines()
            if l.strip()]


def last_search(host, name, source="servers", timeout=2.0):
    """The stub's last log line for name (written after the answer is sent)."""
    end = time.time() + timeout
    while True:
        hits = [e for e in stub_log(host) if e.get("role") == "client" and e["name"] == name
                and e["source"] == source]
        if hits or time.time() > end:
            return hits[-1] if hits else None
        time.sleep(0.05)


def asks(entry):
    """(atMs, step, server, adapter) of every ask of a search."""
    return [(e["atMs"], e["step"], e["ask"], e["adapter"]) for e in entry["events"] if "ask" in e]


def near(got, want, what, entry):
    expect(abs(got - want) <= want * 0.10, "%s: %d ms, expected %d ms ±10%%" % (what, got, want),
           json.dumps(entry))


def stop_server(name):
    with open(os.path.join(STATE, "pids", "unbound-%s.pid" % name)) as f:
        pid = int(f.read().split()[0])
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not os.path.exists("/proc/%d" % pid):
            return
        time.sleep(0.05)


def scenario_windows_order():
    topo("up", os.path.join(SRC, "tests", "scenarios", "dns-client.yaml"))
    resolv = read("/etc/netns/%sh-laptop/resolv.conf" % base.PREFIX)
    expect(resolv.strip() == "nameserver 127.0.0.1", "the laptop resolves through its stub",
           resolv)

    # The VPN (metric 5) is preferred: its first server answers, privately.
    name = "contosostorage.%s." % PRIVATE
    out = base.dig("laptop", name)
    expect(answers(out) == ["10.10.2.10"], "the VPN adapter's answer: the private address", out)
    e = last_search("laptop", name)
    expect(e and asks(e)[0][1:] == (1, "192.168.10.4:53", "vpn") and e["outcome"] == "answered",
           "step 1 asked the VPN's first server", json.dumps(e))
    # The Wi-Fi's server alone gives the public address: the order decided.
    out = base.dig("laptop", "@192.168.1.4", name)
    expect(answers(out) == ["52.239.170.4"], "the home router answers publicly", out)
    # The local cache answers the second time, nobody asked.
    out = base.dig("laptop", name)
    expect(answers(out) == ["10.10.2.10"] and last_search("laptop", name, "cache"),
           "the second answer comes from the local cache", out)

    # The VPN's server silent: after 1 s the first server of every adapter.
    stop_server("corp-dns")
    name = "contosostorage2.%s." % PRIVATE
    out = dig_long("laptop", name, 10)
    expect(answers(out) == ["52.239.170.5"], "with the VPN silent the Wi-Fi's answer wins", out)
    e = last_search("laptop", name)
    a = asks(e)
    expect([x[1:] for x in a] == [(1, "192.168.10.4:53", "vpn"), (2, "192.168.10.4:53", "vpn"),
                                  (2, "192.168.1.4:53", "wifi")], "steps 1 and 2", json.dumps(e))
    near(a[1][0] - a[0][0], 1000, "the wait after step 1", e)

    # A name the Wi-Fi server denies: its adapter leaves the search, the VPN is
    # asked until the steps run out: 1 s, 2 s, 2 s, 4 s, 8 s.
    name = "missing.%s." % PRIVATE
    t = time.time()
    out = dig_long("laptop", name, 25)
    took = time.time() - t
    expect(status(out) == "NXDOMAIN", "the negative answer is returned at the end", out)
    e = last_search("laptop", name)
    a = asks(e)
    steps = [x[1] for x in a]
    expect(steps == [1, 2, 2, 3, 4, 5], "one ask per step after the Wi-Fi's NXDOMAIN",
           json.dumps(e))
    expect([x[3] for x in a] == ["vpn", "vpn", "wifi", "vpn", "vpn", "vpn"],
           "the Wi-Fi's server is not asked again after its negative answer", json.dumps(e))
    neg = [x for x in e["events"] if x.get("reply") == "negative"]
    expect(neg and neg[0]["adapter"] == "wifi" and neg[0]["rcode"] == "NXDOMAIN",
           "the Wi-Fi's NXDOMAIN is in the log", json.dumps(e))
    start = a[0][0]
    times = [a[0][0], a[1][0], a[3][0], a[4][0], a[5][0]]
    end = [x["atMs"] for x in e["events"] if "end" in x][0]
    for (prev, nxt), want in zip(zip(times, times[1:] + [end]), (1000, 2000, 2000, 4000, 8000)):
        near(nxt - prev, want, "the wait after the ask at %d ms" % (prev - start), e)
    expect(16.0 < took < 19.0, "dig waited the whole schedule (%.1f s)" % took, out)

    # The VPN answered nothing in a search that timed out: skipped for 30 s.
    name = "contosostorage3.%s." % PRIVATE
    t = time.time()
    out = base.dig("laptop", name)
    expect(answers(out) == ["52.239.170.6"] and time.time() - t < 0.9,
           "the skipped VPN is not waited for", out)
    e = last_search("laptop", name)
    expect({"atMs": 0, "skipped": "vpn"} in e["events"] and
           [x[1:] for x in asks(e)] == [(1, "192.168.1.4:53", "wifi")],
           "the log shows the VPN skipped and the Wi-Fi asked first", json.dumps(e))


def a_records(out):
    """(ttl, address) of dig's answer section."""
    got, section = [], False
    for line in out.splitlines():
        if line.startswith(";; ANSWER SECTION"):
            section = True
        elif section and not line.strip():
            break
        elif section and len(line.split()) >= 5 and line.split()[3] == "A":
            got.append((int(line.split()[1]), line.split()[4]))
    return got


def scenario_overlay_agent():
    topo("up", os.path.join(SRC, "tests", "scenarios", "dns-client.yaml"))
    seen = {}
    for _ in range(60):
        out = base.dig("ws1", "db.enclave")
        recs = a_records(out)
        expect(len(recs) == 1 and recs[0][0] == 0, "one system, TTL 0", out)
        seen[recs[0][1]] = seen.get(recs[0][1], 0) + 1
    expect(set(seen) == {"100.64.0.5", "100.64.0.6"},
           "each reachable system of db.enclave chosen, the unreachable one never", seen)
    e = last_search("ws1", "db.enclave.")
    expect(e and [x[3] for x in asks(e)] == ["enclave"] and e["outcome"] == "answered",
           "the agent's adapter (metric 1) answered first", json.dumps(e))
    out = base.dig("ws1", "db-1.enclave")
    expect(answers(out) == ["100.64.0.6"], "a manual record overrides the automatic one", out)
    out = base.dig("ws1", "D3E4F1.id.enclave")
    expect(answers(out) == ["100.64.0.5"], "{systemId}.id names", out)
    out = base.dig("ws1", "ws1.enclave")
    expect(answers(out) == ["100.64.0.2"], "its own hostname", out)
    # straight at the agent: what it was not given is SERVFAIL
    for name in ("db-3.enclave", "x9y8z3.id.enclave", "db_2.enclave", "www.contoso.com"):
        out = base.dig("ws1", "@127.0.0.2", name)
        expect(status(out) == "SERVFAIL", "the agent does not answer %s" % name, out)
    # anything else falls through to the LAN adapter without a wait
    name = "contosostorage.%s." % PRIVATE
    t = time.time()
    out = base.dig("ws1", name)
    expect(answers(out) == ["10.10.2.10"] and time.time() - t < 0.9,
           "SERVFAIL from the agent falls through to the LAN's server", out)
    e = last_search("ws1", name)
    ev = [(x.get("ask") or x.get("from"), x.get("rcode"), x.get("step")) for x in e["events"]
          if "ask" in x or "from" in x]
    expect(ev == [("127.0.0.2:53", None, 1), ("127.0.0.2:53", "SERVFAIL", None),
                  ("192.168.10.4:53", None, 2), ("192.168.10.4:53", "NOERROR", None)],
           "the log shows the agent's SERVFAIL and the LAN asked next", json.dumps(e))
    agent = [x for x in stub_log("ws1") if x.get("role") == "agent"]
    expect(any(x["name"] == name and x["rcode"] == "SERVFAIL" for x in agent) and
           any(x.get("answer") == "100.64.0.6" and x["ttl"] == 0 for x in agent),
           "the agent logs its answers too", json.dumps(agent[-3:]))


def main():
    if os.geteuid() != 0 or not base.can_make_namespaces():
        print("skipped: creating network namespaces is not permitted (run as root)")
        return 0
    if not os.access(os.path.join(base.BUILD, "stub", "privres-stub"), os.X_OK):
        print("FAIL: no privres-stub in %s" % base.BUILD)
        return 1
    failed = 0
    only = sys.argv[1:]
    for fn in (scenario_windows_order, scenario_overlay_agent):
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
            left = base.our_namespaces()
            if left or os.path.exists(STATE):
                failed += 1
                print("FAIL teardown of %s left %s" % (fn.__name__, left or STATE))
    print("%d failed" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
