/*
 * privresctl's command table: the cloud CLI's command groups (az network
 * dns-resolver ..., az network private-dns ...) as data, one row per resource
 * type, each option naming the property it sets. main.c parses and calls;
 * commands.c holds the table and turns options into request JSON.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum cli_kind {
	CLI_STR,     /* one value */
	CLI_LIST,    /* one or more values: --domains a. b. */
	CLI_UINT,    /* a number */
	CLI_BOOL,    /* true|false */
	CLI_TARGETS, /* ip-address=10.0.0.1 port=53 [ip-address=... port=...] (F-4) */
	CLI_MAP,     /* key=value ... */
} cli_kind_t;

/* An option: its long name, an alias (short or older long name), the property
 * it sets ("action.actionType": dotted into nested objects). */
typedef struct cli_opt {
	const char *name;
	const char *alias;
	const char *field;
	cli_kind_t kind;
	const char *help;
} cli_opt_t;

/* A record type's options for add-record/remove-record: the record's value is
 * the options' values joined by spaces, in this order (zone-file form). */
typedef struct cli_record_type {
	const char *word;  /* "mx" */
	const char *type;  /* "MX" */
	cli_opt_t opts[5]; /* value parts, NULL-terminated */
} cli_record_type_t;

/* A resource type and its group of commands. */
typedef struct cli_resource {
	const char *group;   /* "dns-resolver forwarding-rule" */
	const char *service; /* "ForwardingRuleService" */
	const char *field;   /* the request field holding the resource: "forwardingRule" */
	cli_opt_t parent;    /* the parent's option (name NULL for top-level types) */
	const cli_opt_t *props;
	const char *summary;
	const cli_record_type_t *record; /* record sets: the type of this group */
} cli_resource_t;

/* Every resource group, NULL-group-terminated (owned by the table, static). */
const cli_resource_t *cli_resources(void);

/* The i-th option of r's resource: its own, then what the schema gives every
 * resource of its kind (--tags, --metadata); NULL past the last. */
const cli_opt_t *cli_resource_opt(const cli_resource_t *r, size_t i);

/* The verbs of a resource group; add-record/remove-record only for record sets. */
#define CLI_VERBS "create, update, show, list, delete"
#define CLI_RECORD_VERBS "add-record, remove-record, create, show, list, delete"

/*
 * Set property field of obj from the option's values (argv[0..n), borrowed).
 * Returns 0, or -1 with *why (owned) for a value that does not fit the kind.
 */
int cli_set_property(json_t *obj, const cli_opt_t *opt, char **argv, int n, char **why);

/* privresctl tls ... (tls_cmd.c): argv[0] is "tls". Returns the exit code. */
int cli_tls(int argc, char **argv);
