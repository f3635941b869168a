/*
 * The control side of the listeners: binding sockets (on the calling thread,
 * so a failure is reported before anything runs), starting and stopping the
 * worker threads, and live listener changes sent to the workers as messages.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "endpoints/endpoints_p.h"

#define PORT_ATTEMPTS 16 /* port 0: tries to find one free for UDP and TCP */

const char *ep_protocol_name(ep_protocol_t p)
{
	switch (p) {
	case EP_DOT: return "dot";
	case EP_DOH: return "doh";
	default: return "dns";
	}
}

void ep_options_default(ep_options_t *o)
{
	memset(o, 0, sizeof(*o));
	o->workers = 0;
	o->tcp_idle_timeout_ms = MODEL_DEFAULT_TCP_IDLE_TIMEOUT_MS;
	o->tcp_max_connections = 1000;
	o->tcp_max_inflight = 100;
	o->tcp_max_write_queue = 262144;
	o->max_queries = 16384;
	o->tcp_backlog = 128;
	/* The system's default (~208 KiB, a few hundred queries) overflows when
	 * a worker is kept off the CPU for a tenth of a second, as it is on a
	 * machine shared with builds: the kernel then drops queries nobody
	 * hears of. 1 MiB (the kernel doubles it, capped by net.core.rmem_max)
	 * rides that out; it costs memory only while queries wait. */
	o->udp_rcvbuf = 1u << 20;
}

int ep_server_new(const ep_config_t *cfg, ep_server_t **out)
{
	const ep_options_t *o = &cfg->options;
	if (cfg->handler == NULL || o->tcp_idle_timeout_ms == 0 || o->tcp_max_connections == 0 ||
	    o->tcp_max_inflight == 0 || o->max_queries == 0 || o->tcp_backlog == 0 ||
	    o->tcp_max_write_queue < 2 + EP_TCP_MAX_MESSAGE) /* one whole answer must fit */
		return -EINVAL;
	ep_server_t *s = pr_calloc(1, sizeof(*s));
	s->cfg = *cfg;
	s->nworkers = o->workers;
	if (s->nworkers == 0)
		s->nworkers = uv_available_parallelism(); /* design.md §3: one per core */
	s->next_id = 1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cond, NULL);
	*out = s;
	return 0;
}

unsigned ep_server_worker_count(const ep_server_t *s)
{
	return s->nworkers;
}

/* A socket of one worker on addr:port, SO_REUSEPORT so the kernel spreads
 * datagrams and connections over the workers (design.md §3). */
static int open_socket(const ep_options_t *o, int type, uint32_t addr, uint16_t port)
{
	int one = 1, r = 0;
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
		goto fail;
	if (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
		goto fail;
	if (type == SOCK_DGRAM && o->udp_rcvbuf > 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o->udp_rcvbuf, sizeof(o->udp_rcvbuf)) != 0)
		goto fail;
	if (type == SOCK_DGRAM && o->udp_sndbuf > 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &o->udp_sndbuf, sizeof(o->udp_sndbuf)) != 0)
		goto fail;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(addr);
	sa.sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		goto fail;
	if (type == SOCK_STREAM && listen(fd, (int)o->tcp_backlog) != 0)
		goto fail;
	return fd;
fail:
	r = -errno;
	close(fd);
	return r;
}

/* Port 0: a port free for both UDP and TCP. The probes are bound without
 * SO_REUSEPORT, so the kernel cannot hand out a port that another
 * SO_REUSEPORT group of the same user (another server) already holds. */
static int probe_free_port(uint32_t addr, uint16_t *out)
{
	int u = -1, t = -1, r = 0;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	sa.sin_addr.s_addr = htonl(addr);
	u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (u < 0 || t < 0) {
		r = -errno;
		goto cleanup;
	}
	if (bind(u, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(u, (struct sockaddr *)&sa, &len) != 0 ||
	    bind(t, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		r = -errno;
		goto cleanup;
	}
	*out = ntohs(sa.sin_port);
cleanup:
	if (u >= 0)
		close(u);
	if (t >= 0)
		close(t);
	return r;
}

/* A fixed port: is it free of any socket but ours? SO_REUSEPORT alone would
 * let us join another process's group (of the same user) on that port and
 * silently share its traffic; probes without it conflict with any bound UDP
 * socket and any listening TCP one (SO_REUSEADDR only passes TIME_WAIT). */
static int probe_port(uint32_t addr, uint16_t port)
{
	int u = -1, t = -1, r = 0, one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(addr);
	sa.sin_port = htons(port);
	u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (u < 0 || t < 0 || setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(u, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    bind(t, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		r = -errno;
	if (u >= 0)
		close(u);
	if (t >= 0)
		close(t);
	return r;
}

/* Does one of our current listeners hold addr:port already (a listener
 * renamed or re-added on the same address)? */
static bool ours(const ep_server_t *s, uint32_t addr, uint16_t port)
{
	for (size_t i = 0; i < s->nls; i++)
		if (s->ls[i].addr == addr && s->ls[i].port == port)
			return true;
	return false;
}

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* Bind spec on every worker: udp[i], tcp[i] and *port on success; on failure
 * nothing stays open and diag names the address. */
static int bind_listener(ep_server_t *s, const ep_listener_spec_t *spec, int *udp, int *tcp,
			 uint16_t *port_out, pr_diag_t *diag)
{
	int r = 0;
	uint16_t port = spec->port;
	if (spec->port != 0 && !ours(s, spec->addr, spec->port))
		r = probe_port(spec->addr, spec->port);
	for (int attempt = 0; attempt < PORT_ATTEMPTS && r == 0; attempt++) {
		if (spec->port == 0) {
			r = probe_free_port(spec->addr, &port);
			if (r == -EADDRINUSE) {
				r = 0;
				continue;
			}
			if (r < 0)
				break;
		}
		for (unsigned i = 0; i < s->nworkers; i++)
			udp[i] = tcp[i] = -1;
		for (unsigned i = 0; i < s->nworkers && r >= 0; i++) {
			const ep_options_t *o = &s->cfg.options;
			/* W-6: DoT and DoH are TCP only. */
			if (spec->protocol == EP_PLAIN)
				r = udp[i] = open_socket(o, SOCK_DGRAM, spec->addr, port);
			if (r >= 0)
				r = tcp[i] = open_socket(o, SOCK_STREAM, spec->addr, port);
		}
		if (r >= 0) {
			*port_out = port;
			return 0;
		}
		close_fds(udp, s->nworkers);
		close_fds(tcp, s->nworkers);
		/* Someone took the probed port meanwhile: probe again. */
		if (spec->port != 0 || r != -EADDRINUSE)
			break;
		r = 0;
	}
	if (r == 0)
		r = -EADDRINUSE;
	if (diag != NULL) {
		char a[16];
		pr_diag_add(diag, NULL, 0, 0, "listeners", NULL, r, "listeners[%s]: %s:%u: %s",
			    spec->name, pr_ipv4_format(spec->addr, a), (unsigned)spec->port,
			    pr_strerror(r));
	}
	return r;
}

static int check_specs(const ep_listener_spec_t *specs, size_t n, pr_diag_t *diag)
{
	for (size_t i = 0; i < n; i++) {
		if (specs[i].name == NULL || specs[i].name[0] == '\0') {
			if (diag != NULL)
				pr_diag_add(diag, NULL, 0, 0, "listeners", NULL, -EINVAL,
					    "listeners[%zu]: a listener needs a name", i);
			return -EINVAL;
		}
		if (specs[i].protocol != EP_PLAIN && specs[i].tls == NULL) {
			if (diag != NULL)
				pr_diag_add(diag, NULL, 0, 0, "listeners", "W-6", -EINVAL,
					    "listeners[%s]: %s needs TLS credentials", specs[i].name,
					    ep_protocol_name(specs[i].protocol));
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(specs[i].name, specs[j].name) == 0 &&
			    specs[i].protocol == specs[j].protocol) {
				if (diag != NULL)
					pr_diag_add(diag, NULL, 0, 0, "listeners", NULL, -EINVAL,
						    "listeners[%s]: name used twice",
						    specs[i].name);
				return -EINVAL;
			}
			/* SO_REUSEPORT would let both bind and split the traffic. */
			if (specs[i].port != 0 && specs[i].port == specs[j].port &&
			    specs[i].addr == specs[j].addr) {
				char a[16];
				if (diag != NULL)
					pr_diag_add(diag, NULL, 0, 0, "listeners", NULL,
						    -EADDRINUSE,
						    "listeners[%s]: %s:%u is also listeners[%s]",
						    specs[i].name, pr_ipv4_format(specs[i].addr, a),
						    (unsigned)specs[i].port, specs[j].name);
				return -EADDRINUSE;
			}
		}
	}
	return 0;
}

static void listeners_free(listener_t *ls, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ls[i].name);
	free(ls);
}

/* Tear down workers that never ran a thread (start failed): on this thread. */
static void workers_abort(ep_server_t *s)
{
	for (unsigned i = 0; i < s->nworkers; i++) {
		worker_t *w = &s->workers[i];
		if (!w->loop_ready)
			continue;
		worker_begin_stop(w);
		worker_drain(w);
	}
	for (unsigned i = 0; i < s->nworkers; i++)
		pthread_mutex_destroy(&s->workers[i].mu);
	free(s->workers);
	s->workers = NULL;
}

int ep_server_start(ep_server_t *s, const ep_listener_spec_t *specs, size_t n, pr_diag_t *diag)
{
	int r = 0;
	unsigned nw = s->nworkers;
	int *fds = NULL; /* [listener][0: udp, 1: tcp][worker] */
	listener_t *ls = NULL;
	size_t bound = 0;
	if (s->started)
		return -EALREADY;
	r = check_specs(specs, n, diag);
	if (r < 0)
		return r;
	fds = pr_malloc(sizeof(int) * 2 * nw * (n > 0 ? n : 1));
	ls = pr_calloc(n > 0 ? n : 1, sizeof(*ls));
	for (; bound < n; bound++) {
		int *udp = fds + bound * 2 * nw, *tcp = udp + nw;
		r = bind_listener(s, &specs[bound], udp, tcp, &ls[bound].port, diag);
		if (r < 0)
			goto cleanup;
		ls[bound].id = s->next_id++;
		ls[bound].name = pr_strdup(specs[bound].name);
		ls[bound].addr = specs[bound].addr;
		ls[bound].req_port = specs[bound].port;
		ls[bound].cookie = specs[bound].cookie;
		ls[bound].protocol = specs[bound].protocol;
		ls[bound].tls = specs[bound].tls;
	}
	s->workers = pr_calloc(nw, sizeof(worker_t));
	for (unsigned i = 0; i < nw; i++)
		pthread_mutex_init(&s->workers[i].mu, NULL);
	for (unsigned i = 0; i < nw; i++) {
		r = worker_setup(&s->workers[i], s, i);
		if (r < 0)
			goto cleanup;
	}
	/* The loops do not run yet: adopting the sockets and the handler's init
	 * happen on this thread; thread creation publishes it all. */
	for (size_t l = 0; l < n; l++) {
		int *udp = fds + l * 2 * nw, *tcp = udp + nw;
		for (unsigned i = 0; i < nw; i++) {
			int u = udp[i], t = tcp[i];
			udp[i] = tcp[i] = -1; /* transferred */
			int rr = worker_add_listener(&s->workers[i], ls[l].id, ls[l].name,
						     ls[l].cookie, u, t, ls[l].protocol,
						     ls[l].tls);
			if (rr < 0 && r == 0)
				r = rr;
		}
	}
	if (r < 0)
		goto cleanup;
	for (unsigned i = 0; i < nw; i++) {
		worker_t *w = &s->workers[i];
		if (s->cfg.worker_init != NULL) {
			r = s->cfg.worker_init(s->cfg.ctx, i, &w->loop, &w->state);
			if (r < 0)
				goto cleanup;
		}
		w->state_ready = true;
	}
	for (unsigned i = 0; i < nw; i++) {
		r = uv_thread_create(&s->workers[i].thread, worker_main, &s->workers[i]);
		if (r < 0) {
			/* Stop the threads already running, then the rest here. */
			for (unsigned j = 0; j < i; j++) {
				cmd_t *c = pr_calloc(1, sizeof(*c));
				c->type = CMD_STOP;
				c->udp_fd = c->tcp_fd = -1;
				worker_push(&s->workers[j], c);
				uv_thread_join(&s->workers[j].thread);
				s->workers[j].loop_ready = false;
			}
			goto cleanup;
		}
		s->workers[i].thread_started = true;
	}
	s->started = true;
	s->ls = ls;
	s->nls = n;
	ls = NULL;
cleanup:
	for (size_t l = 0; l < bound; l++)
		close_fds(fds + l * 2 * nw, 2 * nw);
	free(fds);
	if (r < 0) {
		if (s->workers != NULL)
			workers_abort(s);
		listeners_free(ls, bound);
	}
	return r;
}

/* Send one batch to every worker and wait until each has applied it. */
static int post_and_wait(ep_server_t *s, cmd_t **batches)
{
	unsigned posted = 0;
	pthread_mutex_lock(&s->mu);
	s->acks = 0;
	s->batch_err = 0;
	pthread_mutex_unlock(&s->mu);
	for (unsigned i = 0; i < s->nworkers; i++) {
		cmd_t *c = batches[i];
		if (c == NULL)
			continue;
		posted++;
		while (c != NULL) {
			cmd_t *next = c->next;
			c->ack = next == NULL;
			worker_push(&s->workers[i], c);
			c = next;
		}
	}
	pthread_mutex_lock(&s->mu);
	while (s->acks < posted)
		pthread_cond_wait(&s->cond, &s->mu);
	int r = s->batch_err;
	pthread_mutex_unlock(&s->mu);
	return r;
}

static cmd_t *cmd_new(cmd_type_t type, uint64_t id, void *cookie)
{
	cmd_t *c = pr_calloc(1, sizeof(*c));
	c->type = type;
	c->id = id;
	c->cookie = cookie;
	c->udp_fd = c->tcp_fd = -1;
	return c;
}

/* Append c to a worker's batch (kept in order: removals before additions,
 * so a listener replaced on the same address is closed before it is bound
 * again by the worker). */
static void batch_append(cmd_t **batch, cmd_t *c)
{
	while (*batch != NULL)
		batch = &(*batch)->next;
	*batch = c;
}

int ep_server_set_listeners(ep_server_t *s, const ep_listener_spec_t *specs, size_t n,
			    pr_diag_t *diag)
{
	int r = 0;
	unsigned nw;
	int *fds = NULL;
	listener_t *ls = NULL;
	cmd_t **batches = NULL;
	size_t *keep = NULL; /* for each new spec: index of the old listener + 1, or 0 */
	if (!s->started || s->stopped)
		return -EINVAL;
	r = check_specs(specs, n, diag);
	if (r < 0)
		return r;
	nw = s->nworkers;
	fds = pr_malloc(sizeof(int) * 2 * nw * (n > 0 ? n : 1));
	for (size_t i = 0; i < 2 * nw * n; i++)
		fds[i] = -1;
	ls = pr_calloc(n > 0 ? n : 1, sizeof(*ls));
	keep = pr_calloc(n > 0 ? n : 1, sizeof(*keep));
	batches = pr_calloc(nw, sizeof(*batches));
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < s->nls; j++) {
			const listener_t *o = &s->ls[j];
			if (strcmp(o->name, specs[i].name) == 0 && o->addr == specs[i].addr &&
			    o->req_port == specs[i].port && o->protocol == specs[i].protocol &&
			    o->tls == specs[i].tls) {
				keep[i] = j + 1;
				break;
			}
		}
		if (keep[i] != 0) {
			ls[i] = s->ls[keep[i] - 1];
			ls[i].name = pr_strdup(ls[i].name);
			ls[i].cookie = specs[i].cookie;
			continue;
		}
		int *udp = fds + i * 2 * nw, *tcp = udp + nw;
		r = bind_listener(s, &specs[i], udp, tcp, &ls[i].port, diag);
		if (r < 0)
			goto cleanup;
		ls[i].id = s->next_id++;
		ls[i].name = pr_strdup(specs[i].name);
		ls[i].addr = specs[i].addr;
		ls[i].req_port = specs[i].port;
		ls[i].cookie = specs[i].cookie;
		ls[i].protocol = specs[i].protocol;
		ls[i].tls = specs[i].tls;
	}
	/* Every socket is bound: from here the change happens. */
	for (size_t j = 0; j < s->nls; j++) {
		bool kept = false;
		for (size_t i = 0; i < n && !kept; i++)
			kept = keep[i] == j + 1;
		for (unsigned w = 0; w < nw && !kept; w++)
			batch_append(&batches[w], cmd_new(CMD_REMOVE, s->ls[j].id, NULL));
	}
	for (size_t i = 0; i < n; i++) {
		for (unsigned w = 0; w < nw; w++) {
			if (keep[i] != 0) {
				if (ls[i].cookie != s->ls[keep[i] - 1].cookie)
					batch_append(&batches[w],
						     cmd_new(CMD_COOKIE, ls[i].id, ls[i].cookie));
				continue;
			}
			cmd_t *c = cmd_new(CMD_ADD, ls[i].id, ls[i].cookie);
			c->name = pr_strdup(ls[i].name);
			c->protocol = ls[i].protocol;
			c->tls = ls[i].tls;
			c->udp_fd = fds[i * 2 * nw + w];
			c->tcp_fd = fds[i * 2 * nw + nw + w];
			fds[i * 2 * nw + w] = fds[i * 2 * nw + nw + w] = -1; /* transferred */
			batch_append(&batches[w], c);
		}
	}
	r = post_and_wait(s, batches);
	listeners_free(s->ls, s->nls);
	s->ls = ls;
	s->nls = n;
	ls = NULL;
cleanup:
	close_fds(fds, (unsigned)(2 * nw * n));
	free(fds);
	if (ls != NULL)
		listeners_free(ls, n);
	free(keep);
	free(batches);
	return r;
}

size_t ep_server_listener_count(const ep_server_t *s)
{
	return s->nls;
}

uint16_t ep_server_listener_port(const ep_server_t *s, size_t i)
{
	return i < s->nls ? s->ls[i].port : 0;
}

const char *ep_server_listener_name(const ep_server_t *s, size_t i)
{
	return i < s->nls ? s->ls[i].name : NULL;
}

void ep_server_stats(const ep_server_t *s, ep_stats_t *out)
{
	uint64_t sum[C_COUNT] = {0};
	if (s->workers != NULL) {
		for (unsigned i = 0; i < s->nworkers; i++)
			for (int c = 0; c < C_COUNT; c++)
				sum[c] += atomic_load_explicit(&s->workers[i].counters[c],
							       memory_order_relaxed);
	}
	memset(out, 0, sizeof(*out));
	out->udp_queries = sum[C_UDP_QUERIES];
	out->tcp_queries = sum[C_TCP_QUERIES];
	out->tcp_accepted = sum[C_TCP_ACCEPTED];
	out->tcp_open = sum[C_TCP_OPEN];
	out->tcp_closed_idle = sum[C_TCP_CLOSED_IDLE];
	out->tcp_closed_cap = sum[C_TCP_CLOSED_CAP];
	out->tcp_closed_slow = sum[C_TCP_CLOSED_SLOW];
	out->tcp_closed_badlen = sum[C_TCP_CLOSED_BADLEN];
	out->dropped_short = sum[C_DROPPED_SHORT];
	out->dropped_busy = sum[C_DROPPED_BUSY];
	out->answers_sent = sum[C_ANSWERS_SENT];
	out->send_errors = sum[C_SEND_ERRORS];
	out->recv_errors = sum[C_RECV_ERRORS];
	out->dot_queries = sum[C_DOT_QUERIES];
	out->doh_queries = sum[C_DOH_QUERIES];
	out->tls_accepted = sum[C_TLS_ACCEPTED];
	out->tls_failed = sum[C_TLS_FAILED];
	out->tls_client_cert_refused = sum[C_TLS_CLIENT_CERT_REFUSED];
	out->doh_bad_requests = sum[C_DOH_BAD_REQUESTS];
}

int ep_server_stop(ep_server_t *s)
{
	int r = 0;
	if (!s->started || s->stopped)
		return 0;
	s->stopped = true;
	for (unsigned i = 0; i < s->nworkers; i++)
		worker_push(&s->workers[i], cmd_new(CMD_STOP, 0, NULL));
	for (unsigned i = 0; i < s->nworkers; i++) {
		uv_thread_join(&s->workers[i].thread);
		if (s->workers[i].drain_err != 0 && r == 0)
			r = s->workers[i].drain_err;
	}
	return r;
}

void ep_server_destroy(ep_server_t **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	ep_server_t *s = *sp;
	ep_server_stop(s);
	if (s->workers != NULL) {
		for (unsigned i = 0; i < s->nworkers; i++)
			pthread_mutex_destroy(&s->workers[i].mu);
		free(s->workers);
	}
	listeners_free(s->ls, s->nls);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cond);
	free(s);
	*sp = NULL;
}
