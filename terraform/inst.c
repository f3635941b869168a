/* Resource instances: their ARM ids (what `.id` gives in Terraform and what
 * the cloud would assign), the inbound endpoint's dynamic address (I-2), and
 * references between instances, including through a plan's configuration
 * when the plan leaves an id unknown. */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/model.h"
#include "terraform/terraform_p.h"

void tf_report(tf_import_t *imp, const char *file, int line, const char *path, int code,
	       const char *fmt, ...)
{
	va_list ap;
	pr_buf_t b = {0};
	va_start(ap, fmt);
	pr_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	const char *msg = b.data ? b.data : "";
	/* the path is printed before the message: don't say it twice */
	size_t n = path ? strlen(path) : 0;
	if (n && !strncmp(msg, path, n) && !strncmp(msg + n, ": ", 2))
		msg += n + 2;
	pr_diag_add(imp->diag, file, line, 0, path, NULL, code, "%s", msg);
	pr_buf_free(&b);
	if (!imp->err)
		imp->err = code;
}

json_t *tf_first_error(char **err, const char *fmt, va_list ap)
{
	if (!*err) {
		pr_buf_t b = {0};
		pr_buf_vprintf(&b, fmt, ap);
		*err = pr_buf_take(&b);
	}
	return NULL;
}

json_t *tf_list_of(json_t *obj, const char *key)
{
	json_t *l = json_object_get(obj, key);
	if (!l) {
		l = json_array();
		json_object_set_new(obj, key, l);
	}
	return l;
}

tf_inst_t *tf_inst_add(tf_import_t *imp, const char *type, const char *name, const char *address,
		       const char *module, json_t *values, const char *file, int line)
{
	tf_inst_t *inst = pr_calloc(1, sizeof(*inst));
	inst->type = pr_strdup(type);
	inst->name = pr_strdup(name);
	inst->address = pr_strdup(address);
	inst->module = pr_strdup(module ? module : "");
	inst->values = values;
	inst->file = pr_strdup(file ? file : "");
	inst->line = line;
	inst->order = imp->n_insts;
	pr_grow(&imp->insts, &imp->cap_insts, imp->n_insts + 1, sizeof(*imp->insts));
	imp->insts[imp->n_insts++] = inst;
	return inst;
}

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* values["a"]["0"]["b"] for "a.0.b" */
static const json_t *walk(const json_t *v, const char *path)
{
	char *copy = pr_strdup(path), *save = NULL;
	for (char *t = strtok_r(copy, ".", &save); t && v; t = strtok_r(NULL, ".", &save))
		v = json_is_array(v) ? json_array_get(v, (size_t)atoi(t)) : json_object_get(v, t);
	free(copy);
	return v;
}

static tf_inst_t *find_address(tf_import_t *imp, const char *address)
{
	for (size_t i = 0; i < imp->n_insts; i++)
		if (!strcmp(imp->insts[i]->address, address))
			return imp->insts[i];
	return NULL;
}

/* The instance's own index in its address: `x["k"]` → `["k"]`, or "". */
static const char *index_part(const tf_inst_t *inst)
{
	size_t len = strlen(inst->address);
	const char *b = strrchr(inst->address, '[');
	return len && inst->address[len - 1] == ']' && b ? b : "";
}

/* A plan's references ("azurerm_subnet.in.id", "module.net.hub_id"),
 * relative to the module at prefix whose configuration is cmod → the id of
 * the instance they name. A module output is followed into the module. */
static const char *follow(tf_import_t *imp, const char *prefix, const json_t *cmod,
			  const json_t *refs, const char *index, int depth)
{
	size_t i;
	json_t *r;
	if (depth > 16)
		return NULL;
	json_array_foreach(refs, i, r)
	{
		const char *ref = json_string_value(r);
		if (!ref || !strncmp(ref, "var.", 4) || !strncmp(ref, "local.", 6) ||
		    !strncmp(ref, "each.", 5) || !strncmp(ref, "count.", 6))
			continue;
		if (!strncmp(ref, "module.", 7)) {
			const char *name = ref + 7;
			const char *dot = strchr(name, '.');
			if (!dot)
				continue;
			char *call = pr_strndup(name, (size_t)(dot - name));
			const json_t *child = json_object_get(
				json_object_get(json_object_get(cmod, "module_calls"), call),
				"module");
			const json_t *out = json_object_get(
				json_object_get(json_object_get(child, "outputs"), dot + 1),
				"expression");
			char *p = pr_asprintf("%smodule.%s.", prefix, call);
			const char *id = follow(imp, p, child, json_object_get(out, "references"),
						"", depth + 1);
			free(p);
			free(call);
			if (id)
				return id;
			continue;
		}
		char *addr = pr_asprintf("%s%s", prefix, ref);
		size_t len = strlen(addr);
		if (len > 3 && !strcmp(addr + len - 3, ".id"))
			addr[len - 3] = '\0';
		tf_inst_t *t = find_address(imp, addr);
		if (!t) {
			/* azurerm_virtual_network.spoke[each.key]: the same key as ours */
			char *keyed = pr_asprintf("%s%s", addr, index);
			t = find_address(imp, keyed);
			free(keyed);
		}
		free(addr);
		if (t) {
			tf_inst_complete(imp, t);
			if (t->id)
				return t->id;
		}
	}
	return NULL;
}

const char *tf_inst_ref(tf_import_t *imp, tf_inst_t *inst, const char *attr)
{
	const json_t *v = walk(inst->values, attr);
	if (json_is_string(v))
		return json_string_value(v);
	if (!inst->exprs)
		return NULL;
	/* the configuration holds blocks as lists of objects, like the values */
	const json_t *e = walk(inst->exprs, attr);
	return e ? follow(imp, inst->module, inst->config_module, json_object_get(e, "references"),
			  index_part(inst), 0)
		 : NULL;
}

static char *rg_prefix(tf_import_t *imp, tf_inst_t *inst)
{
	const char *rg = str(inst->values, "resource_group_name");
	return pr_asprintf("/subscriptions/%s/resourceGroups/%s", imp->subscription,
			   rg ? rg : MODEL_DEFAULT_RESOURCE_GROUP);
}

static const char *record_type(const char *type)
{
	static const char *const map[][2] = {
		{"azurerm_private_dns_a_record", "A"},
		{"azurerm_private_dns_aaaa_record", "AAAA"},
		{"azurerm_private_dns_cname_record", "CNAME"},
		{"azurerm_private_dns_mx_record", "MX"},
		{"azurerm_private_dns_ptr_record", "PTR"},
		{"azurerm_private_dns_srv_record", "SRV"},
		{"azurerm_private_dns_txt_record", "TXT"},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++)
		if (!strcmp(type, map[i][0]))
			return map[i][1];
	return NULL;
}

/* The zone a record set or zone link belongs to (owned): provider 5.x names it
 * by private_dns_zone_id, 4.x by its name (name_attr) and resource group. */
static char *zone_id(tf_import_t *imp, tf_inst_t *inst, const char *prefix, const char *name_attr)
{
	if (json_object_get(inst->values, "private_dns_zone_id") || inst->exprs) {
		const char *id = tf_inst_ref(imp, inst, "private_dns_zone_id");
		if (id)
			return pr_strdup(id);
	}
	const char *zone = str(inst->values, name_attr);
	return zone ? pr_asprintf("%s/providers/Microsoft.Network/privateDnsZones/%s", prefix, zone)
		    : NULL;
}

static char *compute_id(tf_import_t *imp, tf_inst_t *inst)
{
	const char *t = inst->type;
	const char *name = str(inst->values, "name");
	char *prefix = rg_prefix(imp, inst);
	char *id = NULL;
	const char *parent = NULL;
#define NET "/providers/Microsoft.Network/"
	if (!name && !strcmp(t, "azurerm_private_dns_mx_record"))
		name = "@";
	if (!name)
		goto cleanup;
	if (!strcmp(t, "azurerm_resource_group")) {
		id = pr_asprintf("/subscriptions/%s/resourceGroups/%s", imp->subscription, name);
	} else if (!strcmp(t, "azurerm_virtual_network")) {
		id = pr_asprintf("%s" NET "virtualNetworks/%s", prefix, name);
	} else if (!strcmp(t, "azurerm_subnet")) {
		const char *vnet = str(inst->values, "virtual_network_name");
		if (vnet)
			id = pr_asprintf("%s" NET "virtualNetworks/%s/subnets/%s", prefix, vnet,
					 name);
	} else if (!strcmp(t, "azurerm_private_dns_resolver")) {
		id = pr_asprintf("%s" NET "dnsResolvers/%s", prefix, name);
	} else if (!strcmp(t, "azurerm_private_dns_resolver_inbound_endpoint") ||
		   !strcmp(t, "azurerm_private_dns_resolver_outbound_endpoint")) {
		parent = tf_inst_ref(imp, inst, "private_dns_resolver_id");
		if (parent)
			id = pr_asprintf("%s/%s/%s", parent,
					 strstr(t, "inbound") ? "inboundEndpoints"
							      : "outboundEndpoints",
					 name);
	} else if (!strcmp(t, "azurerm_private_dns_resolver_dns_forwarding_ruleset")) {
		id = pr_asprintf("%s" NET "dnsForwardingRulesets/%s", prefix, name);
	} else if (!strcmp(t, "azurerm_private_dns_resolver_forwarding_rule") ||
		   !strcmp(t, "azurerm_private_dns_resolver_virtual_network_link")) {
		parent = tf_inst_ref(imp, inst, "dns_forwarding_ruleset_id");
		if (parent)
			id = pr_asprintf("%s/%s/%s", parent,
					 strstr(t, "rule") && !strstr(t, "link")
						 ? "forwardingRules"
						 : "virtualNetworkLinks",
					 name);
	} else if (!strcmp(t, "azurerm_private_dns_zone")) {
		id = pr_asprintf("%s" NET "privateDnsZones/%s", prefix, name);
	} else if (!strcmp(t, "azurerm_private_dns_zone_virtual_network_link")) {
		char *zone = zone_id(imp, inst, prefix, "private_dns_zone_name");
		if (zone)
			id = pr_asprintf("%s/virtualNetworkLinks/%s", zone, name);
		free(zone);
	} else if (record_type(t)) {
		char *zone = zone_id(imp, inst, prefix, "zone_name");
		if (zone)
			id = pr_asprintf("%s/%s/%s", zone, record_type(t), name);
		free(zone);
	} else if (!strcmp(t, "azapi_resource")) {
		/* azapi: type "Microsoft.Network/x@version", parent_id the resource
		 * group (a top resource) or the parent resource (a child). */
		const char *at = str(inst->values, "type");
		parent = tf_inst_ref(imp, inst, "parent_id");
		if (at && parent) {
			char *type = pr_strndup(at, strcspn(at, "@"));
			if (strstr(parent, "/providers/"))
				id = pr_asprintf("%s/%s/%s", parent, strrchr(type, '/') + 1, name);
			else
				id = pr_asprintf("%s/providers/%s/%s", parent, type, name);
			free(type);
		}
	}
#undef NET
cleanup:
	free(prefix);
	return id;
}

/* The prefix of a subnet of the configuration, by id: an azurerm_subnet or a
 * VNet's inline subnet block. */
static bool subnet_prefix(tf_import_t *imp, const char *subnet_id, pr_prefix_t *p)
{
	const char *why;
	for (size_t i = 0; subnet_id && i < imp->n_insts; i++) {
		tf_inst_t *s = imp->insts[i];
		bool vnet = !strcmp(s->type, "azurerm_virtual_network");
		if (!vnet && strcmp(s->type, "azurerm_subnet") != 0)
			continue;
		tf_inst_complete(imp, s);
		size_t n = s->id ? strlen(s->id) : 0;
		if (!n || strncasecmp(s->id, subnet_id, n) != 0)
			continue;
		const json_t *sub = s->values;
		if (vnet) {
			if (strncasecmp(subnet_id + n, "/subnets/", 9) != 0)
				continue;
			size_t k;
			json_t *b;
			sub = NULL;
			json_array_foreach(json_object_get(s->values, "subnet"), k, b)
				if (str(b, "name") && !strcasecmp(str(b, "name"), subnet_id + n + 9))
					sub = b;
			if (!sub)
				continue; /* an azurerm_subnet of this VNet */
		} else if (subnet_id[n]) {
			continue;
		}
		const char *text = json_string_value(
			json_array_get(json_object_get(sub, "address_prefixes"), 0));
		if (!text)
			text = str(sub, "address_prefix");
		return text && pr_prefix_parse(text, p, &why) == 0 && p->len <= 29;
	}
	return false;
}

bool tf_subnet_next_address(tf_import_t *imp, const char *subnet_id, uint32_t *addr)
{
	pr_prefix_t p;
	if (!subnet_prefix(imp, subnet_id, &p))
		return false;
	char *key = pr_strdup(subnet_id);
	for (char *c = key; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	json_int_t host = json_integer_value(json_object_get(imp->next_host, key));
	host = host ? host : 4;
	json_object_set_new(imp->next_host, key, json_integer(host + 1));
	free(key);
	*addr = p.addr + (uint32_t)host;
	return true;
}

/* I-2: a dynamic inbound endpoint gets the fifth address of its subnet. */
static void complete_inbound_address(tf_import_t *imp, tf_inst_t *inst)
{
	json_t *cfg = json_array_get(json_object_get(inst->values, "ip_configurations"), 0);
	const char *method = str(cfg, "private_ip_allocation_method");
	if (!json_is_object(cfg) || json_is_string(json_object_get(cfg, "private_ip_address")) ||
	    (method && strcmp(method, "Dynamic") != 0))
		return;
	const char *subnet_id = tf_inst_ref(imp, inst, "ip_configurations.0.subnet_id");
	pr_prefix_t p;
	char ip[16];
	if (subnet_prefix(imp, subnet_id, &p))
		json_object_set_new(cfg, "private_ip_address",
				    json_string(pr_ipv4_format(p.addr + 4, ip)));
}

void tf_inst_complete(tf_import_t *imp, tf_inst_t *inst)
{
	if (inst->id || inst->computing)
		return;
	inst->computing = true; /* a parent chain that loops back stays unknown */
	tf_inst_placeholders(imp, inst); /* only what the input leaves unknown */
	const char *given = str(inst->values, "id");
	inst->id = given ? pr_strdup(given) : compute_id(imp, inst);
	if (!inst->id && !given && tf_type_class(inst->type) == 0)
		inst->id = tf_placeholder_id(imp, inst);
	if (inst->id && !given)
		json_object_set_new(inst->values, "id", json_string(inst->id));
	if (!strcmp(inst->type, "azurerm_private_dns_resolver_inbound_endpoint"))
		complete_inbound_address(imp, inst);
	inst->computing = false;
}
