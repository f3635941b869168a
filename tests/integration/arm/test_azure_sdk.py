#!/usr/bin/python3
"""Debian's Azure SDK for Python (python3-azure), unmodified, against privresd's
ARM REST surface (design.md §6): the documentation's hub-and-spoke estate built
from nothing with the SDK's begin_create_or_update pollers, dnspython seeing each
change; get, list with paging, update and delete of every type; a stale etag →
412 (M-2); a rule targeting 168.63.129.16 (F-5) and a P-1 link refused with the
cloud's error code; an outbound endpoint in use refused on delete (O-4)."""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.chdir("/")  # a neutral directory: Debian's modules, not the tree's

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
from azure.core.credentials import AccessToken  # noqa: E402
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError  # noqa: E402
from azure.mgmt.dnsresolver import DnsResolverManagementClient  # noqa: E402
from azure.mgmt.dnsresolver import models as rm  # noqa: E402
from azure.mgmt.network import NetworkManagementClient  # noqa: E402
from azure.mgmt.privatedns import PrivateDnsManagementClient  # noqa: E402
from azure.mgmt.privatedns import models as pm  # noqa: E402

from arm_harness import RG, SUB, check, finish, start  # noqa: E402
import privres_harness as h  # noqa: E402,I100

NAME = "arm-sdk"

DEPLOYMENT = """location: eastus
externalDnsServers:
  - name: onprem-dns
    ipAddress: 10.100.0.2
    zones:
      - name: contoso.com
        recordSets:
          - {name: www, type: A, records: [10.100.1.10]}
emulator:
  listen: loopback
  basePort: 0
"""



class FixedToken:
    """A credential that returns a fixed, well-formed token."""

    def get_token(self, *scopes, **kwargs):
        return AccessToken("eyJhbGciOiJub25lIn0.eyJzdWIiOiJwcml2cmVzIn0.c2ln",
                           int(time.time()) + 3600)


def vnet_id(name):
    return "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/virtualNetworks/%s" % (
        SUB, RG, name)


def ask(d, listener, name, rtype="A"):
    d.reload_listeners()
    q = dns.message.make_query(name, rtype)
    r = dns.query.udp(q, "127.0.0.1", port=d.port(listener), timeout=3)
    return r


def addresses(r):
    return sorted(rr.address for rrset in r.answer for rr in rrset if hasattr(rr, "address"))


def error_code(e):
    return e.error.code if e.error is not None else None


def build_networks(net):
    for name, prefix, subnets in [
            ("hub", "10.10.0.0/16", [("snet-inbound", "10.10.0.0/28", True),
                                     ("snet-outbound", "10.10.1.0/28", True),
                                     ("workload", "10.10.2.0/24", False)]),
            ("spoke1", "10.20.0.0/16", [("default", "10.20.0.0/24", False)]),
            ("spoke2", "10.30.0.0/16", [("default", "10.30.0.0/24", False)])]:
        body = {"location": "eastus", "address_space": {"address_prefixes": [prefix]},
                "subnets": [{"name": s, "address_prefix": p,
                             "delegations": [{"name": "resolver",
                                              "service_name": "Microsoft.Network/dnsResolvers"}]
                             if delegated else []} for s, p, delegated in subnets]}
        v = net.virtual_networks.begin_create_or_update(RG, name, body).result()
        check(v.provisioning_state == "Succeeded" and len(v.subnets) == len(subnets),
              "network: VNet %s created with %d subnets by the poller" % (name, len(subnets)))
    got = net.subnets.get(RG, "hub", "snet-inbound")
    check(got.delegations and got.delegations[0].service_name == "Microsoft.Network/dnsResolvers",
          "network: subnet get shows the delegation")
    names = sorted(v.name for v in net.virtual_networks.list(RG))
    check(names == ["hub", "spoke1", "spoke2"], "network: VNets listed: %s" % names)


def build_zone(d, pdns):
    z = pdns.private_zones.begin_create_or_update(RG, "azure.contoso.com",
                                                  pm.PrivateZone(location="global")).result()
    check(z.name == "azure.contoso.com" and z.provisioning_state == "Succeeded",
          "privatedns: zone created by the poller")
    rs = pdns.record_sets.create_or_update(
        RG, "azure.contoso.com", "A", "web",
        pm.RecordSet(ttl=300, a_records=[pm.ARecord(ipv4_address="10.10.2.5")]))
    check(rs.fqdn == "web.azure.contoso.com." and rs.a_records[0].ipv4_address == "10.10.2.5",
          "privatedns: A record set created (fqdn %s)" % rs.fqdn)
    pdns.record_sets.create_or_update(
        RG, "azure.contoso.com", "CNAME", "api",
        pm.RecordSet(ttl=300, cname_record=pm.CnameRecord(cname="web.azure.contoso.com.")))
    pdns.record_sets.create_or_update(
        RG, "azure.contoso.com", "MX", "@",
        pm.RecordSet(ttl=300, mx_records=[pm.MxRecord(preference=10,
                                                      exchange="mail.azure.contoso.com.")]))
    pdns.record_sets.create_or_update(
        RG, "azure.contoso.com", "TXT", "@",
        pm.RecordSet(ttl=300, txt_records=[pm.TxtRecord(value=["v=spf1 -all"])]))
    pdns.record_sets.create_or_update(
        RG, "azure.contoso.com", "SRV", "_sip._tcp",
        pm.RecordSet(ttl=300, srv_records=[pm.SrvRecord(priority=0, weight=5, port=5060,
                                                        target="web.azure.contoso.com.")]))
    mx = pdns.record_sets.get(RG, "azure.contoso.com", "MX", "@")
    check(mx.mx_records[0].preference == 10 and mx.mx_records[0].exchange ==
          "mail.azure.contoso.com.", "privatedns: MX read back typed")
    srv = pdns.record_sets.get(RG, "azure.contoso.com", "SRV", "_sip._tcp")
    check(srv.srv_records[0].port == 5060 and srv.srv_records[0].weight == 5,
          "privatedns: SRV read back typed")
    link = pdns.virtual_network_links.begin_create_or_update(
        RG, "azure.contoso.com", "hub-link",
        pm.VirtualNetworkLink(location="global", virtual_network=pm.SubResource(id=vnet_id("hub")),
                              registration_enabled=False)).result()
    check(link.virtual_network.id.lower() == vnet_id("hub").lower(),
          "privatedns: zone linked to the hub by the poller")
    r = ask(d, "azure-dns/hub", "web.azure.contoso.com.")
    check(addresses(r) == ["10.10.2.5"], "dns: the hub sees web.azure.contoso.com → 10.10.2.5")
    types = sorted(x.type.split("/")[-1] for x in pdns.record_sets.list(RG, "azure.contoso.com"))
    check(types == ["A", "CNAME", "MX", "SOA", "SRV", "TXT"],
          "privatedns: record sets listed, the zone's SOA among them: %s" % types)
    paged = list(pdns.record_sets.list(RG, "azure.contoso.com", top=2))
    check(len(paged) == 6, "privatedns: list with $top=2 follows nextLink to all 6")


def build_resolver(d, res):
    sub = lambda v, s: rm.SubResource(id=vnet_id(v) + "/subnets/" + s)  # noqa: E731
    r = res.dns_resolvers.begin_create_or_update(
        RG, "hub-resolver",
        rm.DnsResolver(location="eastus", virtual_network=rm.SubResource(id=vnet_id("hub")))
    ).result()
    check(r.provisioning_state == "Succeeded" and r.dns_resolver_state == "Connected",
          "dnsresolver: resolver created by the poller")
    ie = res.inbound_endpoints.begin_create_or_update(
        RG, "hub-resolver", "in",
        rm.InboundEndpoint(location="eastus", ip_configurations=[
            rm.IpConfiguration(subnet=sub("hub", "snet-inbound"),
                               private_ip_allocation_method="Dynamic")])).result()
    check(ie.ip_configurations[0].private_ip_address == "10.10.0.4",
          "dnsresolver: inbound endpoint got the fifth address (I-2): %s" %
          ie.ip_configurations[0].private_ip_address)
    r = ask(d, "hub-resolver/in", "web.azure.contoso.com.")
    check(addresses(r) == ["10.10.2.5"], "dns: the inbound endpoint answers the private zone")
    oe = res.outbound_endpoints.begin_create_or_update(
        RG, "hub-resolver", "out",
        rm.OutboundEndpoint(location="eastus", subnet=sub("hub", "snet-outbound"))).result()
    rs = res.dns_forwarding_rulesets.begin_create_or_update(
        RG, "hub-rules",
        rm.DnsForwardingRuleset(location="eastus",
                                dns_resolver_outbound_endpoints=[rm.SubResource(id=oe.id)])
    ).result()
    check(rs.dns_resolver_outbound_endpoints[0].id.lower() == oe.id.lower(),
          "dnsresolver: ruleset created over the outbound endpoint")
    rule = res.forwarding_rules.create_or_update(
        RG, "hub-rules", "Contoso",
        rm.ForwardingRule(domain_name="contoso.com.",
                          target_dns_servers=[rm.TargetDnsServer(ip_address="10.100.0.2",
                                                                 port=53)]))
    check(rule.forwarding_rule_state == "Enabled" and rule.etag,
          "dnsresolver: forwarding rule created (Enabled, etag %s)" % rule.etag)
    link = res.virtual_network_links.begin_create_or_update(
        RG, "hub-rules", "spoke1-link",
        rm.VirtualNetworkLink(virtual_network=rm.SubResource(id=vnet_id("spoke1")))).result()
    check(link.virtual_network.id.lower() == vnet_id("spoke1").lower(),
          "dnsresolver: ruleset linked to spoke1 by the poller")
    r = ask(d, "azure-dns/spoke1", "www.contoso.com.")
    check(addresses(r) == ["10.100.1.10"], "dns: spoke1 reaches on-premises through the rule")
    r = ask(d, "azure-dns/spoke2", "www.contoso.com.")
    check(r.rcode() != dns.rcode.NOERROR or not addresses(r),
          "dns: spoke2 (not linked) does not use the rule")
    return rule


def snake(name):
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def as_sdk_dict(j):
    """The ARM shape as the SDK's as_dict() gives it: properties flattened,
    snake_case keys (the SDK's flattening of x-ms-client-flatten)."""
    if isinstance(j, list):
        return [as_sdk_dict(x) for x in j]
    if not isinstance(j, dict):
        return j
    out = {}
    for k, v in j.items():
        if k == "properties" and isinstance(v, dict):
            out.update(as_sdk_dict(v))
        elif k in ("tags", "metadata"):
            out[k] = v
        else:
            out[snake(k)] = as_sdk_dict(v)
    return out


def privresctl(d, *args):
    p = subprocess.run([os.path.join(h.BUILD, "api", "privresctl"), "-s",
                        os.path.join(d.dir, "api.sock")] + list(args),
                       capture_output=True, text=True, timeout=30)
    return json.loads(p.stdout) if p.returncode == 0 else {"exit": p.returncode,
                                                            "stderr": p.stderr}


def same_as_sdk(d, res, pdns):
    """privresctl's JSON of each resource equals the SDK model's as_dict()."""
    pairs = [
        (("dns-resolver", "show", "-n", "hub-resolver"),
         res.dns_resolvers.get(RG, "hub-resolver")),
        (("dns-resolver", "inbound-endpoint", "show", "--dns-resolver-name", "hub-resolver",
          "-n", "in"), res.inbound_endpoints.get(RG, "hub-resolver", "in")),
        (("dns-resolver", "outbound-endpoint", "show", "--dns-resolver-name", "hub-resolver",
          "-n", "out"), res.outbound_endpoints.get(RG, "hub-resolver", "out")),
        (("dns-resolver", "forwarding-ruleset", "show", "-n", "hub-rules"),
         res.dns_forwarding_rulesets.get(RG, "hub-rules")),
        (("dns-resolver", "forwarding-rule", "show", "--ruleset-name", "hub-rules", "-n",
          "Contoso"), res.forwarding_rules.get(RG, "hub-rules", "Contoso")),
        (("dns-resolver", "vnet-link", "show", "--ruleset-name", "hub-rules", "-n",
          "spoke1-link"), res.virtual_network_links.get(RG, "hub-rules", "spoke1-link")),
        (("network", "private-dns", "link", "vnet", "show", "-z", "azure.contoso.com", "-n",
          "hub-link"), pdns.virtual_network_links.get(RG, "azure.contoso.com", "hub-link")),
        (("network", "private-dns", "record-set", "mx", "show", "-z", "azure.contoso.com",
          "--record-set-name", "@"), pdns.record_sets.get(RG, "azure.contoso.com", "MX", "@")),
        (("network", "private-dns", "record-set", "srv", "show", "-z", "azure.contoso.com",
          "-n", "_sip._tcp"), pdns.record_sets.get(RG, "azure.contoso.com", "SRV", "_sip._tcp")),
    ]
    for args, model in pairs:
        mine = as_sdk_dict(privresctl(d, *args))
        theirs = model.as_dict()
        check(mine == theirs, "privresctl %s = the SDK's as_dict()%s" % (
            " ".join(args[:3]), "" if mine == theirs else
            ": %s vs %s" % (json.dumps(mine, sort_keys=True), json.dumps(theirs, sort_keys=True))))


def etags_and_refusals(d, res, rule):
    # M-2: a write changes the etag; the old one is stale
    old = rule.etag
    updated = res.forwarding_rules.create_or_update(
        RG, "hub-rules", "Contoso",
        rm.ForwardingRule(domain_name="contoso.com.", forwarding_rule_state="Disabled",
                          target_dns_servers=[rm.TargetDnsServer(ip_address="10.100.0.2",
                                                                 port=53)]))
    check(updated.etag != old, "M-2: the etag changed with the update")
    try:
        res.forwarding_rules.create_or_update(
            RG, "hub-rules", "Contoso",
            rm.ForwardingRule(domain_name="contoso.com.",
                              target_dns_servers=[rm.TargetDnsServer(ip_address="10.100.0.2")]),
            if_match=old)
        check(False, "M-2: a stale If-Match is refused")
    except HttpResponseError as e:
        check(e.status_code == 412 and error_code(e) == "PreconditionFailed",
              "M-2: a stale If-Match → 412 PreconditionFailed")
    try:
        res.forwarding_rules.create_or_update(
            RG, "hub-rules", "Contoso",
            rm.ForwardingRule(domain_name="contoso.com.",
                              target_dns_servers=[rm.TargetDnsServer(ip_address="10.100.0.2")]),
            if_none_match="*")
        check(False, "M-2: If-None-Match * on an existing rule is refused")
    except HttpResponseError as e:
        check(e.status_code == 412, "M-2: If-None-Match * on an existing rule → 412")
    ok = res.forwarding_rules.create_or_update(
        RG, "hub-rules", "Contoso",
        rm.ForwardingRule(domain_name="contoso.com.", forwarding_rule_state="Enabled",
                          target_dns_servers=[rm.TargetDnsServer(ip_address="10.100.0.2")]),
        if_match=updated.etag)
    check(ok.forwarding_rule_state == "Enabled", "M-2: the current etag is accepted")
    # F-5: 168.63.129.16 is never a target
    try:
        res.forwarding_rules.create_or_update(
            RG, "hub-rules", "Bad",
            rm.ForwardingRule(domain_name="bad.example.",
                              target_dns_servers=[rm.TargetDnsServer(ip_address="168.63.129.16")]))
        check(False, "F-5: a rule targeting 168.63.129.16 is refused")
    except HttpResponseError as e:
        check(e.status_code == 400 and error_code(e) == "BadRequest" and "F-5" in e.message and
              "Exception while making add request for rule" in e.message,
              "F-5: 168.63.129.16 → 400 BadRequest with the service's text and the rule id")
    # P-1: a rule to the hub's inbound endpoint, linked to the hub
    res.forwarding_rules.create_or_update(
        RG, "hub-rules", "AzurePrivate",
        rm.ForwardingRule(domain_name="azure.contoso.com.",
                          target_dns_servers=[rm.TargetDnsServer(ip_address="10.10.0.4")]))
    try:
        res.virtual_network_links.begin_create_or_update(
            RG, "hub-rules", "hub-link",
            rm.VirtualNetworkLink(virtual_network=rm.SubResource(id=vnet_id("hub")))).result()
        check(False, "P-1: linking the ruleset to the hub is refused")
    except HttpResponseError as e:
        check(e.status_code == 400 and error_code(e) == "ForwardingLoop" and "P-1" in e.message,
              "P-1: the loop → 400 ForwardingLoop naming P-1")
    r = ask(d, "azure-dns/spoke1", "web.azure.contoso.com.")
    check(addresses(r) == ["10.10.2.5"], "dns: spoke1 → rule → inbound endpoint → private zone")
    # O-4: the outbound endpoint is the ruleset's
    try:
        res.outbound_endpoints.begin_delete(RG, "hub-resolver", "out").result()
        check(False, "O-4: deleting an outbound endpoint in use is refused")
    except HttpResponseError as e:
        check(e.status_code == 409 and error_code(e) == "InUseResourceCannotBeDeleted",
              "O-4: outbound endpoint in use → 409 InUseResourceCannotBeDeleted")
    check(res.outbound_endpoints.get(RG, "hub-resolver", "out").name == "out",
          "O-4: the outbound endpoint is still there")


def list_update_delete(d, res, pdns, net):
    for i in range(5):
        res.forwarding_rules.create_or_update(
            RG, "hub-rules", "extra%d" % i,
            rm.ForwardingRule(domain_name="extra%d.example." % i,
                              target_dns_servers=[rm.TargetDnsServer(ip_address="10.100.0.2")]))
    rules = list(res.forwarding_rules.list(RG, "hub-rules", top=3))
    check(len(rules) == 7, "paging: 7 rules through $top=3 pages (%d)" % len(rules))
    by_vnet = list(res.dns_forwarding_rulesets.list_by_virtual_network(RG, "spoke1"))
    check([x.id.split("/")[-1] for x in by_vnet] == ["hub-rules"],
          "listByVirtualNetwork: spoke1's ruleset")
    resolvers = list(res.dns_resolvers.list_by_virtual_network(RG, "hub"))
    check(len(resolvers) == 1, "listByVirtualNetwork: the hub's resolver")
    check(len(list(res.dns_resolvers.list())) == 1, "list by subscription: one resolver")
    r = res.dns_resolvers.begin_update(RG, "hub-resolver",
                                       rm.DnsResolverPatch(tags={"env": "test"})).result()
    check(r.tags == {"env": "test"}, "PATCH: resolver tags updated")
    for i in range(5):
        res.forwarding_rules.delete(RG, "hub-rules", "extra%d" % i)
    pdns.record_sets.delete(RG, "azure.contoso.com", "A", "web")
    r = ask(d, "hub-resolver/in", "web.azure.contoso.com.")
    check(r.rcode() == dns.rcode.NXDOMAIN, "dns: the deleted record set is gone (NXDOMAIN)")
    try:
        pdns.record_sets.get(RG, "azure.contoso.com", "A", "web")
        check(False, "get of a deleted record set is 404")
    except ResourceNotFoundError as e:
        check(error_code(e) == "ResourceNotFound", "get of a deleted record set → 404")
    # tear the estate down, children first
    res.virtual_network_links.begin_delete(RG, "hub-rules", "spoke1-link").result()
    r = ask(d, "azure-dns/spoke1", "www.contoso.com.")
    check(not addresses(r), "dns: spoke1 unlinked no longer forwards")
    res.dns_forwarding_rulesets.begin_delete(RG, "hub-rules").result()
    res.outbound_endpoints.begin_delete(RG, "hub-resolver", "out").result()
    res.inbound_endpoints.begin_delete(RG, "hub-resolver", "in").result()
    res.dns_resolvers.begin_delete(RG, "hub-resolver").result()
    pdns.virtual_network_links.begin_delete(RG, "azure.contoso.com", "hub-link").result()
    pdns.private_zones.begin_delete(RG, "azure.contoso.com").result()
    check(list(pdns.private_zones.list_by_resource_group(RG)) == [], "privatedns: no zones left")
    for v in ("spoke2", "spoke1", "hub"):
        net.virtual_networks.begin_delete(RG, v).result()
    check(list(net.virtual_networks.list(RG)) == [], "network: no VNets left")


def main():
    d, port, ca = start(DEPLOYMENT, NAME)
    try:
        base = "https://127.0.0.1:%d" % port
        kw = dict(base_url=base, connection_verify=ca, credential_scopes=[base + "/.default"])
        net = NetworkManagementClient(FixedToken(), SUB, **kw)
        pdns = PrivateDnsManagementClient(FixedToken(), SUB, **kw)
        res = DnsResolverManagementClient(FixedToken(), SUB, **kw)
        build_networks(net)
        build_zone(d, pdns)
        rule = build_resolver(d, res)
        same_as_sdk(d, res, pdns)
        etags_and_refusals(d, res, rule)
        list_update_delete(d, res, pdns, net)
    finally:
        d.stop()
    finish()


if __name__ == "__main__":
    main()
