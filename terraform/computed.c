/* Values that exist only after an apply (**[privres]**, terraform/README.md):
 * random_*, time_*, terraform_data and the ids and addresses of resources
 * privres does not model get deterministic placeholders derived from the
 * resource's address, so an import gives the same deployment every time.
 * Each one chosen is recorded for the import's summary. A value privres
 * needs and cannot derive stays unknown, and the reference to it is an error
 * with file:line. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/model.h"
#include "terraform/terraform_p.h"

/* FNV-1a over the address and a salt: the placeholder's only source. */
static uint64_t seed(const tf_inst_t *inst, const char *salt)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *s = inst->address; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	for (const char *s = salt; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static uint64_t next(uint64_t *h)
{
	*h ^= *h >> 33;
	*h *= 0xff51afd7ed558ccdull;
	*h ^= *h >> 33;
	return *h;
}

static json_int_t int_arg(const json_t *v, const char *k, json_int_t dflt)
{
	const json_t *x = json_object_get(v, k);
	return json_is_integer(x) ? json_integer_value(x) : dflt;
}

static bool bool_arg(const json_t *v, const char *k, bool dflt)
{
	const json_t *x = json_object_get(v, k);
	return json_is_boolean(x) ? json_is_true(x) : dflt;
}

/* Set attr unless the configuration gave it; recorded as a placeholder. */
static void place(tf_import_t *imp, tf_inst_t *inst, const char *attr, json_t *v)
{
	if (json_object_get(inst->values, attr)) {
		json_decref(v);
		return;
	}
	char *key = pr_asprintf("%s.%s", inst->address, attr);
	json_object_set(imp->placeholders, key, v);
	json_object_set_new(inst->values, attr, v);
	free(key);
}

static void place_str(tf_import_t *imp, tf_inst_t *inst, const char *attr, const char *s)
{
	place(imp, inst, attr, json_string(s));
}

static void random_pet(tf_import_t *imp, tf_inst_t *inst)
{
	static const char *const adj[] = {"able",  "brave", "calm",  "eager", "fair", "glad",
					  "keen",  "lucky", "merry", "noble", "proud", "quick",
					  "sunny", "tidy",  "vivid", "witty"};
	static const char *const pet[] = {"badger", "beaver", "crane", "falcon", "gecko",
					  "heron",  "ibis",   "koala", "lemur",  "marten",
					  "otter",  "panda",  "quail", "raven",  "stork", "tapir"};
	uint64_t h = seed(inst, "pet");
	json_int_t n = int_arg(inst->values, "length", 2);
	const char *sep = json_string_value(json_object_get(inst->values, "separator"));
	const char *prefix = json_string_value(json_object_get(inst->values, "prefix"));
	pr_buf_t b = {0};
	sep = sep ? sep : "-";
	if (prefix)
		pr_buf_printf(&b, "%s%s", prefix, sep);
	for (json_int_t i = 0; i < n && i < 16; i++)
		pr_buf_printf(&b, "%s%s", i ? sep : "",
			      i + 1 < n ? adj[next(&h) % 16] : pet[next(&h) % 16]);
	pr_buf_append(&b, "", 1);
	place_str(imp, inst, "id", b.data);
	pr_buf_free(&b);
}

static void random_string(tf_import_t *imp, tf_inst_t *inst)
{
	const json_t *v = inst->values;
	pr_buf_t set = {0};
	if (bool_arg(v, "lower", true))
		pr_buf_printf(&set, "abcdefghijklmnopqrstuvwxyz");
	if (bool_arg(v, "upper", true))
		pr_buf_printf(&set, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
	if (bool_arg(v, "numeric", bool_arg(v, "number", true)))
		pr_buf_printf(&set, "0123456789");
	if (bool_arg(v, "special", true)) {
		const char *o = json_string_value(json_object_get(v, "override_special"));
		pr_buf_printf(&set, "%s", o ? o : "!@#$%&*()-_=+[]{}<>:?");
	}
	if (!set.len)
		pr_buf_printf(&set, "abcdefghijklmnopqrstuvwxyz");
	json_int_t n = int_arg(v, "length", 16);
	char *s = pr_calloc((size_t)(n > 0 && n < 4096 ? n : 16) + 1, 1);
	uint64_t h = seed(inst, "string");
	for (json_int_t i = 0; i < n && i < 4096; i++)
		s[i] = set.data[next(&h) % set.len];
	place_str(imp, inst, "result", s);
	if (!strcmp(inst->type, "random_string"))
		place_str(imp, inst, "id", s);
	else
		place_str(imp, inst, "id", "none");
	free(s);
	pr_buf_free(&set);
}

static void random_id(tf_import_t *imp, tf_inst_t *inst)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	json_int_t n = int_arg(inst->values, "byte_length", 8);
	n = n > 0 && n <= 64 ? n : 8;
	uint64_t h = seed(inst, "id");
	unsigned char bytes[64];
	pr_buf_t hex = {0}, url = {0};
	const char *prefix = json_string_value(json_object_get(inst->values, "prefix"));
	pr_buf_printf(&hex, "%s", prefix ? prefix : "");
	pr_buf_printf(&url, "%s", prefix ? prefix : "");
	for (json_int_t i = 0; i < n; i++) {
		bytes[i] = (unsigned char)next(&h);
		pr_buf_printf(&hex, "%02x", bytes[i]);
	}
	/* base64url without padding, as the provider's b64_url */
	for (json_int_t i = 0; i < n; i += 3) {
		uint32_t w = (uint32_t)bytes[i] << 16;
		w |= i + 1 < n ? (uint32_t)bytes[i + 1] << 8 : 0;
		w |= i + 2 < n ? bytes[i + 2] : 0;
		int chars = i + 2 < n ? 4 : i + 1 < n ? 3 : 2;
		for (int k = 0; k < chars; k++)
			pr_buf_printf(&url, "%c", b64[(w >> (18 - 6 * k)) & 63]);
	}
	pr_buf_append(&hex, "", 1);
	pr_buf_append(&url, "", 1);
	place_str(imp, inst, "hex", hex.data);
	place_str(imp, inst, "b64_url", url.data);
	place_str(imp, inst, "id", url.data);
	pr_buf_free(&hex);
	pr_buf_free(&url);
}

static void uuid(const tf_inst_t *inst, const char *salt, char out[37])
{
	uint64_t h = seed(inst, salt);
	uint64_t a = next(&h), b = next(&h);
	snprintf(out, 37, "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)(a >> 32),
		 (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff, (unsigned)(b >> 48) & 0xfff,
		 (unsigned long long)b & 0xffffffffffffull);
}

/* The ARM provider namespace of the azurerm types configurations commonly
 * refer to next to DNS ones; others get a generic one. */
static const char *arm_type(const char *type)
{
	static const char *const map[][2] = {
		{"azurerm_network_interface", "Microsoft.Network/networkInterfaces"},
		{"azurerm_network_security_group", "Microsoft.Network/networkSecurityGroups"},
		{"azurerm_public_ip", "Microsoft.Network/publicIPAddresses"},
		{"azurerm_route_table", "Microsoft.Network/routeTables"},
		{"azurerm_firewall", "Microsoft.Network/azureFirewalls"},
		{"azurerm_virtual_network_gateway", "Microsoft.Network/virtualNetworkGateways"},
		{"azurerm_private_endpoint", "Microsoft.Network/privateEndpoints"},
		{"azurerm_linux_virtual_machine", "Microsoft.Compute/virtualMachines"},
		{"azurerm_windows_virtual_machine", "Microsoft.Compute/virtualMachines"},
		{"azurerm_virtual_machine", "Microsoft.Compute/virtualMachines"},
		{"azurerm_storage_account", "Microsoft.Storage/storageAccounts"},
		{"azurerm_key_vault", "Microsoft.KeyVault/vaults"},
		{"azurerm_log_analytics_workspace", "Microsoft.OperationalInsights/workspaces"},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++)
		if (!strcmp(type, map[i][0]))
			return map[i][1];
	return NULL;
}

/* A NIC's dynamic address: the next free one of its subnet from the fifth
 * (the cloud keeps the first four), in declaration order. */
static void nic_addresses(tf_import_t *imp, tf_inst_t *inst)
{
	size_t i;
	json_t *cfg;
	json_array_foreach(json_object_get(inst->values, "ip_configuration"), i, cfg)
	{
		if (json_is_string(json_object_get(cfg, "private_ip_address")))
			continue;
		char *attr = pr_asprintf("ip_configuration.%zu.subnet_id", i);
		const char *subnet = tf_inst_ref(imp, inst, attr);
		free(attr);
		uint32_t addr;
		if (!subnet || !tf_subnet_next_address(imp, subnet, &addr))
			continue;
		char ip[16];
		json_object_set_new(cfg, "private_ip_address", json_string(pr_ipv4_format(addr, ip)));
		if (i == 0)
			place_str(imp, inst, "private_ip_address", ip);
	}
}

/* A VM's address: its first NIC's. */
static void vm_addresses(tf_import_t *imp, tf_inst_t *inst)
{
	const char *nic = json_string_value(
		json_array_get(json_object_get(inst->values, "network_interface_ids"), 0));
	if (!nic)
		nic = tf_inst_ref(imp, inst, "network_interface_ids.0");
	for (size_t i = 0; nic && i < imp->n_insts; i++) {
		tf_inst_t *n = imp->insts[i];
		if (strcmp(n->type, "azurerm_network_interface") != 0)
			continue;
		tf_inst_complete(imp, n);
		const char *ip = json_string_value(json_object_get(n->values, "private_ip_address"));
		if (n->id && ip && !strcasecmp(n->id, nic)) {
			place_str(imp, inst, "private_ip_address", ip);
			place(imp, inst, "private_ip_addresses", json_pack("[s]", ip));
			return;
		}
	}
}

void tf_inst_placeholders(tf_import_t *imp, tf_inst_t *inst)
{
	const char *t = inst->type;
	char buf[64];
	if (!strcmp(t, "random_pet")) {
		random_pet(imp, inst);
	} else if (!strcmp(t, "random_string") || !strcmp(t, "random_password")) {
		random_string(imp, inst);
	} else if (!strcmp(t, "random_id")) {
		random_id(imp, inst);
	} else if (!strcmp(t, "random_integer")) {
		json_int_t lo = int_arg(inst->values, "min", 0), hi = int_arg(inst->values, "max", lo);
		uint64_t h = seed(inst, "int");
		json_int_t r = hi > lo ? lo + (json_int_t)(next(&h) % (uint64_t)(hi - lo + 1)) : lo;
		place(imp, inst, "result", json_integer(r));
		snprintf(buf, sizeof(buf), "%lld", (long long)r);
		place_str(imp, inst, "id", buf);
	} else if (!strcmp(t, "random_uuid") || !strcmp(t, "terraform_data") ||
		   !strcmp(t, "null_resource")) {
		uuid(inst, "uuid", buf);
		place_str(imp, inst, "result", buf);
		place_str(imp, inst, "id", buf);
		if (json_object_get(inst->values, "input"))
			place(imp, inst, "output", json_incref(json_object_get(inst->values, "input")));
	} else if (!strcmp(t, "random_shuffle")) {
		const json_t *in = json_object_get(inst->values, "input");
		place(imp, inst, "result", json_is_array(in) ? json_incref((json_t *)in) : json_array());
		place_str(imp, inst, "id", "-");
	} else if (!strncmp(t, "time_", 5)) {
		place_str(imp, inst, "rfc3339", "2026-01-01T00:00:00Z");
		place_str(imp, inst, "id", "2026-01-01T00:00:00Z");
		place(imp, inst, "unix", json_integer(1767225600));
	} else if (!strcmp(t, "azurerm_network_interface")) {
		nic_addresses(imp, inst);
	} else if (strstr(t, "virtual_machine") && !strncmp(t, "azurerm_", 8)) {
		vm_addresses(imp, inst);
	}
}

/* The id of a resource privres does not model (owned), or NULL. */
char *tf_placeholder_id(tf_import_t *imp, tf_inst_t *inst)
{
	const char *name = json_string_value(json_object_get(inst->values, "name"));
	const char *rg = json_string_value(json_object_get(inst->values, "resource_group_name"));
	const char *arm = arm_type(inst->type);
	if (!name || !rg || strncmp(inst->type, "azurerm_", 8) != 0)
		return NULL;
	char *id = arm ? pr_asprintf("/subscriptions/%s/resourceGroups/%s/providers/%s/%s",
				     imp->subscription, rg, arm, name)
		       : pr_asprintf("/subscriptions/%s/resourceGroups/%s/providers/privres.unknown/"
				     "%s/%s",
				     imp->subscription, rg, inst->type + 8, name);
	char *key = pr_asprintf("%s.id", inst->address);
	json_object_set_new(imp->placeholders, key, json_string(id));
	free(key);
	return id;
}
