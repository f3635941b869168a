/* privres-tf-import: a Terraform configuration folder or the JSON of
 * `terraform show -json` → the deployment YAML (or JSON) on stdout.
 * Exit codes as privresctl's: 0 ok, 1 rejected, 2 usage. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "terraform/terraform.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: privres-tf-import [--var NAME=VALUE]... [--var-file FILE]... "
		   "[--side-file privres.yaml] [--hcl2json-dir DIR] [--no-validate] "
		   "[-o yaml|json] PATH\n"
		   "  PATH: a folder of .tf files, or the JSON of `terraform show -json`\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"var", required_argument, NULL, 'v'},
		{"var-file", required_argument, NULL, 'f'},
		{"side-file", required_argument, NULL, 's'},
		{"hcl2json-dir", required_argument, NULL, 'd'},
		{"no-validate", no_argument, NULL, 'n'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	terraform_var_arg_t *var_args = calloc((size_t)argc, sizeof(*var_args));
	terraform_import_options_t opts = {.var_args = var_args};
	terraform_import_summary_t summary = {0};
	const char *format = "yaml";
	pr_diag_t *diag = pr_diag_new();
	json_t *dep = NULL;
	int c, status = 0;

	/* -var and -var-file too, as terraform spells them */
	while ((c = getopt_long_only(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		/* in command-line order, as Terraform reads them */
		case 'v': var_args[opts.n_var_args++] = (terraform_var_arg_t){false, optarg}; break;
		case 'f': var_args[opts.n_var_args++] = (terraform_var_arg_t){true, optarg}; break;
		case 's': opts.side_file = optarg; break;
		case 'd': opts.hcl2json_dir = optarg; break;
		case 'n': opts.no_validate = true; break;
		case 'o': format = optarg; break;
		case 'h': usage(stdout); goto cleanup;
		default:
			usage(stderr);
			status = 2;
			goto cleanup;
		}
	}
	if (optind != argc - 1 || (strcmp(format, "yaml") && strcmp(format, "json"))) {
		usage(stderr);
		status = 2;
		goto cleanup;
	}
	opts.path = argv[optind];
	int rc = terraform_import_with_summary(&opts, &dep, &summary, diag);
	if (rc != 0) {
		char *text = pr_diag_format(diag);
		fprintf(stderr, "%s", text);
		fprintf(stderr, "privres-tf-import: %s refused: %s\n", opts.path, pr_strerror(rc));
		free(text);
		status = 1;
		goto cleanup;
	}
	char *text =
		!strcmp(format, "json") ? json_dumps(dep, JSON_INDENT(2)) : model_json_to_yaml(dep);
	size_t len = strlen(text);
	printf("%s%s", text, len && text[len - 1] == '\n' ? "" : "\n");
	free(text);
	fprintf(stderr, "privres-tf-import: %zu resources imported", summary.imported);
	if (summary.skipped)
		fprintf(stderr, ", %zu skipped as unrelated to DNS (%s)", summary.skipped,
			summary.skipped_types);
	fprintf(stderr, "\n");
	if (summary.placeholders)
		fprintf(stderr, "privres-tf-import: placeholders for values known only after an "
				"apply: %s\n",
			summary.placeholders);
cleanup:
	terraform_import_summary_clear(&summary);
	json_decref(dep);
	pr_diag_destroy(&diag);
	free(var_args);
	return status;
}
