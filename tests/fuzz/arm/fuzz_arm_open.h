/* The ARM protocol over the real control with the default deployment, made
 * once per fuzzer process (both ARM fuzzers start from it). */
#pragma once

#include <stdlib.h>

#include "arm/arm.h"
#include "control/control.h"

static arm_t *fuzz_arm_open(void)
{
	static control_t *control;
	static arm_t *arm;
	if (arm)
		return arm;
	pr_diag_t *diag = pr_diag_new();
	model_doc_t *doc = NULL;
	if (control_load_source(NULL, &doc, diag) != 0 ||
	    control_new(&doc, NULL, &control, diag) != 0)
		abort();
	pr_diag_destroy(&diag);
	arm_new(control, NULL, &arm);
	return arm;
}
