#!/usr/bin/python3
"""privresctl's command groups against the real control over a deployment
(design.md §6, §7): create/show/list/update/delete in the cloud CLI's shapes,
refusals with the rule id (P-1, F-5, F-7) and exit 1, plan/apply of a changed
file (create, update, delete), export round trip, durable state across kill -9,
usage errors (exit 2) and an unreachable server (exit 3).

usage: test_privresctl.py API_CONTROL_SERVER PRIVRESCTL
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

SOURCE = os.environ.get("PRIVRES_SOURCE_DIR",
                        os.path.join(os.path.dirname(__file__), "..", "..", ".."))
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


class Server:
    def __init__(self, binary, sock, deployment, state):
        self.args = [binary, sock, deployment, state]
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            sys.exit("server did not start: %r" % line)

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -1


def main():
    server_bin, ctl = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="privres-ctl-it-")
    sock = os.path.join(tmp, "privres.sock")
    state = os.path.join(tmp, "state")
    example = os.path.join(SOURCE, "examples", "hub-and-spoke.yaml")
    srv = Server(server_bin, sock, example, state)
    srv.start()

    def run(*args, stdin=None):
        p = subprocess.run([ctl, "--socket", sock] + list(args), capture_output=True, text=True,
                           timeout=30, input=stdin)
        return p

    def js(p):
        try:
            return json.loads(p.stdout)
        except ValueError:
            return None

    try:
        scenario(run, js, srv, tmp, state, example, ctl)
    finally:
        rc = srv.stop()
    check(rc == 0, "server exits 0 after SIGTERM with a closed loop (rc %d)" % rc)
    shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d failure(s)" % len(failures))
        sys.exit(1)


def scenario(run, js, srv, tmp, state, example, ctl):
    RULE = ["dns-resolver", "forwarding-rule"]

    # create, show, list a forwarding rule (F-1..F-4), in the cloud's shape
    p = run(*RULE, "create", "--ruleset-name", "hub-rules", "-n", "Fabrikam",
            "--domain-name", "fabrikam.com.",
            "--target-dns-servers", "ip-address=10.100.0.5", "port=5353", "ip-address=10.100.0.6")
    r = js(p)
    check(p.returncode == 0 and r and r["id"].endswith(
        "/dnsForwardingRulesets/hub-rules/forwardingRules/Fabrikam"),
        "forwarding-rule create: exit 0, ARM id (%d %s)" % (p.returncode, p.stderr.strip()))
    check(r and r["properties"]["targetDnsServers"] == [{"ipAddress": "10.100.0.5", "port": 5353},
                                                        {"ipAddress": "10.100.0.6", "port": 53}],
          "--target-dns-servers ip-address= port= shorthand (F-4)")
    check(r and r["type"] == "Microsoft.Network/dnsForwardingRulesets/forwardingRules" and
          r["etag"] and r["properties"]["provisioningState"] == "Succeeded" and
          r["properties"]["forwardingRuleState"] == "Enabled",
          "the cloud's shape: type, etag, properties with provisioningState")
    p = run(*RULE, "show", "--ruleset-name", "hub-rules", "--name", "Fabrikam")
    r = js(p)
    check(p.returncode == 0 and r["properties"]["domainName"] == "fabrikam.com." and
          "/dnsForwardingRulesets/hub-rules/" in r["id"], "forwarding-rule show")
    p = run(*RULE, "list", "--ruleset-name", "hub-rules")
    r = js(p)
    check(p.returncode == 0 and isinstance(r, list) and
          "Fabrikam" in [x["name"] for x in r], "forwarding-rule list: an array")
    p = run("-o", "table", *RULE, "list", "--ruleset-name", "hub-rules")
    check(p.returncode == 0 and "domainName" in p.stdout and "fabrikam.com." in p.stdout,
          "forwarding-rule list -o table")
    with open(os.path.join(state, "deployment.json")) as f:
        saved = json.load(f)
    check(saved["format"] == "privres-state" and "Fabrikam" in json.dumps(saved["deployment"]),
          "the change is in the state file before the answer (design.md §7)")

    # update keeps what is not given (F-6)
    p = run(*RULE, "update", "--ruleset-name", "hub-rules", "-n", "Fabrikam", "--state", "Disabled")
    r = js(p)
    check(p.returncode == 0 and r["properties"]["forwardingRuleState"] == "Disabled" and
          len(r["properties"]["targetDnsServers"]) == 2, "forwarding-rule update keeps the targets")

    # refusals: exit 1 with the rule id
    p = run("dns-resolver", "vnet-link", "create", "--ruleset-name", "hub-rules", "-n", "hub-link",
            "--id", "hub")
    check(p.returncode == 1 and "P-1" in p.stderr and "FAILED_PRECONDITION" in p.stderr,
          "vnet-link into the hub's own endpoint: P-1, exit 1 (%d: %s)" % (p.returncode,
                                                                          p.stderr.strip()[:200]))
    p = run(*RULE, "create", "--ruleset-name", "hub-rules", "-n", "Bad", "--domain-name", "bad.com.",
            "--target-dns-servers", "ip-address=168.63.129.16")
    check(p.returncode == 1 and "F-5" in p.stderr, "target 168.63.129.16: F-5, exit 1")
    p = run(*RULE, "update", "--ruleset-name", "hub-rules", "-n", "Contoso", "--domain-name",
            "contoso.net.")
    check(p.returncode == 1 and "F-7" in p.stderr and "forwardingRules/Contoso" in p.stderr,
          "domainName changed in place: F-7 with the resource id, exit 1")
    p = run(*RULE, "show", "--ruleset-name", "hub-rules", "-n", "Nope")
    check(p.returncode == 1 and "NOT_FOUND" in p.stderr, "show of a missing rule: exit 1")
    p = run("dns-resolver", "outbound-endpoint", "delete", "--dns-resolver-name", "hub-resolver",
            "-n", "out")
    check(p.returncode == 1, "outbound endpoint in use can't go (O-4): exit 1")

    # other groups: resolver, inbound endpoint (I-2 output), zone link, record sets
    p = run("dns-resolver", "show", "-n", "hub-resolver")
    check(p.returncode == 0 and
          js(p)["properties"]["virtualNetwork"]["id"].endswith("/virtualNetworks/hub"),
          "dns-resolver show: the VNet as {id}")
    p = run("dns-resolver", "inbound-endpoint", "list", "--dns-resolver-name", "hub-resolver")
    check(p.returncode == 0 and
          js(p)[0]["properties"]["ipConfigurations"][0]["privateIpAddress"] == "10.10.0.4",
          "inbound-endpoint list: the allocated address (I-2)")
    p = run("private-dns", "record-set", "a", "add-record", "-z", "azure.contoso.com", "-n", "db",
            "-a", "10.10.2.7")
    check(p.returncode == 0 and js(p)["properties"]["aRecords"] == [{"ipv4Address": "10.10.2.7"}],
          "record-set a add-record")
    p = run("private-dns", "record-set", "a", "add-record", "-z", "azure.contoso.com", "-n", "db",
            "-a", "10.10.2.8")
    check(p.returncode == 0 and [x["ipv4Address"] for x in js(p)["properties"]["aRecords"]] ==
          ["10.10.2.7", "10.10.2.8"], "add-record appends to the set")
    p = run("network", "private-dns", "record-set", "a", "show", "-g", "privres", "-z",
            "azure.contoso.com", "--record-set-name", "db")
    check(p.returncode == 0 and js(p)["name"] == "db",
          "the cloud CLI's spelling: network private-dns, -g, --record-set-name")
    p = run("network", "private-dns", "record-set", "a", "show", "-g", "other-rg", "-z",
            "azure.contoso.com", "--record-set-name", "db")
    check(p.returncode == 1 and "ResourceGroupNotFound" in p.stderr and "privres" in p.stderr,
          "-g naming another resource group → ResourceGroupNotFound")
    p = run("private-dns", "record-set", "mx", "add-record", "-z", "azure.contoso.com", "-n", "m2",
            "--preference", "20", "--exchange", "mail.azure.contoso.com.")
    check(p.returncode == 0 and js(p)["properties"]["mxRecords"] ==
          [{"preference": 20, "exchange": "mail.azure.contoso.com."}],
          "record-set mx add-record: the cloud's mxRecords")
    p = run("private-dns", "record-set", "a", "list", "-z", "azure.contoso.com")
    names = [x["name"] for x in js(p) or []]
    check(p.returncode == 0 and "db" in names and "m2" not in names,
          "record-set a list: only A sets")
    for ip in ("10.10.2.7", "10.10.2.8"):
        p = run("private-dns", "record-set", "a", "remove-record", "-z", "azure.contoso.com",
                "-n", "db", "-a", ip)
        check(p.returncode == 0, "remove-record %s" % ip)
    p = run("private-dns", "record-set", "a", "show", "-z", "azure.contoso.com", "-n", "db")
    check(p.returncode == 1, "the last record removed deletes the set")
    p = run("private-dns", "link", "vnet", "create", "-z", "azure.contoso.com", "-n", "spoke1-link",
            "-v", "spoke1", "-e", "false")
    check(p.returncode == 0 and
          js(p)["properties"]["virtualNetwork"]["id"].endswith("/virtualNetworks/spoke1"),
          "private-dns link vnet create")
    p = run("dns-resolver", "domain-list", "create", "-n", "blocked", "--domains", "bad.example.",
            "worse.example.")
    check(p.returncode == 0 and js(p)["properties"]["domains"] == ["bad.example.", "worse.example."],
          "dns-resolver domain-list create")
    p = run("dns-resolver", "policy", "create", "-n", "pol", "--mode", "Audit")
    check(p.returncode == 0 and js(p)["properties"].get("mode") == "Audit",
          "dns-resolver policy create --mode Audit (S-4)")
    p = run("dns-resolver", "policy", "create", "-n", "pol2", "--mode", "Lenient")
    check(p.returncode == 1 and "S-4" in p.stderr, "an unknown policy mode: S-4, exit 1")
    p = run("dns-resolver", "policy", "dns-security-rule", "create", "--policy-name", "pol",
            "-n", "block", "--priority", "100", "--action", "Block", "--domain-lists", "blocked")
    check(p.returncode == 0 and js(p)["properties"]["action"]["actionType"] == "Block",
          "dns-security-rule create: nested action (S-1)")
    p = run("dns-resolver", "policy", "dns-security-rule", "create", "--policy-name", "pol",
            "-n", "bad", "--priority", "99", "--action", "Block", "--domain-lists", "blocked")
    check(p.returncode == 1 and "S-1" in p.stderr, "priority 99: S-1, exit 1")

    # diagnostics
    p = run("explain", "--vnet", "spoke1", "www.contoso.com")
    r = js(p)
    check(p.returncode == 0 and r["step"] == "Q-3" and r["rule"] == "Contoso",
          "explain: the rule that forwards (Q-3)")
    p = run("-o", "table", "explain", "--vnet", "hub", "web.azure.contoso.com", "A")
    check(p.returncode == 0 and "Q-2" in p.stdout, "explain -o table in the hub: Q-2")
    p = run("stats")
    check(p.returncode == 0 and int(js(p)["counters"]["commits"]) >= 1, "stats")
    p = run("health")
    check(p.returncode == 3 and "UNAVAILABLE" in p.stderr,
          "health without a data plane: UNAVAILABLE, exit 3")

    # plan and apply of a changed file: create, update, delete (design.md §7)
    with open(example) as f:
        text = f.read()
    changed = text.replace("{name: Contoso, domainName: contoso.com., targetDnsServers: "
                           "[{ipAddress: 10.100.0.2, port: 53}]}",
                           "{name: Contoso, domainName: contoso.com., targetDnsServers: "
                           "[{ipAddress: 10.100.0.3, port: 53}]}\n"
                           "      - {name: Woodgrove, domainName: woodgrove.com., "
                           "targetDnsServers: [{ipAddress: 10.100.0.7}]}")
    changed = changed.replace("      - {name: Wildcard, domainName: ., targetDnsServers: "
                              "[{ipAddress: 10.100.0.2, port: 53}]}\n", "")
    check(changed != text and "Wildcard" not in changed, "test file changed")
    path = os.path.join(tmp, "changed.yaml")
    with open(path, "w") as f:
        f.write(changed)
    p = run("-o", "table", "plan", "-f", path)
    out = p.stdout
    check(p.returncode == 0 and "+ create" in out and "forwardingRules/Woodgrove" in out,
          "plan: create Woodgrove")
    check("~ update" in out and "forwardingRules/Contoso" in out and "10.100.0.3" in out,
          "plan: update Contoso's targets")
    check("- delete" in out and "forwardingRules/Wildcard" in out and
          "forwardingRules/Fabrikam" in out, "plan: delete Wildcard and Fabrikam")
    p = run(*RULE, "show", "--ruleset-name", "hub-rules", "-n", "Wildcard")
    check(p.returncode == 0, "plan changed nothing")
    p = run("plan", "-f", path)
    r = js(p)
    check(p.returncode == 0 and r and not r.get("applied") and
          any(c["action"] == "create" for c in r["changes"]), "plan: JSON by default")
    p = run("apply", "-f", path)
    r = js(p)
    check(p.returncode == 0 and r and r.get("applied"), "apply: exit 0, applied")
    p = run(*RULE, "show", "--ruleset-name", "hub-rules", "-n", "Wildcard")
    check(p.returncode == 1, "apply deleted Wildcard")
    p = run("-o", "table", "plan", "-f", path)
    check(p.returncode == 0 and "No changes." in p.stdout, "plan after apply: no changes")

    # refusals through a file: F-7 and P-1, exit 1 with the rule id and position
    bad = changed.replace("domainName: woodgrove.com.", "domainName: woodgrove.net.")
    with open(path, "w") as f:
        f.write(bad)
    p = run("apply", "-f", path)
    check(p.returncode == 1 and "F-7" in p.stderr, "apply of an F-7 change: exit 1")
    p = run("plan", "-f", path)
    check(p.returncode == 1 and "F-7" in p.stderr, "plan of an F-7 change: exit 1, listed")
    bad = changed.replace("{ipAddress: 10.100.0.7}", "{ipAddress: 168.63.129.16}")
    with open(path, "w") as f:
        f.write(bad)
    p = run("plan", "-f", path)
    check(p.returncode == 1 and "F-5" in p.stderr and "changed.yaml:" in p.stderr,
          "plan of an F-5 file: exit 1, file:line in stderr")

    # export round trip: what export gives, apply takes back with no change
    p = run("export", "-o", "json")
    doc = json.loads(p.stdout) if p.returncode == 0 else {}
    rules = [r["name"] for r in doc.get("dnsForwardingRulesets", [{}])[0].get("forwardingRules", [])]
    check(rules == ["Contoso", "Woodgrove", "AzurePrivate"], "export -o json: the applied rules")
    p = run("export")
    yml = os.path.join(tmp, "export.yaml")
    with open(yml, "w") as f:
        f.write(p.stdout)
    p = run("-o", "table", "plan", "-f", yml)
    check(p.returncode == 0 and "No changes." in p.stdout, "export (YAML) plans to no change")

    # durability: kill -9, restart with the original file: the state wins (§7)
    srv.stop(signal.SIGKILL)
    srv.start()
    p = run(*RULE, "show", "--ruleset-name", "hub-rules", "-n", "Woodgrove")
    check(p.returncode == 0, "after kill -9 and restart the applied state is back")

    # usage errors: exit 2
    for args, what in [((*RULE, "create", "-n", "x"), "missing --ruleset-name"),
                       ((*RULE, "create", "--ruleset-name", "hub-rules", "-n", "x", "--bogus", "1"),
                        "unknown option"),
                       ((*RULE, "frobnicate"), "unknown command"),
                       (("dns-resolver",), "group without command"),
                       ((*RULE, "create", "--ruleset-name", "hub-rules", "-n", "x",
                         "--target-dns-servers", "10.0.0.1"), "bad target shorthand"),
                       (("plan",), "plan without -f"),
                       (("export", "-o", "xml"), "export -o xml"),
                       (("explain", "www.contoso.com"), "explain without --vnet")]:
        p = run(*args)
        check(p.returncode == 2, "usage error, exit 2: %s (%d)" % (what, p.returncode))
    for args in [("--help",), ("dns-resolver", "--help"), (*RULE, "--help"),
                 (*RULE, "create", "--help"), ("private-dns", "record-set", "srv", "add-record",
                                               "--help"), ("apply", "--help")]:
        p = run(*args)
        check(p.returncode == 0 and p.stdout, "--help: %s" % " ".join(args))
    p = run(*RULE, "create", "--help")
    check("--target-dns-servers" in p.stdout and "--ruleset-name" in p.stdout,
          "command help lists its options")

    # unreachable: exit 3
    p = subprocess.run([ctl, "--socket", os.path.join(tmp, "absent.sock"), *RULE, "list",
                        "--ruleset-name", "hub-rules"], capture_output=True, text=True, timeout=30)
    check(p.returncode == 3, "unreachable server: exit 3")


if __name__ == "__main__":
    main()
