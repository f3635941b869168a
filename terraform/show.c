/* The JSON of `terraform show -json`: a state (values.root_module) or a plan
 * (planned_values.root_module, plus the configuration whose expressions name
 * what unknown values refer to), root module and child modules alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "terraform/terraform_p.h"

/* The line of `"address": "<address>"` in the JSON text, for findings. */
static int line_of(const char *text, const char *address)
{
	json_t *s = json_string(address);
	char *enc = json_dumps(s, JSON_ENCODE_ANY);
	json_decref(s);
	int line = 0;
	const char *at = text ? strstr(text, enc) : NULL;
	while (at) {
		/* the address as a value of "address", not inside another string */
		const char *k = at;
		while (k > text && (k[-1] == ' ' || k[-1] == ':' || k[-1] == '\t' || k[-1] == '\n'))
			k--;
		if (k - text >= 9 && !strncmp(k - 9, "\"address\"", 9))
			break;
		at = strstr(at + 1, enc);
	}
	if (at) {
		line = 1;
		for (const char *c = text; c < at; c++)
			line += *c == '\n';
	}
	free(enc);
	return line;
}

/* The configuration resource of an instance: same address without index. */
static const json_t *config_resource(const json_t *config_module, const char *type,
				     const char *name)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(config_module, "resources"), i, r)
	{
		if (!strcmp(json_string_value(json_object_get(r, "type")) ?: "", type) &&
		    !strcmp(json_string_value(json_object_get(r, "name")) ?: "", name) &&
		    strcmp(json_string_value(json_object_get(r, "mode")) ?: "managed", "managed") ==
			    0)
			return r;
	}
	return NULL;
}

static void walk_module(tf_import_t *imp, const char *path, const char *text, const json_t *mod,
			const char *prefix, const json_t *config_module)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(mod, "resources"), i, r)
	{
		const char *mode = json_string_value(json_object_get(r, "mode"));
		const char *type = json_string_value(json_object_get(r, "type"));
		const char *name = json_string_value(json_object_get(r, "name"));
		const char *address = json_string_value(json_object_get(r, "address"));
		if (!type || !name || !address) {
			tf_report(imp, path, 0, NULL, PR_EPARSE,
				  "a resource without type, name or address");
			continue;
		}
		if (mode && strcmp(mode, "managed") != 0)
			continue; /* data sources: their values are already in what refers to them
				   */
		const json_t *values = json_object_get(r, "values");
		tf_inst_t *inst =
			tf_inst_add(imp, type, name, address, prefix,
				    json_is_object(values) ? json_deep_copy(values) : json_object(),
				    path, line_of(text, address));
		const json_t *cr = config_resource(config_module, type, name);
		inst->exprs = cr ? json_object_get(cr, "expressions") : NULL;
		inst->config_module = config_module;
	}
	json_array_foreach(json_object_get(mod, "child_modules"), i, r)
	{
		const char *address = json_string_value(json_object_get(r, "address"));
		if (!address)
			continue;
		/* module.a.module.b → the configuration's module_calls a, then b */
		const char *last = strrchr(address, '.');
		char *call = pr_strdup(last ? last + 1 : address);
		call[strcspn(call, "[")] = '\0';
		const json_t *child = json_object_get(
			json_object_get(json_object_get(config_module, "module_calls"), call),
			"module");
		char *p = pr_asprintf("%s.", address);
		walk_module(imp, path, text, r, p, child);
		free(p);
		free(call);
	}
}

int tf_load_show(tf_import_t *imp, const char *path)
{
	json_error_t e;
	char *text = NULL;
	FILE *f = fopen(path, "r");
	if (f) {
		pr_buf_t b = {0};
		char buf[65536];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			pr_buf_append(&b, buf, n);
		pr_buf_append(&b, "", 1);
		fclose(f);
		text = pr_buf_take(&b);
	}
	imp->show_doc = text ? json_loads(text, 0, &e) : NULL;
	if (!text) {
		tf_report(imp, path, 0, NULL, PR_EIO, "cannot read the file");
	} else if (!json_is_object(imp->show_doc)) {
		tf_report(imp, path, e.line, NULL, PR_EPARSE, "not JSON: %s", e.text);
	} else {
		const json_t *pv = json_object_get(imp->show_doc, "planned_values");
		const json_t *root = json_object_get(
			pv ? pv : json_object_get(imp->show_doc, "values"), "root_module");
		imp->configuration = json_object_get(imp->show_doc, "configuration");
		if (!json_is_object(root))
			tf_report(imp, path, 1, NULL, PR_EPARSE,
				  "not the JSON of `terraform show -json`: no "
				  "planned_values.root_module or values.root_module");
		else
			walk_module(imp, path, text, root, "",
				    json_object_get(imp->configuration, "root_module"));
	}
	free(text);
	return imp->err;
}
