"""The multi-step acceptance tests of the azurerm provider (TEST_STEPS.md),
replayed against one privresd each: every step's configuration is applied in
the test's order, and before each step `privresctl plan -f` must list exactly
the change the step makes.

The expected change is derived from the two Terraform configurations, not
from the importer: both are read with HashiCorp's parser (hcl2json, as the
importer reads them), resources are matched by address, and each argument
whose value differs (after the provider's schema defaults) is mapped to the
deployment property the cloud names it by (PROPS below). An argument that
changes and has no entry is a failure ("no oracle"), never skipped; one the
model does not carry (a SOA record set's tags) is reported as a note."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from privres_harness import Privresd  # noqa: E402

# azurerm resource type -> ARM type of the resource privres plans it as
TYPES = {
    "azurerm_private_dns_resolver": "Microsoft.Network/dnsResolvers",
    "azurerm_private_dns_resolver_inbound_endpoint": "Microsoft.Network/dnsResolvers/inboundEndpoints",
    "azurerm_private_dns_resolver_outbound_endpoint":
        "Microsoft.Network/dnsResolvers/outboundEndpoints",
    "azurerm_private_dns_resolver_dns_forwarding_ruleset": "Microsoft.Network/dnsForwardingRulesets",
    "azurerm_private_dns_resolver_forwarding_rule":
        "Microsoft.Network/dnsForwardingRulesets/forwardingRules",
    "azurerm_private_dns_resolver_virtual_network_link":
        "Microsoft.Network/dnsForwardingRulesets/virtualNetworkLinks",
    "azurerm_private_dns_zone": "Microsoft.Network/privateDnsZones",
    "azurerm_private_dns_zone_virtual_network_link":
        "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
    "azurerm_virtual_network": "Microsoft.Network/virtualNetworks",
}
for _t in ("a", "aaaa", "cname", "mx", "ptr", "srv", "txt"):
    TYPES[f"azurerm_private_dns_{_t}_record"] = "Microsoft.Network/privateDnsZones/" + _t.upper()

# argument -> deployment property; a dict: a nested block, by its arguments
# (None: the model does not carry it). Record sets keep tags as metadata, as
# the cloud stores them.
SOA = {"email": "soa.email", "expire_time": "soa.expireTime", "minimum_ttl": "soa.minimumTtl",
       "refresh_time": "soa.refreshTime", "retry_time": "soa.retryTime", "ttl": "soa.ttl",
       "tags": None}
PROPS = {
    "tags": "tags", "metadata": "metadata", "enabled": "forwardingRuleState",
    "target_dns_servers": "targetDnsServers", "domain_name": "domainName",
    "private_dns_resolver_outbound_endpoint_ids": "dnsResolverOutboundEndpoints",
    "records": "records", "record": "records", "ttl": "ttl",
    "resolution_policy": "resolutionPolicy", "registration_enabled": "registrationEnabled",
    "virtual_network_id": "virtualNetwork", "address_space": "addressPrefixes",
    "ip_configurations": {"subnet_id": "subnet",
                          "private_ip_allocation_method": "privateIpAllocationMethod",
                          "private_ip_address": "privateIpAddress"},
    "soa_record": SOA,
}
# Meta-arguments and what names the resource: no property of it.
IGNORED = {"name", "resource_group_name", "location", "timeouts", "lifecycle", "depends_on",
           "provider", "count", "for_each"}
# The provider's schema defaults: an argument left out has this value.
DEFAULTS = {"enabled": True, "resolution_policy": "Default", "registration_enabled": False,
            "private_ip_allocation_method": "Dynamic", "ttl": None,
            "email": "azureprivatedns-host.microsoft.com", "expire_time": 2419200,
            "minimum_ttl": 10, "refresh_time": 3600, "retry_time": 300}
SOA_TTL = 3600  # the SOA record's own ttl default (the record sets' is 3600 too)

HCL2JSON = ("const fs=require('fs'),path=require('path');const {parse}=require('@cdktf/hcl2json');"
            "(async()=>{const out={};for(const f of process.argv.slice(1)){"
            "out[f]=await parse(path.basename(f),fs.readFileSync(f,'utf8'));}"
            "process.stdout.write(JSON.stringify(out));})()")


def sequences(acc):
    """[(test, folder, [config, ...])] of the tests that apply two configurations
    or more (queries, requiresImportError and non-file steps left aside)."""
    out, sub = [], None
    with open(os.path.join(acc, "TEST_STEPS.md"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"## internal/services/(\w+)/", line)
            if m:
                sub = m.group(1)
            m = re.match(r"- `(\w+)`: (.*)", line)
            if not m:
                continue
            cfgs = [s.strip("`") for s in (x.strip() for x in m.group(2).split("→"))
                    if re.fullmatch(r"`[\w.]+\.tf`", s)]
            if len(cfgs) > 1:
                out.append((m.group(1), sub, cfgs))
    return out


def parse_hcl(files):
    d = os.environ.get("PRIVRES_HCL2JSON_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "privres",
        "hcl2json")
    r = subprocess.run(["node", "-e", HCL2JSON, *files], capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, NODE_PATH=d + "/node_modules"))
    if r.returncode != 0:
        raise RuntimeError("hcl2json: " + r.stderr)
    return json.loads(r.stdout)


def resources(doc):
    return {f"{t}.{n}": blocks[0] for t, names in doc.get("resource", {}).items()
            for n, blocks in names.items()}


def effective(arg, value, nested=False):
    if value is None:
        return SOA_TTL if nested and arg == "ttl" else DEFAULTS.get(arg)
    return value


def block_of(v):
    """A nested block as hcl2json gives it: a list of one object."""
    return v[0] if isinstance(v, list) and v else (v or {})


def arg_changes(tftype, a, b, notes, where):
    """The deployment properties a change of block a into b touches, as the
    plan names them (dotted into tags and metadata when both sides have some)."""
    props = set()
    for arg in sorted(set(a) | set(b)):
        if arg in IGNORED:
            continue
        x, y = a.get(arg), b.get(arg)
        if arg not in PROPS:
            if effective(arg, x) != effective(arg, y):
                props.add(f"?{arg}")  # no oracle: reported as a failure
            continue
        prop = PROPS[arg]
        if isinstance(prop, dict):
            bx, by = block_of(x), block_of(y)
            for sub in sorted(set(bx) | set(by)):
                if effective(sub, bx.get(sub), True) == effective(sub, by.get(sub), True):
                    continue
                if sub not in prop:
                    props.add(f"?{arg}.{sub}")
                elif prop[sub] is None:
                    notes.append(f"{where}: {arg}.{sub} changes, the model does not carry it")
                else:
                    props.add(prop[sub])
            continue
        if effective(arg, x) == effective(arg, y):
            continue
        if prop in ("tags", "metadata") and tftype.endswith("_record"):
            prop = "metadata"
        if isinstance(x, dict) and isinstance(y, dict) and x and y:
            props |= {f"{prop}.{k}" for k in set(x) | set(y) if x.get(k) != y.get(k)}
        else:
            props.add(prop)
    return props


def expected_plan(a_doc, b_doc, notes, where):
    """{(action, ARM type, name): set of properties} of configuration a into b."""
    a, b = resources(a_doc), resources(b_doc)
    want = {}
    for addr in sorted(set(a) | set(b)):
        tftype = addr.split(".")[0]
        if tftype not in TYPES:
            if a.get(addr) != b.get(addr):
                notes.append(f"{where}: {addr} changes; privres does not model it")
            continue
        x, y = a.get(addr), b.get(addr)
        key = lambda action, blk: (action, TYPES[tftype], blk.get("name"))  # noqa: E731
        if x is None:
            want[key("create", y)] = None
        elif y is None:
            want[key("delete", x)] = None
        elif x.get("name") != y.get("name"):
            want[key("delete", x)] = None
            want[key("create", y)] = None
        else:
            props = arg_changes(tftype, x, y, notes, f"{where} {addr}")
            if props:
                want[key("update", y)] = props
    return want


def got_plan(changes):
    """The same shape from privresctl plan's JSON (creates and deletes: the
    resource alone, as the provider's plan counts them; their children are
    the configuration's resources too)."""
    return {(c["action"], c["type"], c["name"]):
            set(c["changedProperties"]) if c["action"] == "update" else None
            for c in changes}


def on_free_ports(text):
    assert "\nemulator:" not in "\n" + text, "an imported estate has no emulator settings"
    return text.rstrip("\n") + "\nemulator: {basePort: 0}\n"


def ctl(privresctl, sock, *args):
    r = subprocess.run([privresctl, "--socket", sock, *args], capture_output=True, text=True,
                       timeout=60)
    return r.returncode, r.stdout, r.stderr


def replay(test, sub, cfgs, yamls, docs, privresctl, acc):
    """(steps passed, steps, failures, notes) of one multi-step test."""
    passed, failures, notes = 0, [], []
    keys = [os.path.join(sub, c) for c in cfgs]
    missing = [k for k in keys if k not in yamls]
    if missing:
        return 0, len(cfgs) - 1, [f"{test}: {', '.join(missing)} does not import"], notes
    d = Privresd(on_free_ports(yamls[keys[0]]), args=["--quiet"])
    try:
        sock = os.path.join(d.dir, "api.sock")
        for i in range(1, len(keys)):
            where = f"{test} step {i + 1} ({cfgs[i - 1]} -> {cfgs[i]})"
            path = os.path.join(d.dir, f"step{i}.yaml")
            with open(path, "w", encoding="utf-8") as f:
                f.write(on_free_ports(yamls[keys[i]]))
            want = expected_plan(docs[os.path.join(acc, keys[i - 1])],
                                 docs[os.path.join(acc, keys[i])], notes, where)
            rc, out, err = ctl(privresctl, sock, "plan", "-f", path, "-o", "json")
            if rc != 0:
                failures.append(f"{where}: plan refused: {(out + err).strip()[:300]}")
                break
            got = got_plan(json.loads(out).get("changes", []))
            if got != want:
                failures.append(f"{where}: plan {sorted(got.items(), key=str)}, the step "
                                f"changes {sorted(want.items(), key=str)}")
            rc, out, err = ctl(privresctl, sock, "apply", "-f", path, "-o", "json")
            if rc != 0:
                failures.append(f"{where}: apply refused: {(out + err).strip()[:300]}")
                break
            # the provider's ImportStep: what is served now is the configuration
            rc, out, err = ctl(privresctl, sock, "plan", "-f", path, "-o", "json")
            left = json.loads(out).get("changes", []) if rc == 0 else err
            if left:
                failures.append(f"{where}: after the apply the step still plans {left}")
            elif got == want:
                passed += 1
    finally:
        if d.stop() != 0:
            failures.append(f"{test}: privresd did not stop cleanly:\n{d.log()[-2000:]}")
    return passed, len(cfgs) - 1, failures, notes


def check_sequences(acc, yamls, privresctl):
    """yamls: {"folder/file.tf": imported YAML} of the configurations that
    import. Returns (steps passed, steps, failures, notes)."""
    seqs = sequences(acc)
    docs = parse_hcl(sorted({os.path.join(acc, s, c) for _, s, cfgs in seqs for c in cfgs}))
    total = passed = 0
    failures, notes = [], []
    for test, sub, cfgs in seqs:
        p, n, f, no = replay(test, sub, cfgs, yamls, docs, privresctl, acc)
        passed += p
        total += n
        failures += f
        notes += no
    return passed, total, failures, notes
