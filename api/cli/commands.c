/* The command table of privresctl (design.md §6): option names as the cloud
 * CLI spells them, each mapped to the property of privres.proto it sets. */
#include <stdlib.h>
#include <string.h>

#include "api/cli/commands.h"
#include "base/base.h"
#include "model/model.h"

#define END {NULL, NULL, NULL, CLI_STR, NULL}
#define NAME {"--name", "-n", "name", CLI_STR, "the resource's name"}
#define LOCATION {"--location", "-l", "location", CLI_STR, "region (default: the deployment's)"}

static const cli_opt_t vnet_props[] = {
	NAME, LOCATION,
	{"--address-prefixes", NULL, "addressPrefixes", CLI_LIST, "IPv4 prefixes (N-1)"},
	{"--dns-servers", NULL, "dnsServers", CLI_LIST, "custom DNS servers; none: Azure DNS"},
	END,
};

static const cli_opt_t resolver_props[] = {
	NAME, LOCATION,
	{"--id", "--vnet", "virtualNetwork", CLI_STR,
	 "the virtual network: a name or an ARM id (immutable, N-4)"},
	END,
};

static const cli_opt_t inbound_props[] = {
	NAME,
	{"--subnet", "--id", "subnet", CLI_STR, "a delegated subnet of the resolver's VNet (N-3)"},
	{"--private-ip-allocation-method", NULL, "privateIpAllocationMethod", CLI_STR,
	 "Dynamic (default) or Static (immutable, I-1)"},
	{"--private-ip-address", NULL, "privateIpAddress", CLI_STR,
	 "the address, for Static (I-3)"},
	END,
};

static const cli_opt_t outbound_props[] = {
	NAME,
	{"--subnet", "--id", "subnet", CLI_STR, "a delegated subnet of the resolver's VNet (N-3)"},
	END,
};

static const cli_opt_t ruleset_props[] = {
	NAME, LOCATION,
	{"--outbound-endpoints", NULL, "dnsResolverOutboundEndpoints", CLI_LIST,
	 "resolver/endpoint names or ARM ids, 1 or 2 (O-2, L-3)"},
	END,
};

static const cli_opt_t rule_props[] = {
	NAME,
	{"--domain-name", NULL, "domainName", CLI_STR, "dot-terminated (F-2; immutable, F-7)"},
	{"--target-dns-servers", NULL, "targetDnsServers", CLI_TARGETS,
	 "ip-address=10.0.0.1 port=53 [ip-address=... port=...] (F-4, F-5)"},
	{"--forwarding-rule-state", "--state", "forwardingRuleState", CLI_STR,
	 "Enabled (default) or Disabled (F-6)"},
	END,
};

static const cli_opt_t link_props[] = {
	NAME,
	{"--id", "--virtual-network", "virtualNetwork", CLI_STR,
	 "the VNet: a name or an ARM id (P-1, L-9)"},
	END,
};

static const cli_opt_t zone_props[] = {
	NAME,
	END,
};

static const cli_opt_t zone_link_props[] = {
	NAME,
	{"--virtual-network", "-v", "virtualNetwork", CLI_STR, "the VNet: a name or an ARM id"},
	{"--registration-enabled", "-e", "registrationEnabled", CLI_BOOL,
	 "true: hosts get A records (Z-3)"},
	{"--resolution-policy", NULL, "resolutionPolicy", CLI_STR,
	 "Default or NxDomainRedirect (Q-2)"},
	END,
};

static const cli_opt_t record_set_props[] = {
	NAME,
	{"--ttl", NULL, "ttl", CLI_UINT, "seconds (default 3600)"},
	{"--records", "--record", "records", CLI_LIST,
	 "values as in a zone file: \"10 mail.contoso.com.\" for MX"},
	END,
};

static const cli_opt_t domain_list_props[] = {
	NAME, LOCATION,
	{"--domains", NULL, "domains", CLI_LIST, "domain names; \".\" matches everything (S-1)"},
	END,
};

static const cli_opt_t policy_props[] = {
	NAME, LOCATION,
	{"--mode", NULL, "mode", CLI_STR, "Enforce (default) or Audit [privres] (S-4)"},
	END,
};

static const cli_opt_t security_rule_props[] = {
	NAME,
	{"--priority", NULL, "priority", CLI_UINT, "100..65000, lower wins (S-1)"},
	{"--action", NULL, "action.actionType", CLI_STR, "Allow, Alert or Block (S-3)"},
	{"--block-response-code", NULL, "action.blockResponseCode", CLI_STR,
	 "ServFail; default: the block CNAME (S-3)"},
	{"--domain-lists", NULL, "dnsResolverDomainLists", CLI_LIST, "domain list names or ids"},
	{"--dns-security-rule-state", "--state", "dnsSecurityRuleState", CLI_STR,
	 "Enabled (default) or Disabled"},
	END,
};

static const cli_opt_t policy_link_props[] = {
	NAME,
	{"--virtual-network", "--id", "virtualNetwork", CLI_STR, "the VNet (S-2)"},
	END,
};

static const cli_opt_t vm_props[] = {
	NAME,
	{"--vnet-name", "--virtual-network", "virtualNetwork", CLI_STR, "the VNet"},
	{"--subnet", NULL, "subnet", CLI_STR, "a subnet of that VNet"},
	{"--private-ip-address", NULL, "privateIpAddress", CLI_STR,
	 "a fixed address; default: the first free one"},
	END,
};

/* Record values in zone-file form, parts in the order of the format. */
static const cli_record_type_t record_types[] = {
	{"a", "A", {{"--ipv4-address", "-a", "", CLI_STR, "an IPv4 address"}, END}},
	{"aaaa", "AAAA", {{"--ipv6-address", "-a", "", CLI_STR, "an IPv6 address"}, END}},
	{"cname", "CNAME", {{"--cname", "-c", "", CLI_STR, "the canonical name"}, END}},
	{"mx", "MX",
	 {{"--preference", "-p", "", CLI_STR, "preference"},
	  {"--exchange", "-e", "", CLI_STR, "the mail server's name"}, END}},
	{"ptr", "PTR", {{"--ptrdname", "-d", "", CLI_STR, "the name pointed to"}, END}},
	{"srv", "SRV",
	 {{"--priority", "-p", "", CLI_STR, "priority"},
	  {"--weight", "-w", "", CLI_STR, "weight"},
	  {"--port", "-r", "", CLI_STR, "port"},
	  {"--target", "-t", "", CLI_STR, "the target host"}, END}},
	{"txt", "TXT", {{"--value", "-v", "", CLI_STR, "the text"}, END}},
};

#define RS(word, i)                                                                          \
	{"private-dns record-set " word, "RecordSetService", "recordSet",                    \
	 {"--zone-name", "-z", "zoneName", CLI_STR, "the private zone"}, record_set_props,       \
	 "record sets of type " word " (Z-1)", &record_types[i]}

static const cli_resource_t resources[] = {
	{"network vnet", "VirtualNetworkService", "virtualNetwork", END, vnet_props,
	 "virtual networks and their subnets (N-1)", NULL},
	{"dns-resolver", "DnsResolverService", "dnsResolver", END, resolver_props,
	 "DNS private resolvers (N-4, L-7)", NULL},
	{"dns-resolver inbound-endpoint", "InboundEndpointService", "inboundEndpoint",
	 {"--dns-resolver-name", NULL, "dnsResolverName", CLI_STR, "the resolver"}, inbound_props,
	 "inbound endpoints (I-1..I-4)", NULL},
	{"dns-resolver outbound-endpoint", "OutboundEndpointService", "outboundEndpoint",
	 {"--dns-resolver-name", NULL, "dnsResolverName", CLI_STR, "the resolver"},
	 outbound_props, "outbound endpoints (O-1, O-4)", NULL},
	{"dns-resolver forwarding-ruleset", "DnsForwardingRulesetService", "dnsForwardingRuleset",
	 END, ruleset_props, "DNS forwarding rulesets (O-2, O-3)", NULL},
	{"dns-resolver forwarding-rule", "ForwardingRuleService", "forwardingRule",
	 {"--ruleset-name", NULL, "rulesetName", CLI_STR, "the forwarding ruleset"}, rule_props,
	 "forwarding rules (F-1..F-7)", NULL},
	{"dns-resolver vnet-link", "VirtualNetworkLinkService", "virtualNetworkLink",
	 {"--ruleset-name", NULL, "rulesetName", CLI_STR, "the forwarding ruleset"}, link_props,
	 "links of a ruleset to VNets (L-9, P-1, P-2)", NULL},
	{"dns-resolver domain-list", "DnsResolverDomainListService", "dnsResolverDomainList", END,
	 domain_list_props, "domain lists of DNS security policies (S-1)", NULL},
	{"dns-resolver policy", "DnsResolverPolicyService", "dnsResolverPolicy", END, policy_props,
	 "DNS security policies (S-1, S-2)", NULL},
	{"dns-resolver policy dns-security-rule", "DnsSecurityRuleService", "dnsSecurityRule",
	 {"--policy-name", NULL, "policyName", CLI_STR, "the policy"}, security_rule_props,
	 "rules of a DNS security policy (S-1, S-3)", NULL},
	{"dns-resolver policy vnet-link", "PolicyVirtualNetworkLinkService",
	 "policyVirtualNetworkLink", {"--policy-name", NULL, "policyName", CLI_STR, "the policy"},
	 policy_link_props, "links of a policy to VNets (S-2)", NULL},
	{"private-dns zone", "PrivateDnsZoneService", "privateDnsZone", END, zone_props,
	 "private DNS zones (Z-1, Z-2)", NULL},
	RS("a", 0), RS("aaaa", 1), RS("cname", 2), RS("mx", 3), RS("ptr", 4), RS("srv", 5),
	RS("txt", 6),
	{"private-dns link vnet", "PrivateZoneVirtualNetworkLinkService",
	 "privateZoneVirtualNetworkLink",
	 {"--zone-name", "-z", "zoneName", CLI_STR, "the private zone"}, zone_link_props,
	 "links of a private zone to VNets (Z-3, Q-2)", NULL},
	{"vm", "VirtualMachineService", "virtualMachine", END, vm_props,
	 "hosts in subnets (autoregistration, Z-3)", NULL},
	{NULL, NULL, NULL, END, NULL, NULL, NULL},
};

const cli_resource_t *cli_resources(void)
{
	return resources;
}

/* What every resource of a kind has, from the resource schema (design.md §6a). */
static const cli_opt_t tags_opt = {"--tags", NULL, "tags", CLI_MAP,
				   "ARM tags: key=value ..."};
static const cli_opt_t metadata_opt = {"--metadata", NULL, "metadata", CLI_MAP,
				       "key=value ..."};

const cli_opt_t *cli_resource_opt(const cli_resource_t *r, size_t i)
{
	size_t n = 0;
	while (r->props[n].name)
		n++;
	if (i < n)
		return &r->props[i];
	const model_kind_t *k = model_kind_by_name(r->field);
	if (k && k->tracked && i == n++)
		return &tags_opt;
	if (k && k->has_metadata && i == n)
		return &metadata_opt;
	return NULL;
}

/* The object that holds the last part of a dotted field, created as needed. */
static json_t *holder(json_t *obj, const char *field, const char **last)
{
	const char *dot;
	while ((dot = strchr(field, '.'))) {
		char *part = pr_strndup(field, (size_t)(dot - field));
		json_t *next = json_object_get(obj, part);
		if (!json_is_object(next)) {
			next = json_object();
			json_object_set_new(obj, part, next);
		}
		free(part);
		obj = next;
		field = dot + 1;
	}
	*last = field;
	return obj;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end = NULL;
	if (!*s || *s == '-')
		return false;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || v > max)
		return false;
	*out = v;
	return true;
}

int cli_set_property(json_t *obj, const cli_opt_t *opt, char **argv, int n, char **why)
{
	const char *key;
	json_t *h = holder(obj, opt->field, &key);
	unsigned long u;

	if (opt->kind != CLI_LIST && opt->kind != CLI_TARGETS && opt->kind != CLI_MAP && n != 1) {
		*why = pr_asprintf("%s takes one value", opt->name);
		return -1;
	}
	switch (opt->kind) {
	case CLI_STR:
		json_object_set_new(h, key, json_string(argv[0]));
		return 0;
	case CLI_UINT:
		if (!parse_uint(argv[0], 4294967295ul, &u)) {
			*why = pr_asprintf("%s: \"%s\" is not a number", opt->name, argv[0]);
			return -1;
		}
		json_object_set_new(h, key, json_integer((json_int_t)u));
		return 0;
	case CLI_BOOL:
		if (strcmp(argv[0], "true") != 0 && strcmp(argv[0], "false") != 0) {
			*why = pr_asprintf("%s: true or false, not \"%s\"", opt->name, argv[0]);
			return -1;
		}
		json_object_set_new(h, key, json_boolean(strcmp(argv[0], "true") == 0));
		return 0;
	case CLI_LIST: {
		json_t *a = json_array();
		for (int i = 0; i < n; i++)
			json_array_append_new(a, json_string(argv[i]));
		json_object_set_new(h, key, a);
		return 0;
	}
	case CLI_MAP: {
		json_t *m = json_object();
		for (int i = 0; i < n; i++) {
			const char *eq = strchr(argv[i], '=');
			if (!eq || eq == argv[i]) {
				json_decref(m);
				*why = pr_asprintf("%s: expected key=value, got \"%s\"", opt->name,
						   argv[i]);
				return -1;
			}
			char *k = pr_strndup(argv[i], (size_t)(eq - argv[i]));
			json_object_set_new(m, k, json_string(eq + 1));
			free(k);
		}
		json_object_set_new(h, key, m);
		return 0;
	}
	case CLI_TARGETS: {
		/* the cloud CLI's shorthand: each ip-address= starts a target */
		json_t *a = json_array(), *cur = NULL;
		for (int i = 0; i < n; i++) {
			const char *v = argv[i];
			if (!strncmp(v, "ip-address=", 11) || !strncmp(v, "ipAddress=", 10)) {
				cur = json_object();
				json_object_set_new(cur, "ipAddress",
						    json_string(strchr(v, '=') + 1));
				json_array_append_new(a, cur);
			} else if (!strncmp(v, "port=", 5) && cur &&
				   !json_object_get(cur, "port") && parse_uint(v + 5, 65535, &u)) {
				json_object_set_new(cur, "port", json_integer((json_int_t)u));
			} else {
				json_decref(a);
				*why = pr_asprintf("%s: expected ip-address=A.B.C.D [port=N] ..., "
						   "got \"%s\" (F-4)",
						   opt->name, v);
				return -1;
			}
		}
		json_object_set_new(h, key, a);
		return 0;
	}
	}
	return -1;
}
