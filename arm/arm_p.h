/* Private to arm/: the route of a request and the pieces of the protocol
 * shared by the files of the folder. */
#pragma once

#include <jansson.h>

#include "arm/arm.h"
#include "model/model.h"

/* Where a path leads (route.c). */
typedef enum arm_target {
	ARM_NOWHERE,        /* not a path privres serves */
	ARM_SUBSCRIPTIONS,  /* /subscriptions */
	ARM_SUBSCRIPTION,   /* /subscriptions/{s} */
	ARM_GROUPS,         /* .../resourcegroups */
	ARM_GROUP,          /* .../resourcegroups/{rg} */
	ARM_OPERATION,      /* .../locations/{l}/{operationStatuses|operationResults}/{id} */
	ARM_RESOURCE,       /* a resource of route.kind */
	ARM_COLLECTION,     /* a list of route.kind (under route.parent) */
	ARM_ACTION,         /* POST {vnet}/listDnsResolvers and the like */
} arm_target_t;

typedef struct arm_route {
	arm_target_t target;
	const model_kind_t *kind;
	char *subscription, *group; /* as the path writes them */
	char *parent;               /* the parent's name, for child kinds */
	char *name;                 /* the resource's name; the operation id */
	char *type;                 /* a record set's type; NULL for every type (ALL) */
	char *action;               /* an action's name; the operation's collection */
	char *location;             /* an operation's location */
	bool by_subscription;       /* a list of the whole subscription */
} arm_route_t;

/* Parse a path (percent-decoded segment by segment, matched against the
 * schema's types case-insensitively). Returns 0 with *r filled, or
 * PR_EPARSE for a path that is not one (r->target ARM_NOWHERE). */
int arm_route_parse(const char *path, arm_route_t *r);
void arm_route_clear(arm_route_t *r);

/* Does the kind answer its changes as a long-running operation? (All but
 * forwarding rules and record sets, as the resource providers do.) */
bool arm_kind_is_lro(const model_kind_t *k);
/* The api-versions the resource provider of kind k (NULL: Microsoft.Resources)
 * accepts, as one comma-separated text (static). */
const char *arm_api_versions(const model_kind_t *k);
bool arm_api_version_ok(const model_kind_t *k, const char *v);
