/*
 * terraform — import of a Terraform (azurerm) configuration into a privres
 * deployment (design.md §5: the deployment's cloud part maps one to one onto
 * the provider's resources and arguments).
 *
 * Two inputs:
 *   - a configuration folder (*.tf): HCL is read by HashiCorp's own parser as
 *     packaged for npm (@cdktf/hcl2json, run with node; terraform/setup.sh
 *     installs it), then variables (defaults, TF_VAR_*, terraform.tfvars,
 *     *.auto.tfvars, then --var-file and --var in command-line order), locals, count and for_each over known collections,
 *     references between resources and string interpolation are resolved here;
 *   - the JSON of `terraform show -json` (a plan: planned_values, or a state:
 *     values), root and child modules; values the plan leaves unknown (ids)
 *     are followed through the plan's configuration references.
 * The resources become the deployment's JSON in the model's shape; a side file
 * privres.yaml next to the configuration (or to the JSON file) supplies what
 * has no Terraform resource (externalDnsServers, publicDns, emulator,
 * virtualMachines, topology, limits) and is merged in. The result is then
 * validated by the model (every rule of semantics.md) and checked for
 * forwarding loops (P-1, P-2), and each finding is reported at the .tf file
 * and line of the resource it came from.
 *
 * What cannot be resolved (data sources, unknown functions, DNS resource types
 * the importer does not know, module blocks in HCL input) is reported with
 * file:line, never dropped; resources unrelated to DNS are skipped and counted.
 *
 * Threads: any thread; no state is shared between calls. Runs node as a child
 * process for HCL input.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"

/* One -var or -var-file of a command line. */
typedef struct terraform_var_arg {
	bool file;	  /* -var-file FILE (.tfvars or .tfvars.json), else -var NAME=VALUE */
	const char *text; /* borrowed */
} terraform_var_arg_t;

typedef struct terraform_import_options {
	const char *path; /* a folder of .tf files or a `terraform show -json` file */
	/* -var and -var-file in command-line order, read after TF_VAR_*,
	 * terraform.tfvars(.json) and *.auto.tfvars(.json): later ones win, as in
	 * Terraform (borrowed) */
	const terraform_var_arg_t *var_args;
	size_t n_var_args;
	const char *hcl2json_dir; /* where setup.sh installed the parser; NULL: the
				   * environment's PRIVRES_HCL2JSON_DIR, else
				   * ~/.cache/privres/hcl2json */
	const char *node;	  /* node executable; NULL: "node" from PATH */
	const char *side_file;	  /* privres.yaml to merge; NULL: <folder>/privres.yaml
				   * when it exists */
	bool no_validate;	  /* return the JSON without model validation */
} terraform_import_options_t;

/* What an import did, for people. */
typedef struct terraform_import_summary {
	size_t imported;     /* resource instances turned into deployment resources */
	size_t skipped;	     /* instances unrelated to DNS */
	char *skipped_types; /* "azurerm_network_security_group×2, ..." (owned) or NULL */
	char *placeholders;  /* values that exist only after an apply, as chosen:
			      * "random_pet.rg.id = \"rg-keen-otter\", ..." (owned) or NULL */
} terraform_import_summary_t;

/*
 * Import opts->path (borrowed) into *deployment (owned: the deployment JSON in
 * the model's shape, merged with privres.yaml), validated unless
 * opts->no_validate. Every finding goes to diag with the .tf file and line of
 * the resource it came from. Returns 0, or PR_EPARSE (HCL or JSON that can't
 * be read), PR_ENOTFOUND (no such path, or hcl2json not installed), PR_ECONFIG
 * (unresolvable input, or a deployment the model refuses), PR_ELOOP (P-1/P-2).
 * *deployment is written only on success.
 */
int terraform_import(const terraform_import_options_t *opts, json_t **deployment, pr_diag_t *diag);

/* Same, and fills *summary (its strings owned by the caller; release with
 * terraform_import_summary_clear) on success. */
int terraform_import_with_summary(const terraform_import_options_t *opts, json_t **deployment,
				  terraform_import_summary_t *summary, pr_diag_t *diag);
void terraform_import_summary_clear(terraform_import_summary_t *summary);

/* The folder hcl2json is looked for in when opts->hcl2json_dir is NULL (owned). */
char *terraform_hcl2json_default_dir(void);

/*
 * ARM templates (terraform/arm.c): a template (what `bicep build` writes) and
 * its parameters → the deployment JSON, validated unless no_validate.
 * Template expressions are evaluated (parameters, variables, resourceId,
 * resourceGroup, subscription, concat, format, if, equals, length, toLower,
 * uniqueString, guid, copyIndex, reference to the template's own resources
 * and to the instances of its copy loops...); an unknown function is an error
 * at the JSON path. Property names are matched case-insensitively, as ARM
 * matches them. Private DNS record sets are read as the ARM surface reads a
 * PUT; resource_group is the deployment's.
 * Returns 0, PR_EPARSE, PR_ECONFIG or PR_ELOOP.
 */
typedef struct arm_import_options {
	const char *path;		/* the template */
	const char *const *parameters;	/* parameters files, or NAME=VALUE, in order */
	size_t n_parameters;
	const char *resource_group;	/* resourceGroup().name; NULL: the model's default */
	const char *location;		/* resourceGroup().location; NULL: the model's default */
	bool no_validate;
} arm_import_options_t;

int arm_import(const arm_import_options_t *opts, json_t **deployment, pr_diag_t *diag);
