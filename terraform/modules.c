/* Module calls in HCL input: a local source ("./net", "../modules/spoke")
 * is read from its folder; any other (registry, git) from where `terraform
 * init` installed it, as .terraform/modules/modules.json records. Each
 * instance (count, for_each) gets its own variables, locals, resources and
 * outputs under its address prefix (module.spoke["a"].), so two instances of
 * one module never see each other's values. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "terraform/terraform_p.h"

static const char *const call_meta[] = {"source",  "version",	 "providers", "depends_on",
					"count",   "for_each",	 "lifecycle", NULL};

/* Where terraform init put the module with this key, or NULL (owned). */
static char *installed_dir(tf_import_t *imp, const char *key)
{
	char *path = pr_asprintf("%s/.terraform/modules/modules.json", imp->dir);
	json_error_t e;
	json_t *doc = json_load_file(path, 0, &e);
	free(path);
	char *dir = NULL;
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(doc, "Modules"), i, m)
	{
		const char *k = json_string_value(json_object_get(m, "Key"));
		const char *d = json_string_value(json_object_get(m, "Dir"));
		if (k && d && !strcmp(k, key))
			dir = d[0] == '/' ? pr_strdup(d) : pr_asprintf("%s/%s", imp->dir, d);
	}
	json_decref(doc);
	return dir;
}

static char *source_dir(tf_import_t *imp, const tf_modcall_t *m)
{
	const char *src = json_string_value(json_object_get(m->body, "source"));
	if (!src) {
		tf_report(imp, m->file, m->line, NULL, PR_ECONFIG,
			  "module \"%s\": source must be a literal string", m->name);
		return NULL;
	}
	if (!strncmp(src, "./", 2) || !strncmp(src, "../", 3))
		return pr_asprintf("%s/%s", m->dir, src);
	char *dir = installed_dir(imp, m->key);
	if (!dir)
		tf_report(imp, m->file, m->line, NULL, PR_ENOTFOUND,
			  "module \"%s\" (%s) is not installed: run `terraform init` (the import "
			  "reads .terraform/modules/modules.json)",
			  m->name, src);
	return dir;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The module folder's .tf files, parsed once however many instances. */
static char **module_files(tf_import_t *imp, const tf_modcall_t *m, const char *dir, size_t *n)
{
	char **out = NULL;
	size_t cap = 0;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d) {
		tf_report(imp, m->file, m->line, NULL, PR_ENOTFOUND,
			  "module \"%s\": no folder %s", m->name, dir);
		return NULL;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len < 3 || strcmp(e->d_name + len - 3, ".tf") != 0)
			continue;
		pr_grow(&out, &cap, *n + 1, sizeof(*out));
		out[(*n)++] = pr_asprintf("%s/%s", dir, e->d_name);
	}
	closedir(d);
	if (*n)
		qsort(out, *n, sizeof(*out), by_name);
	const char **todo = pr_calloc(*n + 1, sizeof(*todo));
	size_t n_todo = 0;
	for (size_t i = 0; i < *n; i++)
		if (!json_object_get(imp->parsed, out[i]))
			todo[n_todo++] = out[i];
	if (n_todo) {
		json_t *parsed = tf_hcl_parse_files(imp, todo, n_todo);
		if (parsed)
			json_object_update(imp->parsed, parsed);
		json_decref(parsed);
	}
	free(todo);
	return out;
}

/* One instance: its files under prefix, its variables given by the call. */
static void instance(tf_import_t *imp, size_t mi, const char *dir, const json_t *key,
		     const json_t *value, bool is_count)
{
	tf_modcall_t *m = &imp->modcalls[mi];
	char *prefix = tf_module_prefix(m->module, m->name, key);
	size_t n = 0, first_var = imp->n_vars, first_call = imp->n_modcalls;
	char **files = module_files(imp, m, dir, &n);
	for (size_t i = 0; i < n; i++) {
		const json_t *doc = json_object_get(imp->parsed, files[i]);
		if (doc)
			tf_collect(imp, files[i], doc, prefix, dir);
		free(files[i]);
	}
	free(files);
	m = &imp->modcalls[mi]; /* the list may have grown */
	for (size_t i = first_call; i < imp->n_modcalls; i++) {
		char *k = pr_asprintf("%s.%s", m->key, imp->modcalls[i].key);
		free(imp->modcalls[i].key);
		imp->modcalls[i].key = k;
	}
	const char *k;
	json_t *arg;
	json_object_foreach((json_t *)m->body, k, arg)
	{
		if (tf_in_list(call_meta, k))
			continue;
		tf_named_t *v = NULL;
		for (size_t i = first_var; i < imp->n_vars && !v; i++)
			if (!strcmp(imp->vars[i].name, k) && !strcmp(imp->vars[i].module, prefix))
				v = &imp->vars[i];
		if (!v) {
			tf_report(imp, m->file, m->line, NULL, PR_ECONFIG,
				  "module \"%s\": %s is not a variable of the module", m->name, k);
			continue;
		}
		v->arg = arg;
		v->ctx = pr_strdup(m->module);
		v->each_key = is_count ? NULL : json_incref((json_t *)key);
		v->each_value = is_count ? NULL : json_incref((json_t *)value);
		v->has_count = is_count;
		v->count_index = is_count ? (long)json_integer_value(key) : 0;
		/* the call's file:line is where a bad argument is */
		free(v->file);
		v->file = pr_strdup(m->file);
		v->line = m->line;
	}
	free(prefix);
}

static void expand_call(tf_import_t *imp, size_t mi)
{
	tf_modcall_t *m = &imp->modcalls[mi];
	char *dir = source_dir(imp, m);
	if (!dir)
		return;
	const json_t *fe = json_object_get(m->body, "for_each");
	const json_t *count = json_object_get(m->body, "count");
	const char *saved = imp->module;
	char *err = NULL;
	imp->module = m->module;
	json_t *coll = fe ? tf_eval(imp, fe, NULL, &err) : count ? tf_eval(imp, count, NULL, &err)
								 : NULL;
	imp->module = saved;
	if ((fe || count) && !coll) {
		tf_report(imp, m->file, m->line, NULL, PR_ECONFIG, "module \"%s\": %s: %s",
			  m->name, fe ? "for_each" : "count", err);
	} else if (json_is_object(coll) && fe) {
		const char *k;
		json_t *v;
		json_object_foreach(coll, k, v)
		{
			json_t *key = json_string(k);
			instance(imp, mi, dir, key, v, false);
			json_decref(key);
		}
	} else if (json_is_array(coll) && fe) {
		size_t i;
		json_t *v;
		json_array_foreach(coll, i, v) instance(imp, mi, dir, v, v, false);
	} else if (json_is_integer(coll)) {
		for (json_int_t i = 0; i < json_integer_value(coll); i++) {
			json_t *key = json_integer(i);
			instance(imp, mi, dir, key, NULL, true);
			json_decref(key);
		}
	} else if (coll) {
		tf_report(imp, m->file, m->line, NULL, PR_ECONFIG,
			  "module \"%s\": for_each needs a map or a set, count a number", m->name);
	} else {
		instance(imp, mi, dir, NULL, NULL, false);
	}
	free(err);
	free(dir);
	json_decref(coll);
}

void tf_modules_expand(tf_import_t *imp)
{
	/* children add their own calls to the list as they are read */
	for (size_t i = 0; i < imp->n_modcalls && i < 1000; i++)
		expand_call(imp, i);
}
