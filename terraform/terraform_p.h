/* Private to terraform/: the import's state, shared by its files. */
#pragma once

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "terraform/terraform.h"

/* One resource instance, from either input. */
typedef struct tf_inst {
	char *type;		     /* azurerm_subnet */
	char *name;		     /* the resource's Terraform name */
	char *address;		     /* module.m.azurerm_subnet.x["k"] */
	char *module;		     /* "" or "module.m." */
	json_t *values;		     /* attributes, blocks as arrays of objects (owned) */
	const json_t *exprs;	     /* show -json plan: the configuration's expressions, or NULL */
	const json_t *config_module; /* ... and the configuration of its module */
	char *id;		     /* ARM id (owned); NULL until computed */
	char *file;		     /* the .tf file (or the JSON file) */
	int line;
	size_t order; /* source order */
	bool computing;
} tf_inst_t;

/* A resource block of HCL input, expanded lazily (references may point
 * forward). */
typedef struct tf_block {
	char *type, *name;
	char *module; /* "" or "module.m[\"k\"]." (modules.c) */
	const json_t *body; /* borrowed from the hcl2json output */
	char *file;
	int line;
	size_t order;
	int state;     /* 0 not expanded, 1 expanding (a reference cycle if met again), 2 done */
	json_t *value; /* what a reference to type.name gives: instance, list or map (owned) */
} tf_block_t;

typedef struct tf_named {
	char *name;
	char *module;	    /* the module it belongs to ("": the root) */
	const json_t *expr; /* borrowed */
	/* a module variable given by its call: the argument, evaluated in the
	 * calling module (ctx) with the call's each/count */
	const json_t *arg;
	char *ctx;
	json_t *each_key, *each_value;
	long count_index;
	bool has_count;
	char *file;
	int line;
	int state;
	json_t *value; /* owned */
} tf_named_t;

/* A module block, expanded by modules.c. */
typedef struct tf_modcall {
	char *name;
	const json_t *body; /* borrowed */
	char *file;
	int line;
	char *module; /* the calling module's prefix */
	char *dir;    /* the calling module's folder */
	char *key;    /* "net.sub": its key in .terraform/modules/modules.json */
} tf_modcall_t;

typedef struct tf_origin {
	char *path; /* model path: dnsForwardingRulesets[rs].forwardingRules[r] */
	size_t inst;
} tf_origin_t;

typedef struct tf_import {
	const terraform_import_options_t *opts;
	pr_diag_t *diag;
	int err;   /* first error code met */
	char *dir; /* the configuration's folder */
	const char *subscription;

	tf_inst_t **insts;
	size_t n_insts, cap_insts;

	/* HCL input */
	json_t *parsed; /* file → hcl2json output (owned) */
	tf_block_t *blocks;
	size_t n_blocks, cap_blocks;
	tf_named_t *locals;
	size_t n_locals, cap_locals;
	tf_named_t *vars;
	size_t n_vars, cap_vars;
	tf_named_t *outputs;
	size_t n_outputs, cap_outputs;
	tf_modcall_t *modcalls;
	size_t n_modcalls, cap_modcalls;
	const char *module; /* the module expressions are evaluated in ("": root) */
	size_t n_files;	    /* files collected, for source order across modules */
	json_t *data_blocks; /* "type.name" → "file:line" of data sources */

	/* show -json input */
	const json_t *configuration; /* borrowed from show_doc */
	json_t *show_doc;

	tf_origin_t *origins;
	size_t n_origins, cap_origins;
	json_t *skipped; /* type → count */
	json_t *placeholders; /* "address.attr" → the value chosen for it (computed.c) */
	json_t *next_host;    /* lowercase subnet id → next dynamic host number */
	size_t n_skipped, n_imported;
} tf_import_t;

/* The scope of an expression: each.key/each.value, count.index. */
typedef struct tf_scope {
	const json_t *each_key, *each_value;
	long count_index;
	bool has_count;
	/* a dynamic block's iterator (<name>.key, <name>.value), innermost first */
	const char *iter_name;
	const json_t *iter_key, *iter_value;
	const struct tf_scope *outer;
} tf_scope_t;

/* *err = the message, unless an earlier one is there (the first error of an
 * expression is the one worth reading). Returns NULL for `return fail(...)`. */
json_t *tf_first_error(char **err, const char *fmt, va_list ap);
/* Whether s is in the NULL-terminated list. */
bool tf_in_list(const char *const *list, const char *s);
/* obj[key], an array created when absent. Borrowed. */
json_t *tf_list_of(json_t *obj, const char *key);

/* A finding of the import itself; sets imp->err. */
void tf_report(tf_import_t *imp, const char *file, int line, const char *path, int code,
	       const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Evaluate a hcl2json value (strings are templates) in scope: a new
 * reference, or NULL with *err (owned) saying why. */
json_t *tf_eval(tf_import_t *imp, const json_t *v, const tf_scope_t *scope, char **err);
/* Evaluate one expression's text, as inside ${...}. */
json_t *tf_eval_expr_text(tf_import_t *imp, const char *text, const tf_scope_t *scope, char **err);
/* The value of a resource reference type.name (expanding the block), or
 * NULL with *err. Borrowed. */
const json_t *tf_resource_value(tf_import_t *imp, const char *type, const char *name, char **err);
const json_t *tf_local_value(tf_import_t *imp, const char *name, char **err);
const json_t *tf_var_value(tf_import_t *imp, const char *name, char **err);

/* module.NAME[key].OUT in the current module: the output's value, or NULL
 * with *err; key NULL for a call without count or for_each. Borrowed. */
const json_t *tf_module_output(tf_import_t *imp, const char *name, const json_t *key,
			       const char *out, char **err);
/* The address prefix of a module call's instance: module.NAME. with no key,
 * module.NAME["k"]. or module.NAME[0]. (owned). */
char *tf_module_prefix(const char *module, const char *name, const json_t *key);
/* Collect one parsed file's blocks into the module at prefix (folder dir). */
void tf_collect(tf_import_t *imp, const char *file, const json_t *doc, const char *module,
		const char *dir);
/* Expand every module call (modules.c), the children's own calls too. */
void tf_modules_expand(tf_import_t *imp);
void tf_named_free(tf_named_t *v);

/* Read HCL files through hcl2json: an object file → JSON (owned) or NULL
 * with a finding. */
json_t *tf_hcl_parse_files(tf_import_t *imp, const char *const *files, size_t n);
/* The line of `<kind> "a" "b"` (or `<kind> "a"`) in file, or 0. */
int tf_find_line(const char *file, const char *kind, const char *a, const char *b);

/* Inputs → instances. */
int tf_load_hcl(tf_import_t *imp);
int tf_load_show(tf_import_t *imp, const char *path);

/* A new instance (owned by imp). */
tf_inst_t *tf_inst_add(tf_import_t *imp, const char *type, const char *name, const char *address,
		       const char *module, json_t *values, const char *file, int line);
/* Fill in what the cloud computes and a reference may read: id, and an
 * inbound endpoint's dynamic address (I-2). */
void tf_inst_complete(tf_import_t *imp, tf_inst_t *inst);
/* The ARM id an attribute of inst refers to (attr is a top-level argument or
 * "block.0.argument"), following plan configuration references when the value
 * is unknown; NULL when there is none. Borrowed/owned by imp. */
const char *tf_inst_ref(tf_import_t *imp, tf_inst_t *inst, const char *attr);

/* Values that exist only after an apply (computed.c): placeholders for
 * random_*, time_*, terraform_data, NIC and VM addresses; and the id of an
 * azurerm resource privres does not model (owned, or NULL). */
void tf_inst_placeholders(tf_import_t *imp, tf_inst_t *inst);
char *tf_placeholder_id(tf_import_t *imp, tf_inst_t *inst);
/* The next dynamic address of a subnet of the configuration (the fifth, then
 * on); false when the subnet or its prefix is unknown. */
bool tf_subnet_next_address(tf_import_t *imp, const char *subnet_id, uint32_t *addr);

/* 1: a type the importer turns into deployment resources (or azapi_resource,
 * decided by its type argument); 0: unrelated to DNS, skipped; -1: a DNS type
 * it does not know (an error, never dropped). */
int tf_type_class(const char *type);

/* Instances → deployment JSON (owned); records origins. */
json_t *tf_convert(tf_import_t *imp);
