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

/* The model's id of top-level resource i of kind k (NULL for kinds the
 * model gives none: external servers). */
static const char *top_id(const deployment_t *d, model_kind_id_t k, size_t i)
{
	switch (k) {
	case MODEL_KIND_VNET:
		return i < d->n_vnets ? d->vnets[i].id : NULL;
	case MODEL_KIND_RESOLVER:
		return i < d->n_resolvers ? d->resolvers[i].id : NULL;
	case MODEL_KIND_RULESET:
		return i < d->n_rulesets ? d->rulesets[i].id : NULL;
	case MODEL_KIND_ZONE:
		return i < d->n_zones ? d->zones[i].id : NULL;
	case MODEL_KIND_VM:
		return i < d->n_vms ? d->vms[i].id : NULL;
	case MODEL_KIND_DOMAIN_LIST:
		return i < d->n_domain_lists ? d->domain_lists[i].id : NULL;
	case MODEL_KIND_POLICY:
		return i < d->n_policies ? d->policies[i].id : NULL;
	default:
		return NULL;
	}
}

/* The model's id of child j of top-level resource i, for the kinds whose
 * children carry one. */
static const char *child_id(const deployment_t *d, model_kind_id_t k, size_t i, size_t j)
{
	switch (k) {
	case MODEL_KIND_INBOUND:
		return j < d->resolvers[i].n_inbound ? d->resolvers[i].inbound[j].id : NULL;
	case MODEL_KIND_OUTBOUND:
		return j < d->resolvers[i].n_outbound ? d->resolvers[i].outbound[j].id : NULL;
	case MODEL_KIND_RULE:
		return j < d->rulesets[i].n_rules ? d->rulesets[i].rules[j].id : NULL;
	case MODEL_KIND_RULESET_LINK:
		return j < d->rulesets[i].n_links ? d->rulesets[i].links[j].id : NULL;
	case MODEL_KIND_ZONE_LINK:
		return j < d->zones[i].n_links ? d->zones[i].links[j].id : NULL;
	case MODEL_KIND_SECURITY_RULE:
		return j < d->policies[i].n_rules ? d->policies[i].rules[j].id : NULL;
	case MODEL_KIND_POLICY_LINK:
		return j < d->policies[i].n_links ? d->policies[i].links[j].id : NULL;
	default:
		return NULL;
	}
}

/* What the model computed for one resource (top-level i, or child j of i),
 * written onto its JSON copy r: its id and allocated addresses. After
 * validation every list element decoded into exactly one resource, in order,
 * so the document's indexes are the model's. */
static void annotate_one(const deployment_t *d, const model_kind_t *k, size_t i, size_t j,
			 json_t *r)
{
	char ip[16];
	if (!json_is_object(r))
		return;
	set_str(r, "id", k->parent < 0 ? top_id(d, k->id, i) : child_id(d, k->id, i, j));
	if (k->id == MODEL_KIND_INBOUND && j < d->resolvers[i].n_inbound &&
	    d->resolvers[i].inbound[j].has_address) {
		json_t *cfg = json_array_get(json_object_get(r, "ipConfigurations"), 0);
		set_str(cfg ? cfg : r, "privateIpAddress",
			pr_ipv4_format(d->resolvers[i].inbound[j].address, ip));
	}
	if (k->id == MODEL_KIND_VM && i < d->n_vms)
		set_str(r, "privateIpAddress", pr_ipv4_format(d->vms[i].address, ip));
}

/* Top-level resource i of kind top (a JSON copy r) with its children. */
static void annotate_tree(const deployment_t *d, const model_kind_t *top, size_t i, json_t *r)
{
	annotate_one(d, top, i, 0, r);
	for (int c = 0; c < MODEL_KIND_COUNT; c++) {
		const model_kind_t *ck = model_kind((model_kind_id_t)c);
		if (ck->parent != (int)top->id)
			continue;
		size_t j;
		json_t *child;
		json_array_foreach(json_object_get(r, ck->key), j, child)
			annotate_one(d, ck, i, j, child);
	}
}

json_t *deployment_to_json(const deployment_t *d)
{
	json_t *root = json_deep_copy(d->doc);
	for (int k = 0; k < MODEL_KIND_COUNT; k++) {
		const model_kind_t *top = model_kind((model_kind_id_t)k);
		if (top->parent >= 0)
			continue;
		size_t i;
		json_t *r;
		json_array_foreach(model_doc_collection(root, top, NULL, false, NULL), i, r)
			annotate_tree(d, top, i, r);
	}
	return root;
}

/* The document's element of kind k (under parent) and its indexes. */
static const json_t *find_resource(const deployment_t *d, const model_kind_t *k,
				   const char *parent, const char *name, const char *type,
				   size_t *i, size_t *j)
{
	const model_kind_t *top = k->parent < 0 ? k : model_kind((model_kind_id_t)k->parent);
	json_t *doc = (json_t *)d->doc; /* only read: no collection is created */
	const json_t *t = model_doc_find(model_doc_collection(doc, top, NULL, false, NULL),
					 k->parent < 0 ? name : parent ? parent : "", NULL, i);
	if (!t || k->parent < 0)
		return t;
	return model_doc_find(json_object_get(t, k->key), name,
			      k->keyed_by_type ? (type ? type : "") : NULL, j);
}

json_t *deployment_resource_to_json(const deployment_t *d, const model_kind_t *k,
				    const char *parent, const char *name, const char *type)
{
	size_t i = 0, j = 0;
	const json_t *r = find_resource(d, k, parent, name, type, &i, &j);
	if (!r)
		return NULL;
	json_t *copy = json_deep_copy(r);
	if (k->parent < 0)
		annotate_tree(d, k, i, copy);
	else
		annotate_one(d, k, i, j, copy);
	return copy;
}

const char *model_top_id(const deployment_t *d, const model_kind_t *k, size_t i)
{
	return top_id(d, k->id, i);
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
