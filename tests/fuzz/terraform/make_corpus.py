#!/usr/bin/python3
"""Seed corpus and dictionary for fuzz_show_json.

Each seed is one flags octet (bit 0: merge terraform-examples/hybrid/privres.yaml)
and then `terraform show -json` text. Seeds: the plan and state fixtures of
tests/unit/terraform/ as written and compact, with and without the side file;
the state extended with the zero-trust estate's azapi_resource policy objects
and the record types MX, CNAME, SRV, TXT, AAAA, PTR in the azurerm state shape;
every resource of the fixtures alone in a state; a few refusals (not an object,
no root_module, a data source, an unknown azurerm DNS type).
Dictionary: resource types and attribute names the importer reads
(terraform/*.c string literals) and JSON tokens.

Run: /usr/bin/python3 tests/fuzz/terraform/make_corpus.py"""
import copy
import glob
import json
import os
import re
import shutil

here = os.path.dirname(os.path.abspath(__file__))
src = os.path.abspath(os.path.join(here, "..", "..", ".."))
fixtures = os.path.join(src, "tests", "unit", "terraform", "fixtures")
out = os.path.join(here, "corpus")
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)


def save(name, side, doc):
    text = doc if isinstance(doc, str) else json.dumps(doc, indent=1)
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([1 if side else 0]) + text.encode())


def compact(doc):
    return json.dumps(doc, separators=(",", ":"))


with open(os.path.join(fixtures, "plan.json")) as f:
    plan_text = f.read()
with open(os.path.join(fixtures, "hybrid-state.json")) as f:
    state_text = f.read()
plan, state = json.loads(plan_text), json.loads(state_text)

save("plan", False, plan_text)
save("plan-compact", False, compact(plan))
save("plan-side", True, compact(plan))
save("hybrid-state-side", True, state_text)
save("hybrid-state-compact-side", True, compact(state))
save("hybrid-state-no-side", False, compact(state))

SUB = "/subscriptions/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f/resourceGroups/privres"
NET = SUB + "/providers/Microsoft.Network"
ZONE = NET + "/privateDnsZones/azure.contoso.com"
API = "2025-05-01"


def res(rtype, name, values, index=None):
    r = {"address": "%s.%s" % (rtype, name), "mode": "managed", "type": rtype, "name": name,
         "provider_name": "registry.terraform.io/hashicorp/azurerm", "schema_version": 0,
         "values": values, "sensitive_values": {}}
    if index is not None:
        r["index"] = index
        r["address"] += '["%s"]' % index
    return r


def record(kind, label, **values):
    v = {"name": label, "zone_name": "azure.contoso.com", "resource_group_name": "privres",
         "ttl": 300, "id": "%s/%s/%s" % (ZONE, kind.upper(), label)}
    v.update(values)
    return res("azurerm_private_dns_%s_record" % kind, label, v)


extra = [
    record("mx", "mx", name="@", record=[{"preference": 10, "exchange": "mail.azure.contoso.com."}]),
    record("cname", "www", record="app.azure.contoso.com."),
    record("srv", "sip", name="_sip._tcp",
           record=[{"priority": 0, "weight": 5, "port": 5060, "target": "app.azure.contoso.com."}]),
    record("txt", "spf", name="@", record=[{"value": "v=spf1 -all"}]),
    record("aaaa", "v6", records=["fd00::10"]),
    record("ptr", "ptr", records=["app.azure.contoso.com."]),
    res("azapi_resource", "domain_list", {
        "type": "Microsoft.Network/dnsResolverDomainLists@" + API, "name": "needed",
        "parent_id": SUB, "location": "westeurope",
        "id": NET + "/dnsResolverDomainLists/needed",
        "body": {"properties": {"domains": ["contoso.com.", "microsoft.com."]}}}),
    res("azapi_resource", "everything", {
        "type": "Microsoft.Network/dnsResolverDomainLists@" + API, "name": "everything",
        "parent_id": SUB, "location": "westeurope",
        "id": NET + "/dnsResolverDomainLists/everything",
        "body": json.dumps({"properties": {"domains": ["."]}})}),
    res("azapi_resource", "policy", {
        "type": "Microsoft.Network/dnsResolverPolicies@" + API, "name": "zero-trust",
        "parent_id": SUB, "location": "westeurope", "id": NET + "/dnsResolverPolicies/zero-trust",
        "body": {"properties": {}}}),
    res("azapi_resource", "rule", {
        "type": "Microsoft.Network/dnsResolverPolicies/dnsSecurityRules@" + API,
        "name": "allow-needed", "parent_id": NET + "/dnsResolverPolicies/zero-trust",
        "location": "westeurope",
        "id": NET + "/dnsResolverPolicies/zero-trust/dnsSecurityRules/allow-needed",
        "body": {"properties": {"priority": 100, "action": {"actionType": "Allow"},
                                "dnsResolverDomainLists": [
                                    {"id": NET + "/dnsResolverDomainLists/needed"}]}}},
        index="allow-needed"),
    res("azapi_resource", "rule", {
        "type": "Microsoft.Network/dnsResolverPolicies/dnsSecurityRules@" + API,
        "name": "block-rest", "parent_id": NET + "/dnsResolverPolicies/zero-trust",
        "location": "westeurope",
        "id": NET + "/dnsResolverPolicies/zero-trust/dnsSecurityRules/block-rest",
        "body": {"properties": {"priority": 65000, "action": {"actionType": "Block"},
                                "dnsSecurityRuleState": "Enabled",
                                "dnsResolverDomainLists": [
                                    {"id": NET + "/dnsResolverDomainLists/everything"}]}}},
        index="block-rest"),
    res("azapi_resource", "spoke_policy_link", {
        "type": "Microsoft.Network/dnsResolverPolicies/virtualNetworkLinks@" + API,
        "name": "spoke-policy", "parent_id": NET + "/dnsResolverPolicies/zero-trust",
        "location": "westeurope",
        "id": NET + "/dnsResolverPolicies/zero-trust/virtualNetworkLinks/spoke-policy",
        "body": {"properties": {"virtualNetwork": {"id": NET + "/virtualNetworks/spoke"}}}}),
]
rich = copy.deepcopy(state)
rich["values"]["root_module"]["resources"] += extra
save("state-records-policy-side", True, compact(rich))

for n, r in enumerate(state["values"]["root_module"]["resources"]):
    one = {"format_version": "1.0", "values": {"root_module": {"resources": [r]}}}
    save("state-one-%02d-%s" % (n, r["type"]), False, compact(one))
for n, r in enumerate(extra):
    one = {"format_version": "1.0", "values": {"root_module": {"resources": [r]}}}
    save("state-one-extra-%02d-%s" % (n, r["type"]), False, compact(one))

save("not-an-object", False, "[1, 2, 3]")
save("not-json", False, '{"values": {"root_module": ')
save("no-root-module", False, '{"format_version": "1.0", "values": {}}')
data = copy.deepcopy(state)
data["values"]["root_module"]["resources"].append(
    {"address": "data.azurerm_virtual_network.x", "mode": "data", "type": "azurerm_virtual_network",
     "name": "x", "values": {"name": "x"}})
data["values"]["root_module"]["resources"].append(
    res("azurerm_private_dns_resolver_dns_security_policy", "p", {"name": "p"}))
save("state-data-and-unknown-type", True, compact(data))

words = set()
for path in glob.glob(os.path.join(src, "terraform", "*.c")):
    with open(path) as f:
        for lit in re.findall(r'"([A-Za-z_][A-Za-z0-9_./@-]{1,60})"', f.read()):
            words.add(lit)
tokens = ['{"', '":', '":"', '",', '"}', '[{', '}]', "null", "true", "false", "\\u0000", "\\\"",
          '"values"', '"root_module"', '"child_modules"', '"resources"', '"planned_values"',
          '"configuration"', '"expressions"', '"references"', '"module_calls"']


def entry(w):
    """libFuzzer's dictionary syntax: backslash, quote and hex escapes only."""
    body = "".join(c if 32 <= ord(c) < 127 and c not in '\\"' else
                   ("\\" + c if c in '\\"' else "\\x%02x" % ord(c)) for c in w)
    return '"%s"' % body


with open(os.path.join(here, "dict"), "w") as f:
    f.write("# fuzz_show_json dictionary, made by make_corpus.py\n")
    for w in sorted(words) + tokens:
        f.write(entry(w) + "\n")
