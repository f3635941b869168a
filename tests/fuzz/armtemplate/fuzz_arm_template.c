/*
 * Arbitrary bytes as an ARM template (privresctl import arm, terraform/arm.c,
 * style.md §15): the JSON, the template expression language (parameters,
 * variables, resourceId, concat, format, if, copy loops ...) and the mapping
 * of resources into a deployment, validated.
 *
 * Checks (a failed one aborts, so the fuzzer keeps the input):
 *  - a refusal is an error code with at least one finding and no output;
 *  - what the import accepts, the model accepts on its own.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "model/model.h"
#include "terraform/terraform.h"

static char path[] = "/tmp/privres-fuzz-arm-XXXXXX";

static void fail(const char *what, const pr_diag_t *diag)
{
	char *msg = diag ? pr_diag_format(diag) : NULL;
	fprintf(stderr, "fuzz_arm_template: %s\n%s\n", what, msg ? msg : "");
	free(msg);
	abort();
}

static void remove_file(void)
{
	unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	int fd = mkstemp(path);
	if (fd < 0)
		fail("mkstemp", NULL);
	close(fd);
	atexit(remove_file);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
		fail("cannot write the template", NULL);
	const char *params[] = {"vnet=hub", "n=2"};
	arm_import_options_t opts = {.path = path, .parameters = params, .n_parameters = 2};
	pr_diag_t *diag = pr_diag_new();
	json_t *out = NULL;
	int rc = arm_import(&opts, &out, diag);
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
	model_doc_t *doc = model_doc_from_json(out, "import.json");
	deployment_t *d = NULL;
	pr_diag_t *again = pr_diag_new();
	if (deployment_from_doc(&doc, &d, again) != 0)
		fail("the imported deployment does not validate again", again);
	deployment_destroy(&d);
	pr_diag_destroy(&again);
cleanup:
	json_decref(out);
	pr_diag_destroy(&diag);
	return 0;
}
