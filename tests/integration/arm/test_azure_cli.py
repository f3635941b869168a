#!/usr/bin/python3
"""Debian's azure-cli (2.45), unmodified, against privresd: a custom cloud whose
resource manager is privresd's ARM REST and whose authority is privresd's
AD FS-style token endpoint ([privres]); a service-principal login, then
`az network private-dns zone|record-set|link`, with dnspython seeing each change.

What stops the rest is on the client's side, before any request: Debian's
azure-cli 2.45 imports azure.mgmt.network.v2022_01_01, which Debian's
python3-azure (20230112) does not ship, so `az network vnet ...` and the VNet
validator of `az network private-dns link vnet create|update` fail with
AttributeError/TypeError against any cloud. The link is created with privresctl
here and read, listed and deleted with az."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.chdir("/")

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402

from arm_harness import SUB, check, finish, start  # noqa: E402
import privres_harness as h  # noqa: E402,I100

DEPLOYMENT = """location: eastus
virtualNetworks:
  - name: hub
    addressPrefixes: [10.10.0.0/16]
    subnets: [{name: default, addressPrefix: 10.10.0.0/24}]
emulator: {listen: loopback, basePort: 0}
"""


def main():
    d, port, ca = start(DEPLOYMENT, "arm-cli")
    cfg = tempfile.mkdtemp(prefix="privres-az-")
    env = dict(os.environ, AZURE_CONFIG_DIR=cfg, REQUESTS_CA_BUNDLE=ca,
               AZURE_CORE_COLLECT_TELEMETRY="0", AZURE_CORE_NO_COLOR="1")
    base = "https://127.0.0.1:%d" % port

    def az(*args):
        p = subprocess.run(["az"] + list(args) + ["-o", "json"], env=env, capture_output=True,
                           text=True, timeout=120)
        try:
            out = json.loads(p.stdout) if p.stdout.strip() else None
        except ValueError:
            out = None
        return p.returncode, out, p.stderr

    def ask(name):
        d.reload_listeners()
        q = dns.message.make_query(name, "A")
        return dns.query.udp(q, "127.0.0.1", port=d.port("azure-dns/hub"), timeout=3)

    try:
        rc, _, err = az("cloud", "register", "-n", "privres", "--endpoint-resource-manager",
                        base + "/", "--endpoint-active-directory", base + "/adfs",
                        "--endpoint-active-directory-resource-id", base + "/",
                        "--endpoint-active-directory-graph-resource-id", base + "/")
        check(rc == 0, "az cloud register (%s)" % err.strip()[-200:])
        rc, _, err = az("cloud", "set", "-n", "privres")
        check(rc == 0, "az cloud set")
        rc, subs, err = az("login", "--service-principal", "-u", "privres", "-p", "secret",
                           "--tenant", SUB)
        check(rc == 0 and subs and subs[0]["id"] == SUB,
              "az login --service-principal against privresd's token endpoint (%s)"
              % err.strip()[-200:])
        rc, z, err = az("network", "private-dns", "zone", "create", "-g", "privres", "-n",
                        "cli.example")
        check(rc == 0 and z["name"] == "cli.example", "az network private-dns zone create (%s)"
              % err.strip()[-200:])
        rc, r, err = az("network", "private-dns", "record-set", "a", "add-record", "-g", "privres",
                        "-z", "cli.example", "-n", "www", "-a", "10.10.0.80")
        check(rc == 0 and r["aRecords"] == [{"ipv4Address": "10.10.0.80"}],
              "az network private-dns record-set a add-record (%s)" % err.strip()[-200:])
        check(ask("www.cli.example.").rcode() == dns.rcode.NXDOMAIN or
              not ask("www.cli.example.").answer, "dns: not linked yet, the hub does not see it")
        p = subprocess.run([os.path.join(h.BUILD, "api", "privresctl"), "-s",
                            os.path.join(d.dir, "api.sock"), "network", "private-dns", "link",
                            "vnet", "create", "-z", "cli.example", "-n", "hub-link", "-v", "hub"],
                           capture_output=True, text=True, timeout=30)
        check(p.returncode == 0, "privresctl network private-dns link vnet create")
        rc, link, err = az("network", "private-dns", "link", "vnet", "show", "-g", "privres",
                           "-z", "cli.example", "-n", "hub-link")
        check(rc == 0 and link["virtualNetwork"]["id"].endswith("/virtualNetworks/hub") and
              link["virtualNetworkLinkState"] == "Completed",
              "az network private-dns link vnet show (%s)" % err.strip()[-200:])
        rc, links, err = az("network", "private-dns", "link", "vnet", "list", "-g", "privres",
                            "-z", "cli.example")
        check(rc == 0 and [x["name"] for x in links] == ["hub-link"],
              "az network private-dns link vnet list")
        r = ask("www.cli.example.")
        check([rr.address for rrset in r.answer for rr in rrset] == ["10.10.0.80"],
              "dns: linked, the hub sees www.cli.example → 10.10.0.80")
        rc, sets, err = az("network", "private-dns", "record-set", "list", "-g", "privres", "-z",
                           "cli.example")
        check(rc == 0 and sorted(s["type"].split("/")[-1] for s in sets) == ["A", "SOA"],
              "az network private-dns record-set list")
        rc, _, err = az("network", "private-dns", "record-set", "a", "remove-record", "-g",
                        "privres", "-z", "cli.example", "-n", "www", "-a", "10.10.0.80")
        check(rc == 0, "az network private-dns record-set a remove-record (%s)"
              % err.strip()[-200:])
        check(not ask("www.cli.example.").answer, "dns: the record is gone")
        rc, _, err = az("network", "private-dns", "link", "vnet", "delete", "-g", "privres", "-z",
                        "cli.example", "-n", "hub-link", "-y")
        check(rc == 0, "az network private-dns link vnet delete (%s)" % err.strip()[-200:])
        rc, _, err = az("network", "private-dns", "zone", "delete", "-g", "privres", "-n",
                        "cli.example", "-y")
        check(rc == 0, "az network private-dns zone delete (%s)" % err.strip()[-200:])
        rc, zones, err = az("network", "private-dns", "zone", "list", "-g", "privres")
        check(rc == 0 and zones == [], "az network private-dns zone list: none left")
    finally:
        d.stop()
        shutil.rmtree(cfg, ignore_errors=True)
    finish()


main()
