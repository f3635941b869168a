#!/usr/bin/python3
"""Long-running operations that take time (emulator.arm.operationSeconds,
[privres]): the Azure SDK's pollers report InProgress, then the result; a GET in
between shows Creating/Updating/Deleting; the change itself is live at once
(dnspython sees it while the operation still runs, design.md §6)."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.chdir("/")  # a neutral directory: Debian's modules, not the tree's

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError  # noqa: E402
from azure.mgmt.network import NetworkManagementClient  # noqa: E402
from azure.mgmt.privatedns import PrivateDnsManagementClient  # noqa: E402
from azure.mgmt.privatedns import models as pm  # noqa: E402

from arm_harness import RG, SUB, check, finish, start  # noqa: E402
import privres_harness as h  # noqa: E402,I100
from test_azure_sdk import FixedToken, addresses, ask, vnet_id  # noqa: E402

DELAY = 1.0
DEPLOYMENT = """location: eastus
emulator:
  listen: loopback
  basePort: 0
  arm: {operationSeconds: %s}
""" % DELAY


def waits(what, poller, get_state, during):
    """poller is InProgress and the resource shows `during`; then its result,
    no sooner than the delay."""
    t0 = time.monotonic()
    check(poller.status() == "InProgress", "%s: the poller starts InProgress" % what)
    state = get_state()
    check(state == during, "%s: a GET meanwhile shows %s (%s)" % (what, during, state))
    out = poller.result()
    waited = time.monotonic() - t0
    check(poller.status() == "Succeeded" and waited >= DELAY * 0.7,
          "%s: then Succeeded after %.2f s" % (what, waited))
    return out


def main():
    d, port, ca = start(DEPLOYMENT, "arm-ops")
    try:
        base = "https://127.0.0.1:%d" % port
        kw = dict(base_url=base, connection_verify=ca, credential_scopes=[base + "/.default"])
        net = NetworkManagementClient(FixedToken(), SUB, **kw)
        pdns = PrivateDnsManagementClient(FixedToken(), SUB, **kw)
        body = {"location": "eastus", "address_space": {"address_prefixes": ["10.10.0.0/16"]}}
        v = waits("network: VNet create", net.virtual_networks.begin_create_or_update(
            RG, "hub", body), lambda: net.virtual_networks.get(RG, "hub").provisioning_state,
            "Creating")
        check(v.provisioning_state == "Succeeded", "network: the result is Succeeded")
        zone = "slow.example"
        z = waits("privatedns: zone create", pdns.private_zones.begin_create_or_update(
            RG, zone, pm.PrivateZone(location="global")),
            lambda: pdns.private_zones.get(RG, zone).provisioning_state, "Creating")
        check(z.provisioning_state == "Succeeded", "privatedns: the zone's result is Succeeded")
        pdns.record_sets.create_or_update(
            RG, zone, "A", "web", pm.RecordSet(ttl=60, a_records=[pm.ARecord(
                ipv4_address="10.10.2.5")]))
        poller = pdns.virtual_network_links.begin_create_or_update(
            RG, zone, "hub-link", pm.VirtualNetworkLink(
                location="global", virtual_network=pm.SubResource(id=vnet_id("hub")),
                registration_enabled=False))
        r = ask(d, "azure-dns/hub", "web.%s." % zone)
        check(addresses(r) == ["10.10.2.5"],
              "dns: the link resolves while its operation is still InProgress")
        waits("privatedns: link create", poller, lambda: pdns.virtual_network_links.get(
            RG, zone, "hub-link").provisioning_state, "Creating")
        z = waits("privatedns: zone update", pdns.private_zones.begin_update(
            RG, zone, pm.PrivateZone(tags={"env": "test"})),
            lambda: pdns.private_zones.get(RG, zone).provisioning_state, "Updating")
        check(z.tags == {"env": "test"}, "privatedns: the update's result has its tags")
        # a change while the resource's own operation runs: 409 (M-3)
        poller = pdns.private_zones.begin_update(RG, zone, pm.PrivateZone(tags={"env": "b"}))
        for what, call in (("PATCH", lambda: pdns.private_zones.begin_update(
                RG, zone, pm.PrivateZone(tags={"env": "c"}))),
                ("PUT", lambda: pdns.private_zones.begin_create_or_update(
                    RG, zone, pm.PrivateZone(location="global"))),
                ("DELETE", lambda: pdns.private_zones.begin_delete(RG, zone))):
            try:
                call()
                check(False, "%s while an update runs: refused" % what)
            except HttpResponseError as e:
                check(e.status_code == 409 and e.error.code == "AnotherOperationInProgress"
                      and "privateDnsOperationStatuses/" in e.error.message,
                      "%s while an update runs: 409 AnotherOperationInProgress naming the "
                      "operation (%s %s)" % (what, e.status_code, e.error.code))
        z = poller.result()
        check(z.tags == {"env": "b"}, "the refused changes changed nothing")
        z = pdns.private_zones.begin_update(RG, zone, pm.PrivateZone(
            tags={"env": "test"})).result()
        check(z.tags == {"env": "test"}, "once the operation is done, the next change is taken")
        waits("privatedns: link delete", pdns.virtual_network_links.begin_delete(
            RG, zone, "hub-link"), lambda: pdns.virtual_network_links.get(
            RG, zone, "hub-link").provisioning_state, "Deleting")
        try:
            pdns.virtual_network_links.get(RG, zone, "hub-link")
            check(False, "privatedns: the deleted link is gone once its operation is done")
        except ResourceNotFoundError:
            check(True, "privatedns: the deleted link is gone once its operation is done")
    finally:
        d.stop()
    p = subprocess.run([h.PRIVRESD, "--check", "/dev/stdin"],
                       input="emulator:\n  arm: {operationSeconds: -1}\n", text=True,
                       capture_output=True)
    check(p.returncode == 1 and "operationSeconds" in p.stdout + p.stderr,
          "emulator.arm.operationSeconds: -1 is refused")
    finish()


main()
