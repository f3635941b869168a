/*
 * The gRPC server and client together, in one process: the server's loop runs
 * on a thread, the blocking client calls it over a Unix socket and a loopback
 * TCP port (design.md §6). Every test ends with uv_loop_close() == 0
 * (style.md §10).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* the library allocates with the C allocator; tests free with it too */
#undef malloc
#undef calloc
#undef realloc
#undef free

#include "api/api_p.h"
#include "api/privres.pb-c.h"
#include "base/base.h"

#define TOKEN "s3cret-token"
#define GET_RESOLVER "/privres.v1.DnsResolverService/Get"

typedef struct fixture {
	uv_loop_t loop;
	uv_async_t stop;
	pthread_t thread;
	api_registry_t *reg;
	api_server_t *srv;
	char dir[64];
	char sock[128];
	char token_file[128];
	char tcp[32];
	int handled;
} fixture_t;

/* The test handler: a DnsResolver named after the request; "slow" takes
 * 300 ms, "missing" fails with a message that needs percent-encoding. */
static int get_resolver(void *ctx, const ProtobufCMessage *req, ProtobufCMessage **resp,
			api_status_t *status)
{
	fixture_t *f = ctx;
	const Privres__V1__GetDnsResolverRequest *r = (const void *)req;

	f->handled++;
	if (strcmp(r->name, "missing") == 0)
		return api_status_set(status, API_STATUS_NOT_FOUND,
				      "ResourceNotFound: dnsResolvers[missing] 100%% absent\n(Q-1)");
	if (strcmp(r->name, "slow") == 0)
		usleep(300 * 1000);
	Privres__V1__DnsResolver *d = malloc(sizeof(*d));
	privres__v1__dns_resolver__init(d);
	d->name = strdup(r->name);
	d->location = strdup("eastus");
	*resp = &d->base;
	return 0;
}

static void on_stop(uv_async_t *a)
{
	fixture_t *f = a->data;
	api_server_close(&f->srv);
	uv_close((uv_handle_t *)a, NULL);
}

static void *loop_thread(void *arg)
{
	fixture_t *f = arg;
	uv_run(&f->loop, UV_RUN_DEFAULT);
	return NULL;
}

static int setup(void **state)
{
	fixture_t *f = calloc(1, sizeof(*f));
	char *why = NULL;

	snprintf(f->dir, sizeof(f->dir), "/tmp/privres-api-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/privres.sock", f->dir);
	snprintf(f->token_file, sizeof(f->token_file), "%s/token", f->dir);
	FILE *tf = fopen(f->token_file, "w");
	fputs(TOKEN "\n", tf);
	fclose(tf);

	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->reg = api_registry_new();
	assert_int_equal(api_registry_add(f->reg, GET_RESOLVER,
					  &privres__v1__get_dns_resolver_request__descriptor,
					  &privres__v1__dns_resolver__descriptor, get_resolver, f),
			 0);
	api_server_options_t opts = {
		.unix_path = f->sock,
		.tcp_address = "127.0.0.1:0",
		.token_file = f->token_file,
		.max_message_size = 1024,
	};
	int ret = api_server_start(&f->loop, &opts, f->reg, &f->srv, &why);
	if (ret != 0)
		fail_msg("start: %s", why);
	snprintf(f->tcp, sizeof(f->tcp), "127.0.0.1:%d", api_server_tcp_port(f->srv));
	uv_async_init(&f->loop, &f->stop, on_stop);
	f->stop.data = f;
	pthread_create(&f->thread, NULL, loop_thread, f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;

	uv_async_send(&f->stop);
	pthread_join(f->thread, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	/* the socket file goes with the server */
	assert_int_not_equal(access(f->sock, F_OK), 0);
	api_registry_destroy(&f->reg);
	unlink(f->token_file);
	rmdir(f->dir);
	free(f);
	return 0;
}

static json_t *call(fixture_t *f, bool tcp, const char *token, const char *json,
		    api_status_t *st)
{
	api_client_target_t t = {.token = token, .wait_ms = 5000};
	json_t *req = json_loads(json, 0, NULL);
	json_t *resp = NULL;

	if (tcp)
		t.tcp_address = f->tcp;
	else
		t.unix_path = f->sock;
	assert_int_equal(api_client_call_json(&t, GET_RESOLVER, req, &resp, st), 0);
	json_decref(req);
	return resp;
}

static void test_server_unary_call_unix_and_tcp(void **state)
{
	fixture_t *f = *state;
	api_status_t st;

	json_t *r = call(f, false, NULL, "{\"name\": \"hub-resolver\"}", &st);
	assert_int_equal(st.code, API_STATUS_OK);
	assert_string_equal(json_string_value(json_object_get(r, "name")), "hub-resolver");
	assert_string_equal(json_string_value(json_object_get(r, "location")), "eastus");
	json_decref(r);

	r = call(f, true, TOKEN, "{\"name\": \"over-tcp\"}", &st);
	assert_int_equal(st.code, API_STATUS_OK);
	assert_string_equal(json_string_value(json_object_get(r, "name")), "over-tcp");
	json_decref(r);

	/* an empty request message (all defaults) is a valid call */
	r = call(f, false, NULL, "{}", &st);
	assert_int_equal(st.code, API_STATUS_OK);
	json_decref(r);
	assert_int_equal(f->handled, 3);
}

/* TCP needs the bearer token from the token file; the socket does not. */
static void test_server_tcp_token_required(void **state)
{
	fixture_t *f = *state;
	api_status_t st;

	assert_null(call(f, true, NULL, "{\"name\": \"x\"}", &st));
	assert_int_equal(st.code, API_STATUS_UNAUTHENTICATED);
	assert_null(call(f, true, "wrong-token", "{\"name\": \"x\"}", &st));
	assert_int_equal(st.code, API_STATUS_UNAUTHENTICATED);
	assert_string_equal(st.message, "invalid bearer token");
	assert_null(call(f, true, TOKEN "x", "{\"name\": \"x\"}", &st));
	assert_int_equal(st.code, API_STATUS_UNAUTHENTICATED);
	assert_int_equal(f->handled, 0);
}

/* A handler's status and its message come back intact (percent-encoded on the
 * wire). */
static void test_server_error_status_and_message(void **state)
{
	fixture_t *f = *state;
	api_status_t st;

	assert_null(call(f, false, NULL, "{\"name\": \"missing\"}", &st));
	assert_int_equal(st.code, API_STATUS_NOT_FOUND);
	assert_string_equal(st.message,
			    "ResourceNotFound: dnsResolvers[missing] 100% absent\n(Q-1)");
	assert_int_equal(api_exit_code_for_status(st.code), 1);
}

static void raw_call(fixture_t *f, const char *path, const uint8_t *req, size_t len,
		     api_status_t *st)
{
	api_client_target_t t = {.unix_path = f->sock, .wait_ms = 5000};
	uint8_t *resp = NULL;
	size_t resp_len = 0;

	assert_int_equal(api_client_call(&t, path, req, len, &resp, &resp_len, st), 0);
	free(resp);
}

static void test_server_unknown_method_unimplemented(void **state)
{
	fixture_t *f = *state;
	api_status_t st;

	raw_call(f, "/privres.v1.Nope/Get", NULL, 0, &st);
	assert_int_equal(st.code, API_STATUS_UNIMPLEMENTED);
	assert_string_equal(st.message, "unknown method /privres.v1.Nope/Get");
	/* in the schema but not registered */
	raw_call(f, "/privres.v1.DnsResolverService/List", NULL, 0, &st);
	assert_int_equal(st.code, API_STATUS_UNIMPLEMENTED);
}

static void test_server_malformed_and_oversized(void **state)
{
	fixture_t *f = *state;
	api_status_t st;
	static const uint8_t garbage[] = {0x0a, 0x7f, 'x'}; /* a string field longer than the data */

	raw_call(f, GET_RESOLVER, garbage, sizeof(garbage), &st);
	assert_int_equal(st.code, API_STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "malformed privres.v1.GetDnsResolverRequest"));

	/* the fixture allows 1024 bytes */
	char big[2100];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	char *json = pr_asprintf("{\"name\": \"%s\"}", big);
	assert_null(call(f, false, NULL, json, &st));
	free(json);
	assert_int_equal(st.code, API_STATUS_RESOURCE_EXHAUSTED);
	assert_int_equal(f->handled, 0);

	/* the connection-level state is not damaged: the next call works */
	json_t *r = call(f, false, NULL, "{\"name\": \"after\"}", &st);
	assert_int_equal(st.code, API_STATUS_OK);
	json_decref(r);
}

/* grpc-timeout is honoured by the server: the handler runs past it, the server
 * answers DEADLINE_EXCEEDED (not the client's own wait). */
static void test_server_deadline_exceeded(void **state)
{
	fixture_t *f = *state;
	api_status_t st;
	api_client_target_t t = {.unix_path = f->sock, .timeout_ms = 50, .wait_ms = 5000};
	json_t *req = json_pack("{s:s}", "name", "slow");
	json_t *resp = NULL;

	assert_int_equal(api_client_call_json(&t, GET_RESOLVER, req, &resp, &st), 0);
	json_decref(req);
	assert_null(resp);
	assert_int_equal(st.code, API_STATUS_DEADLINE_EXCEEDED);
	assert_string_equal(st.message, "deadline exceeded");
	assert_int_equal(f->handled, 1);
}

static void test_client_unreachable(void **state)
{
	fixture_t *f = *state;
	api_status_t st;
	api_client_target_t t = {.unix_path = "/nonexistent/privres.sock"};
	uint8_t *resp = NULL;
	size_t len = 0;

	assert_int_equal(api_client_call(&t, GET_RESOLVER, NULL, 0, &resp, &len, &st), 0);
	assert_int_equal(st.code, API_STATUS_UNAVAILABLE);
	assert_int_equal(api_exit_code_for_status(st.code), 3);
	/* only loopback addresses are ever contacted */
	t = (api_client_target_t){.tcp_address = "10.0.0.1:53"};
	assert_int_equal(api_client_call(&t, GET_RESOLVER, NULL, 0, &resp, &len, &st), 0);
	assert_int_equal(st.code, API_STATUS_UNAVAILABLE);
	assert_non_null(strstr(st.message, "loopback"));
	(void)f;
}

/* Start-up: a stale socket file is replaced, a live one or a non-socket is
 * refused; TCP without a token file and non-loopback addresses are refused. */
static void test_server_start_checks(void **state)
{
	fixture_t *f = *state;
	uv_loop_t loop;
	api_server_t *srv = NULL;
	char *why = NULL;
	char path[160];

	assert_int_equal(uv_loop_init(&loop), 0);
	/* live: the fixture's server listens on f->sock */
	api_server_options_t o = {.unix_path = f->sock};
	assert_int_equal(api_server_start(&loop, &o, f->reg, &srv, &why), PR_EIO);
	assert_null(srv);
	assert_non_null(strstr(why, "another server"));
	free(why);
	why = NULL;

	/* stale: a bound socket with nobody listening */
	snprintf(path, sizeof(path), "%s/stale.sock", f->dir);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	o.unix_path = path;
	assert_int_equal(api_server_start(&loop, &o, f->reg, &srv, &why), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	api_server_close(&srv);
	assert_null(srv);

	/* not a socket: never deleted */
	FILE *file = fopen(path, "w");
	fclose(file);
	assert_int_equal(api_server_start(&loop, &o, f->reg, &srv, &why), PR_EIO);
	free(why);
	why = NULL;
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);

	o = (api_server_options_t){.tcp_address = "127.0.0.1:0"};
	assert_int_equal(api_server_start(&loop, &o, f->reg, &srv, &why), PR_ECONFIG);
	free(why);
	why = NULL;
	o = (api_server_options_t){.tcp_address = "0.0.0.0:0", .token_file = f->token_file};
	assert_int_equal(api_server_start(&loop, &o, f->reg, &srv, &why), PR_ECONFIG);
	free(why);
	why = NULL;
	o = (api_server_options_t){.tcp_address = "127.0.0.1:0", .token_file = "/nonexistent"};
	assert_int_equal(api_server_start(&loop, &o, f->reg, &srv, &why), PR_EIO);
	free(why);

	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	/* The server writes with write(2) through libuv: a peer that closes early
	 * must not kill the process (privresd ignores SIGPIPE too). */
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_server_unary_call_unix_and_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_tcp_token_required, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_error_status_and_message, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_server_unknown_method_unimplemented, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_server_malformed_and_oversized, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_server_deadline_exceeded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_unreachable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_start_checks, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
