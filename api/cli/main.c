/*
 * privresctl — the command-line client of the management API (design.md §6).
 * Command groups mirror the cloud CLI (az network dns-resolver ...,
 * az network private-dns ...), from the table in commands.c; plus apply, plan,
 * export, explain, health, stats and call. Parses options, makes gRPC calls
 * with the library's client, prints the result: JSON in the cloud's resource
 * shape by default, -o table for people.
 * Exit codes: 0 ok, 1 rejected, 2 usage, 3 unreachable.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "api/cli/commands.h"
#include "base/base.h"
#include "model/model.h"
#include "terraform/terraform.h"

#define EXIT_REJECTED 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

typedef struct cli {
	api_client_target_t target;
	char *token;
	const char *output; /* "json" or "table" (export: "yaml" or "json") */
} cli_t;

static void usage(FILE *f)
{
	fputs("usage: privresctl [options] <command> [arguments]\n"
	      "\n"
	      "Options:\n"
	      "  -s, --socket PATH       the daemon's Unix socket (default: $PRIVRES_SOCKET,\n"
	      "                          else ./privres-state/privres.sock)\n"
	      "  -a, --address HOST:PORT a loopback TCP address instead of the socket\n"
	      "  -t, --token-file FILE   bearer token for TCP (default: $PRIVRES_TOKEN_FILE)\n"
	      "      --timeout SECONDS   deadline of the call (default 30)\n"
	      "  -o, --output FORMAT     json (default) or table\n"
	      "  -h, --help              this text; every group and command has --help too\n"
	      "\n"
	      "Resource groups (verbs: " CLI_VERBS "):\n",
	      f);
	for (const cli_resource_t *r = cli_resources(); r->group; r++)
		if (!r->record)
			fprintf(f, "  %-40s %s\n", r->group, r->summary);
	fputs("  private-dns record-set a|aaaa|cname|mx|ptr|srv|txt\n"
	      "                                           record sets (" CLI_RECORD_VERBS ")\n"
	      "\n"
	      "Deployment:\n"
	      "  apply -f FILE [--dry-run] [--no-prune]   bring the deployment to FILE (YAML\n"
	      "                                           or JSON): create, update and delete\n"
	      "  plan -f FILE [--no-prune]                what apply would change\n"
	      "  export [-o yaml|json]                    the current deployment\n"
	      "  import terraform PATH [--apply]          a Terraform configuration (or the\n"
	      "                                           JSON of `terraform show -json`) as a\n"
	      "                                           deployment, printed or applied\n"
	      "  import arm TEMPLATE [--apply]            an ARM template, the same way\n"
	      "\n"
	      "Diagnostics:\n"
	      "  explain --vnet VNET NAME [TYPE]          how a query in VNET is answered\n"
	      "  health                                   forwarding target health (F-10)\n"
	      "  stats                                    counters\n"
	      "\n"
	      "Emulated on-premises servers:\n"
	      "  scavenge [--server NAME] [--at UNIXTIME] remove stale dynamic records now (E-4)\n"
	      "\n"
	      "Local CA of DoT/DoH listeners (W-6; tls --help):\n"
	      "  tls ca | tls issue-client NAME           its certificate; a client certificate\n"
	      "\n"
	      "Anything else:\n"
	      "  call METHOD [JSON|-]    call any method of privres.proto with a JSON request\n"
	      "                          (proto3 JSON; \"-\" reads it from stdin), e.g.\n"
	      "                          privresctl call privres.v1.DnsResolverService/List '{}'\n"
	      "\n"
	      "Exit codes: 0 ok, 1 rejected by the server, 2 usage, 3 server unreachable.\n",
	      f);
}

static char *read_token_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char buf[4097];

	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return pr_strdup(buf);
}

static int print_json(const json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (!text)
		return EXIT_REJECTED;
	puts(text);
	free(text);
	return 0;
}

/* A table for people: one row per element of the first array found (a List
 * response's "value"), columns from the scalar properties; else key/value. */
static void print_table(const json_t *j)
{
	const char *key;
	json_t *v;
	const json_t *rows = NULL;

	json_object_foreach((json_t *)j, key, v) {
		if (json_is_array(v)) {
			rows = v;
			break;
		}
	}
	if (!rows) {
		json_object_foreach((json_t *)j, key, v) {
			char *text = json_is_string(v)
					     ? pr_strdup(json_string_value(v))
					     : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
			printf("%-28s %s\n", key, text ? text : "");
			free(text);
		}
		return;
	}
	size_t i;
	json_t *row;
	json_t *cols = json_array();
	json_array_foreach(rows, i, row) {
		json_object_foreach(row, key, v) {
			bool have = false;
			for (size_t k = 0; k < json_array_size(cols); k++)
				have |= !strcmp(json_string_value(json_array_get(cols, k)), key);
			if (!have && !json_is_object(v) && !json_is_array(v) && strcmp(key, "id"))
				json_array_append_new(cols, json_string(key));
		}
	}
	for (size_t k = 0; k < json_array_size(cols); k++)
		printf("%-24s", json_string_value(json_array_get(cols, k)));
	putchar('\n');
	json_array_foreach(rows, i, row) {
		for (size_t k = 0; k < json_array_size(cols); k++) {
			const char *col = json_string_value(json_array_get(cols, k));
			json_t *cell = json_object_get(row, col);
			char *text = !cell		  ? pr_strdup("")
				     : json_is_string(cell) ? pr_strdup(json_string_value(cell))
							    : json_dumps(cell, JSON_ENCODE_ANY);
			printf("%-24s", text ? text : "");
			free(text);
		}
		putchar('\n');
	}
	json_decref(cols);
}

static int cmd_call(cli_t *cli, int argc, char **argv)
{
	json_t *req = NULL, *resp = NULL;
	json_error_t jerr;
	api_status_t status = {0};
	char *path = NULL;
	int rc = 0;

	if (argc < 1 || argc > 2) {
		fprintf(stderr, "privresctl call: expected METHOD [JSON|-]\n");
		return EXIT_USAGE;
	}
	/* "privres.v1.X/Y", "/privres.v1.X/Y" and "X/Y" all name the same method */
	const char *m = argv[0][0] == '/' ? argv[0] + 1 : argv[0];
	path = strncmp(m, "privres.v1.", 11) == 0 ? pr_asprintf("/%s", m)
						  : pr_asprintf("/privres.v1.%s", m);
	if (argc == 1)
		req = json_object();
	else if (strcmp(argv[1], "-") == 0)
		req = json_loadf(stdin, 0, &jerr);
	else
		req = json_loads(argv[1], 0, &jerr);
	if (!req) {
		fprintf(stderr, "privresctl call: request is not JSON: %s (line %d, column %d)\n",
			jerr.text, jerr.line, jerr.column);
		rc = EXIT_USAGE;
		goto cleanup;
	}
	if (api_client_call_json(&cli->target, path, req, &resp, &status) < 0) {
		rc = EXIT_USAGE;
		goto cleanup;
	}
	if (status.code != API_STATUS_OK) {
		fprintf(stderr, "privresctl: %s: %s\n", api_status_name(status.code),
			status.message);
		rc = api_exit_code_for_status(status.code);
		goto cleanup;
	}
	if (strcmp(cli->output, "table") == 0)
		print_table(resp);
	else
		rc = print_json(resp);
cleanup:
	json_decref(req);
	json_decref(resp);
	free(path);
	return rc;
}


/* ---- command options ------------------------------------------------------ */

/* The options and positional arguments after a command's words: "--x a b"
 * gives x the values a and b (lists take several, the rest one). */
typedef struct arg {
	const char *name;
	char **values;
	int n;
	bool used;
} arg_t;

typedef struct args {
	arg_t opt[64];
	int n_opt;
	char **pos;
	int n_pos;
	bool help;
	const char *output;
} args_t;

static bool is_option(const char *s)
{
	return s[0] == '-' && s[1] && !(s[1] >= '0' && s[1] <= '9');
}

/* How many values an option takes: ARITY_MANY (lists), 0 (flags) or 1. */
#define ARITY_MANY -1
typedef int (*arity_fn)(const void *ctx, const char *name);

static int parse_args(int argc, char **argv, args_t *a, arity_fn arity, const void *ctx)
{
	memset(a, 0, sizeof(*a));
	a->pos = pr_calloc((size_t)argc + 1, sizeof(char *));
	for (int i = 0; i < argc; i++) {
		if (!is_option(argv[i])) {
			a->pos[a->n_pos++] = argv[i];
			continue;
		}
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			a->help = true;
			continue;
		}
		if (a->n_opt == 64) {
			fprintf(stderr, "privresctl: too many options\n");
			return EXIT_USAGE;
		}
		arg_t *o = &a->opt[a->n_opt++];
		o->name = argv[i];
		o->values = argv + i + 1;
		int max = arity(ctx, argv[i]);
		while (i + 1 < argc && !is_option(argv[i + 1]) && (max < 0 || o->n < max)) {
			o->n++;
			i++;
		}
	}
	return 0;
}

static int deploy_arity(const void *ctx, const char *name)
{
	(void)ctx;
	return !strcmp(name, "--dry-run") || !strcmp(name, "--no-prune") ? 0 : 1;
}

/* Lists, targets and maps take several values; flags none; the rest one. */
static int resource_arity(const void *ctx, const char *name)
{
	const cli_resource_t *r = ctx;
	if (!strcmp(name, "--keep-empty-record-set"))
		return 0;
	const cli_opt_t *o;
	for (size_t i = 0; (o = cli_resource_opt(r, i)); i++)
		if (!strcmp(name, o->name) || (o->alias && !strcmp(name, o->alias)))
			return o->kind == CLI_LIST || o->kind == CLI_TARGETS || o->kind == CLI_MAP
				       ? ARITY_MANY
				       : 1;
	return 1;
}

/* The values of option name or alias; NULL when absent. */
static arg_t *take(args_t *a, const char *name, const char *alias)
{
	for (int i = 0; i < a->n_opt; i++)
		if (!strcmp(a->opt[i].name, name) || (alias && !strcmp(a->opt[i].name, alias))) {
			a->opt[i].used = true;
			return &a->opt[i];
		}
	return NULL;
}

/* One value of an option, or NULL; a flag with values or a value-less option is
 * a usage error (reported, *bad set). */
static const char *take_one(args_t *a, const char *name, const char *alias, bool *bad)
{
	arg_t *o = take(a, name, alias);
	if (!o)
		return NULL;
	if (o->n != 1) {
		fprintf(stderr, "privresctl: %s takes one value\n", name);
		*bad = true;
		return NULL;
	}
	return o->values[0];
}

static bool take_flag(args_t *a, const char *name, bool *bad)
{
	arg_t *o = take(a, name, NULL);
	if (o && o->n) {
		fprintf(stderr, "privresctl: %s takes no value\n", name);
		*bad = true;
	}
	return o != NULL;
}

/* Options nobody took, and -o; usage error for unknown ones. */
static int finish_args(args_t *a, cli_t *cli, const char *const *outputs)
{
	bool bad = false;
	const char *o = take_one(a, "--output", "-o", &bad);
	if (o) {
		bool ok = false;
		for (const char *const *x = outputs; *x; x++)
			ok |= !strcmp(o, *x);
		if (!ok) {
			fprintf(stderr, "privresctl: --output: %s\n",
				outputs[1] && !strcmp(outputs[1], "json") ? "yaml or json"
									   : "json or table");
			return EXIT_USAGE;
		}
		cli->output = o;
	}
	for (int i = 0; i < a->n_opt; i++)
		if (!a->opt[i].used) {
			fprintf(stderr, "privresctl: unknown option %s (see --help)\n",
				a->opt[i].name);
			return EXIT_USAGE;
		}
	return bad ? EXIT_USAGE : 0;
}

/* ---- calls and output ----------------------------------------------------- */

/* One call; 0 with *resp on OK, else the exit code after printing the error. */
static int call(cli_t *cli, const char *method, json_t *req, json_t **resp)
{
	api_status_t status = {0};
	char *path = pr_asprintf("/privres.v1.%s", method);
	int rc = 0;

	*resp = NULL;
	if (api_client_call_json(&cli->target, path, req, resp, &status) < 0) {
		rc = EXIT_USAGE;
	} else if (status.code != API_STATUS_OK) {
		fprintf(stderr, "privresctl: %s: %s\n", api_status_name(status.code),
			status.message);
		rc = api_exit_code_for_status(status.code);
	}
	free(path);
	json_decref(req);
	return rc;
}

/* A call whose NOT_FOUND is an answer, not an error: 0 with *resp (NULL when
 * not found). */
static int call_maybe(cli_t *cli, const char *method, json_t *req, json_t **resp)
{
	api_status_t status = {0};
	char *path = pr_asprintf("/privres.v1.%s", method);
	int rc = 0;

	*resp = NULL;
	if (api_client_call_json(&cli->target, path, req, resp, &status) < 0) {
		rc = EXIT_USAGE;
	} else if (status.code != API_STATUS_OK && status.code != API_STATUS_NOT_FOUND) {
		fprintf(stderr, "privresctl: %s: %s\n", api_status_name(status.code),
			status.message);
		rc = api_exit_code_for_status(status.code);
	}
	free(path);
	json_decref(req);
	return rc;
}

static int output(cli_t *cli, const json_t *j)
{
	if (strcmp(cli->output, "table") == 0) {
		print_table(j);
		return 0;
	}
	return print_json(j);
}

/* ---- the cloud's shape (design.md §6) ------------------------------------- */

/* -g names the deployment's one resource group (resourceGroup), as the cloud
 * CLI's would name an existing one: 0, or EXIT_REJECTED saying which it is. */
static int check_group(cli_t *cli, const char *group)
{
	json_t *resp = NULL;
	int rc = call(cli, "DeploymentService/Export", json_pack("{s:s}", "format", "json"), &resp);
	if (rc != 0)
		return rc;
	json_t *doc = json_loads(json_string_value(json_object_get(resp, "document")) ?: "{}", 0,
				 NULL);
	const char *rg = json_string_value(json_object_get(doc, "resourceGroup"));
	if (!rg || !*rg)
		rg = MODEL_DEFAULT_RESOURCE_GROUP;
	if (strcasecmp(group, rg) != 0) {
		fprintf(stderr, "privresctl: NOT_FOUND: ResourceGroupNotFound: resource group '%s' "
				"could not be found; privres serves '%s' (resourceGroup in the "
				"deployment)\n",
			group, rg);
		rc = EXIT_REJECTED;
	}
	json_decref(doc);
	json_decref(resp);
	return rc;
}

/* The subscription and resource group of an ARM id, as an exported
 * deployment names them (for model_arm_resource). */
static json_t *scope_of(const char *id)
{
	json_t *all = json_object();
	char *copy = pr_strdup(id ? id : "");
	char *save = NULL, *prev = NULL;
	for (char *seg = strtok_r(copy, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
		if (prev && !strcasecmp(prev, "subscriptions"))
			json_object_set_new(all, "subscription", json_string(seg));
		if (prev && !strcasecmp(prev, "resourceGroups"))
			json_object_set_new(all, "resourceGroup", json_string(seg));
		prev = seg;
	}
	free(copy);
	return all;
}

/* A resource the API answered (borrowed) as an ARM GET returns it (owned):
 * the parent is read for its id and, for endpoints, its VNet. */
static json_t *arm_shape(cli_t *cli, const cli_resource_t *r, const char *parent,
			 const json_t *res)
{
	const model_kind_t *k = model_kind_by_name(r->field);
	json_t *e = json_deep_copy(res), *pj = NULL, *out;
	json_t *all = scope_of(json_string_value(json_object_get(res, "id")));
	if (k && k->parent >= 0 && parent) {
		const model_kind_t *pk = model_kind((model_kind_id_t)k->parent);
		char m[96];
		json_object_del(e, pk->name);
		snprintf(m, sizeof(m), "%s/Get", pk->service);
		call_maybe(cli, m, json_pack("{s:s}", "name", parent), &pj);
		json_decref(all);
		all = scope_of(json_string_value(json_object_get(pj, "id")));
	}
	out = k ? model_arm_resource(all, k, json_string_value(json_object_get(pj, "id")), pj, e)
		: json_incref(e);
	json_decref(pj);
	json_decref(all);
	json_decref(e);
	return out;
}

/* JSON output of a resource or a list of them, in the cloud's shape. */
static int output_resource(cli_t *cli, const cli_resource_t *r, const char *parent,
			   const json_t *j)
{
	if (strcmp(cli->output, "json") != 0)
		return output(cli, j);
	json_t *shaped;
	if (json_is_array(j)) {
		shaped = json_array();
		size_t i;
		json_t *e;
		json_array_foreach(j, i, e)
			json_array_append_new(shaped, arm_shape(cli, r, parent, e));
	} else {
		shaped = arm_shape(cli, r, parent, j);
	}
	int rc = print_json(shaped);
	json_decref(shaped);
	return rc;
}

/* ---- resource groups ------------------------------------------------------ */

static void resource_help(const cli_resource_t *r, const char *verb)
{
	if (!verb) {
		printf("privresctl %s: %s\n\nCommands:\n", r->group, r->summary);
		if (r->record)
			printf("  add-record     add a record (creates the record set if needed)\n"
			       "  remove-record  remove a record (the last one deletes the set)\n");
		printf("  create         create or replace (the cloud's PUT)\n"
		       "  update         change the given properties, keep the others\n"
		       "  show           one resource\n"
		       "  list           all of them%s\n"
		       "  delete         remove one\n\n"
		       "Run privresctl %s COMMAND --help for its options.\n",
		       r->parent.name ? " (of the parent)" : "", r->group);
		return;
	}
	printf("usage: privresctl %s %s [options]\n\nOptions:\n", r->group, verb);
	if (r->parent.name)
		printf("  %-32s %s (required)\n", r->parent.name, r->parent.help);
	bool props = !strcmp(verb, "create") || !strcmp(verb, "update");
	bool record = !strcmp(verb, "add-record") || !strcmp(verb, "remove-record");
	if (strcmp(verb, "list") != 0)
		printf("  %-32s the resource's name (required)\n", "--name, -n");
	const cli_opt_t *o;
	for (size_t i = 0; props && (o = cli_resource_opt(r, i)); i++) {
		if (!strcmp(o->field, "name"))
			continue;
		char *n = o->alias ? pr_asprintf("%s, %s", o->name, o->alias) : pr_strdup(o->name);
		printf("  %-32s %s\n", n, o->help);
		free(n);
	}
	for (const cli_opt_t *v = r->record ? r->record->opts : NULL; record && v && v->name; v++)
		printf("  %-8s %-23s %s\n", v->alias, v->name, v->help);
	if (record)
		printf("  %-32s %s\n", "--ttl", "seconds, for a new record set (default 3600)");
	if (!strcmp(verb, "remove-record"))
		printf("  %-32s %s\n", "--keep-empty-record-set", "keep the set without records");
	printf("  %-32s %s\n", "--output, -o", "json (default) or table");
}

/* The record's value in zone-file form from the type's options. */
static char *record_value(const cli_resource_t *r, args_t *a, bool *bad)
{
	pr_buf_t b = {0};
	for (const cli_opt_t *o = r->record->opts; o->name; o++) {
		const char *v = take_one(a, o->name, o->alias, bad);
		if (!v) {
			if (!*bad)
				fprintf(stderr, "privresctl: %s is required\n", o->name);
			*bad = true;
			pr_buf_free(&b);
			return NULL;
		}
		pr_buf_printf(&b, "%s%s", b.len ? " " : "", v);
	}
	return pr_buf_take(&b);
}

static json_t *request(const cli_resource_t *r, const char *parent, const char *name)
{
	json_t *req = json_object();
	if (r->parent.name)
		json_object_set_new(req, r->parent.field, json_string(parent));
	if (name)
		json_object_set_new(req, "name", json_string(name));
	if (r->record && name)
		json_object_set_new(req, "recordType", json_string(r->record->type));
	return req;
}

static int method(const cli_resource_t *r, const char *op, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", r->service, op);
	return 0;
}

/* The cloud CLI's long spelling of --name for a group ("--record-set-name"),
 * from the group's last word. */
static const char *long_name(const cli_resource_t *r)
{
	static const struct {
		const char *last_word, *option;
	} names[] = {
		{"forwarding-rule", "--forwarding-rule-name"},
		{"inbound-endpoint", "--inbound-endpoint-name"},
		{"outbound-endpoint", "--outbound-endpoint-name"},
		{"forwarding-ruleset", "--dns-forwarding-ruleset-name"},
		{"dns-security-rule", "--dns-security-rule-name"},
		{"domain-list", "--dns-resolver-domain-list-name"},
		{"policy", "--dns-resolver-policy-name"},
	};
	if (r->record)
		return "--record-set-name";
	const char *last = strrchr(r->group, ' ');
	last = last ? last + 1 : r->group;
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (!strcmp(last, names[i].last_word))
			return names[i].option;
	return "--name";
}

static int run_resource(cli_t *cli, const cli_resource_t *r, const char *verb, args_t *a)
{
	bool bad = false;
	const char *parent = NULL, *name = NULL;
	char m[96];
	json_t *resp = NULL, *res = NULL;
	int rc = 0;
	static const char *const outs[] = {"json", "table", NULL};

	bool is_put = !strcmp(verb, "create") || !strcmp(verb, "update");
	bool is_rec = r->record && (!strcmp(verb, "add-record") || !strcmp(verb, "remove-record"));
	if (!is_put && !is_rec && strcmp(verb, "show") && strcmp(verb, "list") &&
	    strcmp(verb, "delete")) {
		fprintf(stderr, "privresctl %s: unknown command \"%s\" (%s)\n", r->group, verb,
			r->record ? CLI_RECORD_VERBS : CLI_VERBS);
		return EXIT_USAGE;
	}
	if (a->help) {
		resource_help(r, verb);
		return 0;
	}
	if (r->parent.name && !(parent = take_one(a, r->parent.name, r->parent.alias, &bad))) {
		if (!bad)
			fprintf(stderr, "privresctl %s %s: %s is required\n", r->group, verb,
				r->parent.name);
		return EXIT_USAGE;
	}
	/* the cloud CLI's -g: privres serves one resource group, its ids name it */
	const char *group = take_one(a, "--resource-group", "-g", &bad);
	if (strcmp(verb, "list") != 0 && !(name = take_one(a, "--name", "-n", &bad)) &&
	    !(name = take_one(a, long_name(r), NULL, &bad))) {
		if (!bad)
			fprintf(stderr, "privresctl %s %s: --name is required\n", r->group, verb);
		return EXIT_USAGE;
	}
	if (is_put) {
		res = json_object();
		const cli_opt_t *o;
		for (size_t i = 0; (o = cli_resource_opt(r, i)); i++) {
			arg_t *v = strcmp(o->field, "name") ? take(a, o->name, o->alias) : NULL;
			char *why = NULL;
			if (v && cli_set_property(res, o, v->values, v->n, &why) != 0) {
				fprintf(stderr, "privresctl: %s\n", why);
				free(why);
				bad = true;
			}
		}
	}
	char *value = is_rec ? record_value(r, a, &bad) : NULL;
	const char *ttl = is_rec ? take_one(a, "--ttl", NULL, &bad) : NULL;
	bool keep = !strcmp(verb, "remove-record") && take_flag(a, "--keep-empty-record-set", &bad);
	if (bad || (rc = finish_args(a, cli, outs)) != 0) {
		rc = EXIT_USAGE;
		goto cleanup;
	}
	if (group && (rc = check_group(cli, group)) != 0)
		goto cleanup;
	if (!strcmp(verb, "show") || !strcmp(verb, "delete")) {
		method(r, !strcmp(verb, "show") ? "Get" : "Delete", m, sizeof(m));
		rc = call(cli, m, request(r, parent, name), &resp);
		if (rc == 0 && !strcmp(verb, "show"))
			rc = output_resource(cli, r, parent, resp);
		goto cleanup;
	}
	if (!strcmp(verb, "list")) {
		method(r, "List", m, sizeof(m));
		if ((rc = call(cli, m, request(r, parent, NULL), &resp)) != 0)
			goto cleanup;
		json_t *list = json_object_get(resp, "value");
		if (!list)
			list = json_array();
		else
			json_incref(list);
		if (r->record) {
			/* one group per record type: list the zone's sets of this type */
			size_t i;
			json_t *e;
			json_t *only = json_array();
			json_array_foreach(list, i, e)
				if (!strcasecmp(json_string_value(json_object_get(e, "type")),
						r->record->type))
					json_array_append(only, e);
			json_decref(list);
			list = only;
		}
		if (!strcmp(cli->output, "table")) {
			json_t *w = json_pack("{s:O}", "value", list);
			print_table(w);
			json_decref(w);
		} else {
			rc = output_resource(cli, r, parent, list);
		}
		json_decref(list);
		goto cleanup;
	}
	if (!strcmp(verb, "update") || is_rec) {
		/* read, change, write back: the cloud CLI's generic update */
		json_t *cur = NULL;
		method(r, "Get", m, sizeof(m));
		json_t *get = request(r, parent, name);
		rc = is_rec ? call_maybe(cli, m, get, &cur) : call(cli, m, get, &cur);
		if (rc != 0)
			goto cleanup;
		if (!cur && !strcmp(verb, "remove-record")) {
			fprintf(stderr, "privresctl: NOT_FOUND: record set %s of type %s does not "
					"exist\n",
				name, r->record->type);
			rc = EXIT_REJECTED;
			goto cleanup;
		}
		json_t *base = cur ? cur : json_pack("{s:s}", "name", name);
		json_object_del(base, "id");
		if (res)
			json_object_update(base, res);
		json_decref(res);
		res = base;
	}
	if (r->record) {
		json_object_set_new(res, "type", json_string(r->record->type));
		if (ttl)
			json_object_set_new(res, "ttl", json_integer(atoi(ttl)));
	}
	json_object_set_new(res, "name", json_string(name));
	if (is_rec) {
		json_t *recs = json_object_get(res, "records");
		if (!json_is_array(recs)) {
			recs = json_array();
			json_object_set_new(res, "records", recs);
		}
		size_t i, at = (size_t)-1;
		json_t *e;
		json_array_foreach(recs, i, e)
			if (!strcasecmp(json_string_value(e), value))
				at = i;
		if (!strcmp(verb, "add-record") && at == (size_t)-1)
			json_array_append_new(recs, json_string(value));
		if (!strcmp(verb, "remove-record")) {
			if (at == (size_t)-1) {
				fprintf(stderr, "privresctl: NOT_FOUND: %s has no record \"%s\"\n",
					name, value);
				rc = EXIT_REJECTED;
				goto cleanup;
			}
			json_array_remove(recs, at);
			if (json_array_size(recs) == 0 && !keep) {
				method(r, "Delete", m, sizeof(m));
				rc = call(cli, m, request(r, parent, name), &resp);
				goto cleanup;
			}
		}
	}
	json_t *req = request(r, parent, NULL);
	json_object_set(req, r->field, res);
	method(r, "CreateOrUpdate", m, sizeof(m));
	if ((rc = call(cli, m, req, &resp)) == 0)
		rc = output_resource(cli, r, parent, resp);
cleanup:
	free(value);
	json_decref(res);
	json_decref(resp);
	return rc;
}

/* ---- deployment and diagnostics ------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	pr_buf_t b = {0};
	char chunk[65536];
	size_t n;

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		pr_buf_append(&b, chunk, n);
	if (f != stdin)
		fclose(f);
	*len = b.len;
	return b.data ? pr_buf_take(&b) : pr_strdup("");
}

static void print_changes(const json_t *result)
{
	size_t i;
	json_t *c;
	json_t *changes = json_object_get(result, "changes");
	if (json_array_size(changes) == 0)
		printf("No changes.\n");
	json_array_foreach(changes, i, c) {
		const char *action = json_string_value(json_object_get(c, "action"));
		char mark = !strcmp(action, "create") ? '+' : !strcmp(action, "delete") ? '-' : '~';
		bool imm = json_is_true(json_object_get(c, "immutable"));
		printf("%c %-6s %s%s\n", mark, action, json_string_value(json_object_get(c, "id")),
		       imm ? "  (immutable change, refused)" : "");
		size_t k;
		json_t *p;
		json_array_foreach(json_object_get(c, "changes"), k, p) {
			const char *before = json_string_value(json_object_get(p, "before"));
			const char *after = json_string_value(json_object_get(p, "after"));
			const char *rule = json_string_value(json_object_get(p, "rule"));
			printf("    %s: %s -> %s%s%s%s\n",
			       json_string_value(json_object_get(p, "property")),
			       before ? before : "(none)", after ? after : "(none)",
			       rule ? "  [" : "", rule ? rule : "", rule ? "]" : "");
		}
	}
	size_t n[3] = {0};
	json_array_foreach(changes, i, c) {
		const char *action = json_string_value(json_object_get(c, "action"));
		n[!strcmp(action, "create") ? 0 : !strcmp(action, "update") ? 1 : 2]++;
	}
	printf("%zu to create, %zu to update, %zu to delete.\n", n[0], n[1], n[2]);
}

static void print_errors(const json_t *result)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(result, "errors"), i, e) {
		const char *file = json_string_value(json_object_get(e, "file"));
		const char *path = json_string_value(json_object_get(e, "path"));
		const char *rule = json_string_value(json_object_get(e, "rule"));
		json_int_t line = json_integer_value(json_object_get(e, "line"));
		json_int_t col = json_integer_value(json_object_get(e, "column"));
		fprintf(stderr, "privresctl: ");
		if (file)
			fprintf(stderr, line ? "%s:%lld:%lld: " : "%s: ", file, (long long)line,
				(long long)col);
		fprintf(stderr, "%s%s%s (%s%s%s)\n", path ? path : "", path ? ": " : "",
			json_string_value(json_object_get(e, "message")),
			json_string_value(json_object_get(e, "code")), rule ? ", " : "",
			rule ? rule : "");
	}
}

static int cmd_deploy(cli_t *cli, bool apply, args_t *a)
{
	static const char *const outs[] = {"json", "table", NULL};
	bool bad = false;
	const char *file = take_one(a, "--file", "-f", &bad);
	bool dry = apply && take_flag(a, "--dry-run", &bad);
	bool no_prune = take_flag(a, "--no-prune", &bad);
	json_t *resp = NULL;
	int rc;

	if (a->help) {
		printf("usage: privresctl %s -f FILE%s [--no-prune] [-o json|table]\n\n"
		       "  -f, --file FILE   a deployment, YAML or JSON (\"-\": stdin)\n"
		       "%s"
		       "  --no-prune        add and update only; keep what FILE does not hold\n"
		       "  -o table          for people: + create, ~ update, - delete\n",
		       apply ? "apply" : "plan", apply ? " [--dry-run]" : "",
		       apply ? "  --dry-run         only show the changes, as plan does\n" : "");
		return 0;
	}
	if (!file && !bad) {
		fprintf(stderr, "privresctl %s: -f FILE is required\n", apply ? "apply" : "plan");
		return EXIT_USAGE;
	}
	if (bad || a->n_pos || (rc = finish_args(a, cli, outs)) != 0)
		return EXIT_USAGE;
	size_t len = 0;
	char *text = read_file(file, &len);
	if (!text) {
		fprintf(stderr, "privresctl: %s: cannot read\n", file);
		return EXIT_USAGE;
	}
	if (strlen(text) != len) {
		fprintf(stderr, "privresctl: %s: not a text file\n", file);
		free(text);
		return EXIT_USAGE;
	}
	json_t *req = json_pack("{s:s, s:s, s:b}", "document", text, "fileName", file, "prune",
				!no_prune);
	if (apply)
		json_object_set_new(req, "dryRun", json_boolean(dry));
	free(text);
	if ((rc = call(cli, apply ? "DeploymentService/Apply" : "DeploymentService/Plan", req,
		       &resp)) != 0)
		return rc;
	if (!strcmp(cli->output, "table"))
		print_changes(resp);
	else
		rc = print_json(resp);
	if (json_array_size(json_object_get(resp, "errors")) > 0) {
		print_errors(resp);
		rc = EXIT_REJECTED;
	}
	json_decref(resp);
	return rc;
}

/* --var and --var-file, in command-line order (later ones win, as in
 * Terraform): *n of them in out (borrowed from a). */
static size_t take_var_args(args_t *a, terraform_var_arg_t *out, size_t cap)
{
	size_t n = 0;
	for (int i = 0; i < a->n_opt; i++) {
		bool file = !strcmp(a->opt[i].name, "--var-file");
		if (!file && strcmp(a->opt[i].name, "--var"))
			continue;
		a->opt[i].used = true;
		for (int j = 0; j < a->opt[i].n && n < cap; j++)
			out[n++] = (terraform_var_arg_t){file, a->opt[i].values[j]};
	}
	return n;
}

/* Every value of a repeatable option, in order. */
static size_t take_all(args_t *a, const char *name, const char *alias, const char **out,
		       size_t cap)
{
	size_t n = 0;
	for (int i = 0; i < a->n_opt; i++) {
		if (strcmp(a->opt[i].name, name) && (!alias || strcmp(a->opt[i].name, alias)))
			continue;
		a->opt[i].used = true;
		for (int j = 0; j < a->opt[i].n && n < cap; j++)
			out[n++] = a->opt[i].values[j];
	}
	return n;
}

static int import_arity(const void *ctx, const char *name)
{
	(void)ctx;
	return !strcmp(name, "--apply") || !strcmp(name, "--no-validate") ||
			       !strcmp(name, "--no-prune") || !strcmp(name, "--dry-run")
		       ? 0
		       : 1;
}

/* The options of both imports for what is done with the result. */
#define IMPORT_OUT_USAGE "         [-o yaml|json] [--apply [--no-prune] [--dry-run]]\n\n"
#define IMPORT_APPLY_HELP                                                                  \
	"  --apply           apply the result to the running privresd (as apply -f;\n"     \
	"                    --dry-run, --no-prune as there)\n"

/* What both imports do with their result. */
typedef struct import_out {
	bool apply, no_prune, dry;
} import_out_t;

/* The options every import takes after its own: -o, --apply, --no-prune,
 * --dry-run; EXIT_USAGE (reported) for unknown ones or a missing PATH. */
static int import_finish_args(cli_t *cli, args_t *a, const char *what, import_out_t *o, bool *bad)
{
	static const char *const outs[] = {"yaml", "json", NULL};
	o->apply = take_flag(a, "--apply", bad);
	o->no_prune = take_flag(a, "--no-prune", bad);
	o->dry = take_flag(a, "--dry-run", bad);
	cli->output = "yaml";
	if (!*bad && a->n_pos != 1) {
		fprintf(stderr, "privresctl import %s: one %s is needed\n", what,
			!strcmp(what, "arm") ? "TEMPLATE" : "PATH");
		return EXIT_USAGE;
	}
	if (*bad || finish_args(a, cli, outs) != 0)
		return EXIT_USAGE;
	return 0;
}

/* The imported deployment dep (borrowed) printed (YAML, or JSON with -o json),
 * or with --apply brought to the running privresd through the control plane's
 * one apply path, as `apply -f` does (validated there again, journaled). */
static int import_emit(cli_t *cli, const json_t *dep, const char *file, const import_out_t *o)
{
	char *text = !strcmp(cli->output, "json") ? json_dumps(dep, JSON_INDENT(2))
						 : model_json_to_yaml(dep);
	if (!o->apply) {
		size_t len = strlen(text);
		printf("%s%s", text, len && text[len - 1] == '\n' ? "" : "\n");
		free(text);
		return 0;
	}
	json_t *req = json_pack("{s:s, s:s, s:b, s:b}", "document", text, "fileName", file,
				"prune", !o->no_prune, "dryRun", o->dry);
	free(text);
	json_t *resp = NULL;
	int rc = call(cli, "DeploymentService/Apply", req, &resp);
	if (rc == 0) {
		print_changes(resp);
		if (json_array_size(json_object_get(resp, "errors")) > 0) {
			print_errors(resp);
			rc = EXIT_REJECTED;
		}
	}
	json_decref(resp);
	return rc;
}

/* An import's refusal: its findings, then what was refused. */
static int import_refused(const char *what, const char *path, int rc, pr_diag_t *diag)
{
	char *text = pr_diag_format(diag);
	fprintf(stderr, "%sprivresctl import %s: %s refused: %s\n", text, what, path,
		pr_strerror(rc));
	free(text);
	return EXIT_REJECTED;
}

/*
 * import arm TEMPLATE [--parameters FILE|NAME=VALUE]... [-g RG]: an ARM
 * template (terraform/terraform.h, arm_import) → the deployment YAML on
 * stdout, or, with --apply, applied to the running privresd like `apply -f`.
 */
static int cmd_import_arm(cli_t *cli, args_t *a)
{
	if (a->help) {
		printf("usage: privresctl import arm TEMPLATE.json [--parameters FILE]...\n"
		       "         [--parameters NAME=VALUE]... [-g RESOURCE_GROUP] [--no-validate]\n"
		       IMPORT_OUT_USAGE
		       "  TEMPLATE.json     an ARM template; Bicep: `bicep build main.bicep` first\n"
		       "  --parameters      a parameters file or NAME=VALUE; later ones win\n"
		       "  -g RG             the resource group it is deployed to, as\n"
		       "                    az deployment group create -g\n"
		       IMPORT_APPLY_HELP);
		return 0;
	}
	const char *params[64];
	arm_import_options_t opts = {.parameters = params};
	bool bad = false;
	import_out_t o = {0};
	opts.n_parameters = take_all(a, "--parameters", "-p", params, 64);
	opts.resource_group = take_one(a, "--resource-group", "-g", &bad);
	opts.no_validate = take_flag(a, "--no-validate", &bad);
	if (import_finish_args(cli, a, "arm", &o, &bad) != 0)
		return EXIT_USAGE;
	opts.path = a->pos[0];
	pr_diag_t *diag = pr_diag_new();
	json_t *dep = NULL;
	int rc = arm_import(&opts, &dep, diag);
	rc = rc != 0 ? import_refused("arm", opts.path, rc, diag)
		     : import_emit(cli, dep, opts.path, &o);
	json_decref(dep);
	pr_diag_destroy(&diag);
	return rc;
}

/*
 * import terraform PATH: a Terraform configuration folder (HCL, read with
 * HashiCorp's parser as packaged for npm) or the JSON of `terraform show
 * -json` → the deployment YAML on stdout, or, with --apply, applied to the
 * running privresd like `apply -f` (terraform/terraform.h does the work).
 */
static int cmd_import_terraform(cli_t *cli, args_t *a)
{
	if (a->help) {
		printf("usage: privresctl import terraform PATH [--var NAME=VALUE]... [--var-file F]...\n"
		       "         [--side-file privres.yaml] [--hcl2json-dir DIR] [--no-validate]\n"
		       IMPORT_OUT_USAGE
		       "  PATH              a folder of .tf files, or the JSON of `terraform show -json`\n"
		       "  --var, --var-file as terraform's: after TF_VAR_*, terraform.tfvars and\n"
		       "                    *.auto.tfvars, in command-line order; later ones win\n"
		       "  --side-file F     what Terraform has no resource for (external servers,\n"
		       "                    publicDns, emulator); default: PATH/privres.yaml\n"
		       IMPORT_APPLY_HELP
		       "Without --apply the deployment is printed (YAML by default). What cannot be\n"
		       "resolved is listed with file:line; resources unrelated to DNS are counted.\n");
		return 0;
	}
	terraform_var_arg_t var_args[64];
	terraform_import_options_t opts = {.var_args = var_args};
	bool bad = false;
	import_out_t o = {0};
	opts.n_var_args = take_var_args(a, var_args, 64);
	opts.side_file = take_one(a, "--side-file", NULL, &bad);
	opts.hcl2json_dir = take_one(a, "--hcl2json-dir", NULL, &bad);
	opts.no_validate = take_flag(a, "--no-validate", &bad);
	if (import_finish_args(cli, a, "terraform", &o, &bad) != 0)
		return EXIT_USAGE;
	opts.path = a->pos[0];
	pr_diag_t *diag = pr_diag_new();
	terraform_import_summary_t summary = {0};
	json_t *dep = NULL;
	int rc = terraform_import_with_summary(&opts, &dep, &summary, diag);
	if (rc != 0) {
		rc = import_refused("terraform", opts.path, rc, diag);
		goto cleanup;
	}
	fprintf(stderr, "privresctl import terraform: %zu resources imported", summary.imported);
	if (summary.skipped)
		fprintf(stderr, ", %zu skipped as unrelated to DNS (%s)", summary.skipped,
			summary.skipped_types);
	fprintf(stderr, "\n");
	if (summary.placeholders)
		fprintf(stderr, "privresctl import terraform: placeholders for values known only "
				"after an apply: %s\n",
			summary.placeholders);
	rc = import_emit(cli, dep, opts.path, &o);
cleanup:
	terraform_import_summary_clear(&summary);
	json_decref(dep);
	pr_diag_destroy(&diag);
	return rc;
}

static int cmd_import(cli_t *cli, int argc, char **argv)
{
	bool arm = argc >= 1 && !strcmp(argv[0], "arm");
	if (!arm && (argc < 1 || strcmp(argv[0], "terraform") != 0)) {
		fprintf(stderr, "privresctl import: \"terraform\" or \"arm\" (privresctl import "
				"terraform --help)\n");
		return EXIT_USAGE;
	}
	args_t a;
	int rc = parse_args(argc - 1, argv + 1, &a, import_arity, NULL);
	if (rc == 0)
		rc = arm ? cmd_import_arm(cli, &a) : cmd_import_terraform(cli, &a);
	free(a.pos);
	return rc;
}

static int cmd_export(cli_t *cli, args_t *a)
{
	static const char *const outs[] = {"yaml", "json", NULL};
	json_t *resp = NULL;
	int rc;

	if (a->help) {
		printf("usage: privresctl export [-o yaml|json]\n\n"
		       "The current deployment, with ids and allocated addresses; apply -f "
		       "takes it back.\n");
		return 0;
	}
	cli->output = "yaml";
	if (a->n_pos || (rc = finish_args(a, cli, outs)) != 0)
		return EXIT_USAGE;
	if ((rc = call(cli, "DeploymentService/Export", json_pack("{s:s}", "format", cli->output),
		       &resp)) != 0)
		return rc;
	fputs(json_string_value(json_object_get(resp, "document")), stdout);
	json_decref(resp);
	return 0;
}

static int cmd_diag(cli_t *cli, const char *cmd, args_t *a)
{
	static const char *const outs[] = {"json", "table", NULL};
	bool bad = false;
	json_t *req = NULL, *resp = NULL;
	int rc;
	bool explain = !strcmp(cmd, "explain");

	if (a->help) {
		if (explain)
			printf("usage: privresctl explain --vnet VNET NAME [TYPE]\n\n"
			       "How a query for NAME (type A by default) from VNET is answered: "
			       "the step that\ndecides (Q-1 policy, Q-2 private zone, Q-3 rule, "
			       "Q-4 Azure DNS), the zone\nor rule, the answer.\n");
		else
			printf("usage: privresctl %s [-o json|table]\n\n%s\n", cmd,
			       !strcmp(cmd, "health") ? "Forwarding targets and their state (F-10)."
						      : "The daemon's counters.");
		return 0;
	}
	if (explain) {
		const char *vnet = take_one(a, "--vnet", "--virtual-network", &bad);
		if (!vnet || a->n_pos < 1 || a->n_pos > 2) {
			if (!bad)
				fprintf(stderr, "privresctl explain: --vnet VNET NAME [TYPE]\n");
			return EXIT_USAGE;
		}
		req = json_pack("{s:s, s:s, s:s}", "virtualNetwork", vnet, "name", a->pos[0],
				"type", a->n_pos > 1 ? a->pos[1] : "A");
	} else {
		if (a->n_pos) {
			fprintf(stderr, "privresctl %s: no arguments\n", cmd);
			return EXIT_USAGE;
		}
		req = json_object();
	}
	if (bad || (rc = finish_args(a, cli, outs)) != 0) {
		json_decref(req);
		return EXIT_USAGE;
	}
	const char *m = explain ? "DiagnosticsService/Explain"
		      : !strcmp(cmd, "health") ? "DiagnosticsService/TargetHealth"
					       : "DiagnosticsService/Stats";
	if ((rc = call(cli, m, req, &resp)) != 0)
		return rc;
	if (!strcmp(cli->output, "table") && explain && json_object_get(resp, "text"))
		puts(json_string_value(json_object_get(resp, "text")));
	else if (!strcmp(cli->output, "table") && !strcmp(cmd, "stats")) {
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(resp, "counters"), k, v)
			printf("%-32s %s\n", k, json_string_value(v) ? json_string_value(v) : "");
	} else
		rc = output(cli, resp);
	json_decref(resp);
	return rc;
}

/* E-4: scavenging on demand, of one server or every one. */
static int cmd_scavenge(cli_t *cli, args_t *a)
{
	static const char *const outs[] = {"json", NULL};
	bool bad = false;
	json_t *resp = NULL;
	int rc;
	if (a->help) {
		printf("usage: privresctl scavenge [--server NAME] [--at UNIXTIME]\n\n"
		       "Remove the dynamic records of external zones with aging on whose time "
		       "stamp +\nno-refresh + refresh is past (E-4), as of now or of --at.\n");
		return 0;
	}
	const char *server = take_one(a, "--server", NULL, &bad);
	const char *at = take_one(a, "--at", NULL, &bad);
	char *end = NULL;
	long long when = at ? strtoll(at, &end, 10) : 0;
	if (bad || a->n_pos || (at && (*end || when <= 0))) {
		fprintf(stderr, "privresctl scavenge: [--server NAME] [--at UNIXTIME]\n");
		return EXIT_USAGE;
	}
	if ((rc = finish_args(a, cli, outs)) != 0)
		return EXIT_USAGE;
	json_t *req = json_pack("{s:s, s:I}", "server", server ? server : "", "at",
				(json_int_t)when);
	if ((rc = call(cli, "ExternalDnsServerService/Scavenge", req, &resp)) != 0)
		return rc;
	rc = output(cli, resp);
	json_decref(resp);
	return rc;
}

/* ---- dispatch ------------------------------------------------------------- */

/* The resource group named by the most leading words of argv; *used words. */
static const cli_resource_t *find_group(int argc, char **argv, int *used)
{
	const cli_resource_t *best = NULL;
	int best_words = 0;
	for (const cli_resource_t *r = cli_resources(); r->group; r++) {
		int w = 0;
		const char *g = r->group;
		while (w < argc) {
			size_t l = strlen(argv[w]);
			if (strncmp(g, argv[w], l) != 0 || (g[l] != ' ' && g[l] != '\0'))
				break;
			w++;
			g += l;
			if (!*g)
				break;
			g++;
		}
		if (!*g && w > best_words) {
			best = r;
			best_words = w;
		}
	}
	*used = best_words;
	return best;
}

/* Help for a group prefix ("dns-resolver", "private-dns record-set"). */
static bool group_help(int argc, char **argv)
{
	pr_buf_t prefix = {0};
	for (int i = 0; i < argc && !is_option(argv[i]); i++)
		pr_buf_printf(&prefix, "%s%s", i ? " " : "", argv[i]);
	if (!prefix.len)
		return false;
	bool any = false;
	for (const cli_resource_t *r = cli_resources(); r->group; r++) {
		if (strncmp(r->group, prefix.data, prefix.len) != 0 ||
		    (r->group[prefix.len] != ' ' && r->group[prefix.len] != '\0'))
			continue;
		if (!any)
			printf("privresctl %s: groups and their commands\n\n", prefix.data);
		any = true;
		printf("  %-40s %s\n", r->group, r->summary);
	}
	if (any)
		printf("\nRun privresctl GROUP --help for its commands.\n");
	pr_buf_free(&prefix);
	return any;
}

static int dispatch(cli_t *cli, int argc, char **argv)
{
	const char *cmd = argv[0];
	args_t a;
	int rc;

	if (!strcmp(cmd, "call")) {
		if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			usage(stdout);
			return 0;
		}
		return cmd_call(cli, argc - 1, argv + 1);
	}
	if (!strcmp(cmd, "import"))
		return cmd_import(cli, argc - 1, argv + 1);
	if (!strcmp(cmd, "tls"))
		return cli_tls(argc, argv);
	bool deploy = !strcmp(cmd, "apply") || !strcmp(cmd, "plan");
	bool diag = !strcmp(cmd, "explain") || !strcmp(cmd, "health") || !strcmp(cmd, "stats");
	if (!strcmp(cmd, "scavenge")) {
		if ((rc = parse_args(argc - 1, argv + 1, &a, deploy_arity, NULL)) != 0)
			return rc;
		rc = cmd_scavenge(cli, &a);
		free(a.pos);
		return rc;
	}
	if (deploy || diag || !strcmp(cmd, "export")) {
		if ((rc = parse_args(argc - 1, argv + 1, &a, deploy_arity, NULL)) != 0)
			return rc;
		rc = deploy ? cmd_deploy(cli, !strcmp(cmd, "apply"), &a)
		     : diag ? cmd_diag(cli, cmd, &a)
			    : cmd_export(cli, &a);
		free(a.pos);
		return rc;
	}
	/* the cloud CLI's spelling: az network private-dns ... */
	if (!strcmp(cmd, "network") && argc > 1 && !strcmp(argv[1], "private-dns")) {
		argc--;
		argv++;
	}
	int used = 0;
	const cli_resource_t *r = find_group(argc, argv, &used);
	bool help_asked = false;
	for (int i = 0; i < argc; i++)
		help_asked |= !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");
	if (!r || used == argc || is_option(argv[used])) {
		/* a group without a command: its help (asked for or not) */
		if (r && help_asked) {
			resource_help(r, NULL);
			return 0;
		}
		if (help_asked && group_help(argc, argv))
			return 0;
		if (r) {
			fprintf(stderr, "privresctl %s: a command is needed\n", r->group);
			resource_help(r, NULL);
			return EXIT_USAGE;
		}
		if (!group_help(argc, argv)) {
			fprintf(stderr, "privresctl: unknown command \"%s\"\n", cmd);
			usage(stderr);
		}
		return EXIT_USAGE;
	}
	if ((rc = parse_args(argc - used - 1, argv + used + 1, &a, resource_arity, r)) != 0)
		return rc;
	if (a.n_pos) {
		fprintf(stderr, "privresctl %s %s: unexpected argument \"%s\"\n", r->group,
			argv[used], a.pos[0]);
		free(a.pos);
		return EXIT_USAGE;
	}
	rc = run_resource(cli, r, argv[used], &a);
	free(a.pos);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"address", required_argument, NULL, 'a'},
		{"token-file", required_argument, NULL, 't'},
		{"timeout", required_argument, NULL, 'T'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	cli_t cli = {.output = "json"};
	const char *token_file = getenv("PRIVRES_TOKEN_FILE");
	int c, rc;

	cli.target.unix_path = getenv("PRIVRES_SOCKET");
	cli.target.timeout_ms = 30000;
	/* stop at the first non-option: the command's own options follow it */
	while ((c = getopt_long(argc, argv, "+s:a:t:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			cli.target.unix_path = optarg;
			break;
		case 'a':
			cli.target.tcp_address = optarg;
			break;
		case 't':
			token_file = optarg;
			break;
		case 'T': {
			char *end = NULL;
			double s = strtod(optarg, &end);
			if (*end || s <= 0 || s > 86400) {
				fprintf(stderr, "privresctl: --timeout: expected seconds\n");
				return EXIT_USAGE;
			}
			cli.target.timeout_ms = (uint64_t)(s * 1000);
			break;
		}
		case 'o':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0) {
				fprintf(stderr, "privresctl: --output: json or table\n");
				return EXIT_USAGE;
			}
			cli.output = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (cli.target.tcp_address) {
		cli.target.unix_path = NULL; /* an explicit address wins over $PRIVRES_SOCKET */
		if (!token_file) {
			fprintf(stderr, "privresctl: --address needs --token-file\n");
			return EXIT_USAGE;
		}
		cli.token = read_token_file(token_file);
		if (!cli.token) {
			fprintf(stderr, "privresctl: %s: cannot read the token\n", token_file);
			return EXIT_USAGE;
		}
		cli.target.token = cli.token;
	} else if (!cli.target.unix_path) {
		cli.target.unix_path = "./privres-state/privres.sock";
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	rc = dispatch(&cli, argc - optind, argv + optind);
	free(cli.token);
	return rc;
}
