/* Private to the ARM template import (arm.c, arm_expr.c). */
#pragma once

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>

#include "base/base.h"

/* The most instances a copy loop may make (the cloud's limit). */
#define ARM_COPY_MAX 800

typedef struct arm {
	const char *file;
	const json_t *template;
	json_t *params;	   /* name → value (owned) */
	json_t *vars;	   /* name → evaluated value, as met (owned) */
	json_t *resolving; /* variables being evaluated: a cycle if met again */
	const char *subscription, *resource_group, *location;
	long copy_index; /* -1 outside a copy loop */
} arm_t;

/* A property by name, as ARM matches them: case-insensitively. Borrowed. */
const json_t *arm_iget(const json_t *o, const char *key);
/* One expression string ("[...]", else a literal): a new value, or NULL and
 * *err (owned). */
json_t *arm_eval_string(arm_t *arm, const char *s, char **err);
/* Every string of v evaluated; a failure is reported at path and counted. */
json_t *arm_eval(arm_t *arm, const json_t *v, const char *path, pr_diag_t *diag, int *failed);
/* A variable's value (evaluated once), or NULL with *err. Borrowed. */
const json_t *arm_variable(arm_t *arm, const char *name, char **err);
