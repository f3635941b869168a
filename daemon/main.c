/* privresd: options, loading, and (as the data plane lands) the loops. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "linker/linker.h"
#include "model/model.h"

#define PRIVRES_VERSION "0.1.0"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: privresd [options]\n"
		"\n"
		"A local emulator of a cloud DNS private resolver appliance.\n"
		"With no options, serves the embedded default deployment (%s).\n"
		"\n"
		"options:\n"
		"  -c, --config FILE     serve the deployment in FILE (YAML)\n"
		"      --check FILE      validate FILE, print a summary and exit (0 valid, 1 not)\n"
		"      --print-default   print the embedded default deployment and exit\n"
		"      --export FILE     print FILE's deployment as JSON with what was computed\n"
		"                        (ids, allocated addresses) and exit\n"
		"  -h, --help            this text\n"
		"  -V, --version         the version\n"
		"\n"
		"exit codes: 0 ok, 1 the deployment was refused, 2 usage\n",
		model_default_deployment_name());
}

static void print_diag(const pr_diag_t *diag)
{
	char *text = pr_diag_format(diag);
	fputs(text, stderr);
	free(text);
}

static void print_limit_overrides(const deployment_t *d)
{
	for (int i = 0; i < MODEL_LIMIT_COUNT; i++)
		if (d->limits.overridden[i])
			printf("note: limit %s (%s) overridden to %d by limits: (for tests only)\n",
			       model_limit_key((model_limit_id_t)i),
			       model_limit_rule((model_limit_id_t)i), d->limits.value[i]);
}

/* Load, validate and link; on failure print every finding. */
static int load(const char *path, deployment_t **dp, linker_t **lp)
{
	pr_diag_t *diag = pr_diag_new();
	int rc;
	if (path) {
		rc = deployment_load_file(path, dp, diag);
	} else {
		const char *text = model_default_deployment_text();
		rc = deployment_load_text(text, strlen(text), model_default_deployment_name(), dp,
					  diag);
	}
	if (rc == 0) {
		rc = linker_build(*dp, lp, diag);
		if (rc != 0)
			deployment_destroy(dp);
	}
	if (rc != 0) {
		print_diag(diag);
		fprintf(stderr, "%zu error%s; the deployment was refused, nothing changed\n",
			pr_diag_count(diag), pr_diag_count(diag) == 1 ? "" : "s");
	}
	pr_diag_destroy(&diag);
	return rc;
}

static int check(const char *path)
{
	deployment_t *d = NULL;
	linker_t *l = NULL;
	if (load(path, &d, &l) != 0)
		return 1;
	printf("%s: valid\n", path ? path : model_default_deployment_name());
	print_limit_overrides(d);
	char *summary = linker_summary(l);
	fputs(summary, stdout);
	free(summary);
	linker_destroy(&l);
	deployment_destroy(&d);
	return 0;
}

static int export_json(const char *path)
{
	deployment_t *d = NULL;
	linker_t *l = NULL;
	if (load(path, &d, &l) != 0)
		return 1;
	json_t *j = deployment_to_json(d);
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	puts(text);
	free(text);
	json_decref(j);
	linker_destroy(&l);
	deployment_destroy(&d);
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_CHECK = 1000, OPT_PRINT_DEFAULT, OPT_EXPORT };
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", required_argument, NULL, OPT_CHECK},
		{"print-default", no_argument, NULL, OPT_PRINT_DEFAULT},
		{"export", required_argument, NULL, OPT_EXPORT},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "c:hV", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case OPT_CHECK:
			return check(optarg);
		case OPT_EXPORT:
			return export_json(optarg);
		case OPT_PRINT_DEFAULT:
			fputs(model_default_deployment_text(), stdout);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("privresd %s\n", PRIVRES_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "privresd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	/* Until the data plane serves queries, running validates the deployment
	 * and prints what would be served. */
	int rc = check(config);
	if (rc == 0)
		printf("(the data plane is not built yet: privresd validated the deployment "
		       "and stops here)\n");
	return rc;
}
