/* HTTPS for the ARM surface: the server, its queue of requests for the
 * control thread (uv_async), and HTTP/1.1 by libmicrohttpd (TLS over GnuTLS)
 * on its own threads, given its connections by the front (front.c, which
 * keeps HTTP/2 for itself). A libmicrohttpd thread waits for its answer; the
 * front is called back. So every change runs where the control lives
 * (control.h: everything on the control thread).
 *
 * Bad input is the library's to frame (malformed HTTP, slow clients: the
 * connection timeout) and ours to answer: bodies over ARM_MAX_BODY are 413
 * before they are read whole. */
#include <arpa/inet.h>
#include <errno.h>
#include <unistd.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arm/arm_p.h"
#include "tls/tls.h"

#define ARM_THREADS 4
#define ARM_CONNECTION_LIMIT 4096
#define ARM_CONNECTION_TIMEOUT_S 30

/* One request being read: the raw URI (MHD unescapes what it hands on) and
 * the body so far. */
typedef struct pending {
	char *uri;
	pr_buf_t body;
	bool headers_seen;
	bool too_big;
} pending_t;

struct arm_server {
	uv_async_t async; /* first: the close callback frees the server */
	struct MHD_Daemon *mhd;
	arm_t *arm;
	pthread_mutex_t mu;
	arm_job_t *head, *tail; /* queued for the control thread */
	arm_front_t *front;
	bool closing;
	uint16_t port;
	char *ca_file;
	char *cert_pem, *key_pem; /* MHD keeps pointers to them */
};

/* ---- the control thread ----------------------------------------------------------- */

static void drain(uv_async_t *h)
{
	arm_server_t *s = h->data;
	pthread_mutex_lock(&s->mu);
	arm_job_t *j = s->head;
	s->head = s->tail = NULL;
	pthread_mutex_unlock(&s->mu);
	while (j) {
		arm_job_t *next = j->next;
		arm_handle(s->arm, j->rq, &j->rs);
		j->done(j);
		j = next;
	}
}

void arm_server_run(arm_server_t *s, arm_job_t *j)
{
	memset(&j->rs, 0, sizeof(j->rs));
	j->next = NULL;
	pthread_mutex_lock(&s->mu);
	bool ok = !s->closing;
	if (ok) {
		if (s->tail)
			s->tail->next = j;
		else
			s->head = j;
		s->tail = j;
		uv_async_send(&s->async);
	}
	pthread_mutex_unlock(&s->mu);
	if (!ok)
		j->done(j);
}

/* A request of one of libmicrohttpd's threads, which waits for its answer. */
typedef struct waiting {
	arm_job_t job; /* first */
	arm_server_t *s;
	pthread_cond_t cond;
	bool done;
} waiting_t;

static void wake(arm_job_t *j)
{
	waiting_t *w = (waiting_t *)j;
	pthread_mutex_lock(&w->s->mu);
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->s->mu);
}

/* Run rq on the control thread; false when the server is closing. */
static bool run_on_control(arm_server_t *s, const arm_request_t *rq, arm_response_t *rs)
{
	waiting_t w = {.job = {.rq = rq, .done = wake}, .s = s};
	pthread_cond_init(&w.cond, NULL);
	arm_server_run(s, &w.job);
	pthread_mutex_lock(&s->mu);
	while (!w.done)
		pthread_cond_wait(&w.cond, &s->mu);
	pthread_mutex_unlock(&s->mu);
	pthread_cond_destroy(&w.cond);
	*rs = w.job.rs;
	return rs->status != 0;
}

/* ---- the server's threads ------------------------------------------------------------- */

static enum MHD_Result send_response(struct MHD_Connection *c, const arm_response_t *rs)
{
	const char *body = rs->body ? rs->body : "";
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	arm_header_t hd[ARM_RESPONSE_HEADERS];
	char ra[16];
	size_t n = arm_response_headers(rs, hd, ra);
	for (size_t i = 0; i < n; i++)
		MHD_add_response_header(r, hd[i].name, hd[i].value);
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)rs->status, r);
	MHD_destroy_response(r);
	return ret;
}

size_t arm_response_headers(const arm_response_t *rs, arm_header_t *out, char ra[16])
{
	size_t n = 0;
	if (rs->body)
		out[n++] = (arm_header_t){"Content-Type", "application/json; charset=utf-8"};
	if (rs->async_operation)
		out[n++] = (arm_header_t){"Azure-AsyncOperation", rs->async_operation};
	if (rs->location)
		out[n++] = (arm_header_t){"Location", rs->location};
	if (rs->async_operation || rs->location || rs->retry_after) {
		snprintf(ra, 16, "%u", rs->retry_after);
		out[n++] = (arm_header_t){"Retry-After", ra};
	}
	if (rs->request_id) {
		out[n++] = (arm_header_t){"x-ms-request-id", rs->request_id};
		out[n++] = (arm_header_t){"x-ms-correlation-request-id", rs->request_id};
	}
	return n;
}

void arm_response_error(arm_response_t *rs, int status, const char *code, const char *message)
{
	json_t *e = json_pack("{s:{s:s, s:s, s:[]}}", "error", "code", code, "message", message,
			      "details");
	*rs = (arm_response_t){.status = status, .body = json_dumps(e, JSON_COMPACT)};
	json_decref(e);
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status, const char *code,
				  const char *message)
{
	arm_response_t rs;
	arm_response_error(&rs, status, code, message);
	enum MHD_Result ret = send_response(c, &rs);
	arm_response_clear(&rs);
	return ret;
}

static const char *header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static const char *arg(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result serve(arm_server_t *s, struct MHD_Connection *c, const char *method,
			     pending_t *p)
{
	char *path = pr_strndup(p->uri, strcspn(p->uri, "?"));
	const char *skip = arg(c, "$skipToken");
	arm_request_t rq = {
		.method = method,
		.path = path,
		.api_version = arg(c, "api-version"),
		.top = arg(c, "$top"),
		.skip_token = skip ? skip : arg(c, "$skiptoken"),
		.authorization = header(c, "Authorization"),
		.if_match = header(c, "If-Match"),
		.if_none_match = header(c, "If-None-Match"),
		.host = header(c, "Host"),
		.body = p->body.data,
		.body_len = p->body.len,
	};
	arm_response_t rs;
	enum MHD_Result ret;
	if (run_on_control(s, &rq, &rs))
		ret = send_response(c, &rs);
	else
		ret = send_error(c, 503, "ServiceUnavailable", "privresd is stopping.");
	arm_response_clear(&rs);
	free(path);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	arm_server_t *s = cls;
	pending_t *p = *con_cls;
	if (!p)
		return MHD_NO; /* the URI callback always gives one */
	if (!p->headers_seen) {
		/* the headers: refuse a body announced too big before reading it */
		const char *len = header(c, "Content-Length");
		p->headers_seen = true;
		if (len && strtoull(len, NULL, 10) > ARM_MAX_BODY)
			return send_error(c, 413, "RequestEntityTooLarge", ARM_TOO_LARGE);
		return MHD_YES;
	}
	if (*data_size) {
		if (p->body.len + *data_size > ARM_MAX_BODY)
			p->too_big = true;
		else if (!p->too_big)
			pr_buf_append(&p->body, data, *data_size);
		*data_size = 0;
		return MHD_YES;
	}
	if (p->too_big)
		return send_error(c, 413, "RequestEntityTooLarge", ARM_TOO_LARGE);
	return serve(s, c, method, p);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	pending_t *p = pr_calloc(1, sizeof(*p));
	p->uri = pr_strdup(uri ? uri : "/");
	return p;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	pending_t *p = *con_cls;
	if (!p)
		return;
	free(p->uri);
	pr_buf_free(&p->body);
	free(p);
	*con_cls = NULL;
}

/* ---- start and stop -------------------------------------------------------------------- */

/* The server certificate: the user's, or one the local CA of dir issues. */
static int credentials(arm_server_t *s, const arm_server_options_t *o, char **why)
{
	if (o->cert_file || o->key_file) {
		if (!o->cert_file || !o->key_file) {
			*why = pr_strdup("a certificate needs its private key, and a key its "
					 "certificate");
			return -EINVAL;
		}
		size_t len;
		if (pr_read_file(o->cert_file, &s->cert_pem, &len) != 0 ||
		    pr_read_file(o->key_file, &s->key_pem, &len) != 0) {
			*why = pr_asprintf("can't read %s or %s", o->cert_file, o->key_file);
			return PR_EIO;
		}
		return 0;
	}
	tls_ca_t *ca = NULL;
	pr_diag_t *diag = pr_diag_new();
	int rc = tls_ca_open(o->tls_dir, &ca, diag);
	if (rc != 0) {
		char *text = pr_diag_format(diag);
		*why = pr_asprintf("the local CA in %s: %s", o->tls_dir,
				   text && *text ? text : pr_strerror(rc));
		free(text);
		pr_diag_destroy(&diag);
		return rc;
	}
	pr_diag_destroy(&diag);
	static const char *const names[] = {"localhost", "management.privres.local"};
	const uint32_t loopback = INADDR_LOOPBACK;
	tls_issue_t req = {.common_name = "management.privres.local", .dns_names = names,
			   .n_dns_names = 2, .ip_addresses = &loopback, .n_ip_addresses = 1};
	rc = tls_ca_issue(ca, &req, &s->cert_pem, &s->key_pem);
	if (rc != 0)
		*why = pr_asprintf("issuing the server certificate: %s", pr_strerror(rc));
	tls_ca_destroy(&ca);
	s->ca_file = rc == 0 ? pr_asprintf("%s/%s", o->tls_dir, TLS_CA_CERT_FILE) : NULL;
	return rc;
}

/* "ADDRESS:PORT"; port 0 asks for any free one (tests). */
static int parse_listen(const char *text, struct sockaddr_in *sa, char **why)
{
	uint32_t a = 0;
	const char *colon = text ? strrchr(text, ':') : NULL;
	char *host = colon ? pr_strndup(text, (size_t)(colon - text)) : NULL;
	char *end = NULL;
	long port = colon ? strtol(colon + 1, &end, 10) : -1;
	bool ok = host && pr_ipv4_parse(host, &a) == 0 && colon[1] && !*end && port >= 0 &&
		  port <= 65535;
	free(host);
	if (!ok) {
		*why = pr_asprintf("'%s' is not ADDRESS:PORT (e.g. 127.0.0.1:8443)",
				   text ? text : "");
		return -EINVAL;
	}
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(a);
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

static int read_token(const char *file, char **token, char **why)
{
	char *text = NULL;
	size_t len;
	if (!file)
		return 0;
	if (pr_read_file(file, &text, &len) != 0) {
		*why = pr_asprintf("can't read the token file %s", file);
		return PR_EIO;
	}
	text[strcspn(text, "\r\n")] = '\0';
	if (!*text) {
		free(text);
		*why = pr_asprintf("the token file %s is empty", file);
		return -EINVAL;
	}
	*token = text;
	return 0;
}

static void on_closed(uv_handle_t *h);

/* A listening TCP socket on sa; its port into *port. The fd or -errno. */
static int listen_on(const struct sockaddr_in *sa, uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in bound;
	socklen_t len = sizeof(bound);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0 || listen(fd, 1024) != 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &len) != 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	*port = ntohs(bound.sin_port);
	return fd;
}

void arm_server_http1(arm_server_t *s, int fd, const struct sockaddr *sa, socklen_t len)
{
	/* the library closes fd when it can't take it */
	MHD_add_connection(s->mhd, fd, sa, len);
}

int arm_server_start(uv_loop_t *loop, control_t *control, const arm_server_options_t *o,
		     arm_server_t **out, char **why)
{
	struct sockaddr_in sa;
	char *token = NULL;
	int rc = parse_listen(o->listen, &sa, why);
	if (rc == 0)
		rc = read_token(o->token_file, &token, why);
	if (rc != 0)
		return rc;
	arm_server_t *s = pr_calloc(1, sizeof(*s));
	arm_settings_t set = {.token = token, .operation_ms = o->operation_ms};
	arm_new(control, &set, &s->arm);
	free(token);
	pthread_mutex_init(&s->mu, NULL);
	if ((rc = credentials(s, o, why)) != 0)
		goto fail;
	/* libmicrohttpd takes connections from the front, which owns the socket */
	s->mhd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_TLS |
			MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC,
		0, NULL, NULL, on_request, s, MHD_OPTION_HTTPS_MEM_CERT, s->cert_pem,
		MHD_OPTION_HTTPS_MEM_KEY, s->key_pem, MHD_OPTION_THREAD_POOL_SIZE,
		(unsigned)ARM_THREADS, MHD_OPTION_CONNECTION_LIMIT, (unsigned)ARM_CONNECTION_LIMIT,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ARM_CONNECTION_TIMEOUT_S,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
		s, MHD_OPTION_END);
	if (!s->mhd) {
		*why = pr_strdup("can't start the HTTPS server (TLS setup failed)");
		rc = PR_EIO;
		goto fail;
	}
	int fd = listen_on(&sa, &s->port);
	if (fd < 0) {
		*why = pr_asprintf("can't listen on %s: %s", o->listen, strerror(-fd));
		rc = PR_EIO;
		goto fail;
	}
	uv_async_init(loop, &s->async, drain);
	s->async.data = s;
	if ((rc = arm_front_start(s, fd, s->cert_pem, s->key_pem, &s->front, why)) != 0) {
		/* nothing was queued: end as arm_server_close() does */
		MHD_stop_daemon(s->mhd);
		arm_destroy(&s->arm);
		uv_close((uv_handle_t *)&s->async, on_closed);
		return rc;
	}
	*out = s;
	return 0;
fail:
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	arm_destroy(&s->arm);
	pthread_mutex_destroy(&s->mu);
	free(s->cert_pem);
	free(s->key_pem);
	free(s->ca_file);
	free(s);
	return rc;
}

uint16_t arm_server_port(const arm_server_t *s)
{
	return s->port;
}

const char *arm_server_ca_file(const arm_server_t *s)
{
	return s->ca_file;
}

static void on_closed(uv_handle_t *h)
{
	arm_server_t *s = h->data;
	pthread_mutex_destroy(&s->mu);
	free(s->cert_pem);
	free(s->key_pem);
	free(s->ca_file);
	free(s);
}

void arm_server_close(arm_server_t **sp)
{
	if (!sp || !*sp)
		return;
	arm_server_t *s = *sp;
	*sp = NULL;
	/* answer what waits for this thread, so that the other threads end */
	pthread_mutex_lock(&s->mu);
	s->closing = true;
	arm_job_t *j = s->head;
	s->head = s->tail = NULL;
	pthread_mutex_unlock(&s->mu);
	while (j) {
		arm_job_t *next = j->next;
		j->done(j);
		j = next;
	}
	arm_front_stop(&s->front);
	MHD_stop_daemon(s->mhd);
	arm_destroy(&s->arm);
	uv_close((uv_handle_t *)&s->async, on_closed);
}
