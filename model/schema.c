/* The resource schema (design.md §6a): every kind of resource, once, and the
 * edits of a deployment document that every surface changing one resource
 * shares (the API's CreateOrUpdate and Delete, the journal's replay). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/model_p.h"

#define NET "Microsoft.Network/"
#define TF "azurerm_private_dns_resolver"

static const model_kind_t kinds[MODEL_KIND_COUNT] = {
	[MODEL_KIND_VNET] = {MODEL_KIND_VNET, "virtualNetwork", "virtualNetworks", NULL,
			     NET "virtualNetworks", NULL, -1, 0, false, true, false, NULL, NULL,
			     "VirtualNetworkService", NULL, "azurerm_virtual_network"},
	[MODEL_KIND_SUBNET] = {MODEL_KIND_SUBNET, "subnet", "subnets", NULL,
			       NET "virtualNetworks/subnets", "subnets", MODEL_KIND_VNET, 1, false,
			       false, false, NULL, NULL, NULL, NULL, "azurerm_subnet"},
	[MODEL_KIND_RESOLVER] = {MODEL_KIND_RESOLVER, "dnsResolver", "dnsResolvers", NULL,
				 NET "dnsResolvers", NULL, -1, 2, false, true, false,
				 "virtualNetwork", "N-4", "DnsResolverService", NULL, TF},
	[MODEL_KIND_INBOUND] = {MODEL_KIND_INBOUND, "inboundEndpoint", "inboundEndpoints", NULL,
				NET "dnsResolvers/inboundEndpoints", "inboundEndpoints",
				MODEL_KIND_RESOLVER, 3, false, true, false,
				"privateIpAllocationMethod", "I-1", "InboundEndpointService",
				"dnsResolverName", TF "_inbound_endpoint"},
	[MODEL_KIND_OUTBOUND] = {MODEL_KIND_OUTBOUND, "outboundEndpoint", "outboundEndpoints", NULL,
				 NET "dnsResolvers/outboundEndpoints", "outboundEndpoints",
				 MODEL_KIND_RESOLVER, 3, false, true, false, NULL, NULL,
				 "OutboundEndpointService", "dnsResolverName",
				 TF "_outbound_endpoint"},
	[MODEL_KIND_RULESET] = {MODEL_KIND_RULESET, "dnsForwardingRuleset", "dnsForwardingRulesets",
				NULL, NET "dnsForwardingRulesets", NULL, -1, 4, false, true, false,
				NULL, NULL, "DnsForwardingRulesetService", NULL,
				TF "_dns_forwarding_ruleset"},
	[MODEL_KIND_RULE] = {MODEL_KIND_RULE, "forwardingRule", "forwardingRules", NULL,
			     NET "dnsForwardingRulesets/forwardingRules", "forwardingRules",
			     MODEL_KIND_RULESET, 5, false, false, true, "domainName", "F-7",
			     "ForwardingRuleService", "rulesetName", TF "_forwarding_rule"},
	[MODEL_KIND_RULESET_LINK] = {MODEL_KIND_RULESET_LINK, "virtualNetworkLink",
				     "virtualNetworkLinks", NULL,
				     NET "dnsForwardingRulesets/virtualNetworkLinks",
				     "virtualNetworkLinks", MODEL_KIND_RULESET, 5, false, false, true,
				     NULL, NULL, "VirtualNetworkLinkService", "rulesetName",
				     TF "_virtual_network_link"},
	[MODEL_KIND_ZONE] = {MODEL_KIND_ZONE, "privateDnsZone", "privateDnsZones", NULL,
			     NET "privateDnsZones", NULL, -1, 0, false, true, false, NULL, NULL,
			     "PrivateDnsZoneService", NULL, "azurerm_private_dns_zone"},
	/* the type and id segment of a record set are its record type
	 * (privateDnsZones/A); azurerm has one resource per record type */
	[MODEL_KIND_RECORD_SET] = {MODEL_KIND_RECORD_SET, "recordSet", "recordSets", NULL,
				   NET "privateDnsZones", NULL, MODEL_KIND_ZONE, 1, true, false,
				   true, NULL, NULL, "RecordSetService", "zoneName", NULL},
	[MODEL_KIND_ZONE_LINK] = {MODEL_KIND_ZONE_LINK, "privateZoneVirtualNetworkLink",
				  "virtualNetworkLinks", NULL,
				  NET "privateDnsZones/virtualNetworkLinks", "virtualNetworkLinks",
				  MODEL_KIND_ZONE, 2, false, true, false, NULL, NULL,
				  "PrivateZoneVirtualNetworkLinkService", "zoneName",
				  "azurerm_private_dns_zone_virtual_network_link"},
	/* no azurerm resource exists for the security policy (azapi only) */
	[MODEL_KIND_DOMAIN_LIST] = {MODEL_KIND_DOMAIN_LIST, "dnsResolverDomainList",
				    "dnsResolverDomainLists", NULL, NET "dnsResolverDomainLists",
				    NULL, -1, 0, false, true, false, NULL, NULL,
				    "DnsResolverDomainListService", NULL, NULL},
	[MODEL_KIND_POLICY] = {MODEL_KIND_POLICY, "dnsResolverPolicy", "dnsResolverPolicies",
			       "dnsSecurityPolicies" /* the portal's name */, NET "dnsResolverPolicies",
			       NULL, -1, 1, false, true, false, NULL, NULL,
			       "DnsResolverPolicyService", NULL, NULL},
	[MODEL_KIND_SECURITY_RULE] = {MODEL_KIND_SECURITY_RULE, "dnsSecurityRule",
				      "dnsSecurityRules", NULL,
				      NET "dnsResolverPolicies/dnsSecurityRules", "dnsSecurityRules",
				      MODEL_KIND_POLICY, 2, false, true, false, NULL, NULL,
				      "DnsSecurityRuleService", "policyName", NULL},
	[MODEL_KIND_POLICY_LINK] = {MODEL_KIND_POLICY_LINK, "policyVirtualNetworkLink",
				    "virtualNetworkLinks", NULL,
				    NET "dnsResolverPolicies/virtualNetworkLinks",
				    "virtualNetworkLinks", MODEL_KIND_POLICY, 2, false, true, false,
				    NULL, NULL, "PolicyVirtualNetworkLinkService", "policyName", NULL},
	[MODEL_KIND_VM] = {MODEL_KIND_VM, "virtualMachine", "virtualMachines", NULL,
			   "Microsoft.Compute/virtualMachines", NULL, -1, 2, false, true, false,
			   NULL, NULL, "VirtualMachineService", NULL, "azurerm_linux_virtual_machine"},
	[MODEL_KIND_EXTERNAL] = {MODEL_KIND_EXTERNAL, "externalDnsServer", "externalDnsServers",
				 NULL, "privres/externalDnsServers", NULL, -1, 0, false, false,
				 false, NULL, NULL, "ExternalDnsServerService", NULL, NULL},
};

const model_kind_t *model_kind(model_kind_id_t id)
{
	PR_REQUIRE(id < MODEL_KIND_COUNT);
	return &kinds[id];
}

const model_kind_t *model_kind_by_name(const char *name)
{
	for (size_t i = 0; i < MODEL_KIND_COUNT; i++)
		if (strcmp(kinds[i].name, name) == 0)
			return &kinds[i];
	return NULL;
}

bool model_kind_is_child_key(const model_kind_t *k, const char *key)
{
	for (size_t i = 0; i < MODEL_KIND_COUNT; i++)
		if (kinds[i].parent == (int)k->id && strcmp(kinds[i].key, key) == 0)
			return true;
	return false;
}

static const char *name_of(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

json_t *model_doc_find(const json_t *arr, const char *name, const char *type, size_t *at)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e) {
		if (strcasecmp(name_of(e, "name"), name) != 0)
			continue;
		if (type && strcasecmp(name_of(e, "type"), type) != 0)
			continue;
		if (at)
			*at = i;
		return e;
	}
	return NULL;
}

/* The top-level collection of kind k: its key, else its alias. */
static json_t *top_collection(json_t *doc, const model_kind_t *k, bool create)
{
	json_t *top = json_object_get(doc, k->key);
	if (!top && k->alias)
		top = json_object_get(doc, k->alias);
	if (!json_is_array(top) && create) {
		top = json_array();
		json_object_set_new(doc, k->key, top);
	}
	return json_is_array(top) ? top : NULL;
}

json_t *model_doc_collection(json_t *doc, const model_kind_t *k, const char *parent, bool create,
			     int *err)
{
	if (err)
		*err = 0;
	if (k->parent < 0)
		return top_collection(doc, k, create);
	json_t *p = model_doc_find(top_collection(doc, &kinds[k->parent], false),
				   parent ? parent : "", NULL, NULL);
	if (!p) {
		if (err)
			*err = PR_ENOTFOUND;
		return NULL;
	}
	json_t *arr = json_object_get(p, k->key);
	if (!json_is_array(arr) && create) {
		arr = json_array();
		json_object_set_new(p, k->key, arr);
	}
	return json_is_array(arr) ? arr : NULL;
}

/* A shallow copy of element key of obj (an object or an array), put in
 * place of the original in obj; the copy (borrowed), or NULL. */
static json_t *own_member(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_object(v) && !json_is_array(v))
		return NULL;
	json_t *copy = json_copy(v);
	json_object_set_new(obj, key, copy);
	return copy;
}

json_t *model_doc_edit_copy(const json_t *doc, const model_kind_t *k, const char *parent)
{
	json_t *root = json_copy((json_t *)doc);
	const model_kind_t *top = k->parent < 0 ? k : &kinds[k->parent];
	const char *key = json_object_get(root, top->key) || !top->alias ? top->key : top->alias;
	json_t *arr = own_member(root, key);
	size_t at = 0;
	if (k->parent < 0 || !model_doc_find(arr, parent ? parent : "", NULL, &at))
		return root;
	json_t *p = json_copy(json_array_get(arr, at));
	json_array_set_new(arr, at, p);
	own_member(p, k->key);
	return root;
}

int model_doc_put(json_t *doc, const model_kind_t *k, const char *parent, const json_t *res)
{
	int err = 0;
	const char *name = name_of(res, "name");
	if (!*name)
		return PR_ECONFIG;
	json_t *arr = model_doc_collection(doc, k, parent, true, &err);
	if (!arr)
		return err ? err : PR_ENOTFOUND;
	json_t *copy = json_deep_copy(res);
	size_t at = 0;
	json_t *old = model_doc_find(arr, name, k->keyed_by_type ? name_of(res, "type") : NULL, &at);
	if (!old) {
		json_array_append_new(arr, copy);
		return 0;
	}
	/* child resources are resources of their own: a put of the parent keeps them */
	const char *key;
	json_t *v;
	json_object_foreach(old, key, v)
		if (model_kind_is_child_key(k, key) && !json_object_get(copy, key))
			json_object_set(copy, key, v);
	json_array_set_new(arr, at, copy);
	return 0;
}

int model_doc_remove(json_t *doc, const model_kind_t *k, const char *parent, const char *name,
		     const char *type)
{
	size_t at = 0;
	json_t *arr = model_doc_collection(doc, k, parent, false, NULL);
	if (!arr || !model_doc_find(arr, name, k->keyed_by_type ? type : NULL, &at))
		return PR_ENOTFOUND;
	json_array_remove(arr, at);
	return 0;
}

bool model_key_is_read_only(const char *key)
{
	static const char *const outputs[] = {"etag", "provisioningState", "isAutoRegistered",
					      "virtualNetworkLinkState", NULL};
	for (const char *const *o = outputs; *o; o++)
		if (strcmp(*o, key) == 0)
			return true;
	return false;
}

/* What a resource's etag covers: its own given properties, not its children's
 * (resources of their own) nor the outputs. */
static json_t *etag_basis(const model_kind_t *k, const json_t *r)
{
	json_t *b = json_object();
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)r, key, v)
		if (!model_kind_is_child_key(k, key) && !model_key_is_read_only(key))
			json_object_set(b, key, v);
	return b;
}

/* An etag in the resource manager's shape ("0000efd6-0000-0800-0000-60401c7c0000"):
 * the same content gives the same etag, any change another. */
static char *etag_of(const model_kind_t *k, const json_t *r)
{
	json_t *b = etag_basis(k, r);
	char *sum = model_state_checksum(b);
	json_object_set_new(b, "~kind", json_string(k->arm_type));
	char *sum2 = model_state_checksum(b);
	json_decref(b);
	char *e = pr_asprintf("\"%.8s-%.4s-%.4s-%.4s-%.12s\"", sum, sum + 8, sum + 12, sum2,
			      sum2 + 4);
	free(sum);
	free(sum2);
	return e;
}

static void annotate(const model_kind_t *k, json_t *arr);

void model_annotate_resource_outputs(const model_kind_t *k, json_t *r)
{
	if (strncmp(k->arm_type, "Microsoft.", 10) != 0 || !json_is_object(r))
		return; /* an emulator resource (external servers): no resource manager */
	char *etag = etag_of(k, r);
	json_object_set_new(r, "etag", json_string(etag));
	free(etag);
	json_object_set_new(r, "provisioningState", json_string("Succeeded"));
	for (size_t c = 0; c < MODEL_KIND_COUNT; c++)
		if (kinds[c].parent == (int)k->id)
			annotate(&kinds[c], json_object_get(r, kinds[c].key));
}

static void annotate(const model_kind_t *k, json_t *arr)
{
	size_t i;
	json_t *r;
	json_array_foreach(arr, i, r)
		model_annotate_resource_outputs(k, r);
}

void model_annotate_outputs(json_t *doc)
{
	for (size_t i = 0; i < MODEL_KIND_COUNT; i++)
		if (kinds[i].parent < 0)
			annotate(&kinds[i], top_collection(doc, &kinds[i], false));
}
