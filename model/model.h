/*
 * model — the resource graph of a deployment (design.md §5): virtual networks,
 * resolvers and their endpoints, forwarding rulesets, private zones, security
 * policies, hosts, external DNS servers, public DNS and emulator settings.
 *
 * A deployment is read from YAML (with file:line:column for every node) or
 * from JSON in the cloud's resource shape; both go through one JSON document
 * (json_t) and one decoder, then one validator that checks every rule of
 * semantics.md §1–§5, §8, §9 against the whole graph and reports all findings
 * at once as data (pr_diag_t). Inbound endpoint and host addresses are
 * allocated by the validator (I-2, I-3).
 *
 * The resource structs below are plain data, public so that the linker, the
 * data plane and the API can read them; they are immutable once a deployment
 * has validated. Every string and array of a deployment lives in its arena and
 * is freed by deployment_destroy().
 *
 * Threads: a deployment is built and validated on one thread; once validated
 * it may be read from any number of threads.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "dns/dns.h"

/* ---- Limits (semantics.md §1) ------------------------------------------- */

/* Every limit of the contract, by id; the values are the service's. A
 * deployment's `limits:` block may override them for tests of the limit logic
 * only, and the override is reported. */
typedef enum model_limit_id {
	MODEL_LIMIT_RULES_PER_RULESET,       /* L-1 */
	MODEL_LIMIT_LINKS_PER_RULESET,       /* L-2 */
	MODEL_LIMIT_OUTBOUND_PER_RULESET,    /* L-3 */
	MODEL_LIMIT_RULESETS_PER_OUTBOUND,   /* L-4 */
	MODEL_LIMIT_TARGETS_PER_RULE,        /* L-5 */
	MODEL_LIMIT_INBOUND_PER_RESOLVER,    /* L-6 */
	MODEL_LIMIT_OUTBOUND_PER_RESOLVER,   /* L-6 */
	MODEL_LIMIT_RESOLVERS_PER_VNET,      /* L-7 */
	MODEL_LIMIT_RESOLVERS_PER_SUBSCRIPTION, /* L-8 */
	MODEL_LIMIT_RULESETS_PER_VNET,       /* L-9 */
	MODEL_LIMIT_ZONES_PER_VNET,          /* L-10 */
	MODEL_LIMIT_REGISTRATION_ZONES_PER_VNET, /* L-10 */
	MODEL_LIMIT_RECORD_SETS_PER_ZONE,    /* L-11 */
	MODEL_LIMIT_RECORDS_PER_RECORD_SET,  /* L-11 */
	MODEL_LIMIT_QPS_PER_ENDPOINT,        /* L-12, a benchmark reference */
	MODEL_LIMIT_RULES_PER_POLICY,        /* §8, [privres] */
	MODEL_LIMIT_LISTS_PER_RULE,          /* §8, [privres] */
	MODEL_LIMIT_DOMAINS_PER_LIST,        /* §8, [privres] */
	MODEL_LIMIT_COUNT
} model_limit_id_t;

#define MODEL_MAX_RULES_PER_RULESET 1000
#define MODEL_MAX_LINKS_PER_RULESET 500
#define MODEL_MAX_OUTBOUND_PER_RULESET 2
#define MODEL_MAX_RULESETS_PER_OUTBOUND 2
#define MODEL_MAX_TARGETS_PER_RULE 6
#define MODEL_MAX_INBOUND_PER_RESOLVER 5
#define MODEL_MAX_OUTBOUND_PER_RESOLVER 5
#define MODEL_MAX_RESOLVERS_PER_VNET 1
#define MODEL_MAX_RESOLVERS_PER_SUBSCRIPTION 15
#define MODEL_MAX_RULESETS_PER_VNET 1
#define MODEL_MAX_ZONES_PER_VNET 1000
#define MODEL_MAX_REGISTRATION_ZONES_PER_VNET 1
#define MODEL_MAX_RECORD_SETS_PER_ZONE 25000
#define MODEL_MAX_RECORDS_PER_RECORD_SET 20
#define MODEL_MAX_QPS_PER_ENDPOINT 10000
#define MODEL_MAX_RULES_PER_POLICY 1000
#define MODEL_MAX_LISTS_PER_RULE 10
#define MODEL_MAX_DOMAINS_PER_LIST 100000

/* Other fixed numbers of the contract. */
#define MODEL_MAX_DOMAIN_LABELS 34      /* F-2 */
#define MODEL_MAX_RULE_NAME 80          /* F-1 */
#define MODEL_ZONE_MIN_LABELS 2         /* Z-1 */
#define MODEL_ZONE_MAX_LABELS 34        /* Z-1 */
#define MODEL_POLICY_PRIORITY_MIN 100   /* S-1 */
#define MODEL_POLICY_PRIORITY_MAX 65000 /* S-1 */
#define MODEL_DEFAULT_TTL 3600          /* design.md §5 */
#define MODEL_MAX_TAGS 50               /* ARM: tags of one resource */
#define MODEL_MAX_TAG_NAME 512
#define MODEL_MAX_TAG_VALUE 256
#define MODEL_AZURE_DNS_ADDR 0xa83f8110u /* 168.63.129.16 */
#define MODEL_DEFAULT_HOP_LIMIT 4       /* P-3 */
#define MODEL_DEFAULT_UNRESPONSIVE_SECONDS 1800 /* F-10 */
#define MODEL_DEFAULT_BASE_PORT 5300
#define MODEL_DEFAULT_SUBSCRIPTION "00000000-0000-0000-0000-000000000000"
#define MODEL_DEFAULT_RESOURCE_GROUP "privres"
#define MODEL_DEFAULT_LOCATION "eastus"

typedef struct model_limits {
	int value[MODEL_LIMIT_COUNT];
	bool overridden[MODEL_LIMIT_COUNT];
} model_limits_t;

/* The service's values. */
void model_limits_default(model_limits_t *l);
/* "L-1" and the YAML key ("rulesPerRuleset") of a limit. */
const char *model_limit_rule(model_limit_id_t id);
const char *model_limit_key(model_limit_id_t id);

/* ---- Resources ----------------------------------------------------------- */

/* Where a resource came from: its JSON node (borrowed from the deployment's
 * document, for error positions) and its path in the deployment
 * ("dnsForwardingRulesets[hub-rules].forwardingRules[OnPrem]"). */
typedef struct model_origin {
	const json_t *node;
	const char *path;
} model_origin_t;

typedef struct model_subnet {
	model_origin_t origin;
	const char *name;
	pr_prefix_t prefix;
	const char *delegation; /* NULL or "Microsoft.Network/dnsResolvers" */
} model_subnet_t;

typedef struct model_vnet {
	model_origin_t origin;
	const char *name;
	const char *location;
	const char *id;
	pr_prefix_t *prefixes;
	size_t n_prefixes;
	model_subnet_t *subnets;
	size_t n_subnets;
	uint32_t *dns_servers; /* custom DNS servers; none = Azure DNS */
	size_t n_dns_servers;
} model_vnet_t;

typedef enum model_alloc { MODEL_ALLOC_DYNAMIC, MODEL_ALLOC_STATIC } model_alloc_t;

typedef struct model_inbound_endpoint {
	model_origin_t origin;
	const char *name;
	const char *id;
	const char *subnet_ref;
	int subnet; /* index into the resolver's VNet's subnets, after validation */
	model_alloc_t allocation;
	uint32_t address; /* I-2/I-3: allocated or given; valid after validation */
	bool has_address;
} model_inbound_endpoint_t;

typedef struct model_outbound_endpoint {
	model_origin_t origin;
	const char *name;
	const char *id;
	const char *subnet_ref;
	int subnet;
	uint32_t source_address; /* O-1: the fifth address of its subnet */
} model_outbound_endpoint_t;

typedef struct model_resolver {
	model_origin_t origin;
	const char *name;
	const char *location;
	const char *id;
	const char *vnet_ref;
	int vnet; /* index into deployment vnets */
	model_inbound_endpoint_t *inbound;
	size_t n_inbound;
	model_outbound_endpoint_t *outbound;
	size_t n_outbound;
} model_resolver_t;

typedef struct model_target {
	model_origin_t origin;
	uint32_t address;
	uint16_t port;
	/* [privres] protocol: Tls — DNS over TLS to the target (RFC 7858); the
	 * port then defaults to 853. */
	bool tls;
	const char *tls_hostname; /* the name its certificate must carry; NULL: ipAddress */
	const char *tls_ca;       /* PEM file of the CAs to trust; NULL: the system's */
} model_target_t;

typedef struct model_rule {
	model_origin_t origin;
	const char *name;
	const char *id;
	const char *domain_name; /* canonical: lowercase, dot-terminated */
	uint8_t domain_wire[DNS_NAME_MAXLEN];
	int labels;
	model_target_t *targets;
	size_t n_targets;
	bool enabled; /* F-6 */
	json_t *metadata; /* borrowed from the document; may be NULL */
} model_rule_t;

typedef enum model_resolution_policy {
	MODEL_RESOLUTION_DEFAULT,
	MODEL_RESOLUTION_NXDOMAIN_REDIRECT,
} model_resolution_policy_t;

/* A link of a ruleset, a private zone or a policy to a VNet. */
typedef struct model_vnet_link {
	model_origin_t origin;
	const char *name;
	const char *id;
	const char *vnet_ref;
	int vnet;
	bool registration;                      /* private zone links only (Z-3) */
	model_resolution_policy_t resolution;   /* private zone links only (Q-2) */
} model_vnet_link_t;

typedef struct model_endpoint_ref {
	const char *text;
	int resolver;
	int endpoint;
} model_endpoint_ref_t;

typedef struct model_ruleset {
	model_origin_t origin;
	const char *name;
	const char *location;
	const char *id;
	model_endpoint_ref_t *outbound; /* O-2 */
	size_t n_outbound;
	model_rule_t *rules;
	size_t n_rules;
	model_vnet_link_t *links;
	size_t n_links;
} model_ruleset_t;

typedef struct model_record_set {
	model_origin_t origin;
	const char *name; /* relative owner as written: "@", "web", "*.apps" */
	uint16_t type;
	const char *type_text;
	uint32_t ttl;
	const char **records; /* values as in a zone file */
	size_t n_records;
	/* E-2, E-4: made or changed by dynamic update (external zones), and when
	 * (Unix seconds; 0 for static record sets, which never age). */
	bool dynamic;
	int64_t timestamp;
} model_record_set_t;

typedef struct model_soa {
	const char *host;  /* mname */
	const char *email; /* rname */
	uint32_t serial, refresh, retry, expire, minimum, ttl;
} model_soa_t;

/* Z-2: the SOA every private zone starts with, as the cloud's API shows it
 * (reference/azure.md §2.2). The one home of these values: the model, the
 * zones, the Terraform import and the API take them from here. */
#define MODEL_SOA_HOST "azureprivatedns.net."
#define MODEL_SOA_EMAIL "azureprivatedns-hostmaster.microsoft.com."
#define MODEL_SOA_DEFAULTS                                                                 \
	((model_soa_t){.host = MODEL_SOA_HOST, .email = MODEL_SOA_EMAIL, .serial = 1,       \
		       .refresh = 3600, .retry = 300, .expire = 2419200, .minimum = 300,    \
		       .ttl = MODEL_DEFAULT_TTL})

/* E-2: who may update an external server's zone, as Windows Server names it. */
typedef enum model_dynamic_update {
	MODEL_UPDATE_NONE = 0,  /* a file-backed zone (the default) */
	MODEL_UPDATE_NONSECURE, /* anyone may update */
	MODEL_UPDATE_SECURE,    /* only TSIG-signed updates (E-3) */
} model_dynamic_update_t;

/* E-4: aging of an external zone (hours; off by default). */
typedef struct model_aging {
	bool enabled;
	uint32_t no_refresh_hours, refresh_hours;
} model_aging_t;
#define MODEL_AGING_DEFAULT_HOURS 168u /* 7 days, Windows' default for both */
#define MODEL_SCAVENGING_DEFAULT_HOURS 168u
#define MODEL_SCAVENGING_MIN_HOURS 1u
#define MODEL_FORWARDER_TIMEOUT_DEFAULT 3u /* E-1: seconds */

/* A zone: private (with links), public (publicDns) or an external server's. */
typedef struct model_zone {
	model_origin_t origin;
	const char *name; /* canonical */
	const char *id;
	uint8_t name_wire[DNS_NAME_MAXLEN];
	int labels;
	model_soa_t soa; /* Z-2 defaults filled in */
	model_record_set_t *record_sets;
	size_t n_record_sets;
	model_vnet_link_t *links;
	size_t n_links;
	/* external zones only (E-2, E-4, E-5) */
	model_dynamic_update_t dynamic_update;
	model_aging_t aging;
	bool register_ptr;
} model_zone_t;

typedef struct model_vm {
	model_origin_t origin;
	const char *name;
	const char *id;
	const char *vnet_ref;
	int vnet;
	const char *subnet_ref;
	int subnet;
	uint32_t address; /* given, or the first free one of its subnet */
	bool static_address;
} model_vm_t;

typedef struct model_domain_list {
	model_origin_t origin;
	const char *name;
	const char *location;
	const char *id;
	const char **domains; /* canonical */
	size_t n_domains;
} model_domain_list_t;

typedef enum model_action { MODEL_ACTION_ALLOW, MODEL_ACTION_ALERT, MODEL_ACTION_BLOCK } model_action_t;
typedef enum model_block_response {
	MODEL_BLOCK_CNAME,   /* CNAME to blockpolicy.azuredns.invalid. (S-3) */
	MODEL_BLOCK_SERVFAIL,
} model_block_response_t;

typedef struct model_security_rule {
	model_origin_t origin;
	const char *name;
	const char *id;
	int priority;
	model_action_t action;
	model_block_response_t block_response;
	bool enabled;
	const char **list_refs;
	int *lists; /* indices into deployment domain_lists */
	size_t n_lists;
} model_security_rule_t;

/* S-4 [privres]: Enforce (the default) or Audit (Block rules answer normally
 * and are logged as would-block). */
typedef enum model_policy_mode { MODEL_POLICY_ENFORCE, MODEL_POLICY_AUDIT } model_policy_mode_t;

typedef struct model_policy {
	model_origin_t origin;
	const char *name;
	const char *location;
	const char *id;
	model_policy_mode_t mode;
	model_security_rule_t *rules;
	size_t n_rules;
	model_vnet_link_t *links;
	size_t n_links;
} model_policy_t;

/* A conditional forwarder of an external server (like unbound's forward-zone). */
typedef struct model_forwarder {
	model_origin_t origin;
	const char *domain_name; /* canonical; "." forwards everything */
	uint8_t domain_wire[DNS_NAME_MAXLEN];
	model_target_t *targets;
	size_t n_targets;
} model_forwarder_t;

/* E-3: a TSIG key of an external server. */
typedef struct model_tsig_key {
	model_origin_t origin;
	const char *name, *algorithm, *secret;
} model_tsig_key_t;

/* A DNS server outside the cloud (on-premises) that rules may target. */
typedef struct model_external_server {
	model_origin_t origin;
	const char *name;
	uint32_t address;
	uint16_t port;
	model_zone_t *zones;
	size_t n_zones;
	model_forwarder_t *forwarders;
	size_t n_forwarders;
	bool recursion;                   /* E-1: false answers its own zones only */
	uint32_t forwarder_timeout_s;     /* E-1 */
	model_tsig_key_t *tsig_keys;      /* E-3 */
	size_t n_tsig_keys;
	bool scavenging;                  /* E-4 */
	uint32_t scavenging_period_hours; /* E-4: at least MODEL_SCAVENGING_MIN_HOURS */
} model_external_server_t;

typedef struct model_public_dns {
	model_zone_t *zones;
	size_t n_zones;
	model_target_t *upstreams;
	size_t n_upstreams;
} model_public_dns_t;

typedef enum model_listen_mode { MODEL_LISTEN_LOOPBACK, MODEL_LISTEN_VIRTUAL } model_listen_mode_t;

/* "<resolver>/<endpoint>", "azure-dns/<vnet>" or "external/<name>" → host:port */
typedef struct model_listener_map {
	model_origin_t origin;
	const char *listener;
	uint32_t address;
	uint16_t port;
} model_listener_map_t;

/* A virtual address:port → a real loopback address:port (design.md §4). */
typedef struct model_address_map {
	model_origin_t origin;
	uint32_t virtual_address;
	uint16_t virtual_port;
	uint32_t real_address;
	uint16_t real_port;
} model_address_map_t;

/* emulator.tls (W-6, [privres]): the server certificate of every DoT/DoH
 * listener, its key, and the CA client certificates must chain to. Paths as
 * written (relative ones from privresd's working directory). Without it the
 * local CA in the state directory issues each listener's certificate. */
typedef struct model_tls {
	model_origin_t origin;
	const char *certificate; /* required */
	const char *private_key; /* required */
	const char *client_ca;   /* NULL: the local CA verifies client certificates */
} model_tls_t;

/* emulator.encryptedListeners[<listener>] (W-6, [privres]). An address of 0
 * with a port of 0 means "the default": the virtual address and 853 (DoT) or
 * 443 (DoH) in virtual mode, a free loopback port in loopback mode. */
typedef struct model_encrypted_listener {
	model_origin_t origin;
	const char *listener; /* as in emulator.listeners */
	bool dot, doh;        /* which are on */
	uint32_t dot_address, doh_address;
	uint16_t dot_port, doh_port;
	bool plain_dns;       /* UDP and TCP stay on (default true) */
	bool require_client_certificate;
} model_encrypted_listener_t;

#define MODEL_DOT_PORT 853 /* RFC 7858 §3.1 */
#define MODEL_DOH_PORT 443 /* RFC 8484 over HTTPS */

/* emulator.queryLog.format: privres's JSON with the path, or the cloud's
 * DNSQueryLogs record (reference/azure.md §3.6). */
typedef enum { MODEL_QUERY_LOG_PRIVRES = 0, MODEL_QUERY_LOG_AZURE } model_query_log_format_t;

typedef struct model_emulator {
	model_listen_mode_t listen;
	model_listener_map_t *listeners;
	size_t n_listeners;
	model_address_map_t *address_map;
	size_t n_address_map;
	uint16_t base_port;
	uint32_t unresponsive_seconds; /* F-10 */
	int hop_limit;                 /* P-3 */
	const char *state_dir;         /* NULL: no persistence */
	const char *query_log;         /* NULL: off; "-": stdout */
	model_query_log_format_t query_log_format; /* emulator.queryLog.format */
	const char *metrics_listen;    /* emulator.metrics.listen: web/'s host:port, or NULL */
	int workers;                   /* 0: the number of cores */
	uint32_t forward_timeout_ms;   /* one try at one target (F-10) */
	uint32_t query_deadline_ms;    /* a whole forwarded query (F-10) */
	uint32_t tcp_idle_timeout_ms;  /* W-1, RFC 7766 */
	uint32_t cache_entries;        /* per worker; 0 disables the cache */
	const model_tls_t *tls;        /* NULL: the local CA (W-6) */
	model_encrypted_listener_t *encrypted; /* W-6 */
	size_t n_encrypted;
	/* emulator.arm (arm/README.md), read at start: where ARM REST listens
	 * (or NULL), the user's certificate and key files (or NULL: the local
	 * CA's), the one bearer token accepted (or NULL: any well-formed). */
	const char *arm_listen;
	const char *arm_certificate;
	const char *arm_private_key;
	const char *arm_token_file;
	/* emulator.arm.operationSeconds: how long a long-running operation
	 * reports itself in progress ([privres]; 0: done at once). */
	uint32_t arm_operation_ms;
} model_emulator_t;

#define MODEL_DEFAULT_FORWARD_TIMEOUT_MS 800
#define MODEL_DEFAULT_QUERY_DEADLINE_MS 4000
#define MODEL_DEFAULT_TCP_IDLE_TIMEOUT_MS 10000
#define MODEL_DEFAULT_CACHE_ENTRIES 100000

/* The `topology:` section (design.md §8); declared in the topology part of
 * this header. NULL members when the section is absent. */
typedef struct model_topology model_topology_t;

typedef struct deployment deployment_t;

/* The graph. Read-only for everybody but model/. */
struct deployment {
	const char *file; /* source file name, or NULL */
	const char *subscription;
	const char *resource_group;
	const char *location;
	model_vnet_t *vnets;
	size_t n_vnets;
	model_resolver_t *resolvers;
	size_t n_resolvers;
	model_ruleset_t *rulesets;
	size_t n_rulesets;
	model_zone_t *zones; /* private DNS zones */
	size_t n_zones;
	model_vm_t *vms;
	size_t n_vms;
	model_domain_list_t *domain_lists;
	size_t n_domain_lists;
	model_policy_t *policies;
	size_t n_policies;
	model_external_server_t *external_servers;
	size_t n_external_servers;
	model_public_dns_t public_dns;
	model_emulator_t emulator;
	model_limits_t limits;
	model_topology_t *topology; /* NULL without a topology: section */
	bool validated;

	/* private to model/ */
	json_t *doc;
	struct model_marks *marks;
	pr_arena_t *arena;
	pr_map_t *inbound_index; /* address → resolver << 16 | endpoint, once validated */
	/* The arenas this deployment's memory lives in: its own first, then
	 * those of the deployments it shares decoded parts with (refcounted:
	 * deployments are freed by whichever thread reads one last). */
	struct model_kept_arena **kept;
	size_t n_kept;
};

/* ---- Loading ------------------------------------------------------------- */

/*
 * Read a deployment file (YAML; JSON is YAML too) into a document with the
 * position of every node. Returns 0 and *doc (owned), or PR_EPARSE/PR_EIO
 * with diag filled (file:line:column of the syntax error).
 */
typedef struct model_doc model_doc_t;
int model_doc_load_file(const char *path, model_doc_t **doc, pr_diag_t *diag);
/* Same, from text in memory; name is used in messages (may be NULL). */
int model_doc_load_text(const char *text, size_t len, const char *name, model_doc_t **doc,
			pr_diag_t *diag);
/* A document over a JSON value with no positions (API input). The value is
 * copied (deep). */
model_doc_t *model_doc_from_json(const json_t *value, const char *name);
/* The same over value itself, whose reference the document takes. A value
 * may share parts with other documents (model_doc_edit_copy): documents and
 * deployments never modify their JSON. */
model_doc_t *model_doc_adopt(json_t *value, const char *name);
/* The JSON of the document (borrowed). */
const json_t *model_doc_json(const model_doc_t *doc);
void model_doc_destroy(model_doc_t **docp);

/*
 * Decode and validate a document into a deployment: every finding of every
 * rule goes into diag; returns 0 and *out (owned) only when there is none,
 * else the code of the first finding. doc is transferred on success and
 * destroyed on failure (*docp is cleared either way).
 */
int deployment_from_doc(model_doc_t **docp, deployment_t **out, pr_diag_t *diag);

/*
 * Same, for a document that shares JSON nodes with prev's (a change of one
 * resource, model_doc_edit_copy): the parts decoded from a node prev decoded
 * too, in the same context, are prev's (shared, not decoded or checked
 * again), so that a change costs the parts it touches (design.md §3). What is
 * shared: the rules of a ruleset (its forwardingRules node, the same ruleset
 * name), the record sets and SOA of a private zone (its node), the virtual
 * networks (their list node) — each when the limits, the subscription, the
 * resource group and the default location are prev's. Every check across
 * resources runs as for a whole document. Findings and result are those of
 * deployment_from_doc. prev (validated, may be NULL) must outlive the call
 * only; the result keeps what it shares.
 */
int deployment_from_doc_after(const deployment_t *prev, model_doc_t **docp, deployment_t **out,
			      pr_diag_t *diag);

/* Convenience: model_doc_load_file + deployment_from_doc. */
int deployment_load_file(const char *path, deployment_t **out, pr_diag_t *diag);
int deployment_load_text(const char *text, size_t len, const char *name, deployment_t **out,
			 pr_diag_t *diag);

void deployment_destroy(deployment_t **dp);

/* The embedded default deployment (examples/hub-and-spoke.yaml, compiled in). */
const char *model_default_deployment_text(void);
const char *model_default_deployment_name(void);

/* ---- Export ---------------------------------------------------------------- */

/* The deployment as JSON in the cloud's resource shape (new reference, owned):
 * what was given plus what was computed (ids, allocated addresses). */
json_t *deployment_to_json(const deployment_t *d);
/* The deployment's source document (borrowed): exactly what was given. */
const json_t *deployment_source_json(const deployment_t *d);
/* YAML text of any JSON value (owned). */
char *model_json_to_yaml(const json_t *value);

/* ---- Zone content (Z-1, Z-2; model/zone_rules.c) ----------------------------
 * The one home of what a private zone may hold, for the validator and for the
 * zone builder of zones/. Messages are static text; callers put the record
 * set's name and type before them. */

/* A, AAAA, CNAME, MX, PTR, SOA, SRV, TXT (Z-1). */
bool model_zone_type_allowed(uint16_t type);
/* Why a record set of type with n records can't stand at its owner (the apex
 * or below), or NULL: NS anywhere, a type not served, no record, a CNAME at
 * the apex or with more than one record (Z-1); an SOA below the apex or with
 * more than one record (Z-2). *rule gets the rule id. */
const char *model_zone_set_fault(uint16_t type, size_t n, bool apex, const char **rule);
/* Why record sets of types a and b can't share an owner, or NULL: the same
 * type twice (*code PR_EEXIST, Z-1; a second SOA PR_ECONFIG, Z-2) or a CNAME
 * beside other data (PR_ECONFIG, Z-1). */
const char *model_zone_pair_fault(uint16_t a, uint16_t b, const char **rule, int *code);

/* ---- Lookups -------------------------------------------------------------- */

/* The inbound endpoint that listens at addr (host order), or NULL. */
const model_inbound_endpoint_t *deployment_find_inbound_by_address(const deployment_t *d,
								   uint32_t addr,
								   const model_resolver_t **resolver);
const model_external_server_t *deployment_find_external(const deployment_t *d, uint32_t addr,
							uint16_t port);
int deployment_find_vnet(const deployment_t *d, const char *name);
/* The ruleset linked to VNet v, or -1 (L-9: at most one). */
int deployment_ruleset_for_vnet(const deployment_t *d, int vnet);
/* The policy linked to VNet v, or -1 (S-2). */
int deployment_policy_for_vnet(const deployment_t *d, int vnet);
/* Position of a resource's property in its file (line 0 when unknown). */
void deployment_locate(const deployment_t *d, const json_t *node, const char *key, int *line,
		       int *column);

/* ARM-style id of a resource, e.g. model_arm_id(d, "dnsForwardingRulesets/hub-rules/
 * forwardingRules/OnPrem") → "/subscriptions/…/providers/Microsoft.Network/…" (owned). */
char *model_arm_id(const deployment_t *d, const char *type_path);

/* ---- The resource schema (design.md §6a) ---------------------------------- */

/* Every kind of resource privres models, declared once. Plan/diff, the
 * document edits of the API and the journal, the gRPC handlers and privresctl
 * read this table; a surface that needs a switch over kinds has missed it. */
typedef enum model_kind_id {
	MODEL_KIND_VNET,
	MODEL_KIND_SUBNET,
	MODEL_KIND_RESOLVER,
	MODEL_KIND_INBOUND,
	MODEL_KIND_OUTBOUND,
	MODEL_KIND_RULESET,
	MODEL_KIND_RULE,
	MODEL_KIND_RULESET_LINK,
	MODEL_KIND_ZONE,
	MODEL_KIND_RECORD_SET,
	MODEL_KIND_ZONE_LINK,
	MODEL_KIND_DOMAIN_LIST,
	MODEL_KIND_POLICY,
	MODEL_KIND_SECURITY_RULE,
	MODEL_KIND_POLICY_LINK,
	MODEL_KIND_VM,
	MODEL_KIND_EXTERNAL,
	MODEL_KIND_COUNT
} model_kind_id_t;

typedef struct model_kind {
	model_kind_id_t id;
	const char *name;      /* singular: the resource field of API requests ("forwardingRule") */
	const char *key;       /* its collection: in the parent, or at the top of a deployment */
	const char *alias;     /* another name of a top-level collection, or NULL */
	const char *arm_type;  /* "Microsoft.Network/dnsForwardingRulesets/forwardingRules"; a
				* record set's type ends in its record type */
	const char *segment;   /* id segment under the parent; NULL at the top */
	int parent;            /* kind id of the parent, or -1 */
	int rank;              /* creation order: parents and referenced resources first */
	bool keyed_by_type;    /* record sets: (name, type) name one resource */
	bool tracked;          /* an ARM tracked resource: location and tags */
	bool has_metadata;     /* metadata: forwarding rules, ruleset links, record sets */
	const char *immutable; /* the property that can't change after creation, or NULL */
	const char *immutable_rule;
	const char *service;      /* gRPC service of privres.proto, or NULL */
	const char *parent_field; /* the request field naming the parent (child kinds) */
	const char *terraform;    /* the azurerm resource, or NULL */
} model_kind_t;

/* The kind of an id (PR_REQUIRE: id < MODEL_KIND_COUNT). */
const model_kind_t *model_kind(model_kind_id_t id);
/* A kind by its singular name ("forwardingRule"), or NULL. */
const model_kind_t *model_kind_by_name(const char *name);
/* Is key a collection of child resources of kind k ("forwardingRules" of a ruleset)? */
bool model_kind_is_child_key(const model_kind_t *k, const char *key);

/* Is key an output of the resource manager (etag, provisioningState, ...),
 * ignored on input and in plans? */
bool model_key_is_read_only(const char *key);

/* Add the outputs every resource has in the cloud's shape to an exported
 * deployment (deployment_to_json): etag (changes whenever the resource's own
 * properties do) and provisioningState ("Succeeded": a change is applied whole
 * or not at all). For the API's answers and exports. */
void model_annotate_outputs(json_t *doc);
/* The same outputs on one exported resource of kind k and its children. */
void model_annotate_resource_outputs(const model_kind_t *k, json_t *resource);

/* One resource of kind k (named name, of record type type for record sets,
 * under the resource named parent for child kinds) as deployment_to_json
 * writes it, with its child collections for top-level kinds; a new value
 * (owned), or NULL when there is none. Costs the resource, not the deployment. */
json_t *deployment_resource_to_json(const deployment_t *d, const model_kind_t *k,
				    const char *parent, const char *name, const char *type);

/* The resource manager's shapes (model/arm.c), for the ARM surface and
 * privresctl's output. */

/* "/subscriptions/<s>/resourceGroups/<rg>/providers/" of an exported
 * deployment (borrowed; the defaults when it names none). Owned. */
char *model_arm_base(const json_t *all);
/* Resource e (borrowed) of kind k as an ARM GET returns it (owned): {id, name,
 * type, etag, location and tags when tracked, properties{…, provisioningState}},
 * references as {id}. all: the exported, annotated deployment e lives in;
 * parent_id and parent (borrowed; NULL at the top): its parent's id and element. */
json_t *model_arm_resource(const json_t *all, const model_kind_t *k, const char *parent_id,
			   const json_t *parent, const json_t *e);
/* An ARM request body (borrowed) as the resource in the document's shape
 * (owned, in *out) for kind k named name (and of record type type). Computed
 * properties are dropped as the resource manager ignores them; unknown ones
 * stay, for the model to refuse. 0, or PR_EPARSE/PR_ECONFIG with diag. */
int model_arm_to_doc(const model_kind_t *k, const char *name, const char *type, const json_t *body,
		     json_t **out, pr_diag_t *diag);
/* The record array key of a record type ("aRecords"; "soaRecord"), or NULL. */
const char *model_arm_record_key(const char *type);
/* Is key a property the resource manager computes (ignored on input)? */
bool model_arm_is_computed(const char *key);
/* A private zone's SOA record set ("@", type SOA) in the document's shape
 * (owned), from the zone element (borrowed): its soa over the Z-2 defaults. */
json_t *model_arm_soa(const json_t *zone);
/* A PUT of the SOA record set as a change of its zone: *out (owned) is the
 * zone element without its children (kept as they are) and with soa from
 * body's soaRecord and ttl (the host is the cloud's and stays). 0 or
 * PR_ECONFIG with diag. */
int model_arm_soa_to_zone(const json_t *zone, const json_t *body, json_t **out, pr_diag_t *diag);

/* Edits of a deployment document (design.md §5 shape) by kind, shared by every
 * surface that changes one resource and by the journal's replay (design.md §7).
 * Names compare case-insensitively, as the cloud's resource names do. */

/* The collection of kind k in doc (borrowed), under the parent named parent
 * for child kinds. With create, missing collections are added. NULL when the
 * collection does not exist; *err (may be NULL) says PR_ENOTFOUND when it is
 * the parent that does not exist. */
json_t *model_doc_collection(json_t *doc, const model_kind_t *k, const char *parent, bool create,
			     int *err);
/* The element of arr named name (and of record type type when not NULL), its
 * index in *at (may be NULL); NULL when none. */
json_t *model_doc_find(const json_t *arr, const char *name, const char *type, size_t *at);
/* A copy of doc (owned) to edit kind k's collection (under parent) in with
 * model_doc_put or model_doc_remove, leaving doc as it is: only the values on
 * the way to that collection are copied, everything else is shared, so that
 * a change of one resource costs that resource's collection, not the document. */
json_t *model_doc_edit_copy(const json_t *doc, const model_kind_t *k, const char *parent);
/* Put resource res (copied) into doc: a new one is appended, an existing one
 * (same name, same type for record sets) is replaced, keeping its child
 * collections when res does not give them. Returns 0 or PR_ENOTFOUND (no
 * parent), PR_ECONFIG (res has no name). */
int model_doc_put(json_t *doc, const model_kind_t *k, const char *parent, const json_t *res);
/* Remove a resource from doc. Returns 0 or PR_ENOTFOUND. */
int model_doc_remove(json_t *doc, const model_kind_t *k, const char *parent, const char *name,
		     const char *type);

/* ---- Plan and durable state ---- */

/*
 * The changes that turn deployment from (may be NULL: nothing) into to
 * (borrowed, both validated), compared on their JSON form
 * (deployment_to_json) resource by resource, matched by ARM id
 * (case-insensitive, as the cloud's resource names are). A new array (owned)
 * of change objects:
 *   {"action": "create"|"update"|"delete", "type": "Microsoft.Network/...",
 *    "id": ARM id, "name": name,
 *    "changes": [{"property": "targetDnsServers", "from": old, "to": new}, ...],
 *    "immutable": true, "rule": "F-7"}   (only when an immutable property changed)
 * Properties of nested objects are dotted ("soa.ttl"); arrays compare whole.
 * Immutable properties (flagged on the update and on the property change):
 * I-1 an inbound endpoint's privateIpAllocationMethod, F-7 a rule's
 * domainName, N-4 a resolver's virtualNetwork. Order: deletes (children before
 * parents), then updates, then creates (parents before children). Settings
 * outside the cloud's resources (location, emulator, publicDns, limits ...)
 * appear as one resource of type "privres/settings".
 */
json_t *deployment_plan(const deployment_t *from, const deployment_t *to);

/* The same plan for a change of one resource (of kind k named name, of record
 * type type for record sets, under the resource named parent for child kinds)
 * when nothing else differs between from and to: it costs that resource (with
 * its children when it is created or deleted), not the deployment. */
json_t *deployment_plan_change(const deployment_t *from, const deployment_t *to,
			       const model_kind_t *k, const char *parent, const char *name,
			       const char *type);

/* The first immutable change of a plan (borrowed from plan), or NULL. */
const json_t *deployment_plan_first_immutable(const json_t *plan);

#define MODEL_STATE_FILE "deployment.json"
#define MODEL_STATE_FORMAT "privres-state"
#define MODEL_STATE_VERSION 1

/*
 * Write deployment_json (borrowed) durably as <dir>/deployment.json (design.md
 * §7): an envelope {format, version, checksum, deployment} written to a temp
 * file in dir, fsync'ed, renamed over the old file, and dir fsync'ed, so that
 * after a crash the file is either the old or the new state, whole. dir is
 * created (0700) when missing. Returns 0, or a negative errno / PR_EIO with
 * diag naming the file and the failing step.
 */
int model_state_save(const char *dir, const json_t *deployment_json, pr_diag_t *diag);

/*
 * Read <dir>/deployment.json. Returns 0 and *out (owned: the deployment JSON);
 * PR_ENOTFOUND when there is no state (no dir or no file); PR_ECORRUPT with
 * diag saying which file and what is wrong (not JSON at line N, wrong
 * format or version, checksum mismatch); never a half-loaded state. Leftover
 * temp files of an interrupted save are ignored.
 */
int model_state_load(const char *dir, json_t **out, pr_diag_t *diag);

/* The same with the journal's sequence number (design.md §7): the snapshot
 * holds every change up to and including it (0: none counted). */
int model_state_save_at(const char *dir, const json_t *deployment_json, uint64_t sequence,
			pr_diag_t *diag);
int model_state_load_at(const char *dir, json_t **out, uint64_t *sequence, pr_diag_t *diag);

/* The checksum of a deployment JSON as stored in the envelope: FNV-1a 64 of
 * its canonical text (compact, sorted keys), 16 hex digits (owned). */
char *model_state_checksum(const json_t *deployment_json);

/* ---- Topology (design.md §8) ---- */

/*
 * The `topology:` section: where the deployment's outside world lives, so
 * that topology/ can build it on network namespaces. Rules T-1..T-6
 * [privres] are listed in topology/README.md; the validator checks them
 * against the whole graph (VNets, external servers, rulesets).
 *
 *   topology:
 *     onPremisesNetworks:
 *       - name: corp
 *         addressPrefixes: [192.168.10.0/24]
 *         connectedVirtualNetworks: [hub]      # over VPN/ExpressRoute
 *         hosts: [{name: laptop, privateIpAddress: 192.168.10.20}]
 *         dnsServers: [onprem-dns1]            # externalDnsServers placed here
 *
 * The first address after the network address of each prefix is the
 * network's gateway (the fabric's router); like N-2 in a subnet, it and the
 * network and broadcast addresses are reserved (T-3).
 */

/* A network adapter of a host running the client stub (stub/, T-7/T-8):
 * the Windows DNS Client service asks its adapters' DNS servers in the order
 * of their interface metrics. */
#define MODEL_CLIENT_MAX_ADAPTERS 8        /* T-7 */
#define MODEL_CLIENT_MAX_ADAPTER_SERVERS 8 /* T-7 */
#define MODEL_CLIENT_MAX_METRIC 9999       /* T-7: Windows' interface metric range */

typedef struct model_client_adapter {
	model_origin_t origin;
	const char *name;
	uint32_t metric;            /* interfaceMetric, 1..9999; lower is preferred */
	const char *network_ref;    /* `network` as written; NULL: the host's own */
	int network;                /* on-premises network index (T-8), -1 unresolved */
	const char **server_refs;   /* dnsServers as written */
	uint32_t *servers;          /* their addresses, once resolved (T-8) */
	uint16_t *ports;
	size_t n_servers;
	const char *overlay_ref;    /* overlayNetwork: the adapter of an overlay agent (T-10) */
	int overlay;                /* index into topology overlays, -1 none/unresolved */
} model_client_adapter_t;

#define MODEL_OVERLAY_ZONE "enclave" /* an overlay network's names end in it by default */

/* An overlay network (Enclave-style, T-9): systems with ids, hostnames and
 * tags, manual DNS records and the policies that connect systems. */
typedef struct model_overlay_system {
	model_origin_t origin;
	const char *system_id;
	const char *hostname; /* may be NULL */
	const char *host;     /* the topology host it runs on, or NULL */
	uint32_t address;
	const char **tags;
	size_t n_tags;
} model_overlay_system_t;

typedef struct model_overlay_record {
	model_origin_t origin;
	const char *name;
	const char **systems; /* systemIds */
	size_t n_systems;
	const char **tags;
	size_t n_tags;
} model_overlay_record_t;

typedef struct model_overlay_policy {
	model_origin_t origin;
	const char *name;
	const char **senders, **receivers; /* tags or systemIds */
	size_t n_senders, n_receivers;
} model_overlay_policy_t;

typedef struct model_overlay_network {
	model_origin_t origin;
	const char *name;
	const char *zone; /* "enclave" unless given */
	model_overlay_system_t *systems;
	size_t n_systems;
	model_overlay_record_t *records;
	size_t n_records;
	model_overlay_policy_t *policies;
	size_t n_policies;
} model_overlay_network_t;

/* A host of an on-premises network (a namespace of its own in a topology). */
typedef struct model_onprem_host {
	model_origin_t origin;
	const char *name;
	uint32_t address;
	bool dns_client; /* has a dnsClient: the stub runs on the host */
	model_client_adapter_t *adapters;
	size_t n_adapters;
} model_onprem_host_t;

typedef struct model_onprem_network {
	model_origin_t origin;
	const char *name;
	pr_prefix_t *prefixes;
	size_t n_prefixes;
	const char **vnet_refs; /* connectedVirtualNetworks as written */
	int *vnets;             /* indices into deployment vnets; -1 unresolved (T-2) */
	size_t n_vnets;
	model_onprem_host_t *hosts;
	size_t n_hosts;
	const char **dns_server_refs; /* dnsServers as written */
	int *dns_servers;             /* indices into deployment external_servers (T-4) */
	size_t n_dns_servers;
} model_onprem_network_t;

struct model_topology {
	model_origin_t origin;
	model_onprem_network_t *networks;
	size_t n_networks;
	model_overlay_network_t *overlays;
	size_t n_overlays;
};

/* The on-premises network an external server is placed in (T-4), or -1. */
int deployment_topology_network_of_server(const deployment_t *d, int server);
/* Is on-premises network n connected to VNet v (T-2)? */
bool deployment_topology_connects(const deployment_t *d, int network, int vnet);

/* The encrypted-listener settings of listener name (borrowed), or NULL (W-6). */
const model_encrypted_listener_t *model_encrypted_listener(const model_emulator_t *em,
							  const char *name);
