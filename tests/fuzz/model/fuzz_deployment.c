/*
 * Arbitrary bytes as a deployment file (design.md §5, style.md §15): the YAML
 * loader (libyaml events → one JSON document with marks), the decoder and the
 * validator of every rule of semantics.md §1–§5, §8, §9; on a valid deployment
 * the linker (views, F-8 matchers, P-1/P-2 loop checks), the JSON export, the
 * YAML writer and the plan.
 *
 * Checks (a failed one aborts, so the fuzzer keeps the input):
 *  - an error is always reported as data: a refused input has at least one
 *    finding and returns the first finding's code (style.md §4);
 *  - round trip: deployment_to_json → model_json_to_yaml → load again must
 *    validate, and the reloaded deployment plans to nothing against the first
 *    (design.md §7: what privresd saves it must be able to load, unchanged);
 *  - deployment_plan(NULL, d) is an array of creates only.
 * Everything is freed; LeakSanitizer reports what is not.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "linker/linker.h"
#include "model/model.h"

/* Print what broke and keep the input (libFuzzer saves it on abort). */
static void fail(const char *what, const pr_diag_t *diag, const char *text)
{
	char *msg = diag ? pr_diag_format(diag) : NULL;
	fprintf(stderr, "fuzz_deployment: %s\n%s\n", what, msg ? msg : "");
	if (text)
		fprintf(stderr, "--- text ---\n%s\n", text);
	free(msg);
	abort();
}

/* A refusal is data (style.md §4): a code below 0 and findings saying why. */
static void check_refusal(int rc, const pr_diag_t *diag, const char *what)
{
	if (rc >= 0)
		fail(what, diag, NULL);
	if (pr_diag_count(diag) == 0)
		fail("refused without a finding", diag, NULL);
	for (size_t i = 0; i < pr_diag_count(diag); i++) {
		const pr_diag_entry_t *e = pr_diag_get(diag, i);
		if (!e->message)
			fail("finding without a message", diag, NULL);
		char *line = pr_diag_entry_format(e);
		free(line);
	}
}

/* Every entry of a plan from nothing is a create with an id and a type. */
static void check_plan_from_nothing(const json_t *plan)
{
	size_t i;
	const json_t *c;
	if (!json_is_array(plan))
		fail("plan is not an array", NULL, NULL);
	json_array_foreach(plan, i, c)
	{
		const char *action = json_string_value(json_object_get(c, "action"));
		if (!action || strcmp(action, "create") != 0)
			fail("plan from nothing holds a change that is not a create", NULL,
			     json_dumps(c, JSON_COMPACT));
		if (!json_is_string(json_object_get(c, "type")) ||
		    !json_is_string(json_object_get(c, "id")))
			fail("plan change without type or id", NULL, json_dumps(c, JSON_COMPACT));
	}
	if (deployment_plan_first_immutable(plan))
		fail("plan from nothing has an immutable change", NULL, NULL);
}

/* Export, write as YAML, load again: must validate and plan to nothing. */
static void check_round_trip(const deployment_t *d)
{
	json_t *exported = deployment_to_json(d);
	char *yaml = NULL;
	model_doc_t *doc = NULL;
	deployment_t *again = NULL;
	json_t *plan = NULL;
	pr_diag_t *diag = pr_diag_new();

	if (!exported)
		fail("deployment_to_json gave NULL", NULL, NULL);
	yaml = model_json_to_yaml(exported);
	if (!yaml)
		fail("model_json_to_yaml gave NULL", NULL, NULL);
	if (model_doc_load_text(yaml, strlen(yaml), "export.yaml", &doc, diag) != 0)
		fail("exported YAML does not load", diag, yaml);
	if (deployment_from_doc(&doc, &again, diag) != 0)
		fail("exported deployment does not validate", diag, yaml);
	plan = deployment_plan(d, again);
	if (json_array_size(plan) != 0)
		fail("exported deployment plans to changes", NULL, json_dumps(plan, JSON_INDENT(1)));
	json_decref(plan);
	deployment_destroy(&again);
	pr_diag_destroy(&diag);
	free(yaml);
	json_decref(exported);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pr_diag_t *diag = pr_diag_new();
	model_doc_t *doc = NULL;
	deployment_t *d = NULL;
	linker_t *linker = NULL;
	json_t *plan = NULL;

	int rc = model_doc_load_text((const char *)data, size, "fuzz.yaml", &doc, diag);
	if (rc != 0) {
		check_refusal(rc, diag, "load failed with a code that is not an error");
		if (doc)
			fail("load failed but wrote the document", NULL, NULL);
		goto cleanup;
	}
	rc = deployment_from_doc(&doc, &d, diag);
	if (doc)
		fail("deployment_from_doc left the document with the caller", NULL, NULL);
	if (rc != 0) {
		check_refusal(rc, diag, "validation failed with a code that is not an error");
		if (d)
			fail("validation failed but wrote the deployment", NULL, NULL);
		goto cleanup;
	}
	if (pr_diag_count(diag) != 0)
		fail("validated with findings", diag, NULL);

	/* P-1/P-2 refusals are findings too; a linker is built only without them. */
	rc = linker_build(d, &linker, diag);
	if (rc != 0)
		check_refusal(rc, diag, "linker failed with a code that is not an error");
	else if (linker_view_count(linker) != d->n_vnets || linker_deployment(linker) != d)
		fail("linker views do not match the deployment", NULL, NULL);
	linker_destroy(&linker);

	check_round_trip(d);

	plan = deployment_plan(NULL, d);
	check_plan_from_nothing(plan);

cleanup:
	json_decref(plan);
	deployment_destroy(&d);
	model_doc_destroy(&doc);
	pr_diag_destroy(&diag);
	return 0;
}
