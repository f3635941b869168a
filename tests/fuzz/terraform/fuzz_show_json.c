/*
 * Arbitrary bytes as the JSON of `terraform show -json` (a plan or a state),
 * through terraform_import() with validation on (style.md §15): the show
 * reader (planned_values / values, root and child modules, the plan's
 * configuration references for unknown ids), the conversion of azurerm
 * resources into the model's shape, the merge of a privres.yaml side file,
 * the model's validation and the loop checks (P-1, P-2), and the mapping of
 * every finding back to the resource it came from.
 *
 * The import reads a path, so each input is written to one file in a folder
 * of this process's own (made once, removed at exit). No HCL: a file is never
 * handed to node.
 *
 * Input: one octet of flags (bit 0: merge the hybrid estate's privres.yaml,
 * which supplies its on-premises DNS servers and hosts), then the JSON.
 * Checks (a failed one aborts, so the fuzzer keeps the input):
 *  - a refusal has at least one finding and leaves *deployment unwritten;
 *  - an accepted import is a JSON object that the model validates again
 *    (what privres-tf-import prints, privresd must load), and its summary
 *    counts what it says it imported.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "model/model.h"
#include "terraform/terraform.h"

#ifndef PRIVRES_SOURCE_DIR
#error "PRIVRES_SOURCE_DIR names the source tree (for the hybrid estate's privres.yaml)"
#endif

static char folder[] = "/tmp/privres-fuzz-tf-XXXXXX";
static char *input_path;
static char *side_path;

static void fail(const char *what, const pr_diag_t *diag)
{
	char *msg = diag ? pr_diag_format(diag) : NULL;
	fprintf(stderr, "fuzz_show_json: %s\n%s\n", what, msg ? msg : "");
	free(msg);
	abort();
}

static void remove_folder(void)
{
	unlink(input_path);
	rmdir(folder);
	free(input_path);
	free(side_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!mkdtemp(folder))
		fail("mkdtemp", NULL);
	input_path = pr_asprintf("%s/show.json", folder);
	side_path = pr_strdup(PRIVRES_SOURCE_DIR "/terraform-examples/hybrid/privres.yaml");
	if (access(side_path, R_OK) != 0)
		fail("the hybrid estate's privres.yaml is missing", NULL);
	atexit(remove_folder);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	FILE *f = fopen(input_path, "wb");
	if (!f || fwrite(data + 1, 1, size - 1, f) != size - 1 || fclose(f) != 0)
		fail("cannot write the input file", NULL);

	terraform_import_options_t opts = {
		.path = input_path,
		.side_file = (data[0] & 1) ? side_path : NULL,
		.node = "/nonexistent/node", /* HCL is out of scope here: never run it */
		.hcl2json_dir = "/nonexistent",
	};
	terraform_import_summary_t summary = {0};
	pr_diag_t *diag = pr_diag_new();
	json_t *out = NULL;
	int rc = terraform_import_with_summary(&opts, &out, &summary, diag);
	if (rc != 0) {
		if (rc > 0)
			fail("refused with a code that is not an error", diag);
		if (out)
			fail("refused but wrote the deployment", diag);
		if (pr_diag_count(diag) == 0)
			fail("refused without a finding", NULL);
		goto cleanup;
	}
	if (!json_is_object(out))
		fail("an accepted import is not a JSON object", NULL);
	if ((summary.skipped == 0) != (summary.skipped_types == NULL))
		fail("summary counts skipped resources but names none, or the reverse", NULL);

	/* What the import accepted, the model accepts on its own. */
	model_doc_t *doc = model_doc_from_json(out, "import.json");
	deployment_t *d = NULL;
	pr_diag_t *again = pr_diag_new();
	if (deployment_from_doc(&doc, &d, again) != 0)
		fail("the imported deployment does not validate again", again);
	deployment_destroy(&d);
	pr_diag_destroy(&again);

cleanup:
	terraform_import_summary_clear(&summary);
	json_decref(out);
	pr_diag_destroy(&diag);
	return 0;
}
