/* The HTTP server (libmicrohttpd) and its routes. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "dns/dns.h"
#include "resolve/resolve.h"
#include "web/web_p.h"

#define STREAM_LINES 512     /* recent query-log lines kept for the live stream */
#define STREAM_KEEPALIVE_S 10 /* an SSE comment when nothing happened */

struct web {
	struct MHD_Daemon *mhd;
	web_sources_t src;
	uint16_t port;
	_Atomic bool deployment, listeners, api;
	_Atomic unsigned watchers; /* open live streams */
	pthread_mutex_t lock; /* what the control thread publishes, and the stream */
	pthread_cond_t more;  /* a stream line arrived, or stopping */
	bool stopping;
	resolve_snapshot_t *snap;
	json_t *estate;
	json_t *findings; /* of the last refused change, or NULL */
	uint64_t generation, when_ms;
	char *lines[STREAM_LINES];
	uint64_t next_line; /* sequence of the next line; lines[seq % STREAM_LINES] */
};

/* ---- responses ----------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
			     char *body, size_t len)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	enum MHD_Result ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
	char *body = pr_strdup(text);
	return reply(c, status, "text/plain; charset=utf-8", body, strlen(body));
}

/* Takes j. */
static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
	char *body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return reply(c, status, "application/json", body, strlen(body));
}

/* ---- /metrics, /healthz, /readyz -------------------------------------------- */

static void own_metrics(web_t *w, web_text_t *t)
{
	pthread_mutex_lock(&w->lock);
	uint64_t generation = w->generation, when_ms = w->when_ms;
	pthread_mutex_unlock(&w->lock);
	web_metric_family(t, "privres_snapshot_generation", WEB_GAUGE, NULL,
			  "Deployments published since start (start-up, reloads, API changes).");
	web_metric_u64(t, "privres_snapshot_generation", "", NULL, generation);
	web_metric_family(t, "privres_last_change_timestamp_seconds", WEB_GAUGE, "seconds",
			  "When the serving deployment was published (Unix time).");
	web_metric_double(t, "privres_last_change_timestamp_seconds", "", NULL,
			  (double)when_ms / 1000.0);
	web_metric_family(t, "privres_ready", WEB_GAUGE, NULL,
			  "1 when a deployment is served, the listeners bound, the API answering.");
	bool ready = atomic_load(&w->deployment) && atomic_load(&w->listeners) &&
		     atomic_load(&w->api);
	web_metric_u64(t, "privres_ready", "", NULL, ready ? 1 : 0);
	web_metric_family(t, "privres_web_streams", WEB_GAUGE, NULL,
			  "Live views streaming the query log now.");
	web_metric_u64(t, "privres_web_streams", "", NULL, atomic_load(&w->watchers));
}

static enum MHD_Result serve_metrics(web_t *w, struct MHD_Connection *c)
{
	/* OpenMetrics for a scraper that asks for it (Prometheus does), else the
	 * Prometheus text format. */
	const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
	web_text_t t = {.openmetrics = accept && strstr(accept, "application/openmetrics-text")};
	if (w->src.metrics)
		w->src.metrics(w->src.ctx, &t);
	own_metrics(w, &t);
	if (t.openmetrics)
		web_text_printf(&t, "# EOF\n");
	return reply(c, MHD_HTTP_OK,
		     t.openmetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
				   : "text/plain; version=0.0.4; charset=utf-8",
		     t.p, t.len);
}

static enum MHD_Result serve_readyz(web_t *w, struct MHD_Connection *c)
{
	web_text_t t = {0};
	if (!atomic_load(&w->deployment))
		web_text_printf(&t, "no deployment applied yet\n");
	if (!atomic_load(&w->listeners))
		web_text_printf(&t, "listeners not bound yet\n");
	if (!atomic_load(&w->api))
		web_text_printf(&t, "management API not answering yet\n");
	if (!t.len) {
		web_text_printf(&t, "ready\n");
		return reply(c, MHD_HTTP_OK, "text/plain; charset=utf-8", t.p, t.len);
	}
	return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", t.p, t.len);
}

/* ---- the view's JSON ---------------------------------------------------------- */

static enum MHD_Result serve_estate(web_t *w, struct MHD_Connection *c)
{
	json_t *j = json_object();
	pthread_mutex_lock(&w->lock);
	json_object_set_new(j, "generation", json_integer((json_int_t)w->generation));
	json_object_set(j, "estate", w->estate ? w->estate : json_null());
	json_object_set(j, "refused", w->findings ? w->findings : json_null());
	pthread_mutex_unlock(&w->lock);
	json_t *health = w->src.targets ? w->src.targets(w->src.ctx) : NULL;
	json_t *targets = json_object_get(health, "targets");
	json_object_set_new(j, "targets", targets ? json_incref(targets) : json_array());
	json_decref(health);
	return reply_json(c, MHD_HTTP_OK, j);
}

static enum MHD_Result serve_explain(web_t *w, struct MHD_Connection *c)
{
	const char *vnet = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "vnet");
	const char *name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "name");
	const char *type = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "type");
	if (!vnet || !name || !*vnet || !*name)
		return reply_json(c, MHD_HTTP_BAD_REQUEST,
				  json_pack("{s:s}", "error", "vnet and name are required"));
	uint16_t qtype = 1; /* A */
	if (type && *type && dns_rrtype_from_text(type, &qtype) != 0)
		return reply_json(c, MHD_HTTP_BAD_REQUEST,
				  json_pack("{s:s+}", "error", type, " is not a record type"));
	pthread_mutex_lock(&w->lock);
	resolve_snapshot_t *snap = w->snap;
	if (snap)
		resolve_snapshot_ref(snap);
	pthread_mutex_unlock(&w->lock);
	if (!snap)
		return reply_json(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				  json_pack("{s:s}", "error", "no deployment yet"));
	json_t *e = NULL;
	int rc = resolve_explain(snap, vnet, name, qtype, &e);
	resolve_snapshot_unref(&snap);
	if (rc != 0)
		return reply_json(c, rc == PR_ENOTFOUND ? MHD_HTTP_NOT_FOUND : MHD_HTTP_BAD_REQUEST,
				  json_pack("{s:s}", "error", pr_strerror(rc)));
	return reply_json(c, MHD_HTTP_OK, e);
}

/* ---- the live stream (server-sent events) ------------------------------------ */

typedef struct stream {
	web_t *w;
	uint64_t next; /* the next line this client gets */
	time_t last;   /* when it last got something */
} stream_t;

/* One thread per connection: the reader may wait for the next line. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	stream_t *s = cls;
	web_t *w = s->w;
	ssize_t n = 0;
	pthread_mutex_lock(&w->lock);
	while (!w->stopping && s->next == w->next_line &&
	       time(NULL) - s->last < STREAM_KEEPALIVE_S) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&w->more, &w->lock, &until);
	}
	if (w->stopping) {
		pthread_mutex_unlock(&w->lock);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	if (w->next_line - s->next > STREAM_LINES)
		s->next = w->next_line - STREAM_LINES; /* a slow reader skips */
	while (s->next < w->next_line) {
		const char *line = w->lines[s->next % STREAM_LINES];
		size_t len = strlen(line);
		if ((size_t)n + len + 9 > max)
			break;
		n += snprintf(buf + n, max - (size_t)n, "data: %s\n\n", line);
		s->next++;
	}
	pthread_mutex_unlock(&w->lock);
	if (n == 0)
		n = snprintf(buf, max, ": keepalive\n\n");
	s->last = time(NULL);
	return n;
}

static void stream_free(void *cls)
{
	stream_t *s = cls;
	atomic_fetch_sub(&s->w->watchers, 1);
	free(s);
}

static enum MHD_Result serve_stream(web_t *w, struct MHD_Connection *c)
{
	stream_t *s = pr_calloc(1, sizeof(*s));
	s->w = w;
	s->last = time(NULL) - STREAM_KEEPALIVE_S; /* the first read answers at once */
	pthread_mutex_lock(&w->lock);
	s->next = w->next_line;
	pthread_mutex_unlock(&w->lock);
	atomic_fetch_add(&w->watchers, 1);
	struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384,
								   stream_read, s, stream_free);
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ok;
}

bool web_stream_wanted(const web_t *w)
{
	return w && atomic_load_explicit(&w->watchers, memory_order_relaxed) > 0;
}

void web_stream_line(web_t *w, const char *line, size_t len)
{
	char *copy = pr_malloc(len + 1);
	memcpy(copy, line, len);
	copy[len] = '\0';
	for (char *p = copy; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' '; /* one SSE data line */
	pthread_mutex_lock(&w->lock);
	char **slot = &w->lines[w->next_line % STREAM_LINES];
	free(*slot);
	*slot = copy;
	w->next_line++;
	pthread_cond_broadcast(&w->more);
	pthread_mutex_unlock(&w->lock);
}

/* ---- routing ---------------------------------------------------------------- */

static enum MHD_Result serve_asset(struct MHD_Connection *c, const char *url)
{
	const web_asset_t *a = web_asset_find(url);
	if (!a)
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	struct MHD_Response *r = MHD_create_response_from_buffer(a->len, (void *)a->data,
								 MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", a->content_type);
	enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **state)
{
	(void)version;
	(void)upload;
	web_t *w = cls;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
	if (*upload_size) {
		*upload_size = 0; /* a GET with a body: the body is ignored */
		return MHD_YES;
	}
	*state = NULL;
	if (!strcmp(url, "/metrics"))
		return serve_metrics(w, c);
	if (!strcmp(url, "/healthz"))
		return reply_text(c, MHD_HTTP_OK, "ok\n");
	if (!strcmp(url, "/readyz"))
		return serve_readyz(w, c);
	if (!strcmp(url, "/api/estate"))
		return serve_estate(w, c);
	if (!strcmp(url, "/api/explain"))
		return serve_explain(w, c);
	if (!strcmp(url, "/api/stream"))
		return serve_stream(w, c);
	return serve_asset(c, url);
}

/* ---- life ---------------------------------------------------------------------- */

static int parse_listen(const char *listen, struct sockaddr_in *sin)
{
	uint32_t addr;
	uint16_t port = 0;
	const char *colon = strrchr(listen, ':');
	if (!colon)
		return PR_EPARSE;
	if (!strcmp(colon, ":0")) {
		char host[64];
		snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
		if (pr_ipv4_parse(host, &addr) != 0)
			return PR_EPARSE;
	} else if (pr_hostport_parse(listen, &addr, &port) != 0) {
		return PR_EPARSE;
	}
	*sin = (struct sockaddr_in){.sin_family = AF_INET,
				    .sin_port = htons(port),
				    .sin_addr.s_addr = htonl(addr)};
	return 0;
}

int web_start(const char *listen, const web_sources_t *src, web_t **out, char **why)
{
	struct sockaddr_in sin;
	if (parse_listen(listen, &sin) != 0) {
		*why = pr_asprintf("'%s' is not an address host:port (127.0.0.1:9153)", listen);
		return PR_EPARSE;
	}
	web_t *w = pr_calloc(1, sizeof(*w));
	w->src = *src;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->more, NULL);
	w->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
				  0, NULL, NULL, on_request, w, MHD_OPTION_SOCK_ADDR, &sin,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)WEB_MAX_CONNECTIONS,
				  MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
	if (!w->mhd) {
		*why = pr_asprintf("cannot serve HTTP on %s (address in use?)", listen);
		web_stop(&w);
		return PR_EIO;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(w->mhd, MHD_DAEMON_INFO_BIND_PORT);
	w->port = info ? info->port : ntohs(sin.sin_port);
	*out = w;
	return 0;
}

uint16_t web_port(const web_t *w)
{
	return w->port;
}

void web_stop(web_t **wp)
{
	if (!wp || !*wp)
		return;
	web_t *w = *wp;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->more);
	pthread_mutex_unlock(&w->lock);
	if (w->mhd)
		MHD_stop_daemon(w->mhd);
	resolve_snapshot_unref(&w->snap);
	json_decref(w->estate);
	json_decref(w->findings);
	for (size_t i = 0; i < STREAM_LINES; i++)
		free(w->lines[i]);
	pthread_cond_destroy(&w->more);
	pthread_mutex_destroy(&w->lock);
	free(w);
	*wp = NULL;
}

void web_set_ready(web_t *w, bool listeners_bound, bool api_answering)
{
	atomic_store(&w->listeners, listeners_bound);
	atomic_store(&w->api, api_answering);
}

void web_publish(web_t *w, resolve_snapshot_t *snap, json_t *estate, uint64_t generation,
		 uint64_t when_ms)
{
	resolve_snapshot_ref(snap);
	pthread_mutex_lock(&w->lock);
	resolve_snapshot_t *old = w->snap;
	json_t *old_estate = w->estate;
	w->snap = snap;
	w->estate = estate;
	w->generation = generation;
	w->when_ms = when_ms;
	json_decref(w->findings);
	w->findings = NULL;
	pthread_mutex_unlock(&w->lock);
	resolve_snapshot_unref(&old);
	json_decref(old_estate);
	atomic_store(&w->deployment, true);
}

void web_refused(web_t *w, json_t *findings)
{
	pthread_mutex_lock(&w->lock);
	json_t *old = w->findings;
	w->findings = findings;
	pthread_mutex_unlock(&w->lock);
	json_decref(old);
}
