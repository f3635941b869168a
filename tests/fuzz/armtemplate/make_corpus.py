#!/usr/bin/python3
"""Seed corpus and dictionary for fuzz_arm_template: small templates using each
expression function and resource kind the import knows (parameters vnet=hub
and n=2 are passed by the fuzzer). Findings kept as regression inputs are
named finding-*; this script leaves them alone.
Run: /usr/bin/python3 tests/fuzz/armtemplate/make_corpus.py"""
import glob
import json
import os

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "corpus")
os.makedirs(out, exist_ok=True)
for f in glob.glob(os.path.join(out, "seed-*")):
    os.remove(f)

PARAMS = {"vnet": {"type": "string"}, "n": {"type": "int", "defaultValue": 2}}
VNET = {"type": "Microsoft.Network/virtualNetworks",
        "name": "[format('{0}{1}', parameters('vnet'), copyIndex(1))]",
        "copy": {"name": "v", "count": "[parameters('n')]"},
        "location": "[resourceGroup().location]",
        "properties": {"addressSpace": {"addressPrefixes": [
            "[format('10.{0}.0.0/16', copyIndex())]"]},
            "subnets": [{"name": "snet-in", "properties": {
                "addressPrefix": "[format('10.{0}.0.0/28', copyIndex())]",
                "delegations": [{"name": "d", "properties": {
                    "serviceName": "Microsoft.Network/dnsResolvers"}}]}}]}}
ZONE = {"type": "Microsoft.Network/privateDnsZones",
        "name": "[toLower(concat('Corp', '.example'))]", "location": "global",
        "resources": [{"type": "virtualNetworkLinks", "name": "link1",
                       "dependsOn": ["[resourceId('Microsoft.Network/privateDnsZones', 'corp.example')]"],
                       "properties": {"registrationEnabled": False, "virtualNetwork": {
                           "id": "[resourceId('Microsoft.Network/virtualNetworks', 'hub1')]"}}},
                      {"type": "A", "name": "web", "properties": {
                          "ttl": 300, "aRecords": [{"ipv4Address": "10.0.2.5"}]}}]}
RESOLVER = {"type": "Microsoft.Network/dnsResolvers", "name": "r", "location": "eastus",
            "properties": {"virtualNetwork": {
                "id": "[resourceId('Microsoft.Network/virtualNetworks', 'hub1')]"}}}
EXPRS = ["[if(equals(parameters('n'), 2), 'a', 'b')]", "[length(parameters('vnet'))]",
         "[uniqueString(resourceGroup().id)]", "[guid('x', 'y')]", "[subscription().id]",
         "[variables('nope')]", "[unknownFn(1)]", "[concat('a', [1, 2])]", "[[literal",
         "[format('{0}', ]", "[parameters('vnet')[0]]", "[string(copyIndex(5))]"]


def save(name, tmpl):
    with open(os.path.join(out, "seed-" + name), "w") as f:
        json.dump(tmpl, f)


save("vnets", {"parameters": PARAMS, "resources": [VNET]})
save("zone", {"parameters": PARAMS, "resources": [VNET, ZONE]})
save("resolver", {"parameters": PARAMS, "resources": [VNET, RESOLVER]})
for i, e in enumerate(EXPRS):
    save("expr-%02d" % i, {"parameters": PARAMS, "variables": {"x": e},
                           "resources": [dict(VNET, name=e)]})
save("empty", {})
with open(os.path.join(out, "seed-not-json"), "w") as f:
    f.write("{\"resources\": [")
words = ["parameters", "variables", "resources", "copy", "count", "copyIndex", "concat",
         "format", "resourceId", "resourceGroup", "subscription", "toLower", "if", "equals",
         "length", "uniqueString", "guid", "string", "properties", "dependsOn",
         "Microsoft.Network/virtualNetworks", "Microsoft.Network/privateDnsZones",
         "Microsoft.Network/dnsResolvers", "Microsoft.Network/dnsForwardingRulesets",
         "virtualNetworkLinks", "forwardingRules", "inboundEndpoints", "outboundEndpoints"]
with open(os.path.join(here, "dict"), "w") as f:
    for w in words:
        f.write('"%s"\n' % w)
