/* A configuration folder: its blocks (hcl2json output per file), variables
 * with Terraform's precedence (default < TF_VAR_* < terraform.tfvars <
 * terraform.tfvars.json < *.auto.tfvars(.json) < --var-file < --var),
 * locals, and resource blocks expanded by count and for_each into instances. Blocks are expanded on first reference, so the
 * order of blocks in files does not matter, and a reference cycle is
 * reported instead of recursing forever. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "terraform/terraform_p.h"

/* Meta-arguments: not attributes of the resource. */
static const char *const meta_args[] = {"count",    "for_each",	   "depends_on", "lifecycle",
					"provider", "provisioner", "connection", NULL};

bool tf_in_list(const char *const *list, const char *s)
{
	for (size_t i = 0; list[i]; i++)
		if (!strcmp(s, list[i]))
			return true;
	return false;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of the folder with this suffix, sorted (owned array of owned). */
static char **list_files(const char *dir, const char *suffix, size_t *n)
{
	char **out = NULL;
	size_t cap = 0;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return NULL;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !ends_with(e->d_name, suffix))
			continue;
		pr_grow(&out, &cap, *n + 1, sizeof(*out));
		out[(*n)++] = pr_asprintf("%s/%s", dir, e->d_name);
	}
	closedir(d);
	if (*n)
		qsort(out, *n, sizeof(*out), by_name);
	return out;
}

static void free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

static tf_named_t *find_named(tf_named_t *v, size_t n, const char *module, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].name, name) && !strcmp(v[i].module, module))
			return &v[i];
	return NULL;
}

void tf_named_free(tf_named_t *v)
{
	free(v->name);
	free(v->module);
	free(v->file);
	free(v->ctx);
	json_decref(v->value);
	json_decref(v->each_key);
	json_decref(v->each_value);
}

/* A module variable's argument, evaluated in the calling module. */
static void eval_arg(tf_import_t *imp, tf_named_t *v)
{
	const char *saved = imp->module;
	tf_scope_t s = {.each_key = v->each_key,
			.each_value = v->each_value,
			.count_index = v->count_index,
			.has_count = v->has_count};
	char *e = NULL;
	v->state = 1;
	imp->module = v->ctx;
	json_t *val = tf_eval(imp, v->arg, &s, &e);
	imp->module = saved;
	if (!val) {
		tf_report(imp, v->file, v->line, NULL, PR_ECONFIG, "%svar.%s: %s", v->module,
			  v->name, e);
		free(e);
	} else {
		json_decref(v->value);
		v->value = val;
	}
	v->state = 2;
}

const json_t *tf_var_value(tf_import_t *imp, const char *name, char **err)
{
	tf_named_t *v = find_named(imp->vars, imp->n_vars, imp->module, name);
	if (!v) {
		*err = pr_asprintf("var.%s is not declared", name);
		return NULL;
	}
	if (v->arg && v->state == 1) {
		*err = pr_asprintf("var.%s refers to itself", name);
		return NULL;
	}
	if (v->arg && v->state == 0)
		eval_arg(imp, v);
	if (!v->value) {
		*err = pr_asprintf("var.%s has no value: give it a default, a --var or a "
				   "--var-file",
				   name);
		return NULL;
	}
	return v->value;
}

/* A local or an output: evaluated once, in its own module. */
static const json_t *named_value(tf_import_t *imp, tf_named_t *l, const char *what,
				 char **err)
{
	if (l->state == 1) {
		*err = pr_asprintf("%s.%s refers to itself", what, l->name);
		return NULL;
	}
	if (l->state == 0) {
		const char *saved = imp->module;
		imp->module = l->module;
		l->state = 1;
		char *e = NULL;
		l->value = tf_eval(imp, l->expr, NULL, &e);
		if (!l->value) {
			tf_report(imp, l->file, l->line, NULL, PR_ECONFIG, "%s%s.%s: %s",
				  l->module, what, l->name, e);
			free(e);
		}
		l->state = 2;
		imp->module = saved;
	}
	if (!l->value)
		*err = pr_asprintf("%s.%s could not be resolved", what, l->name);
	return l->value;
}

const json_t *tf_local_value(tf_import_t *imp, const char *name, char **err)
{
	tf_named_t *l = find_named(imp->locals, imp->n_locals, imp->module, name);
	if (!l) {
		*err = pr_asprintf("local.%s is not defined", name);
		return NULL;
	}
	return named_value(imp, l, "local", err);
}

/* The prefix of a module call's instance: module.NAME, module.NAME["k"],
 * module.NAME[0] (owned). */
char *tf_module_prefix(const char *module, const char *name, const json_t *key)
{
	if (json_is_string(key))
		return pr_asprintf("%smodule.%s[\"%s\"].", module, name, json_string_value(key));
	if (json_is_integer(key))
		return pr_asprintf("%smodule.%s[%lld].", module, name,
				   (long long)json_integer_value(key));
	return pr_asprintf("%smodule.%s.", module, name);
}

const json_t *tf_module_output(tf_import_t *imp, const char *name, const json_t *key,
			       const char *out, char **err)
{
	char *prefix = tf_module_prefix(imp->module, name, key);
	tf_named_t *o = find_named(imp->outputs, imp->n_outputs, prefix, out);
	const json_t *v = NULL;
	if (o)
		v = named_value(imp, o, "output", err);
	else
		*err = pr_asprintf("%s%s is not an output of a module of the configuration",
				   prefix, out);
	free(prefix);
	return v;
}

static tf_block_t *find_block(tf_import_t *imp, const char *type, const char *name)
{
	for (size_t i = 0; i < imp->n_blocks; i++)
		if (!strcmp(imp->blocks[i].type, type) && !strcmp(imp->blocks[i].name, name) &&
		    !strcmp(imp->blocks[i].module, imp->module))
			return &imp->blocks[i];
	return NULL;
}

/* One instance of a block in scope; NULL (reported) when it can't be
 * evaluated. The instance's value is shared with the block's value. */
static json_t *instance(tf_import_t *imp, tf_block_t *b, const tf_scope_t *scope,
			const char *address, size_t idx)
{
	json_t *body = json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)b->body, k, v) if (!tf_in_list(meta_args, k)) json_object_set(body, k, v);
	char *err = NULL;
	json_t *values = tf_eval(imp, body, scope, &err);
	json_decref(body);
	if (!values) {
		tf_report(imp, b->file, b->line, address, PR_ECONFIG, "%s: %s", address, err);
		free(err);
		return NULL;
	}
	tf_inst_t *inst =
		tf_inst_add(imp, b->type, b->name, address, b->module, values, b->file, b->line);
	inst->order = b->order * 10000 + idx;
	tf_inst_complete(imp, inst);
	return json_incref(values);
}

static char *keyed_address(const tf_block_t *b, const char *key)
{
	return pr_asprintf("%s%s.%s[\"%s\"]", b->module, b->type, b->name, key);
}

static void expand(tf_import_t *imp, tf_block_t *b)
{
	char *err = NULL;
	const json_t *fe = json_object_get(b->body, "for_each");
	const json_t *count = json_object_get(b->body, "count");
	char *address = pr_asprintf("%s%s.%s", b->module, b->type, b->name);
	json_t *coll = NULL, *n = NULL;
	const char *saved = imp->module;

	imp->module = b->module;
	b->state = 1;
	if (fe) {
		coll = tf_eval(imp, fe, NULL, &err);
		if (!coll) {
			tf_report(imp, b->file, b->line, address, PR_ECONFIG, "%s: for_each: %s",
				  address, err);
			goto cleanup;
		}
		b->value = json_object();
		if (json_is_object(coll)) {
			const char *k;
			json_t *v;
			size_t idx = 0;
			json_object_foreach(coll, k, v)
			{
				json_t *key = json_string(k);
				tf_scope_t s = {.each_key = key, .each_value = v};
				char *a = keyed_address(b, k);
				json_t *inst = instance(imp, b, &s, a, idx++);
				json_object_set_new(b->value, k, inst ? inst : json_null());
				free(a);
				json_decref(key);
			}
		} else if (json_is_array(coll)) {
			size_t i;
			json_t *v;
			json_array_foreach(coll, i, v)
			{
				if (!json_is_string(v)) {
					tf_report(imp, b->file, b->line, address, PR_ECONFIG,
						  "%s: for_each over a set needs strings", address);
					continue;
				}
				tf_scope_t s = {.each_key = v, .each_value = v};
				char *a = keyed_address(b, json_string_value(v));
				json_t *inst = instance(imp, b, &s, a, i);
				json_object_set_new(b->value, json_string_value(v),
						    inst ? inst : json_null());
				free(a);
			}
		} else {
			tf_report(imp, b->file, b->line, address, PR_ECONFIG,
				  "%s: for_each needs a map or a set of strings", address);
		}
	} else if (count) {
		n = tf_eval(imp, count, NULL, &err);
		if (!json_is_integer(n) || json_integer_value(n) < 0) {
			tf_report(imp, b->file, b->line, address, PR_ECONFIG, "%s: count: %s",
				  address, err ? err : "not a whole number");
			goto cleanup;
		}
		b->value = json_array();
		for (json_int_t i = 0; i < json_integer_value(n); i++) {
			tf_scope_t s = {.count_index = (long)i, .has_count = true};
			char *a = pr_asprintf("%s[%lld]", address, (long long)i);
			json_t *inst = instance(imp, b, &s, a, (size_t)i);
			json_array_append_new(b->value, inst ? inst : json_null());
			free(a);
		}
	} else {
		b->value = instance(imp, b, NULL, address, 0);
	}
cleanup:
	imp->module = saved;
	b->state = 2;
	free(err);
	free(address);
	json_decref(coll);
	json_decref(n);
}

const json_t *tf_resource_value(tf_import_t *imp, const char *type, const char *name, char **err)
{
	tf_block_t *b = find_block(imp, type, name);
	if (!b) {
		*err = pr_asprintf("%s.%s is not declared", type, name);
		return NULL;
	}
	if (b->state == 1) {
		*err = pr_asprintf("%s.%s refers to itself (a reference cycle)", type, name);
		return NULL;
	}
	if (b->state == 0)
		expand(imp, b);
	if (!b->value)
		*err = pr_asprintf("%s.%s could not be resolved", type, name);
	return b->value;
}

/* Collect the blocks of one file's hcl2json output. */
static tf_named_t *add_named(tf_named_t **list, size_t *n, size_t *cap, const char *name,
			     const char *module, const char *file, int line)
{
	pr_grow(list, cap, *n + 1, sizeof(**list));
	tf_named_t *x = &(*list)[(*n)++];
	memset(x, 0, sizeof(*x));
	x->name = pr_strdup(name);
	x->module = pr_strdup(module);
	x->file = pr_strdup(file);
	x->line = line;
	return x;
}

static void collect_vars(tf_import_t *imp, const char *file, const json_t *doc,
			 const char *module)
{
	const char *n;
	json_t *list;
	json_object_foreach(json_object_get(doc, "variable"), n, list)
	{
		int line = tf_find_line(file, "variable", n, NULL);
		if (find_named(imp->vars, imp->n_vars, module, n)) {
			tf_report(imp, file, line, NULL, PR_ECONFIG,
				  "variable \"%s\" is declared twice", n);
			continue;
		}
		tf_named_t *var =
			add_named(&imp->vars, &imp->n_vars, &imp->cap_vars, n, module, file, line);
		var->expr = json_array_get(list, 0); /* the block: default, type */
		const json_t *def = json_object_get(var->expr, "default");
		if (def) {
			char *err = NULL;
			var->value = tf_eval(imp, def, NULL, &err);
			if (!var->value) {
				tf_report(imp, file, var->line, NULL, PR_ECONFIG,
					  "variable \"%s\": default: %s", n, err);
				free(err);
			}
		}
	}
}

void tf_collect(tf_import_t *imp, const char *file, const json_t *doc, const char *module,
		const char *dir)
{
	const char *k, *t, *n;
	json_t *v, *names, *list;
	size_t order = imp->n_files++;

	collect_vars(imp, file, doc, module);
	size_t i;
	json_array_foreach(json_object_get(doc, "locals"), i, v)
	{
		json_t *x;
		json_object_foreach(v, k, x) add_named(&imp->locals, &imp->n_locals,
						       &imp->cap_locals, k, module, file,
						       tf_find_line(file, "locals", "", NULL))
			->expr = x;
	}
	json_object_foreach(json_object_get(doc, "output"), n, list)
	{
		tf_named_t *o = add_named(&imp->outputs, &imp->n_outputs, &imp->cap_outputs, n,
					  module, file, tf_find_line(file, "output", n, NULL));
		o->expr = json_object_get(json_array_get(list, 0), "value");
		if (!o->expr)
			o->state = 2; /* an output without a value has none */
	}
	json_object_foreach(json_object_get(doc, "resource"), t, names)
	{
		json_object_foreach(names, n, list)
		{
			pr_grow(&imp->blocks, &imp->cap_blocks, imp->n_blocks + 1,
				sizeof(*imp->blocks));
			tf_block_t *b = &imp->blocks[imp->n_blocks++];
			memset(b, 0, sizeof(*b));
			b->type = pr_strdup(t);
			b->name = pr_strdup(n);
			b->module = pr_strdup(module);
			b->body = json_array_get(list, 0);
			b->file = pr_strdup(file);
			b->line = tf_find_line(file, "resource", t, n);
			/* hcl2json sorts blocks by name: source order is file, line */
			b->order = order * 1000000 + (size_t)b->line;
		}
	}
	json_object_foreach(json_object_get(doc, "data"), t, names)
	{
		json_object_foreach(names, n, list)
		{
			char *key = pr_asprintf("%s.%s", t, n);
			char *where = pr_asprintf("%s:%d", file, tf_find_line(file, "data", t, n));
			json_object_set_new(imp->data_blocks, key, json_string(where));
			free(key);
			free(where);
		}
	}
	json_object_foreach(json_object_get(doc, "module"), n, list)
	{
		pr_grow(&imp->modcalls, &imp->cap_modcalls, imp->n_modcalls + 1,
			sizeof(*imp->modcalls));
		tf_modcall_t *m = &imp->modcalls[imp->n_modcalls++];
		memset(m, 0, sizeof(*m));
		m->name = pr_strdup(n);
		m->body = json_array_get(list, 0);
		m->file = pr_strdup(file);
		m->line = tf_find_line(file, "module", n, NULL);
		m->module = pr_strdup(module);
		m->dir = pr_strdup(dir);
		m->key = pr_strdup(n); /* modules.c prefixes the caller's key */
	}
}

/* Values of a .tfvars file (hcl2json output or JSON). */
static void apply_var_file(tf_import_t *imp, const char *file, const json_t *doc)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)doc, k, v)
	{
		tf_named_t *var = find_named(imp->vars, imp->n_vars, "", k);
		if (!var)
			continue; /* Terraform only warns about values of undeclared variables */
		char *err = NULL;
		json_t *val = tf_eval(imp, v, NULL, &err);
		if (!val) {
			tf_report(imp, file, 0, NULL, PR_ECONFIG, "%s: %s", k, err);
			free(err);
			continue;
		}
		json_decref(var->value);
		var->value = val;
	}
}

/* A value given as text (--var, TF_VAR_*): the text is the value for string
 * variables; other types take it as an HCL literal, which for lists, maps,
 * numbers and bools is the JSON text here. */
static void set_var_text(tf_named_t *var, const char *text)
{
	const char *type = json_string_value(json_object_get(var->expr, "type"));
	json_t *val = NULL;
	if (type && strcmp(type, "${string}") != 0) {
		json_error_t e;
		val = json_loads(text, JSON_DECODE_ANY, &e);
	}
	if (!val)
		val = json_string(text);
	json_decref(var->value);
	var->value = val;
}

/* --var name=value */
static void apply_var(tf_import_t *imp, const char *text)
{
	const char *eq = strchr(text, '=');
	if (!eq || eq == text) {
		tf_report(imp, NULL, 0, NULL, PR_ECONFIG, "--var %s: expected name=value", text);
		return;
	}
	char *name = pr_strndup(text, (size_t)(eq - text));
	tf_named_t *var = find_named(imp->vars, imp->n_vars, "", name);
	if (!var)
		tf_report(imp, NULL, 0, NULL, PR_ECONFIG,
			  "--var %s: no variable \"%s\" is declared", text, name);
	else
		set_var_text(var, eq + 1);
	free(name);
}

/* TF_VAR_<name> in the environment, as Terraform reads it: below every file. */
static void apply_env_vars(tf_import_t *imp)
{
	for (size_t i = 0; i < imp->n_vars; i++) {
		if (imp->vars[i].module[0])
			continue;
		char *env = pr_asprintf("TF_VAR_%s", imp->vars[i].name);
		const char *text = getenv(env);
		if (text)
			set_var_text(&imp->vars[i], text);
		free(env);
	}
}

/* Every variable still without a value, all at once (Terraform would ask for
 * each); true when there is none. */
static bool all_vars_set(tf_import_t *imp)
{
	size_t missing = 0;
	for (size_t i = 0; i < imp->n_vars; i++) {
		tf_named_t *v = &imp->vars[i];
		if (v->value || v->arg || json_object_get(v->expr, "default"))
			continue;
		missing++;
		tf_report(imp, v->file, v->line, NULL, PR_ECONFIG,
			  "variable \"%s\" has no value: give it with --var %s=..., a --var-file, "
			  "terraform.tfvars or TF_VAR_%s",
			  v->name, v->name, v->name);
	}
	return missing == 0;
}

/* A .tfvars.json file's values. */
static void apply_json_var_file(tf_import_t *imp, const char *f)
{
	json_error_t e;
	json_t *doc = json_load_file(f, 0, &e);
	if (!json_is_object(doc))
		tf_report(imp, f, e.line, NULL, PR_EPARSE, "not a JSON object: %s", e.text);
	else
		apply_var_file(imp, f, doc);
	json_decref(doc);
}

/* A variable file, parsed with the .tf files unless it is JSON. */
static void apply_any_var_file(tf_import_t *imp, const char *f)
{
	if (ends_with(f, ".json"))
		apply_json_var_file(imp, f);
	else
		apply_var_file(imp, f, json_object_get(imp->parsed, f));
}

static int by_path(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The variable files to parse: terraform.tfvars, terraform.tfvars.json,
 * *.auto.tfvars and *.auto.tfvars.json by file name (Terraform's order of
 * precedence, later ones win), then every --var-file. *n_owned of them, the
 * automatic ones, are borrowed from *owned (freed with free_list). */
static const char **var_files(tf_import_t *imp, size_t *n, char ***owned, size_t *n_owned)
{
	size_t n_auto = 0, n_json = 0;
	char **autos = list_files(imp->dir, ".auto.tfvars", &n_auto);
	char **jsons = list_files(imp->dir, ".auto.tfvars.json", &n_json);
	*owned = pr_calloc(n_auto + n_json + 2, sizeof(**owned));
	*n_owned = 0;
	const char *main_names[] = {"terraform.tfvars", "terraform.tfvars.json"};
	for (size_t i = 0; i < 2; i++) {
		char *p = pr_asprintf("%s/%s", imp->dir, main_names[i]);
		if (access(p, R_OK) == 0)
			(*owned)[(*n_owned)++] = p;
		else
			free(p);
	}
	size_t first_auto = *n_owned;
	for (size_t i = 0; i < n_auto; i++)
		(*owned)[(*n_owned)++] = autos[i];
	for (size_t i = 0; i < n_json; i++)
		(*owned)[(*n_owned)++] = jsons[i];
	qsort(*owned + first_auto, n_auto + n_json, sizeof(**owned), by_path);
	free(autos);
	free(jsons);
	const char **all = pr_calloc(*n_owned + imp->opts->n_var_args + 1, sizeof(*all));
	*n = 0;
	for (size_t i = 0; i < *n_owned; i++)
		all[(*n)++] = (*owned)[i];
	for (size_t i = 0; i < imp->opts->n_var_args; i++)
		if (imp->opts->var_args[i].file)
			all[(*n)++] = imp->opts->var_args[i].text;
	return all;
}

int tf_load_hcl(tf_import_t *imp)
{
	size_t n_tf = 0, n_tfjson = 0, n_vf = 0, n_owned = 0, n_all = 0;
	char **owned = NULL;
	char **tf = list_files(imp->dir, ".tf", &n_tf);
	char **tfjson = list_files(imp->dir, ".tf.json", &n_tfjson);
	const char **vf = var_files(imp, &n_vf, &owned, &n_owned);
	const char **all = pr_calloc(n_tf + n_vf + 1, sizeof(*all));
	int rc = 0;

	for (size_t i = 0; i < n_tfjson; i++)
		tf_report(imp, tfjson[i], 0, NULL, PR_ECONFIG,
			  "Terraform JSON syntax (.tf.json) is not read by the importer");
	if (!n_tf) {
		tf_report(imp, imp->dir, 0, NULL, PR_ENOTFOUND, "no .tf files in %s", imp->dir);
		rc = PR_ENOTFOUND;
		goto cleanup;
	}
	for (size_t i = 0; i < n_tf; i++)
		all[n_all++] = tf[i];
	for (size_t i = 0; i < n_vf; i++)
		if (!ends_with(vf[i], ".json"))
			all[n_all++] = vf[i];
	imp->parsed = tf_hcl_parse_files(imp, all, n_all);
	if (!imp->parsed) {
		rc = imp->err ? imp->err : PR_EPARSE;
		goto cleanup;
	}
	for (size_t i = 0; i < n_tf; i++)
		tf_collect(imp, tf[i], json_object_get(imp->parsed, tf[i]), "", imp->dir);
	apply_env_vars(imp);
	for (size_t i = 0; i < n_owned; i++)
		apply_any_var_file(imp, vf[i]);
	/* Terraform: "any -var and -var-file options on the command line, in
	 * the order they are provided" come last */
	for (size_t i = 0; i < imp->opts->n_var_args; i++) {
		const terraform_var_arg_t *a = &imp->opts->var_args[i];
		if (a->file)
			apply_any_var_file(imp, a->text);
		else
			apply_var(imp, a->text);
	}
	if (!all_vars_set(imp)) {
		rc = PR_ECONFIG;
		goto cleanup;
	}
	tf_modules_expand(imp);
	/* Every DNS block is expanded, in file order (its references first);
	 * others only when a DNS block refers to them, and counted as skipped. */
	for (size_t i = 0; i < imp->n_blocks; i++) {
		tf_block_t *b = &imp->blocks[i];
		int cls = tf_type_class(b->type);
		if (cls < 0)
			tf_report(
				imp, b->file, b->line, b->type, PR_ECONFIG,
				"resource \"%s\" \"%s\": type %s is not supported by the importer",
				b->type, b->name, b->type);
		else if (cls > 0 && b->state == 0)
			expand(imp, b);
	}
	for (size_t i = 0; i < imp->n_blocks; i++) {
		tf_block_t *b = &imp->blocks[i];
		if (b->state == 0 && tf_type_class(b->type) == 0) {
			json_int_t c = json_integer_value(json_object_get(imp->skipped, b->type));
			json_object_set_new(imp->skipped, b->type, json_integer(c + 1));
			imp->n_skipped++;
		}
	}
cleanup:
	free(all);
	free(vf);
	free_list(tf, n_tf);
	free_list(tfjson, n_tfjson);
	free_list(owned, n_owned);
	return rc;
}
