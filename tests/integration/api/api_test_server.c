/*
 * api_test_server: the API server with test handlers, for test_grpcio.py.
 * usage: api_test_server SOCKET TOKEN_FILE MAX_MESSAGE
 * Listens on SOCKET and on 127.0.0.1:<free port>, prints "port N" once ready,
 * and exits 0 on SIGTERM after a clean shutdown (uv_loop_close() == 0).
 *
 * Handlers: DnsResolverService/Get answers a resolver named as asked
 * ("slow" sleeps 500 ms, "missing" is NOT_FOUND); DnsResolverService/List
 * answers the names of the calls served so far.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_p.h"
#include "api/privres.pb-c.h"
#include "base/base.h"

static uv_signal_t sigterm;
static api_server_t *server;
static unsigned served;

static int get_resolver(void *ctx, const ProtobufCMessage *req, ProtobufCMessage **resp,
			api_status_t *status)
{
	const Privres__V1__GetDnsResolverRequest *r = (const void *)req;

	if (strcmp(r->name, "missing") == 0)
		return api_status_set(status, API_STATUS_NOT_FOUND,
				      "ResourceNotFound: dnsResolvers[missing] does not exist");
	if (strcmp(r->name, "slow") == 0)
		usleep(500 * 1000);
	served++;
	Privres__V1__DnsResolver *d = pr_malloc(sizeof(*d));
	privres__v1__dns_resolver__init(d);
	d->name = pr_strdup(r->name);
	d->location = pr_strdup("eastus");
	d->id = pr_asprintf("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
			    "privres/providers/Microsoft.Network/dnsResolvers/%s",
			    r->name);
	*resp = &d->base;
	return 0;
}

static int list_resolvers(void *ctx, const ProtobufCMessage *req, ProtobufCMessage **resp,
			  api_status_t *status)
{
	Privres__V1__ListDnsResolversResponse *l = pr_malloc(sizeof(*l));
	privres__v1__list_dns_resolvers_response__init(l);
	l->n_value = 1;
	l->value = pr_calloc(1, sizeof(*l->value));
	l->value[0] = pr_malloc(sizeof(Privres__V1__DnsResolver));
	privres__v1__dns_resolver__init(l->value[0]);
	l->value[0]->name = pr_asprintf("served-%u", served);
	*resp = &l->base;
	return 0;
}

static void on_sigterm(uv_signal_t *s, int signum)
{
	api_server_close(&server);
	uv_close((uv_handle_t *)s, NULL);
}

int main(int argc, char **argv)
{
	uv_loop_t loop;
	char *why = NULL;

	if (argc != 4) {
		fprintf(stderr, "usage: api_test_server SOCKET TOKEN_FILE MAX_MESSAGE\n");
		return 2;
	}
	uv_loop_init(&loop);
	api_registry_t *reg = api_registry_new();
	api_registry_add(reg, "/privres.v1.DnsResolverService/Get",
			 &privres__v1__get_dns_resolver_request__descriptor,
			 &privres__v1__dns_resolver__descriptor, get_resolver, NULL);
	api_registry_add(reg, "/privres.v1.DnsResolverService/List",
			 &privres__v1__list_dns_resolvers_request__descriptor,
			 &privres__v1__list_dns_resolvers_response__descriptor, list_resolvers, NULL);
	api_server_options_t opts = {
		.unix_path = argv[1],
		.tcp_address = "127.0.0.1:0",
		.token_file = argv[2],
		.max_message_size = (size_t)strtoul(argv[3], NULL, 10),
	};
	if (api_server_start(&loop, &opts, reg, &server, &why) != 0) {
		fprintf(stderr, "api_test_server: %s\n", why);
		free(why);
		return 1;
	}
	uv_signal_init(&loop, &sigterm);
	uv_signal_start(&sigterm, on_sigterm, SIGTERM);
	printf("port %d\n", api_server_tcp_port(server));
	fflush(stdout);
	uv_run(&loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(&loop) == 0 ? 0 : 1;
	api_registry_destroy(&reg);
	return rc;
}
