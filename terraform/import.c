/* The import: input → instances → deployment JSON, merged with privres.yaml,
 * validated by the model and the loop checks (P-1, P-2), and every finding
 * moved from the model's resource path back to the Terraform resource it
 * came from (file:line and address). */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "linker/linker.h"
#include "model/model.h"
#include "terraform/terraform_p.h"

/* What privres.yaml may hold: only what Terraform has no resource for. */
static const char *const side_keys[] = {
	"externalDnsServers", "publicDns", "emulator", "virtualMachines",
	"topology",	      "limits",	   NULL};

static bool is_side_key(const char *k)
{
	for (size_t i = 0; side_keys[i]; i++)
		if (!strcmp(k, side_keys[i]))
			return true;
	return false;
}

/* The line of a model path's innermost resource in the side file: the top
 * key's line, then the first line after it naming the resource. */
static int side_line(const char *file, const char *path)
{
	FILE *f = fopen(file, "r");
	if (!f)
		return 0;
	size_t klen = strcspn(path, "[.");
	const char *lb = strrchr(path, '[');
	char *name = lb ? pr_strndup(lb + 1, strcspn(lb + 1, "]")) : NULL;
	char *line = NULL;
	size_t cap = 0;
	int n = 0, key_line = 0, found = 0;
	while (!found && getline(&line, &cap, f) >= 0) {
		n++;
		if (!key_line) {
			if (!strncmp(line, path, klen) && line[klen] == ':')
				key_line = n;
			if (key_line && !name)
				found = n;
			continue;
		}
		if (name && strstr(line, name))
			found = n;
	}
	free(line);
	free(name);
	fclose(f);
	return found ? found : key_line;
}

static void merge_side_file(tf_import_t *imp, json_t *out, const char *side)
{
	model_doc_t *doc = NULL;
	int rc = model_doc_load_file(side, &doc, imp->diag);
	if (rc != 0) {
		imp->err = imp->err ? imp->err : rc;
		return;
	}
	const json_t *j = model_doc_json(doc);
	const char *k;
	json_t *v;
	if (!json_is_object(j) && !json_is_null(j)) {
		tf_report(imp, side, 1, NULL, PR_ECONFIG, "privres.yaml must be a mapping");
	} else {
		json_object_foreach((json_t *)j, k, v)
		{
			if (is_side_key(k))
				json_object_set(out, k, v);
			else
				tf_report(
					imp, side, side_line(side, k), k, PR_ECONFIG,
					"'%s' comes from the Terraform configuration; privres.yaml "
					"holds only externalDnsServers, publicDns, emulator, "
					"virtualMachines, topology and limits",
					k);
		}
	}
	model_doc_destroy(&doc);
}

/* The origin whose path is the longest prefix of path (at a boundary). */
static const tf_origin_t *origin_of(const tf_import_t *imp, const char *path)
{
	const tf_origin_t *best = NULL;
	size_t best_len = 0;
	for (size_t i = 0; path && i < imp->n_origins; i++) {
		size_t len = strlen(imp->origins[i].path);
		if (len > best_len && !strncmp(path, imp->origins[i].path, len) &&
		    (path[len] == '\0' || path[len] == '.' || path[len] == '[')) {
			best = &imp->origins[i];
			best_len = len;
		}
	}
	return best;
}

static void map_findings(tf_import_t *imp, const pr_diag_t *found, const char *side)
{
	for (size_t i = 0; i < pr_diag_count(found); i++) {
		const pr_diag_entry_t *e = pr_diag_get(found, i);
		const tf_origin_t *o = origin_of(imp, e->path);
		if (o) {
			const tf_inst_t *inst = imp->insts[o->inst];
			pr_diag_add(imp->diag, inst->file, inst->line, 0, e->path, e->rule, e->code,
				    "%s: %s", inst->address, e->message);
			continue;
		}
		char key[64];
		snprintf(key, sizeof(key), "%.*s", (int)strcspn(e->path ? e->path : "", "[."),
			 e->path ? e->path : "");
		if (side && is_side_key(key))
			pr_diag_add(imp->diag, side, side_line(side, e->path), 0, e->path, e->rule,
				    e->code, "%s", e->message);
		else
			pr_diag_add(imp->diag, imp->opts->path, 0, 0, e->path, e->rule, e->code,
				    "%s", e->message);
	}
}

/* The model's rules and the loop checks over the imported deployment. */
static int validate(tf_import_t *imp, const json_t *out, const char *side)
{
	model_doc_t *doc = model_doc_from_json(out, imp->opts->path);
	deployment_t *d = NULL;
	pr_diag_t *found = pr_diag_new();
	int rc = deployment_from_doc(&doc, &d, found);
	if (rc == 0)
		rc = linker_check_loops(d, found);
	map_findings(imp, found, side);
	deployment_destroy(&d);
	pr_diag_destroy(&found);
	return rc;
}

static char *skipped_text(const json_t *skipped)
{
	pr_buf_t b = {0};
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)skipped, k, v) pr_buf_printf(
		&b, "%s%s: %lld", b.len ? ", " : "", k, (long long)json_integer_value(v));
	return pr_buf_take(&b);
}

/* "random_pet.rg.id = rg-keen-otter, ..." or NULL. */
static char *placeholders_text(const json_t *chosen)
{
	pr_buf_t b = {0};
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)chosen, k, v)
	{
		char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		pr_buf_printf(&b, "%s%s = %s", b.len ? ", " : "", k, t ? t : "?");
		free(t);
	}
	return b.len ? pr_buf_take(&b) : NULL;
}

static void import_free(tf_import_t *imp)
{
	for (size_t i = 0; i < imp->n_insts; i++) {
		tf_inst_t *x = imp->insts[i];
		free(x->type);
		free(x->name);
		free(x->address);
		free(x->module);
		free(x->id);
		free(x->file);
		json_decref(x->values);
		free(x);
	}
	free(imp->insts);
	for (size_t i = 0; i < imp->n_blocks; i++) {
		free(imp->blocks[i].type);
		free(imp->blocks[i].name);
		free(imp->blocks[i].module);
		free(imp->blocks[i].file);
		json_decref(imp->blocks[i].value);
	}
	free(imp->blocks);
	tf_named_t *lists[] = {imp->locals, imp->vars, imp->outputs};
	size_t counts[] = {imp->n_locals, imp->n_vars, imp->n_outputs};
	for (size_t l = 0; l < 3; l++) {
		for (size_t i = 0; i < counts[l]; i++)
			tf_named_free(&lists[l][i]);
		free(lists[l]);
	}
	for (size_t i = 0; i < imp->n_modcalls; i++) {
		tf_modcall_t *m = &imp->modcalls[i];
		free(m->name);
		free(m->file);
		free(m->module);
		free(m->dir);
		free(m->key);
	}
	free(imp->modcalls);
	for (size_t i = 0; i < imp->n_origins; i++)
		free(imp->origins[i].path);
	free(imp->origins);
	json_decref(imp->parsed);
	json_decref(imp->show_doc);
	json_decref(imp->data_blocks);
	json_decref(imp->skipped);
	json_decref(imp->placeholders);
	json_decref(imp->next_host);
	free(imp->dir);
}

int terraform_import_with_summary(const terraform_import_options_t *opts, json_t **deployment,
				  terraform_import_summary_t *summary, pr_diag_t *diag)
{
	PR_REQUIRE(opts && opts->path && deployment && diag);
	tf_import_t imp = {.opts = opts,
			   .module = "",
			   .diag = diag,
			   .subscription = MODEL_DEFAULT_SUBSCRIPTION,
			   .data_blocks = json_object(),
			   .skipped = json_object(),
			   .placeholders = json_object(),
			   .next_host = json_object()};
	json_t *out = NULL;
	char *side = NULL;
	struct stat st;
	int rc;

	if (stat(opts->path, &st) != 0) {
		tf_report(&imp, opts->path, 0, NULL, PR_ENOTFOUND, "no such file or folder");
		goto cleanup;
	}
	if (S_ISDIR(st.st_mode)) {
		imp.dir = pr_strdup(opts->path);
		for (size_t n = strlen(imp.dir); n > 1 && imp.dir[n - 1] == '/'; n--)
			imp.dir[n - 1] = '\0';
		tf_load_hcl(&imp);
	} else {
		char *copy = pr_strdup(opts->path);
		imp.dir = pr_strdup(dirname(copy));
		free(copy);
		tf_load_show(&imp, opts->path);
	}
	if (opts->side_file) {
		side = pr_strdup(opts->side_file);
	} else {
		side = pr_asprintf("%s/privres.yaml", imp.dir);
		if (access(side, R_OK) != 0) {
			free(side);
			side = NULL;
		}
	}
	out = tf_convert(&imp);
	if (side)
		merge_side_file(&imp, out, side);
	if (imp.err)
		goto cleanup;
	if (!opts->no_validate && (rc = validate(&imp, out, side)) != 0) {
		imp.err = rc;
		goto cleanup;
	}
	if (summary) {
		summary->imported = imp.n_imported;
		summary->skipped = imp.n_skipped;
		summary->skipped_types = imp.n_skipped ? skipped_text(imp.skipped) : NULL;
		summary->placeholders = placeholders_text(imp.placeholders);
	}
	*deployment = out;
	out = NULL;
cleanup:
	rc = imp.err;
	json_decref(out);
	free(side);
	import_free(&imp);
	return rc;
}

int terraform_import(const terraform_import_options_t *opts, json_t **deployment, pr_diag_t *diag)
{
	return terraform_import_with_summary(opts, deployment, NULL, diag);
}

void terraform_import_summary_clear(terraform_import_summary_t *summary)
{
	if (!summary)
		return;
	free(summary->skipped_types);
	free(summary->placeholders);
	summary->skipped_types = NULL;
	summary->placeholders = NULL;
}
