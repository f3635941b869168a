/* The `topology:` section of a deployment (design.md §8): decoding and the
 * checks T-1..T-6 [privres] of topology/README.md, each with the case that
 * passes next to the one that fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#undef malloc
#undef calloc
#undef realloc
#undef free

#include "model/model.h"

/* The hybrid estate: a hub with a resolver (IE 10.10.0.4, OE 10.10.1.4), a
 * spoke, a ruleset forwarding corp.contoso.com to two on-premises servers. */
static const char *BASE = "virtualNetworks:\n"
			  "  - name: hub\n"
			  "    addressPrefixes: [10.10.0.0/16]\n"
			  "    subnets:\n"
			  "      - {name: snet-in, addressPrefix: 10.10.0.0/28, delegation: "
			  "Microsoft.Network/dnsResolvers}\n"
			  "      - {name: snet-out, addressPrefix: 10.10.1.0/28, delegation: "
			  "Microsoft.Network/dnsResolvers}\n"
			  "  - name: spoke\n"
			  "    addressPrefixes: [10.20.0.0/16]\n"
			  "    subnets: [{name: default, addressPrefix: 10.20.0.0/24}]\n"
			  "dnsResolvers:\n"
			  "  - name: hub-resolver\n"
			  "    virtualNetwork: hub\n"
			  "    inboundEndpoints: [{name: in, subnet: snet-in}]\n"
			  "    outboundEndpoints: [{name: out, subnet: snet-out}]\n"
			  "dnsForwardingRulesets:\n"
			  "  - name: rules\n"
			  "    dnsResolverOutboundEndpoints: [hub-resolver/out]\n"
			  "    forwardingRules:\n"
			  "      - {name: Corp, domainName: corp.contoso.com., targetDnsServers: "
			  "[{ipAddress: 192.168.10.4}, {ipAddress: 192.168.10.5}]}\n"
			  "    virtualNetworkLinks: [{name: spoke-link, virtualNetwork: spoke}]\n"
			  "virtualMachines:\n"
			  "  - {name: web1, virtualNetwork: spoke, subnet: default}\n"
			  "externalDnsServers:\n"
			  "  - name: dns1\n"
			  "    ipAddress: 192.168.10.4\n"
			  "    zones: [{name: corp.contoso.com, recordSets: [{name: fs, type: A, "
			  "records: [192.168.20.10]}]}]\n"
			  "    forwarders: [{domainName: azure.contoso.com., targetDnsServers: "
			  "[{ipAddress: 10.10.0.4}]}]\n"
			  "  - name: dns2\n"
			  "    ipAddress: 192.168.10.5\n";

/* BASE plus a topology section; returns the diag (owned) and, if valid, *out. */
static pr_diag_t *load(const char *topology, deployment_t **out)
{
	char *text = NULL;
	if (asprintf(&text, "%s%s", BASE, topology) < 0)
		abort();
	pr_diag_t *diag = pr_diag_new();
	deployment_t *d = NULL;
	int rc = deployment_load_text(text, strlen(text), "topo.yaml", &d, diag);
	free(text);
	if (rc == 0)
		assert_int_equal(pr_diag_count(diag), 0);
	else
		assert_null(d);
	if (out)
		*out = d;
	else
		deployment_destroy(&d);
	return diag;
}

static void dump(const pr_diag_t *diag)
{
	char *s = pr_diag_format(diag);
	fprintf(stderr, "%s", s);
	free(s);
}

/* The finding citing rule and holding text, or NULL. */
static const pr_diag_entry_t *finding(const pr_diag_t *diag, const char *rule, const char *text)
{
	for (size_t i = 0; i < pr_diag_count(diag); i++) {
		const pr_diag_entry_t *e = pr_diag_get(diag, i);
		if ((!rule || (e->rule && !strcmp(e->rule, rule))) &&
		    (!text || strstr(e->message, text)))
			return e;
	}
	return NULL;
}

static void expect_valid(const char *topology)
{
	pr_diag_t *diag = load(topology, NULL);
	if (pr_diag_count(diag))
		dump(diag);
	assert_int_equal(pr_diag_count(diag), 0);
	pr_diag_destroy(&diag);
}

static void expect_finding(const char *topology, const char *rule, const char *text)
{
	pr_diag_t *diag = load(topology, NULL);
	if (!finding(diag, rule, text)) {
		fprintf(stderr, "expected %s '%s' among:\n", rule ? rule : "-", text);
		dump(diag);
	}
	assert_non_null(finding(diag, rule, text));
	pr_diag_destroy(&diag);
}

#define GOOD_NET                                                                                   \
	"topology:\n"                                                                              \
	"  onPremisesNetworks:\n"                                                                  \
	"    - name: corp\n"                                                                       \
	"      addressPrefixes: [192.168.10.0/24]\n"                                               \
	"      connectedVirtualNetworks: [hub]\n"                                                  \
	"      hosts: [{name: laptop, privateIpAddress: 192.168.10.20}]\n"                         \
	"      dnsServers: [dns1, dns2]\n"

/* The valid hybrid topology decodes into the model with every reference
 * resolved, and the lookups answer from it. */
static void test_topology_decodes_hybrid(void **state)
{
	(void)state;
	deployment_t *d = NULL;
	pr_diag_t *diag = load(GOOD_NET, &d);
	if (pr_diag_count(diag))
		dump(diag);
	assert_non_null(d);
	assert_non_null(d->topology);
	assert_int_equal(d->topology->n_networks, 1);
	const model_onprem_network_t *net = &d->topology->networks[0];
	assert_string_equal(net->name, "corp");
	assert_int_equal(net->n_prefixes, 1);
	assert_int_equal(net->prefixes[0].addr, 0xc0a80a00u);
	assert_int_equal(net->prefixes[0].len, 24);
	assert_int_equal(net->n_vnets, 1);
	assert_int_equal(net->vnets[0], deployment_find_vnet(d, "hub"));
	assert_int_equal(net->n_hosts, 1);
	assert_string_equal(net->hosts[0].name, "laptop");
	assert_int_equal(net->hosts[0].address, 0xc0a80a14u);
	assert_int_equal(net->n_dns_servers, 2);
	assert_int_equal(deployment_topology_network_of_server(d, 0), 0);
	assert_int_equal(deployment_topology_network_of_server(d, 1), 0);
	assert_true(deployment_topology_connects(d, 0, deployment_find_vnet(d, "hub")));
	assert_false(deployment_topology_connects(d, 0, deployment_find_vnet(d, "spoke")));
	/* the section travels with the export, so privres-topo reads it there */
	json_t *j = deployment_to_json(d);
	assert_non_null(json_object_get(json_object_get(j, "topology"), "onPremisesNetworks"));
	json_decref(j);
	deployment_destroy(&d);
	pr_diag_destroy(&diag);
}

static void test_topology_absent_is_null(void **state)
{
	(void)state;
	deployment_t *d = NULL;
	pr_diag_t *diag = load("", &d);
	assert_non_null(d);
	assert_null(d->topology);
	assert_int_equal(deployment_topology_network_of_server(d, 0), -1);
	deployment_destroy(&d);
	pr_diag_destroy(&diag);
}

/* Shapes and unknown keys, with positions (style.md §12). */
static void test_topology_shape_errors(void **state)
{
	(void)state;
	expect_finding("topology: [a]\n", NULL, "must be a mapping");
	expect_finding("topology: {onPremNetworks: []}\n", NULL,
		       "did you mean 'onPremisesNetworks'");
	pr_diag_t *diag = load("topology:\n"
			       "  onPremisesNetworks:\n"
			       "    - name: corp\n"
			       "      addressPrefixes: [192.168.10.0/24]\n"
			       "      connectedVnets: [hub]\n",
			       NULL);
	const pr_diag_entry_t *e = finding(diag, NULL, "did you mean 'connectedVirtualNetworks'");
	assert_non_null(e);
	assert_string_equal(e->path, "topology.onPremisesNetworks[corp].connectedVnets");
	assert_string_equal(e->file, "topo.yaml");
	/* the unknown key is on the 5th line of the section, after BASE's lines */
	int base_lines = 0;
	for (const char *q = BASE; *q; q++)
		base_lines += *q == '\n';
	assert_int_equal(e->line, base_lines + 5);
	assert_int_equal(e->column, 23); /* the value of the unknown key, as decode.c reports */
	pr_diag_destroy(&diag);
	expect_finding("topology:\n  onPremisesNetworks:\n    - name: corp\n", "T-1",
		       "'addressPrefixes' is required");
	expect_finding(
		"topology:\n  onPremisesNetworks:\n"
		"    - {name: corp, addressPrefixes: [192.168.10.0/24], hosts: [{name: h}]}\n",
		NULL, "'privateIpAddress' is required");
}

/* T-1: prefixes are valid, large enough, and overlap neither a VNet, nor
 * each other, nor Azure DNS; names are unique among networks and VNets. */
static void test_topology_t1_prefixes(void **state)
{
	(void)state;
	expect_finding("topology:\n  onPremisesNetworks:\n"
		       "    - {name: corp, addressPrefixes: [192.168.10.0/33]}\n",
		       "T-1", "192.168.10.0/33");
	expect_finding("topology:\n  onPremisesNetworks:\n"
		       "    - {name: corp, addressPrefixes: [10.20.128.0/24]}\n",
		       "T-1", "overlaps virtual network 'spoke' (10.20.0.0/16)");
	expect_finding("topology:\n  onPremisesNetworks:\n"
		       "    - {name: corp, addressPrefixes: [192.168.0.0/16]}\n"
		       "    - {name: branch, addressPrefixes: [192.168.10.0/24]}\n",
		       "T-1", "overlaps 192.168.0.0/16 of on-premises network 'corp'");
	expect_finding("topology:\n  onPremisesNetworks:\n"
		       "    - {name: corp, addressPrefixes: [192.168.0.0/24, 192.168.0.128/25]}\n",
		       "T-1", "overlaps 192.168.0.0/24 of on-premises network 'corp'");
	expect_finding("topology:\n  onPremisesNetworks:\n"
		       "    - {name: corp, addressPrefixes: [192.168.10.0/30]}\n",
		       "T-1", "too small");
	expect_finding("topology:\n  onPremisesNetworks:\n"
		       "    - {name: corp, addressPrefixes: [168.63.0.0/16]}\n",
		       "T-1", "168.63.129.16");
	expect_finding("topology:\n  onPremisesNetworks:\n"
		       "    - {name: hub, addressPrefixes: [192.168.10.0/24]}\n",
		       "T-1", "already a virtual network's name");
	expect_finding("topology:\n  onPremisesNetworks:\n"
		       "    - {name: a, addressPrefixes: [192.168.10.0/24]}\n"
		       "    - {name: a, addressPrefixes: [192.168.11.0/24]}\n",
		       "T-1", "defined twice");
	/* adjacent, not overlapping: fine (/29 is the smallest) */
	expect_valid("topology:\n  onPremisesNetworks:\n"
		     "    - {name: a, addressPrefixes: [192.168.10.0/29]}\n"
		     "    - {name: b, addressPrefixes: [192.168.10.8/29]}\n");
}

/* T-2: connected VNets exist (by name or ARM id), once each. */
static void test_topology_t2_connected_vnets(void **state)
{
	(void)state;
	expect_finding("topology:\n  onPremisesNetworks:\n"
		       "    - {name: corp, addressPrefixes: [192.168.10.0/24],"
		       " connectedVirtualNetworks: [hubb]}\n",
		       "T-2", "virtual network 'hubb' does not exist; known: hub, spoke");
	expect_finding("topology:\n  onPremisesNetworks:\n"
		       "    - {name: corp, addressPrefixes: [192.168.10.0/24],"
		       " connectedVirtualNetworks: [hub, hub]}\n",
		       "T-2", "listed twice");
	expect_valid(
		"topology:\n  onPremisesNetworks:\n"
		"    - {name: corp, addressPrefixes: [192.168.10.0/24], connectedVirtualNetworks:"
		" ['/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/privres/"
		"providers/Microsoft.Network/virtualNetworks/spoke']}\n");
}

/* T-3: hosts inside their network, off the reserved addresses, at unique
 * addresses, with names unique among hosts and VMs. */
static void test_topology_t3_hosts(void **state)
{
	(void)state;
	const char *head = "topology:\n  onPremisesNetworks:\n"
			   "    - name: corp\n"
			   "      addressPrefixes: [192.168.10.0/24]\n"
			   "      connectedVirtualNetworks: [hub]\n"
			   "      dnsServers: [dns1, dns2]\n";
	char buf[2048];
	snprintf(buf, sizeof(buf), "%s      hosts: [{name: h, privateIpAddress: 192.168.11.9}]\n",
		 head);
	expect_finding(buf, "T-3",
		       "192.168.11.9 is outside on-premises network 'corp' "
		       "(192.168.10.0/24)");
	snprintf(buf, sizeof(buf), "%s      hosts: [{name: h, privateIpAddress: 192.168.10.1}]\n",
		 head);
	expect_finding(buf, "T-3", "192.168.10.1 is reserved in 192.168.10.0/24");
	snprintf(buf, sizeof(buf), "%s      hosts: [{name: h, privateIpAddress: 192.168.10.255}]\n",
		 head);
	expect_finding(buf, "T-3", "valid: 192.168.10.2..192.168.10.254");
	snprintf(buf, sizeof(buf), "%s      hosts: [{name: h, privateIpAddress: 192.168.10.4}]\n",
		 head);
	expect_finding(buf, "T-3", "192.168.10.4 is already external DNS server 'dns1'");
	snprintf(buf, sizeof(buf),
		 "%s      hosts: [{name: h, privateIpAddress: 192.168.10.7},"
		 " {name: g, privateIpAddress: 192.168.10.7}]\n",
		 head);
	expect_finding(buf, "T-3", "192.168.10.7 is already host 'h'");
	snprintf(buf, sizeof(buf),
		 "%s      hosts: [{name: h, privateIpAddress: 192.168.10.7},"
		 " {name: h, privateIpAddress: 192.168.10.8}]\n",
		 head);
	expect_finding(buf, "T-3", "host name 'h' is already");
	snprintf(buf, sizeof(buf),
		 "%s      hosts: [{name: web1, privateIpAddress: 192.168.10.8}]\n", head);
	expect_finding(buf, "T-3", "already virtual machine");
	snprintf(buf, sizeof(buf), "%s      hosts: [{name: h, privateIpAddress: 192.168.10.2}]\n",
		 head);
	expect_valid(buf);
}

/* T-4: dnsServers name external servers, placed once, inside. */
static void test_topology_t4_dns_servers(void **state)
{
	(void)state;
	expect_finding("topology:\n  onPremisesNetworks:\n"
		       "    - {name: corp, addressPrefixes: [192.168.10.0/24],"
		       " connectedVirtualNetworks: [hub], dnsServers: [dns1, dns3]}\n",
		       "T-4", "'dns3' is not one of externalDnsServers");
	expect_finding("topology:\n  onPremisesNetworks:\n"
		       "    - {name: corp, addressPrefixes: [192.168.20.0/24],"
		       " connectedVirtualNetworks: [hub], dnsServers: [dns1]}\n",
		       "T-4",
		       "192.168.10.4 is outside on-premises network 'corp' (192.168.20.0/24)");
	expect_finding("topology:\n  onPremisesNetworks:\n"
		       "    - {name: a, addressPrefixes: [192.168.10.0/25],"
		       " connectedVirtualNetworks: [hub], dnsServers: [dns1, dns2]}\n"
		       "    - {name: b, addressPrefixes: [192.168.10.128/25],"
		       " connectedVirtualNetworks: [hub], dnsServers: [dns2]}\n",
		       "T-4", "'dns2' is already placed in on-premises network 'a'");
}

/* T-5: an on-premises server forwarding to an inbound endpoint needs its
 * network connected to the endpoint's VNet; a server left out of the
 * topology is not checked (it runs nowhere). */
static void test_topology_t5_forwarder_reaches_inbound(void **state)
{
	(void)state;
	expect_finding("topology:\n  onPremisesNetworks:\n"
		       "    - {name: corp, addressPrefixes: [192.168.10.0/24],"
		       " connectedVirtualNetworks: [spoke], dnsServers: [dns1]}\n",
		       "T-5",
		       "external DNS server 'dns1' forwards to inbound endpoint "
		       "hub-resolver/in (10.10.0.4) in virtual network 'hub', but its "
		       "on-premises network 'corp' is not connected to it");
	expect_valid("topology:\n  onPremisesNetworks:\n"
		     "    - {name: corp, addressPrefixes: [192.168.10.0/24],"
		     " connectedVirtualNetworks: [hub], dnsServers: [dns1]}\n");
	expect_valid("topology:\n  onPremisesNetworks:\n"
		     "    - {name: corp, addressPrefixes: [192.168.10.0/24]}\n");
}

/* T-6: a rule's target placed on premises must be reachable from the VNet of
 * the ruleset's outbound endpoint (O-1: queries leave from there). */
static void test_topology_t6_rule_target_reachable(void **state)
{
	(void)state;
	pr_diag_t *diag = load("topology:\n  onPremisesNetworks:\n"
			       "    - {name: corp, addressPrefixes: [192.168.10.0/24],"
			       " connectedVirtualNetworks: [spoke], dnsServers: [dns2]}\n",
			       NULL);
	const pr_diag_entry_t *e = finding(diag, "T-6",
					   "rule 'Corp' targets external DNS "
					   "server 'dns2' in on-premises network "
					   "'corp', which is not connected to "
					   "virtual network 'hub'");
	if (!e)
		dump(diag);
	assert_non_null(e);
	assert_string_equal(e->path, "dnsForwardingRulesets[rules].forwardingRules[Corp]"
				     ".targetDnsServers[1]");
	pr_diag_destroy(&diag);
}

/* The shipped example passes, and every invalid finding carries a position. */
static void test_topology_example_file_valid(void **state)
{
	(void)state;
	pr_diag_t *diag = pr_diag_new();
	deployment_t *d = NULL;
	int rc =
		deployment_load_file(PRIVRES_SOURCE_DIR "/examples/topology-hybrid.yaml", &d, diag);
	if (rc)
		dump(diag);
	assert_int_equal(rc, 0);
	assert_non_null(d->topology);
	assert_true(d->topology->n_networks >= 1);
	deployment_destroy(&d);
	pr_diag_destroy(&diag);
}

/* A laptop running the client stub: corp (connected to the hub) holds dns1
 * and dns2, home holds nothing. ADAPTERS is the laptop's adapter list. */
#define CLIENT_NET(ADAPTERS)                                                                       \
	"topology:\n"                                                                              \
	"  onPremisesNetworks:\n"                                                                  \
	"    - name: corp\n"                                                                       \
	"      addressPrefixes: [192.168.10.0/24]\n"                                               \
	"      connectedVirtualNetworks: [hub]\n"                                                  \
	"      dnsServers: [dns1, dns2]\n"                                                         \
	"      hosts:\n"                                                                           \
	"        - name: laptop\n"                                                                 \
	"          privateIpAddress: 192.168.10.20\n"                                              \
	"          dnsClient:\n"                                                                   \
	"            adapters: " ADAPTERS "\n"                                                     \
	"    - name: home\n"                                                               \
	"      addressPrefixes: [192.168.1.0/24]\n"

/* T-7 (adapters' shape) and T-8 (networks and reachable DNS servers). */
static void test_topology_t7_t8_dns_client(void **state)
{
	(void)state;
	deployment_t *d = NULL;
	pr_diag_t *diag = load(CLIENT_NET("[{name: vpn, interfaceMetric: 5, dnsServers: [dns1, "
					  "10.10.0.4]}, {name: wifi, interfaceMetric: 25, "
					  "dnsServers: [192.168.10.5]}]"),
			       &d);
	if (pr_diag_count(diag))
		dump(diag);
	assert_non_null(d);
	const model_onprem_host_t *h = &d->topology->networks[0].hosts[0];
	assert_true(h->dns_client);
	assert_int_equal(h->n_adapters, 2);
	assert_string_equal(h->adapters[0].name, "vpn");
	assert_int_equal(h->adapters[0].metric, 5);
	assert_int_equal(h->adapters[0].network, 0);
	assert_int_equal(h->adapters[0].n_servers, 2);
	assert_int_equal(h->adapters[0].servers[0], 0xC0A80A04); /* dns1 */
	assert_int_equal(h->adapters[0].servers[1], 0x0A0A0004); /* the inbound endpoint */
	assert_int_equal(h->adapters[1].servers[0], 0xC0A80A05);
	assert_int_equal(h->adapters[1].ports[0], 53);
	deployment_destroy(&d);
	pr_diag_destroy(&diag);

	expect_finding(CLIENT_NET("[{name: vpn, interfaceMetric: 0, dnsServers: [dns1]}]"), "T-7",
		       "'interfaceMetric' is required");
	expect_finding(CLIENT_NET("[{name: vpn, interfaceMetric: 10000, dnsServers: [dns1]}]"),
		       "T-7", "from 1 to 9999");
	expect_finding(CLIENT_NET("[{name: vpn, interfaceMetric: 5}]"), "T-7",
		       "'dnsServers' needs 1 to 8");
	expect_finding(CLIENT_NET("[]"), "T-7", "'adapters' needs 1 to 8");
	expect_finding(CLIENT_NET("[{name: a, interfaceMetric: 5, dnsServers: [dns1]}, {name: a, "
				  "interfaceMetric: 6, dnsServers: [dns2]}]"),
		       "T-7", "defined twice");
	expect_finding(CLIENT_NET("[{name: a, interfaceMetric: 5, network: nowhere, dnsServers: "
				  "[dns1]}]"),
		       "T-8", "'nowhere' does not exist");
	/* a VM's address is no DNS server */
	expect_finding(CLIENT_NET("[{name: a, interfaceMetric: 5, dnsServers: [10.20.0.4]}]"),
		       "T-8", "'10.20.0.4' is not reachable over adapter 'a'");
	/* dns1 is placed in corp, not in the adapter's network */
	expect_finding(CLIENT_NET("[{name: a, interfaceMetric: 5, network: home, dnsServers: "
				  "[dns1]}]"),
		       "T-8", "'dns1' is not reachable");
	/* home is not connected to the hub: its inbound endpoint is out of reach */
	expect_finding(CLIENT_NET("[{name: a, interfaceMetric: 5, network: home, dnsServers: "
				  "[10.10.0.4]}]"),
		       "T-8", "'10.10.0.4' is not reachable");
}

/* The laptop with an overlay agent's adapter, and an overlay network whose
 * systems, records and policies are OVERLAY's lines. */
#define OVERLAY_NET(ADAPTER, OVERLAY)                                                             \
	CLIENT_NET("[" ADAPTER ", {name: lan, interfaceMetric: 10, dnsServers: [dns1]}]")         \
	"  overlayNetworks:\n"                                                                     \
	"    - name: mesh\n" OVERLAY

#define MESH_OK                                                                                    \
	"      systems:\n"                                                                         \
	"        - {systemId: A1, host: laptop, hostname: LAPTOP, address: 100.64.0.2, tags: [s]}\n" \
	"        - {systemId: B2, hostname: db, address: 100.64.0.5, tags: [db]}\n"                 \
	"      dnsRecords: [{name: data, tags: [db]}]\n"                                           \
	"      policies: [{name: p, senders: [s], receivers: [db]}]\n"

#define AGENT "{name: enclave, interfaceMetric: 1, overlayNetwork: mesh}"

static void test_topology_t9_t10_overlay(void **state)
{
	(void)state;
	deployment_t *d = NULL;
	pr_diag_t *diag = load(OVERLAY_NET(AGENT, MESH_OK), &d);
	if (pr_diag_count(diag))
		dump(diag);
	assert_non_null(d);
	const model_overlay_network_t *o = &d->topology->overlays[0];
	assert_string_equal(o->zone, "enclave");
	assert_int_equal(o->n_systems, 2);
	assert_int_equal(o->systems[1].address, 0x64400005);
	assert_int_equal(d->topology->networks[0].hosts[0].adapters[0].overlay, 0);
	deployment_destroy(&d);
	pr_diag_destroy(&diag);

	expect_finding(OVERLAY_NET(AGENT, "      systems:\n"
					  "        - {systemId: A1, host: laptop, address: 100.64.0.2}\n"
					  "        - {systemId: a1, address: 100.64.0.2}\n"
					  "        - {systemId: c-3, host: nobody, address: 100.64.0.9}\n"),
		       "T-9", "system id 'a1' is used twice");
	expect_finding(OVERLAY_NET(AGENT, "      systems:\n"
					  "        - {systemId: A1, host: laptop, address: 100.64.0.2}\n"
					  "        - {systemId: B2, address: 100.64.0.2}\n"),
		       "T-9", "address 100.64.0.2 is already system 'A1'");
	expect_finding(OVERLAY_NET(AGENT, "      systems:\n"
					  "        - {systemId: A1, host: laptop, address: 100.64.0.2}\n"
					  "        - {systemId: c-3, host: nobody, address: 100.64.0.9}\n"),
		       "T-9", "'c-3': a system id is 1-63 letters and digits");
	expect_finding(OVERLAY_NET(AGENT, "      systems:\n"
					  "        - {systemId: A1, host: laptop, address: 100.64.0.2}\n"
					  "        - {systemId: C3, host: nobody, address: 100.64.0.9}\n"),
		       "T-9", "'nobody' is not a host");
	expect_finding(OVERLAY_NET(AGENT, MESH_OK "      zone: \"bad..zone\"\n"), "T-9",
		       "'bad..zone' is not a DNS name");
	expect_finding(OVERLAY_NET(AGENT, "      systems: [{systemId: A1, host: laptop, address: "
					  "100.64.0.2}]\n"
					  "      dnsRecords: [{name: x, systems: [Z9]}]\n"),
		       "T-9", "'Z9' is no system id of overlay network 'mesh'");
	expect_finding(OVERLAY_NET(AGENT, "      systems: [{systemId: A1, host: laptop, address: "
					  "100.64.0.2}]\n"
					  "      policies: [{name: p, senders: [nosuchtag], receivers: "
					  "[A1]}]\n"),
		       "T-9", "'nosuchtag' is no system id or tag");
	/* T-10 */
	expect_finding(OVERLAY_NET("{name: enclave, interfaceMetric: 1, overlayNetwork: other}",
				   MESH_OK),
		       "T-10", "overlay network 'other' does not exist");
	expect_finding(OVERLAY_NET(AGENT, "      systems: [{systemId: B2, address: 100.64.0.5}]\n"),
		       "T-10", "host 'laptop' runs no system of overlay network 'mesh'");
	expect_finding(OVERLAY_NET("{name: enclave, interfaceMetric: 1, overlayNetwork: mesh, "
				   "dnsServers: [dns1]}",
				   MESH_OK),
		       "T-10", "no 'dnsServers' or 'network'");
	expect_finding(OVERLAY_NET(AGENT ", {name: e2, interfaceMetric: 2, overlayNetwork: mesh}",
				   MESH_OK),
		       "T-10", "has one overlay agent's adapter already");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_topology_decodes_hybrid),
		cmocka_unit_test(test_topology_absent_is_null),
		cmocka_unit_test(test_topology_shape_errors),
		cmocka_unit_test(test_topology_t1_prefixes),
		cmocka_unit_test(test_topology_t2_connected_vnets),
		cmocka_unit_test(test_topology_t3_hosts),
		cmocka_unit_test(test_topology_t4_dns_servers),
		cmocka_unit_test(test_topology_t5_forwarder_reaches_inbound),
		cmocka_unit_test(test_topology_t6_rule_target_reachable),
		cmocka_unit_test(test_topology_example_file_valid),
		cmocka_unit_test(test_topology_t7_t8_dns_client),
		cmocka_unit_test(test_topology_t9_t10_overlay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
