/* A deployment back to JSON (with what was computed: ids, allocated
 * addresses) and any JSON to YAML, for export and state files. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "model/model_p.h"

static void set_str(json_t *obj, const char *key, const char *value)
{
	if (json_is_object(obj) && value)
		json_object_set_new(obj, key, json_string(value));
}

static json_t *nth(json_t *obj, const char *key, size_t i)
{
	return json_array_get(json_object_get(obj, key), i);
}

static void annotate_links(json_t *owner, const model_vnet_link_t *links, size_t n)
{
	for (size_t i = 0; i < n; i++)
		set_str(nth(owner, "virtualNetworkLinks", i), "id", links[i].id);
}

/* After validation every list element decoded into exactly one resource, in
 * order, so the copy's elements line up with the model's arrays. */
json_t *deployment_to_json(const deployment_t *d)
{
	json_t *root = json_deep_copy(d->doc);
	char ip[16];
	for (size_t i = 0; i < d->n_vnets; i++)
		set_str(nth(root, "virtualNetworks", i), "id", d->vnets[i].id);
	for (size_t i = 0; i < d->n_resolvers; i++) {
		const model_resolver_t *r = &d->resolvers[i];
		json_t *jr = nth(root, "dnsResolvers", i);
		set_str(jr, "id", r->id);
		for (size_t j = 0; j < r->n_inbound; j++) {
			json_t *je = nth(jr, "inboundEndpoints", j);
			set_str(je, "id", r->inbound[j].id);
			json_t *cfg = nth(je, "ipConfigurations", 0);
			if (r->inbound[j].has_address)
				set_str(cfg ? cfg : je, "privateIpAddress",
					pr_ipv4_format(r->inbound[j].address, ip));
		}
		for (size_t j = 0; j < r->n_outbound; j++)
			set_str(nth(jr, "outboundEndpoints", j), "id", r->outbound[j].id);
	}
	for (size_t i = 0; i < d->n_rulesets; i++) {
		const model_ruleset_t *rs = &d->rulesets[i];
		json_t *jr = nth(root, "dnsForwardingRulesets", i);
		set_str(jr, "id", rs->id);
		for (size_t j = 0; j < rs->n_rules; j++)
			set_str(nth(jr, "forwardingRules", j), "id", rs->rules[j].id);
		annotate_links(jr, rs->links, rs->n_links);
	}
	for (size_t i = 0; i < d->n_zones; i++) {
		json_t *jz = nth(root, "privateDnsZones", i);
		set_str(jz, "id", d->zones[i].id);
		annotate_links(jz, d->zones[i].links, d->zones[i].n_links);
	}
	for (size_t i = 0; i < d->n_vms; i++) {
		json_t *jv = nth(root, "virtualMachines", i);
		set_str(jv, "id", d->vms[i].id);
		set_str(jv, "privateIpAddress", pr_ipv4_format(d->vms[i].address, ip));
	}
	for (size_t i = 0; i < d->n_domain_lists; i++)
		set_str(nth(root, "dnsResolverDomainLists", i), "id", d->domain_lists[i].id);
	const char *pkey = json_object_get(root, "dnsResolverPolicies") ? "dnsResolverPolicies"
									  : "dnsSecurityPolicies";
	for (size_t i = 0; i < d->n_policies; i++) {
		json_t *jp = nth(root, pkey, i);
		set_str(jp, "id", d->policies[i].id);
		for (size_t j = 0; j < d->policies[i].n_rules; j++)
			set_str(nth(jp, "dnsSecurityRules", j), "id", d->policies[i].rules[j].id);
		annotate_links(jp, d->policies[i].links, d->policies[i].n_links);
	}
	return root;
}

/* A string that YAML would read back as something else must be quoted. */
static bool needs_quotes(const char *s)
{
	if (!*s || isspace((unsigned char)s[0]) || isspace((unsigned char)s[strlen(s) - 1]))
		return true;
	static const char *const words[] = {"~", "null", "Null", "NULL", "true", "True", "TRUE",
					    "false", "False", "FALSE", "yes", "no", "on", "off"};
	for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++)
		if (!strcmp(s, words[i]))
			return true;
	if (strspn(s, "0123456789.-+eE") == strlen(s))
		return true;
	return strpbrk(s, ":#{}[],&*!|>'\"%@`\n\t\\") != NULL || s[0] == '-' || s[0] == '?';
}

static void emit(yaml_emitter_t *em, const json_t *v)
{
	yaml_event_t ev;
	char num[64];
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
		yaml_emitter_emit(em, &ev);
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x) {
			json_t *key = json_string(k);
			emit(em, key);
			json_decref(key);
			emit(em, x);
		}
		yaml_mapping_end_event_initialize(&ev);
		yaml_emitter_emit(em, &ev);
		return;
	}
	case JSON_ARRAY: {
		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
		yaml_emitter_emit(em, &ev);
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x) emit(em, x);
		yaml_sequence_end_event_initialize(&ev);
		yaml_emitter_emit(em, &ev);
		return;
	}
	case JSON_STRING: {
		const char *s = json_string_value(v);
		yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
					     needs_quotes(s) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
							     : YAML_PLAIN_SCALAR_STYLE);
		yaml_emitter_emit(em, &ev);
		return;
	}
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		break;
	case JSON_TRUE:
		snprintf(num, sizeof(num), "true");
		break;
	case JSON_FALSE:
		snprintf(num, sizeof(num), "false");
		break;
	default:
		snprintf(num, sizeof(num), "null");
		break;
	}
	yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)num, (int)strlen(num), 1, 1,
				     YAML_PLAIN_SCALAR_STYLE);
	yaml_emitter_emit(em, &ev);
}

static int write_buf(void *data, unsigned char *buffer, size_t size)
{
	pr_buf_append(data, buffer, size);
	return 1;
}

char *model_json_to_yaml(const json_t *value)
{
	pr_buf_t out = {0};
	yaml_emitter_t em;
	yaml_event_t ev;
	yaml_emitter_initialize(&em);
	yaml_emitter_set_output(&em, write_buf, &out);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, 100);
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	yaml_emitter_emit(&em, &ev);
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
	yaml_emitter_emit(&em, &ev);
	emit(&em, value);
	yaml_document_end_event_initialize(&ev, 1);
	yaml_emitter_emit(&em, &ev);
	yaml_stream_end_event_initialize(&ev);
	yaml_emitter_emit(&em, &ev);
	yaml_emitter_flush(&em);
	yaml_emitter_delete(&em);
	return pr_buf_take(&out);
}
