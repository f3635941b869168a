/* Terraform import (design.md §5): expressions, the example estates (each
 * must plan to nothing against its YAML example), the JSON of `terraform
 * show -json` (state and plan, child modules), and configurations the model
 * refuses (F-5, P-1) reported at the .tf file and line of their resource. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#undef malloc
#undef calloc
#undef realloc
#undef free

#include "model/model.h"
#include "terraform/terraform.h"
#include "terraform/terraform_p.h"

#define SRC PRIVRES_SOURCE_DIR

/* ---- expressions, without node ------------------------------------------------ */

static tf_import_t *eval_ctx(void)
{
	tf_import_t *imp = calloc(1, sizeof(*imp));
	imp->diag = pr_diag_new();
	imp->vars = calloc(2, sizeof(*imp->vars));
	imp->module = "";
	imp->vars[0].module = pr_strdup("");
	imp->vars[1].module = pr_strdup("");
	imp->vars[0].name = pr_strdup("prefix");
	imp->vars[0].value = json_string("10.10.0.0/16");
	imp->vars[1].name = pr_strdup("spokes");
	imp->vars[1].value = json_pack("{s:{s:s}}", "spoke1", "cidr", "10.20.0.0/16");
	imp->n_vars = 2;
	return imp;
}

static void eval_free(tf_import_t *imp)
{
	for (size_t i = 0; i < imp->n_vars; i++) {
		free(imp->vars[i].name);
		free(imp->vars[i].module);
		json_decref(imp->vars[i].value);
	}
	free(imp->vars);
	pr_diag_destroy(&imp->diag);
	free(imp);
}

/* Evaluate an hcl2json string and compare its JSON text. */
static void expect(tf_import_t *imp, const tf_scope_t *s, const char *in, const char *want)
{
	json_t *v = json_string(in);
	char *err = NULL;
	json_t *r = tf_eval(imp, v, s, &err);
	if (!r)
		fail_msg("%s: %s", in, err);
	char *text = json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY);
	if (strcmp(text, want) != 0)
		fail_msg("%s: got %s, want %s", in, text, want);
	free(text);
	json_decref(r);
	json_decref(v);
}

static void expect_error(tf_import_t *imp, const char *in, const char *needle)
{
	json_t *v = json_string(in);
	char *err = NULL;
	json_t *r = tf_eval(imp, v, NULL, &err);
	assert_null(r);
	assert_non_null(err);
	if (!strstr(err, needle))
		fail_msg("%s: error '%s' does not say '%s'", in, err, needle);
	free(err);
	json_decref(v);
}

static void test_eval_templates_and_references(void **state)
{
	tf_import_t *imp = eval_ctx();
	json_t *key = json_string("spoke1");
	json_t *val = json_pack("{s:s}", "cidr", "10.20.0.0/16");
	tf_scope_t each = {.each_key = key, .each_value = val};
	tf_scope_t count = {.count_index = 2, .has_count = true};

	expect(imp, NULL, "plain", "\"plain\"");
	expect(imp, NULL, "${var.prefix}", "\"10.10.0.0/16\"");
	/* a whole interpolation keeps its type; a template is a string */
	expect(imp, NULL, "${var.spokes}", "{\"spoke1\":{\"cidr\":\"10.20.0.0/16\"}}");
	expect(imp, &each, "${each.key}-link", "\"spoke1-link\"");
	expect(imp, &each, "${each.value.cidr}", "\"10.20.0.0/16\"");
	expect(imp, NULL, "${var.spokes[\"spoke1\"].cidr}", "\"10.20.0.0/16\"");
	expect(imp, &count, "vm-${count.index + 1}", "\"vm-3\"");
	expect(imp, NULL, "$${literal}", "\"${literal}\"");
	expect(imp, NULL, "${true ? \"a\" : \"b\"}", "\"a\"");
	expect(imp, NULL, "${1 == 2 || !false}", "true");
	expect(imp, NULL, "${[\"a\", \"b\"][1]}", "\"b\"");
	expect(imp, NULL, "${{ a = 1, \"b\" = [2] }}", "{\"a\":1,\"b\":[2]}");
	json_decref(key);
	json_decref(val);
	eval_free(imp);
}

static void test_eval_functions(void **state)
{
	tf_import_t *imp = eval_ctx();
	/* I-2 by hand: the fifth address of the inbound subnet */
	expect(imp, NULL, "${cidrhost(cidrsubnet(var.prefix, 12, 0), 4)}", "\"10.10.0.4\"");
	expect(imp, NULL, "${cidrsubnet(var.prefix, 12, 16)}", "\"10.10.1.0/28\"");
	expect(imp, NULL, "${cidrhost(\"10.10.0.0/28\", -2)}", "\"10.10.0.14\"");
	expect(imp, NULL, "${toset([\"a\", \"b\", \"a\"])}", "[\"a\",\"b\"]");
	expect(imp, NULL, "${length(keys(var.spokes))}", "1");
	expect(imp, NULL, "${lookup({a = 1}, \"b\", null)}", "null");
	expect(imp, NULL, "${format(\"%s-%d\", \"rule\", 7)}", "\"rule-7\"");
	expect(imp, NULL, "${join(\",\", concat([\"a\"], [\"b\"]))}", "\"a,b\"");
	expect(imp, NULL, "${merge({a = 1}, {b = 2})}", "{\"a\":1,\"b\":2}");
	expect(imp, NULL, "${upper(\"x\")}${lower(\"Y\")}", "\"Xy\"");
	expect(imp, NULL, "${jsondecode(jsonencode({a = [1]}))}", "{\"a\":[1]}");
	eval_free(imp);
}

/* What can't be known here is an error naming it, never an empty value. */
static void test_eval_unresolvable_is_reported(void **state)
{
	tf_import_t *imp = eval_ctx();
	expect_error(imp, "${data.azurerm_virtual_network.hub.id}", "data source");
	expect_error(imp, "${filebase64(\"x\")}", "function filebase64() is not known");
	expect_error(imp, "${[for s in var.spokes : s.cidr]}", "for expressions");
	expect_error(imp, "${var.missing}", "var.missing is not declared");
	expect_error(imp, "${local.x}", "local.x is not defined");
	expect_error(imp, "${each.key}", "each.* outside");
	expect_error(imp, "${module.net.vnet_id}", "module");
	expect_error(imp, "${azurerm_subnet.nope.id}", "is not declared");
	expect_error(imp, "%{ if true }x%{ endif }", "directives");
	eval_free(imp);
}

/* ---- imports -------------------------------------------------------------------- */

static char *hcl2json_dir;

static int import(const char *path, const char *side, json_t **out, pr_diag_t *diag)
{
	terraform_import_options_t o = {
		.path = path, .side_file = side, .hcl2json_dir = hcl2json_dir};
	return terraform_import(&o, out, diag);
}

static deployment_t *load(const json_t *j, const char *name)
{
	model_doc_t *doc = model_doc_from_json(j, name);
	deployment_t *d = NULL;
	pr_diag_t *diag = pr_diag_new();
	int rc = deployment_from_doc(&doc, &d, diag);
	if (rc != 0) {
		char *t = pr_diag_format(diag);
		fail_msg("%s does not validate:\n%s", name, t);
	}
	pr_diag_destroy(&diag);
	return d;
}

/* The import of path must plan to nothing against the YAML example: the
 * same resources (by ARM id) with the same properties, nothing ignored. */
static void expect_same_as_example(const char *path, const char *side, const char *example)
{
	pr_diag_t *diag = pr_diag_new();
	json_t *j = NULL;
	int rc = import(path, side, &j, diag);
	if (rc != 0) {
		char *t = pr_diag_format(diag);
		fail_msg("import of %s: %s\n%s", path, pr_strerror(rc), t);
	}
	deployment_t *imported = load(j, path);
	deployment_t *yaml = NULL;
	pr_diag_clear(diag);
	assert_int_equal(deployment_load_file(example, &yaml, diag), 0);
	json_t *plan = deployment_plan(yaml, imported);
	if (json_array_size(plan) != 0) {
		char *t = json_dumps(plan, JSON_INDENT(1));
		fail_msg("%s differs from %s:\n%s", path, example, t);
	}
	/* and the other way round: nothing of the example is missing */
	json_t *back = deployment_plan(imported, yaml);
	assert_int_equal(json_array_size(back), 0);
	json_decref(back);
	json_decref(plan);
	deployment_destroy(&yaml);
	deployment_destroy(&imported);
	json_decref(j);
	pr_diag_destroy(&diag);
}

static void test_estate_hub_and_spoke(void **state)
{
	expect_same_as_example(SRC "/terraform-examples/hub-and-spoke", NULL,
			       SRC "/examples/hub-and-spoke.yaml");
}

static void test_estate_hybrid(void **state)
{
	expect_same_as_example(SRC "/terraform-examples/hybrid", NULL, SRC "/examples/hybrid.yaml");
}

static void test_estate_zero_trust(void **state)
{
	expect_same_as_example(SRC "/terraform-examples/zero-trust", NULL,
			       SRC "/examples/zero-trust.yaml");
}

/* A state (values.root_module) written by hand in the documented format:
 * ids given, blocks as lists; the same estate as hybrid.yaml. */
static void test_show_json_state(void **state)
{
	expect_same_as_example(SRC "/tests/unit/terraform/fixtures/hybrid-state.json",
			       SRC "/terraform-examples/hybrid/privres.yaml",
			       SRC "/examples/hybrid.yaml");
}

static const json_t *named(const json_t *list, const char *name)
{
	size_t i;
	json_t *x;
	json_array_foreach(list, i, x) if (!strcmp(json_string_value(json_object_get(x, "name")),
						   name)) return x;
	fail_msg("no %s", name);
	return NULL;
}

/* A plan (planned_values): ids are unknown and are followed through the
 * configuration's references, in a child module too; the inbound endpoint's
 * dynamic address is the fifth of its subnet (I-2). */
static void test_show_json_plan_with_module(void **state)
{
	pr_diag_t *diag = pr_diag_new();
	json_t *j = NULL;
	terraform_import_summary_t sum = {0};
	terraform_import_options_t o = {.path = SRC "/tests/unit/terraform/fixtures/plan.json"};
	int rc = terraform_import_with_summary(&o, &j, &sum, diag);
	if (rc != 0)
		fail_msg("%s", pr_diag_format(diag));
	const json_t *hub = named(json_object_get(j, "virtualNetworks"), "hub");
	assert_int_equal(json_array_size(json_object_get(hub, "subnets")), 2);
	const json_t *res = named(json_object_get(j, "dnsResolvers"), "hub-resolver");
	assert_string_equal(json_string_value(json_object_get(res, "virtualNetwork")), "hub");
	const json_t *ie = named(json_object_get(res, "inboundEndpoints"), "in");
	assert_string_equal(json_string_value(json_object_get(ie, "subnet")), "snet-in");
	const json_t *rs = named(json_object_get(j, "dnsForwardingRulesets"), "rules");
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(rs, "dnsResolverOutboundEndpoints"), 0)),
			    "hub-resolver/out");
	const json_t *rule = named(json_object_get(rs, "forwardingRules"), "Corp");
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(rule, "targetDnsServers"), 0), "ipAddress")),
		"10.100.0.2");
	const json_t *link = named(json_object_get(rs, "virtualNetworkLinks"), "spoke-link");
	assert_string_equal(json_string_value(json_object_get(link, "virtualNetwork")), "spoke");
	/* the NSG of the plan is skipped and counted */
	assert_int_equal(sum.skipped, 1);
	assert_non_null(strstr(sum.skipped_types, "azurerm_network_security_group"));
	terraform_import_summary_clear(&sum);
	json_decref(j);
	pr_diag_destroy(&diag);
}

/* A refusal names the rule id and the .tf file and line of the resource. */
static void expect_refused(const char *dir, int code, const char *rule, const char *file,
			   const char *header)
{
	pr_diag_t *diag = pr_diag_new();
	json_t *j = NULL;
	assert_int_equal(import(dir, NULL, &j, diag), code);
	assert_null(j);
	char *tf = pr_asprintf("%s/%s", dir, file);
	int want_line = 0;
	FILE *f = fopen(tf, "r");
	char line[512];
	for (int n = 1; f && fgets(line, sizeof(line), f); n++)
		if (!want_line && !strncmp(line, header, strlen(header)))
			want_line = n;
	if (f)
		fclose(f);
	assert_true(want_line > 0);
	bool found = false;
	for (size_t i = 0; i < pr_diag_count(diag); i++) {
		const pr_diag_entry_t *e = pr_diag_get(diag, i);
		if (e->rule && !strcmp(e->rule, rule) && e->file && !strcmp(e->file, tf) &&
		    e->line == want_line)
			found = true;
	}
	if (!found)
		fail_msg("no %s at %s:%d in:\n%s", rule, tf, want_line, pr_diag_format(diag));
	free(tf);
	pr_diag_destroy(&diag);
}

static void test_bad_f5_rule_to_azure_dns(void **state)
{
	expect_refused(SRC "/tests/integration/terraform/bad/f5-azure-dns-target", PR_ECONFIG,
		       "F-5", "rules.tf",
		       "resource \"azurerm_private_dns_resolver_forwarding_rule\" \"to_azure\"");
}

static void test_bad_p1_ruleset_linked_into_own_inbound_vnet(void **state)
{
	expect_refused(SRC "/tests/integration/terraform/bad/p1-ruleset-into-own-vnet", PR_ELOOP,
		       "P-1", "rules.tf",
		       "resource \"azurerm_private_dns_resolver_virtual_network_link\" \"hub\"");
}

/* Unresolvable input is reported at its resource's line, not dropped. */
static void test_unresolvable_reported_with_position(void **state)
{
	char dir[] = "/tmp/privres-tf-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *tf = pr_asprintf("%s/main.tf", dir);
	FILE *f = fopen(tf, "w");
	assert_non_null(f);
	fputs("data \"azurerm_virtual_network\" \"hub\" {\n"
	      "  name = \"hub\"\n"
	      "  resource_group_name = \"privres\"\n"
	      "}\n"
	      "\n"
	      "resource \"azurerm_private_dns_resolver\" \"r\" {\n"
	      "  name = \"r\"\n"
	      "  resource_group_name = \"privres\"\n"
	      "  location = \"eastus\"\n"
	      "  virtual_network_id = data.azurerm_virtual_network.hub.id\n"
	      "}\n"
	      "\n"
	      "resource \"azurerm_dns_zone\" \"public\" {\n"
	      "  name = \"contoso.com\"\n"
	      "  resource_group_name = \"privres\"\n"
	      "}\n",
	      f);
	fclose(f);
	pr_diag_t *diag = pr_diag_new();
	json_t *j = NULL;
	assert_int_equal(import(dir, NULL, &j, diag), PR_ECONFIG);
	bool data = false, type = false;
	for (size_t i = 0; i < pr_diag_count(diag); i++) {
		const pr_diag_entry_t *e = pr_diag_get(diag, i);
		if (e->line == 6 && strstr(e->message, "data source"))
			data = true;
		if (e->line == 13 && strstr(e->message, "azurerm_dns_zone is not supported"))
			type = true;
	}
	if (!data || !type)
		fail_msg("%s", pr_diag_format(diag));
	unlink(tf);
	rmdir(dir);
	free(tf);
	pr_diag_destroy(&diag);
}

/* A syntax error is the parser's, with its file and line. */
static void test_hcl_syntax_error(void **state)
{
	char dir[] = "/tmp/privres-tf-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *tf = pr_asprintf("%s/main.tf", dir);
	FILE *f = fopen(tf, "w");
	fputs("resource \"azurerm_virtual_network\" \"hub\" {\n  name = \n}\n", f);
	fclose(f);
	pr_diag_t *diag = pr_diag_new();
	json_t *j = NULL;
	assert_int_equal(import(dir, NULL, &j, diag), PR_EPARSE);
	const pr_diag_entry_t *e = pr_diag_get(diag, 0);
	assert_non_null(e);
	assert_string_equal(e->file, tf);
	assert_true(e->line >= 2);
	unlink(tf);
	rmdir(dir);
	free(tf);
	pr_diag_destroy(&diag);
}

/* --var and a var file override defaults. */
static void test_variables_override(void **state)
{
	char dir[] = "/tmp/privres-tf-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *tf = pr_asprintf("%s/main.tf", dir);
	char *vf = pr_asprintf("%s/extra.tfvars", dir);
	FILE *f = fopen(tf, "w");
	fputs("variable \"name\" {\n  default = \"hub\"\n}\n"
	      "variable \"prefix\" {\n  type = string\n}\n"
	      "variable \"n\" {\n  type = number\n  default = 1\n}\n"
	      "resource \"azurerm_virtual_network\" \"v\" {\n  count = var.n\n"
	      "  name = \"${var.name}${count.index}\"\n  location = \"eastus\"\n"
	      "  resource_group_name = \"privres\"\n  address_space = [var.prefix]\n}\n",
	      f);
	fclose(f);
	f = fopen(vf, "w");
	fputs("prefix = \"10.1.0.0/16\"\nname = \"fromfile\"\n", f);
	fclose(f);
	const terraform_var_arg_t args[] = {{true, vf}, {false, "name=cli"}, {false, "n=2"}};
	terraform_import_options_t o = {
		.path = dir, .var_args = args, .n_var_args = 3, .hcl2json_dir = hcl2json_dir};
	pr_diag_t *diag = pr_diag_new();
	json_t *j = NULL;
	if (terraform_import(&o, &j, diag) != 0)
		fail_msg("%s", pr_diag_format(diag));
	const json_t *v = json_object_get(j, "virtualNetworks");
	assert_int_equal(json_array_size(v), 2);
	named(v, "cli0");
	const json_t *v1 = named(v, "cli1");
	assert_string_equal(
		json_string_value(json_array_get(json_object_get(v1, "addressPrefixes"), 0)),
		"10.1.0.0/16");
	json_decref(j);
	unlink(tf);
	unlink(vf);
	rmdir(dir);
	free(tf);
	free(vf);
	pr_diag_destroy(&diag);
}

/* Z-2: a zone's SOA in a state is imported against the model's defaults: the
 * cloud's own values give no soa key (privres fills the same ones in), a
 * value chosen by the user (minimum TTL 10, another email) is kept. */
static const model_soa_t *imported_soa(const char *soa_json, deployment_t **dp)
{
	char path[] = "/tmp/privres-tf-soa-XXXXXX.json";
	int fd = mkstemps(path, 5);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fprintf(f,
		"{\"format_version\":\"1.0\",\"values\":{\"root_module\":{\"resources\":[{"
		"\"address\":\"azurerm_private_dns_zone.z\",\"mode\":\"managed\","
		"\"type\":\"azurerm_private_dns_zone\",\"name\":\"z\",\"values\":{"
		"\"id\":\"/subscriptions/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f/resourceGroups/"
		"privres/providers/Microsoft.Network/privateDnsZones/contoso.internal\","
		"\"name\":\"contoso.internal\",\"resource_group_name\":\"privres\","
		"\"soa_record\":[%s]}}]}}}",
		soa_json);
	fclose(f);
	pr_diag_t *diag = pr_diag_new();
	json_t *j = NULL;
	if (import(path, NULL, &j, diag) != 0)
		fail_msg("%s", pr_diag_format(diag));
	unlink(path);
	*dp = load(j, "soa");
	json_decref(j);
	pr_diag_destroy(&diag);
	assert_int_equal((*dp)->n_zones, 1);
	return &(*dp)->zones[0].soa;
}

static void test_z2_soa_defaults_shared_with_model(void **state)
{
	const model_soa_t want = MODEL_SOA_DEFAULTS;
	deployment_t *d = NULL;
	const model_soa_t *soa = imported_soa(
		"{\"email\":\"azureprivatedns-hostmaster.microsoft.com\",\"expire_time\":2419200,"
		"\"host_name\":\"azureprivatedns.net\",\"minimum_ttl\":300,\"refresh_time\":3600,"
		"\"retry_time\":300,\"serial_number\":1,\"ttl\":3600}",
		&d);
	assert_string_equal(soa->email, "azureprivatedns-hostmaster.microsoft.com.");
	assert_string_equal(soa->host, "azureprivatedns.net.");
	assert_int_equal(soa->minimum, 300);
	assert_int_equal(soa->minimum, want.minimum);
	assert_int_equal(soa->expire, want.expire);
	assert_int_equal(soa->refresh, want.refresh);
	assert_int_equal(soa->retry, want.retry);
	assert_int_equal(soa->ttl, want.ttl);
	assert_null(json_object_get(json_array_get(json_object_get(
					    deployment_source_json(d), "privateDnsZones"), 0),
				    "soa"));
	deployment_destroy(&d);

	soa = imported_soa("{\"email\":\"hostmaster.contoso.com\",\"expire_time\":2419200,"
			   "\"minimum_ttl\":10,\"refresh_time\":3600,\"retry_time\":300,"
			   "\"ttl\":3600}",
			   &d);
	assert_int_equal(soa->minimum, 10);
	assert_string_equal(soa->email, "hostmaster.contoso.com");
	assert_int_equal(soa->refresh, want.refresh);
	deployment_destroy(&d);
}

/* ---- configurations written in place ------------------------------------------ */

/* A folder holding main.tf with this text (owned path). */
static char *write_config(const char *hcl)
{
	char *dir = pr_strdup("/tmp/privres-tf-XXXXXX");
	assert_non_null(mkdtemp(dir));
	char *tf = pr_asprintf("%s/main.tf", dir);
	FILE *f = fopen(tf, "w");
	assert_non_null(f);
	fputs(hcl, f);
	fclose(f);
	free(tf);
	return dir;
}

static void remove_config(char *dir)
{
	char *cmd = pr_asprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(dir);
}

/* Import hcl; the deployment, or NULL with the findings in diag. */
static json_t *import_hcl(const char *hcl, pr_diag_t *diag)
{
	char *dir = write_config(hcl);
	terraform_import_options_t o = {.path = dir, .hcl2json_dir = hcl2json_dir};
	json_t *j = NULL;
	terraform_import(&o, &j, diag);
	remove_config(dir);
	return j;
}

static json_t *import_ok(const char *hcl)
{
	pr_diag_t *diag = pr_diag_new();
	json_t *j = import_hcl(hcl, diag);
	if (!j)
		fail_msg("refused:\n%s", pr_diag_format(diag));
	pr_diag_destroy(&diag);
	return j;
}

#define ZONE_BASE                                                                                  \
	"resource \"azurerm_resource_group\" \"rg\" {\n  name = \"rg1\"\n"                          \
	"  location = \"eastus\"\n}\n"                                                             \
	"resource \"azurerm_virtual_network\" \"v\" {\n  name = \"v1\"\n"                           \
	"  location = azurerm_resource_group.rg.location\n"                                         \
	"  resource_group_name = azurerm_resource_group.rg.name\n"                                  \
	"  address_space = [\"10.0.0.0/16\"]\n  tags = { env = \"test\" }\n}\n"                     \
	"resource \"azurerm_private_dns_zone\" \"z\" {\n  name = \"corp.example\"\n"                \
	"  resource_group_name = azurerm_resource_group.rg.name\n}\n"

/* Provider 5.x names the zone of record sets and links by private_dns_zone_id,
 * 4.x by zone_name (private_dns_zone_name) and resource_group_name: both give
 * the same deployment; tags and lifecycle, depends_on, timeouts, provider
 * change nothing else. */
static void test_provider_generations(void **state)
{
	(void)state;
	json_t *v5 = import_ok(
		ZONE_BASE "resource \"azurerm_private_dns_a_record\" \"a\" {\n  name = \"web\"\n"
			  "  private_dns_zone_id = azurerm_private_dns_zone.z.id\n  ttl = 300\n"
			  "  records = [\"10.0.0.5\"]\n  tags = { owner = \"x\" }\n"
			  "  depends_on = [azurerm_virtual_network.v]\n"
			  "  lifecycle {\n    ignore_changes = [tags]\n  }\n"
			  "  timeouts {\n    create = \"5m\"\n  }\n}\n"
			  "resource \"azurerm_private_dns_zone_virtual_network_link\" \"l\" {\n"
			  "  name = \"l1\"\n  private_dns_zone_id = azurerm_private_dns_zone.z.id\n"
			  "  virtual_network_id = azurerm_virtual_network.v.id\n"
			  "  registration_enabled = true\n}\n");
	json_t *v4 = import_ok(
		ZONE_BASE "resource \"azurerm_private_dns_a_record\" \"a\" {\n  name = \"web\"\n"
			  "  zone_name = azurerm_private_dns_zone.z.name\n"
			  "  resource_group_name = azurerm_resource_group.rg.name\n  ttl = 300\n"
			  "  records = [\"10.0.0.5\"]\n  tags = { owner = \"x\" }\n}\n"
			  "resource \"azurerm_private_dns_zone_virtual_network_link\" \"l\" {\n"
			  "  name = \"l1\"\n  private_dns_zone_name = azurerm_private_dns_zone.z.name\n"
			  "  resource_group_name = azurerm_resource_group.rg.name\n"
			  "  virtual_network_id = azurerm_virtual_network.v.id\n"
			  "  registration_enabled = true\n}\n");
	if (!json_equal(v4, v5))
		fail_msg("4.x and 5.x differ:\n%s\n%s", json_dumps(v4, 0), json_dumps(v5, 0));
	const json_t *zone = json_array_get(json_object_get(v5, "privateDnsZones"), 0);
	const json_t *rs = json_array_get(json_object_get(zone, "recordSets"), 0);
	assert_string_equal(json_string_value(json_object_get(rs, "name")), "web");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(rs, "metadata"), "owner")), "x");
	const json_t *vnet = json_array_get(json_object_get(v5, "virtualNetworks"), 0);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(vnet, "tags"), "env")), "test");
	assert_true(json_is_true(json_object_get(
		json_array_get(json_object_get(zone, "virtualNetworkLinks"), 0),
		"registrationEnabled")));
	json_decref(v4);
	json_decref(v5);
}

/* The same resource declared twice (the provider's requiresImport case) is
 * refused at the second block, naming the first with its file and line. */
static void test_declared_twice(void **state)
{
	(void)state;
	pr_diag_t *diag = pr_diag_new();
	json_t *j = import_hcl(
		ZONE_BASE "resource \"azurerm_private_dns_a_record\" \"a\" {\n  name = \"web\"\n"
			  "  private_dns_zone_id = azurerm_private_dns_zone.z.id\n  ttl = 300\n"
			  "  records = [\"10.0.0.5\"]\n}\n"
			  "resource \"azurerm_private_dns_a_record\" \"import\" {\n"
			  "  name = azurerm_private_dns_a_record.a.name\n"
			  "  private_dns_zone_id = azurerm_private_dns_a_record.a.private_dns_zone_id\n"
			  "  ttl = 300\n  records = [\"10.0.0.5\"]\n}\n",
		diag);
	assert_null(j);
	char *t = pr_diag_format(diag);
	if (!strstr(t, "main.tf:22:0: azurerm_private_dns_a_record.import: declared twice: "
		       "azurerm_private_dns_a_record.a (") ||
	    !strstr(t, "main.tf:16)"))
		fail_msg("%s", t);
	free(t);
	pr_diag_destroy(&diag);
}

/* Values that exist only after an apply get deterministic placeholders: a
 * random_pet names the resource group the same way every time, a VM's
 * address is its NIC's dynamic one (the fifth of the subnet). */
static void test_placeholders(void **state)
{
	(void)state;
	const char *hcl =
		"resource \"random_pet\" \"p\" {\n  prefix = \"rg\"\n}\n"
		"resource \"random_string\" \"s\" {\n  length = 6\n  special = false\n"
		"  upper = false\n}\n"
		"resource \"azurerm_resource_group\" \"rg\" {\n  name = random_pet.p.id\n"
		"  location = \"eastus\"\n}\n"
		"resource \"azurerm_virtual_network\" \"v\" {\n  name = \"v-${random_string.s.result}\"\n"
		"  location = \"eastus\"\n  resource_group_name = azurerm_resource_group.rg.name\n"
		"  address_space = [\"10.0.0.0/16\"]\n}\n"
		"resource \"azurerm_subnet\" \"s\" {\n  name = \"s\"\n"
		"  resource_group_name = azurerm_resource_group.rg.name\n"
		"  virtual_network_name = azurerm_virtual_network.v.name\n"
		"  address_prefixes = [\"10.0.2.0/24\"]\n}\n"
		"resource \"azurerm_network_interface\" \"n\" {\n  name = \"n\"\n  location = \"eastus\"\n"
		"  resource_group_name = azurerm_resource_group.rg.name\n  ip_configuration {\n"
		"    name = \"i\"\n    subnet_id = azurerm_subnet.s.id\n"
		"    private_ip_address_allocation = \"Dynamic\"\n  }\n}\n"
		"resource \"azurerm_linux_virtual_machine\" \"vm\" {\n  name = \"vm\"\n"
		"  resource_group_name = azurerm_resource_group.rg.name\n"
		"  network_interface_ids = [azurerm_network_interface.n.id]\n}\n"
		"resource \"azurerm_private_dns_zone\" \"z\" {\n  name = \"corp.example\"\n"
		"  resource_group_name = azurerm_resource_group.rg.name\n}\n"
		"resource \"azurerm_private_dns_a_record\" \"a\" {\n  name = \"vm\"\n"
		"  private_dns_zone_id = azurerm_private_dns_zone.z.id\n  ttl = 300\n"
		"  records = [azurerm_linux_virtual_machine.vm.private_ip_address]\n}\n";
	json_t *a = import_ok(hcl), *b = import_ok(hcl);
	assert_true(json_equal(a, b));
	const char *rg = json_string_value(json_object_get(a, "resourceGroup"));
	assert_non_null(rg);
	assert_true(!strncmp(rg, "rg-", 3));
	const char *vnet = json_string_value(
		json_object_get(json_array_get(json_object_get(a, "virtualNetworks"), 0), "name"));
	assert_int_equal(strlen(vnet), 8);
	for (const char *c = vnet + 2; *c; c++)
		assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9'));
	const json_t *rs = json_array_get(
		json_object_get(json_array_get(json_object_get(a, "privateDnsZones"), 0),
				"recordSets"),
		0);
	assert_string_equal(json_string_value(json_array_get(json_object_get(rs, "records"), 0)),
			    "10.0.2.4");
	json_decref(a);
	json_decref(b);
}

/* Every variable without a value is reported at once, at its declaration;
 * TF_VAR_ gives one, below --var. */
static void test_missing_variables_at_once(void **state)
{
	(void)state;
	const char *hcl = "variable \"a\" {\n  type = string\n}\n"
			  "variable \"b\" {\n  type = list(string)\n}\n"
			  "resource \"azurerm_virtual_network\" \"v\" {\n  name = var.a\n"
			  "  location = \"eastus\"\n  resource_group_name = \"rg\"\n"
			  "  address_space = var.b\n}\n";
	pr_diag_t *diag = pr_diag_new();
	assert_null(import_hcl(hcl, diag));
	char *t = pr_diag_format(diag);
	if (!strstr(t, "main.tf:1:0: variable \"a\" has no value") ||
	    !strstr(t, "main.tf:4:0: variable \"b\" has no value"))
		fail_msg("%s", t);
	free(t);
	pr_diag_destroy(&diag);
	setenv("TF_VAR_a", "fromenv", 1);
	setenv("TF_VAR_b", "[\"10.9.0.0/16\"]", 1);
	json_t *j = import_ok(hcl);
	unsetenv("TF_VAR_a");
	unsetenv("TF_VAR_b");
	const json_t *v = json_array_get(json_object_get(j, "virtualNetworks"), 0);
	assert_string_equal(json_string_value(json_object_get(v, "name")), "fromenv");
	assert_string_equal(
		json_string_value(json_array_get(json_object_get(v, "addressPrefixes"), 0)),
		"10.9.0.0/16");
	json_decref(j);
}

/* The files Terraform reads by itself, in its order: TF_VAR_* < terraform.tfvars
 * < terraform.tfvars.json < *.auto.tfvars and *.auto.tfvars.json by file name;
 * then --var-file (HCL or JSON) and --var in command-line order. */
static void put_file(const char *dir, const char *name, const char *text)
{
	char *p = pr_asprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

/* o imports to one VNet named name with the prefix prefix. */
static void vars_import_to(const terraform_import_options_t *o, pr_diag_t *diag, const char *name,
			   const char *prefix)
{
	json_t *j = NULL;
	if (terraform_import(o, &j, diag) != 0)
		fail_msg("%s", pr_diag_format(diag));
	const json_t *v = json_array_get(json_object_get(j, "virtualNetworks"), 0);
	assert_string_equal(json_string_value(json_object_get(v, "name")), name);
	assert_string_equal(
		json_string_value(json_array_get(json_object_get(v, "addressPrefixes"), 0)), prefix);
	json_decref(j);
}

static void test_variable_files_precedence(void **state)
{
	(void)state;
	char *dir = write_config(
		"variable \"p\" {\n  type = list(string)\n}\n"
		"variable \"q\" {\n  type = string\n}\n"
		"resource \"azurerm_virtual_network\" \"v\" {\n  name = join(\"-\", var.p)\n"
		"  location = \"eastus\"\n  resource_group_name = \"rg\"\n"
		"  address_space = [var.q]\n}\n");
	put_file(dir, "terraform.tfvars", "p = [\"tfvars\", \"tfvars\", \"tfvars\", \"tfvars\"]\n");
	put_file(dir, "terraform.tfvars.json",
		 "{\"p\": [\"tfvars\", \"json\", \"json\", \"json\"], \"q\": \"10.1.0.0/16\"}");
	put_file(dir, "b.auto.tfvars", "p = [\"tfvars\", \"json\", \"b\", \"b\"]\n");
	put_file(dir, "a.auto.tfvars.json", "{\"p\": [\"x\", \"x\", \"a\", \"a\"]}");
	put_file(dir, "c.auto.tfvars.json", "{\"p\": [\"tfvars\", \"json\", \"b\", \"c\"]}");
	setenv("TF_VAR_q", "10.9.0.0/16", 1); /* below every file */
	terraform_import_options_t o = {.path = dir, .hcl2json_dir = hcl2json_dir};
	pr_diag_t *diag = pr_diag_new();
	json_t *j = NULL;
	vars_import_to(&o, diag, "tfvars-json-b-c", "10.1.0.0/16");

	/* --var-file (JSON, then HCL) above the automatic files, --var above all */
	put_file(dir, "extra.json", "{\"p\": [\"e\", \"e\", \"e\", \"e\"], \"q\": \"10.2.0.0/16\"}");
	put_file(dir, "extra.hcl", "p = [\"h\", \"h\", \"h\", \"h\"]\n");
	char *files[] = {pr_asprintf("%s/extra.json", dir), pr_asprintf("%s/extra.hcl", dir)};
	terraform_var_arg_t args[] = {
		{true, files[0]}, {true, files[1]}, {false, "q=10.3.0.0/16"}};
	o.var_args = args;
	o.n_var_args = 3;
	vars_import_to(&o, diag, "h-h-h-h", "10.3.0.0/16");

	/* -var and -var-file interleaved: in command-line order, the later wins
	 * (Terraform's documented order), whatever their kind */
	terraform_var_arg_t mixed[] = {{false, "q=10.3.0.0/16"},
				       {true, files[1]},
				       {false, "p=[\"v\", \"v\", \"v\", \"v\"]"},
				       {true, files[0]}};
	o.var_args = mixed;
	o.n_var_args = 4;
	vars_import_to(&o, diag, "e-e-e-e", "10.2.0.0/16");
	o.n_var_args = 3; /* p given after extra.hcl wins over it */
	vars_import_to(&o, diag, "v-v-v-v", "10.3.0.0/16");

	/* a broken terraform.tfvars.json is named */
	put_file(dir, "terraform.tfvars.json", "{\"p\": ");
	o.n_var_args = 0;
	pr_diag_clear(diag);
	assert_int_not_equal(terraform_import(&o, &j, diag), 0);
	char *t = pr_diag_format(diag);
	if (!strstr(t, "terraform.tfvars.json:1:") || !strstr(t, "not a JSON object"))
		fail_msg("%s", t);
	free(t);
	unsetenv("TF_VAR_q");
	free(files[0]);
	free(files[1]);
	pr_diag_destroy(&diag);
	remove_config(dir);
}

/* ---- ARM templates ------------------------------------------------------------- */

static json_t *arm_text(const char *text, const char *const *params, size_t n, pr_diag_t *diag)
{
	char path[] = "/tmp/privres-arm-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	arm_import_options_t o = {.path = path, .parameters = params, .n_parameters = n};
	json_t *j = NULL;
	arm_import(&o, &j, diag);
	unlink(path);
	return j;
}

/* Parameters, variables, resourceId, format, concat, copy loops, nested
 * children and property names in any case; an unknown function is refused
 * at its JSON path; a missing parameter is named. */
static void test_arm_template(void **state)
{
	(void)state;
	const char *tmpl =
		"{\"parameters\": {\"vnet\": {\"type\": \"string\"},"
		" \"n\": {\"type\": \"int\", \"defaultValue\": 2}},"
		" \"variables\": {\"zone\": \"[toLower(concat('Corp', '.example'))]\"},"
		" \"resources\": ["
		"  {\"type\": \"Microsoft.Network/virtualNetworks\","
		"   \"name\": \"[format('{0}{1}', parameters('vnet'), copyIndex(1))]\","
		"   \"copy\": {\"name\": \"v\", \"count\": \"[parameters('n')]\"},"
		"   \"location\": \"[resourceGroup().location]\", \"properties\": {\"addressSpace\":"
		"   {\"addressPrefixes\": [\"[format('10.{0}.0.0/16', copyIndex())]\"]}}},"
		"  {\"type\": \"Microsoft.Network/privateDnsZones\", \"name\": \"[variables('zone')]\","
		"   \"location\": \"global\", \"resources\": [{\"type\": \"virtualNetworkLinks\","
		"   \"name\": \"[format('link{0}', copyIndex(1))]\", \"copy\": {\"name\": \"l\","
		"   \"count\": \"[parameters('n')]\"}, \"properties\": {\"VIRTUALNETWORK\": {\"id\":"
		"   \"[resourceId('Microsoft.Network/virtualNetworks', concat(parameters('vnet'),"
		" string(copyIndex(1))))]\"}}}]}]}";
	const char *params[] = {"vnet=hub"};
	pr_diag_t *diag = pr_diag_new();
	json_t *j = arm_text(tmpl, params, 1, diag);
	if (!j)
		fail_msg("%s", pr_diag_format(diag));
	const json_t *zone = json_array_get(json_object_get(j, "privateDnsZones"), 0);
	assert_string_equal(json_string_value(json_object_get(zone, "name")), "corp.example");
	const json_t *links = json_object_get(zone, "virtualNetworkLinks");
	assert_int_equal(json_array_size(links), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(links, 1), "name")),
			    "link2");
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(links, 1), "virtualNetwork")),
		"hub2");
	const json_t *v2 = json_array_get(json_object_get(j, "virtualNetworks"), 1);
	assert_string_equal(
		json_string_value(json_array_get(json_object_get(v2, "addressPrefixes"), 0)),
		"10.1.0.0/16");
	json_decref(j);

	pr_diag_clear(diag);
	assert_null(arm_text(tmpl, NULL, 0, diag));
	char *t = pr_diag_format(diag);
	if (!strstr(t, "parameter 'vnet' has no value"))
		fail_msg("%s", t);
	free(t);

	pr_diag_clear(diag);
	assert_null(arm_text("{\"resources\": [{\"type\": \"Microsoft.Network/privateDnsZones\","
			     " \"name\": \"[reference('x').name]\"}]}",
			     NULL, 0, diag));
	t = pr_diag_format(diag);
	if (!strstr(t, "resources[0].name: reference(): x is not a resource of the template"))
		fail_msg("%s", t);
	free(t);

	/* copyIndex(offset) past the integers is refused, not overflowed (found
	 * by fuzz_arm_template under UBSan) */
	pr_diag_clear(diag);
	assert_null(arm_text("{\"resources\": [{\"type\": \"Microsoft.Network/privateDnsZones\","
			     " \"name\": \"[string(copyIndex(9223372036854775807))]\","
			     " \"copy\": {\"name\": \"z\", \"count\": 2}}]}",
			     NULL, 0, diag));
	t = pr_diag_format(diag);
	if (!strstr(t, "copyIndex(): the offset is out of range"))
		fail_msg("%s", t);
	free(t);

	/* a resource type with more segments than names: the message names the
	 * segment (it was read after being freed, found by fuzz_arm_template) */
	pr_diag_clear(diag);
	assert_null(arm_text("{\"resources\": [{\"type\": \"Microsoft.Network/privateDnsZones\","
			     " \"name\": \"[resourceId('Microsoft.Network/privateDnsZones/A')]\"}]}",
			     NULL, 0, diag));
	t = pr_diag_format(diag);
	if (!strstr(t, "resourceId(): a name is missing for privateDnsZones"))
		fail_msg("%s", t);
	free(t);
	pr_diag_destroy(&diag);
}

/* Record sets of every type the cloud's templates write, nested in the zone or
 * named zone/record, as the ARM surface reads them; the SOA record set sets the
 * zone's soa (Z-2); a record array of another type is refused. */
static void test_arm_record_sets(void **state)
{
	(void)state;
	const char *tmpl =
		"{\"resources\": [{\"type\": \"Microsoft.Network/privateDnsZones\","
		" \"name\": \"corp.example\", \"location\": \"global\", \"resources\": ["
		"  {\"type\": \"MX\", \"name\": \"@\", \"properties\": {\"ttl\": 600,"
		"   \"mxRecords\": [{\"preference\": 10, \"exchange\": \"mx1.corp.example\"}]}},"
		"  {\"type\": \"TXT\", \"name\": \"txt\", \"properties\": {\"ttl\": 300,"
		"   \"metadata\": {\"k\": \"v\"}, \"txtRecords\": [{\"value\": [\"hello\"]}]}},"
		"  {\"type\": \"SOA\", \"name\": \"@\", \"properties\": {\"ttl\": 3600,"
		"   \"soaRecord\": {\"email\": \"admin.corp.example\", \"minimumTtl\": 20}}}]},"
		" {\"type\": \"Microsoft.Network/privateDnsZones/CNAME\","
		"  \"name\": \"corp.example/www\", \"properties\": {\"ttl\": 300,"
		"   \"cnameRecord\": {\"cname\": \"web.corp.example\"}}}]}";
	pr_diag_t *diag = pr_diag_new();
	json_t *j = arm_text(tmpl, NULL, 0, diag);
	if (!j)
		fail_msg("%s", pr_diag_format(diag));
	const json_t *zone = json_array_get(json_object_get(j, "privateDnsZones"), 0);
	const json_t *rs = json_object_get(zone, "recordSets");
	assert_int_equal(json_array_size(rs), 3);
	char *text = json_dumps(rs, JSON_COMPACT | JSON_SORT_KEYS);
	if (!strstr(text, "\"records\":[\"10 mx1.corp.example\"]") ||
	    !strstr(text, "\"metadata\":{\"k\":\"v\"}") || !strstr(text, "\"type\":\"TXT\"") ||
	    !strstr(text, "\"name\":\"www\",\"records\":[\"web.corp.example\"]"))
		fail_msg("%s", text);
	free(text);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(zone, "soa"),
							     "minimumTtl")),
			 20);
	json_decref(j);

	/* reference(): a resource of the template by id or name, Full (.id) or
	 * its properties; a resource referring to itself is a cycle */
	pr_diag_clear(diag);
	j = arm_text(
		"{\"resources\": [{\"type\": \"Microsoft.Network/privateDnsZones\","
		" \"name\": \"corp.example\", \"resources\": [{\"type\": \"A\", \"name\": \"a\","
		"  \"properties\": {\"ttl\": 300, \"aRecords\": [{\"ipv4Address\": \"10.0.0.9\"}]}}]},"
		" {\"type\": \"Microsoft.Network/privateDnsZones/A\", \"name\": \"corp.example/b\","
		"  \"properties\": {\"ttl\": 300, \"metadata\": {\"zone\": \"[reference(resourceId("
		"'Microsoft.Network/privateDnsZones', 'corp.example'), '2020-06-01', 'Full').id]\"},"
		"  \"aRecords\": [{\"ipv4Address\":"
		" \"[reference('corp.example/a').aRecords[0].ipv4Address]\"}]}}]}",
		NULL, 0, diag);
	if (!j)
		fail_msg("%s", pr_diag_format(diag));
	const json_t *b = json_array_get(
		json_object_get(json_array_get(json_object_get(j, "privateDnsZones"), 0), "recordSets"),
		1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(b, "records"), 0)),
			    "10.0.0.9");
	assert_string_equal(json_string_value(json_object_get(json_object_get(b, "metadata"), "zone")),
			    "/subscriptions/" MODEL_DEFAULT_SUBSCRIPTION "/resourceGroups/"
			    MODEL_DEFAULT_RESOURCE_GROUP
			    "/providers/Microsoft.Network/privateDnsZones/corp.example");
	json_decref(j);
	pr_diag_clear(diag);
	assert_null(arm_text("{\"resources\": [{\"type\": \"Microsoft.Network/privateDnsZones\","
			     " \"name\": \"z.example\", \"properties\": {\"x\":"
			     " \"[reference('z.example').x]\"}}]}",
			     NULL, 0, diag));
	char *t = pr_diag_format(diag);
	if (!strstr(t, "z.example refers to itself"))
		fail_msg("%s", t);
	free(t);

	pr_diag_clear(diag);
	assert_null(arm_text("{\"resources\": [{\"type\": \"Microsoft.Network/privateDnsZones/A\","
			     " \"name\": \"corp.example/a\", \"properties\": {\"ttl\": 300,"
			     " \"cnameRecord\": {\"cname\": \"x.example\"}}}]}",
			     NULL, 0, diag));
	t = pr_diag_format(diag);
	if (!strstr(t, "a record set of type A can't hold cnameRecord"))
		fail_msg("%s", t);
	free(t);
	pr_diag_destroy(&diag);
}

/* --parameters NAME=VALUE as the cloud CLI reads them: a value with a '/' is
 * not a file, an int/object parameter takes the JSON it spells; @FILE is a
 * parameters file, read in order with the later one winning. */
static void test_arm_parameter_values(void **state)
{
	(void)state;
	const char *tmpl =
		"{\"parameters\": {\"p\": {\"type\": \"string\"}, \"n\": {\"type\": \"int\"},"
		" \"tags\": {\"type\": \"object\", \"defaultValue\": {}}},"
		" \"resources\": [{\"type\": \"Microsoft.Network/virtualNetworks\","
		"  \"name\": \"[concat('v', copyIndex())]\", \"tags\": \"[parameters('tags')]\","
		"  \"copy\": {\"name\": \"c\", \"count\": \"[parameters('n')]\"},"
		"  \"properties\": {\"addressSpace\": {\"addressPrefixes\": [\"[parameters('p')]\"]}}}]}";
	char file[] = "/tmp/privres-arm-params-XXXXXX";
	int fd = mkstemp(file);
	assert_true(fd >= 0);
	const char *text = "{\"parameters\": {\"n\": {\"value\": 1},"
			   " \"p\": {\"value\": \"10.8.0.0/16\"}}}";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	char *at = pr_asprintf("@%s", file);
	const char *params[] = {at, "p=10.7.0.0/16", "n=2", "tags={\"env\": \"dev\"}"};
	pr_diag_t *diag = pr_diag_new();
	json_t *j = arm_text(tmpl, params, 4, diag);
	if (!j)
		fail_msg("%s", pr_diag_format(diag));
	const json_t *v = json_object_get(j, "virtualNetworks");
	assert_int_equal(json_array_size(v), 2);
	const json_t *v1 = json_array_get(v, 1);
	assert_string_equal(
		json_string_value(json_array_get(json_object_get(v1, "addressPrefixes"), 0)),
		"10.7.0.0/16");
	assert_string_equal(json_string_value(json_object_get(json_object_get(v1, "tags"), "env")),
			    "dev");
	json_decref(j);
	j = arm_text(tmpl, params, 1, diag); /* the file alone: n=1 */
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "virtualNetworks")), 1);
	json_decref(j);
	unlink(file);
	free(at);
	pr_diag_destroy(&diag);
}

/* ARM matches property names case-insensitively: record arrays, their fields,
 * ttl, metadata and the SOA record in any case are read as the cloud spells
 * them (metadata's own keys kept as written). */
static void test_arm_record_keys_any_case(void **state)
{
	(void)state;
	const char *tmpl =
		"{\"resources\": [{\"type\": \"Microsoft.Network/privateDnsZones\","
		" \"name\": \"corp.example\", \"resources\": ["
		"  {\"type\": \"a\", \"name\": \"web\", \"PROPERTIES\": {\"TTL\": 60,"
		"   \"Metadata\": {\"Owner\": \"Team\"},"
		"   \"ARecords\": [{\"IPv4Address\": \"10.0.0.1\"}, {\"ipv4address\": \"10.0.0.2\"}]}},"
		"  {\"type\": \"MX\", \"name\": \"@\", \"properties\": {\"MXRECORDS\":"
		"   [{\"Preference\": 10, \"EXCHANGE\": \"mx1.corp.example\"}]}},"
		"  {\"type\": \"TXT\", \"name\": \"t\", \"properties\": {\"TxtRecords\":"
		"   [{\"Value\": [\"x\"]}]}},"
		"  {\"type\": \"SOA\", \"name\": \"@\", \"Properties\": {\"Ttl\": 120,"
		"   \"SOARecord\": {\"Email\": \"admin.corp.example\", \"MinimumTTL\": 30}}}]}]}";
	pr_diag_t *diag = pr_diag_new();
	json_t *j = arm_text(tmpl, NULL, 0, diag);
	if (!j)
		fail_msg("%s", pr_diag_format(diag));
	const json_t *zone = json_array_get(json_object_get(j, "privateDnsZones"), 0);
	char *text = json_dumps(json_object_get(zone, "recordSets"), JSON_COMPACT | JSON_SORT_KEYS);
	if (!strstr(text, "\"metadata\":{\"Owner\":\"Team\"},\"name\":\"web\","
			  "\"records\":[\"10.0.0.1\",\"10.0.0.2\"],\"ttl\":60") ||
	    !strstr(text, "\"records\":[\"10 mx1.corp.example\"]") ||
	    !strstr(text, "\"name\":\"t\",\"records\":[\"x\"]"))
		fail_msg("%s", text);
	free(text);
	const json_t *soa = json_object_get(zone, "soa");
	assert_int_equal(json_integer_value(json_object_get(soa, "minimumTtl")), 30);
	assert_int_equal(json_integer_value(json_object_get(soa, "ttl")), 120);
	assert_string_equal(json_string_value(json_object_get(soa, "email")), "admin.corp.example");
	json_decref(j);
	pr_diag_destroy(&diag);
}

/* reference() to an instance of a copy loop, by id or name: its properties
 * as that instance declares them (its own copyIndex()), from inside another
 * loop whose own copyIndex() is unchanged after the call. */
static void test_arm_reference_into_copy_loops(void **state)
{
	(void)state;
	const char *tmpl =
		"{\"parameters\": {\"ips\": {\"type\": \"array\", \"defaultValue\":"
		"  [\"10.0.0.10\", \"10.0.0.11\", \"10.0.0.12\"]},"
		"  \"spokes\": {\"type\": \"array\", \"defaultValue\": [\"s1\", \"s2\"]}},"
		" \"resources\": ["
		"  {\"type\": \"Microsoft.Network/virtualNetworks\","
		"   \"name\": \"[parameters('spokes')[copyIndex()]]\","
		"   \"copy\": {\"name\": \"v\", \"count\": \"[length(parameters('spokes'))]\"},"
		"   \"properties\": {\"addressSpace\": {\"addressPrefixes\":"
		"    [\"[format('10.{0}.0.0/16', copyIndex(1))]\"]}}},"
		"  {\"type\": \"Microsoft.Network/privateDnsZones\", \"name\": \"corp.example\"},"
		"  {\"type\": \"Microsoft.Network/privateDnsZones/A\","
		"   \"name\": \"[concat('corp.example/r', copyIndex())]\","
		"   \"copy\": {\"name\": \"r\", \"count\": 3},"
		"   \"properties\": {\"ttl\": 300, \"aRecords\":"
		"    [{\"ipv4Address\": \"[parameters('ips')[copyIndex()]]\"}]}},"
		"  {\"type\": \"Microsoft.Network/privateDnsZones/A\", \"name\": \"corp.example/alias\","
		"   \"properties\": {\"ttl\": 300, \"aRecords\": [{\"ipv4Address\": \"[reference("
		"resourceId('Microsoft.Network/privateDnsZones/A', 'corp.example', 'r1'))"
		".aRecords[0].ipv4Address]\"}, {\"ipv4Address\": \"[reference('corp.example/r2')"
		".aRecords[0].ipv4Address]\"}]}},"
		"  {\"type\": \"Microsoft.Network/privateDnsZones/virtualNetworkLinks\","
		"   \"name\": \"[format('corp.example/{0}-{1}', reference(resourceId("
		"'Microsoft.Network/virtualNetworks', parameters('spokes')[copyIndex()]),"
		" '2022-07-01', 'Full').name, copyIndex())]\","
		"   \"copy\": {\"name\": \"l\", \"count\": 2},"
		"   \"properties\": {\"virtualNetwork\": {\"id\": \"[reference(resourceId("
		"'Microsoft.Network/virtualNetworks', parameters('spokes')[copyIndex()]),"
		" '2022-07-01', 'Full').id]\"}, \"registrationEnabled\": false}}]}";
	pr_diag_t *diag = pr_diag_new();
	json_t *j = arm_text(tmpl, NULL, 0, diag);
	if (!j)
		fail_msg("%s", pr_diag_format(diag));
	const json_t *zone = json_array_get(json_object_get(j, "privateDnsZones"), 0);
	const json_t *alias = json_array_get(json_object_get(zone, "recordSets"), 3);
	assert_string_equal(json_string_value(json_object_get(alias, "name")), "alias");
	char *text = json_dumps(json_object_get(alias, "records"), JSON_COMPACT);
	assert_string_equal(text, "[\"10.0.0.11\",\"10.0.0.12\"]");
	free(text);
	const json_t *links = json_object_get(zone, "virtualNetworkLinks");
	assert_int_equal(json_array_size(links), 2);
	const json_t *l1 = json_array_get(links, 1);
	assert_string_equal(json_string_value(json_object_get(l1, "name")), "s2-1");
	assert_string_equal(json_string_value(json_object_get(l1, "virtualNetwork")), "s2");
	json_decref(j);

	/* past the loop's last instance: not a resource of the template */
	pr_diag_clear(diag);
	assert_null(arm_text("{\"resources\": [{\"type\": \"Microsoft.Network/privateDnsZones\","
			     " \"name\": \"[concat('z', copyIndex(), '.example')]\","
			     " \"copy\": {\"name\": \"z\", \"count\": 2}},"
			     " {\"type\": \"Microsoft.Network/privateDnsZones\","
			     " \"name\": \"[reference('z2.example', '2020-06-01', 'Full').name]\"}]}",
			     NULL, 0, diag));
	char *t = pr_diag_format(diag);
	if (!strstr(t, "reference(): z2.example is not a resource of the template"))
		fail_msg("%s", t);
	free(t);
	pr_diag_destroy(&diag);
}

/* ---- modules ----------------------------------------------------------------- */

static deployment_t *import_deployment(const char *path)
{
	pr_diag_t *diag = pr_diag_new();
	json_t *j = NULL;
	if (import(path, NULL, &j, diag) != 0)
		fail_msg("import of %s:\n%s", path, pr_diag_format(diag));
	deployment_t *d = load(j, path);
	json_decref(j);
	pr_diag_destroy(&diag);
	return d;
}

/* The same estate written flat, with a local module (for_each over a map of
 * spokes, an output read by the root) and with an installed registry module
 * calling a nested one (count), laid out as `terraform init` leaves them:
 * all three plan to nothing against each other. */
static void test_modules_same_as_flat(void **state)
{
	(void)state;
	deployment_t *flat = import_deployment(SRC "/tests/unit/terraform/fixtures/modules/flat");
	const char *others[] = {SRC "/tests/unit/terraform/fixtures/modules/local",
				SRC "/tests/unit/terraform/fixtures/modules/installed"};
	for (size_t i = 0; i < 2; i++) {
		deployment_t *d = import_deployment(others[i]);
		json_t *plan = deployment_plan(flat, d), *back = deployment_plan(d, flat);
		if (json_array_size(plan) || json_array_size(back))
			fail_msg("%s differs from the flat estate:\n%s\n%s", others[i],
				 json_dumps(plan, JSON_INDENT(1)), json_dumps(back, JSON_INDENT(1)));
		json_decref(plan);
		json_decref(back);
		deployment_destroy(&d);
	}
	deployment_destroy(&flat);
}

/* The same estate as an ARM template (copy loops over an array parameter, a
 * record set nested in its zone, links named zone/link): it plans to nothing
 * against the flat Terraform estate. */
static void test_arm_same_as_flat(void **state)
{
	(void)state;
	deployment_t *flat = import_deployment(SRC "/tests/unit/terraform/fixtures/modules/flat");
	arm_import_options_t o = {.path = SRC "/tests/unit/terraform/fixtures/arm/azuredeploy.json",
				  .resource_group = "rg-modules",
				  .location = "eastus"};
	pr_diag_t *diag = pr_diag_new();
	json_t *j = NULL;
	if (arm_import(&o, &j, diag) != 0)
		fail_msg("%s", pr_diag_format(diag));
	deployment_t *d = load(j, "azuredeploy.json");
	json_t *plan = deployment_plan(flat, d), *back = deployment_plan(d, flat);
	if (json_array_size(plan) || json_array_size(back))
		fail_msg("the ARM template differs from the flat estate: %s %s",
			 json_dumps(plan, JSON_COMPACT), json_dumps(back, JSON_COMPACT));
	json_decref(plan);
	json_decref(back);
	json_decref(j);
	deployment_destroy(&d);
	deployment_destroy(&flat);
	pr_diag_destroy(&diag);
}

/* A registry module that terraform init has not installed is named at its
 * file:line with the hint. */
static void test_module_not_installed(void **state)
{
	(void)state;
	pr_diag_t *diag = pr_diag_new();
	assert_null(import_hcl("module \"net\" {\n  source = \"Azure/avm-res-network/azurerm\"\n}\n",
			       diag));
	char *t = pr_diag_format(diag);
	if (!strstr(t, "main.tf:1:0: module \"net\" (Azure/avm-res-network/azurerm) is not "
		       "installed: run `terraform init`"))
		fail_msg("%s", t);
	free(t);
	pr_diag_destroy(&diag);
}

int main(void)
{
	hcl2json_dir = terraform_hcl2json_default_dir();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eval_templates_and_references),
		cmocka_unit_test(test_eval_functions),
		cmocka_unit_test(test_eval_unresolvable_is_reported),
		cmocka_unit_test(test_show_json_state),
		cmocka_unit_test(test_z2_soa_defaults_shared_with_model),
		cmocka_unit_test(test_show_json_plan_with_module),
		cmocka_unit_test(test_estate_hub_and_spoke),
		cmocka_unit_test(test_estate_hybrid),
		cmocka_unit_test(test_estate_zero_trust),
		cmocka_unit_test(test_bad_f5_rule_to_azure_dns),
		cmocka_unit_test(test_bad_p1_ruleset_linked_into_own_inbound_vnet),
		cmocka_unit_test(test_unresolvable_reported_with_position),
		cmocka_unit_test(test_hcl_syntax_error),
		cmocka_unit_test(test_variables_override),
		cmocka_unit_test(test_provider_generations),
		cmocka_unit_test(test_declared_twice),
		cmocka_unit_test(test_placeholders),
		cmocka_unit_test(test_missing_variables_at_once),
		cmocka_unit_test(test_variable_files_precedence),
		cmocka_unit_test(test_arm_template),
		cmocka_unit_test(test_arm_record_sets),
		cmocka_unit_test(test_arm_record_keys_any_case),
		cmocka_unit_test(test_arm_parameter_values),
		cmocka_unit_test(test_arm_reference_into_copy_loops),
		cmocka_unit_test(test_modules_same_as_flat),
		cmocka_unit_test(test_arm_same_as_flat),
		cmocka_unit_test(test_module_not_installed),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(hcl2json_dir);
	return rc;
}
