/* The stub's sockets on libuv: queries from the host's applications on its
 * listen address, answered from the hosts file, the local cache, or a search
 * (search.c) whose asks go out from a socket of the query's own (a fresh
 * random port and ID, W-4 as privresd does); and, when configured, the
 * overlay agent's listener. Every query gets one JSON log line naming the
 * servers asked, when, and what each answered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <libknot/libknot.h>

#include "dns/dns.h"
#include "stub/stub.h"

#define MSG_MAX DNS_UDP_MESSAGE_MAX

struct stub_server {
	uv_loop_t *loop;
	const stub_config_t *cfg;
	uint64_t (*now)(void);
	uv_udp_t listen, agent;
	int closing; /* close callbacks still to come */
	stub_cache_t *cache;
	stub_hosts_t *hosts;
	FILE *log;
	uint8_t rbuf[MSG_MAX]; /* receive buffer of the loop's thread */
	struct squery *queries; /* in flight, for stop */
};

typedef struct squery {
	stub_server_t *srv;
	struct squery *next, **prevp;
	struct sockaddr_in client;
	uint8_t *wire; /* the client's query; its ID replaced by ours */
	size_t len;
	uint16_t client_id, id;
	dns_question_t question;
	uint8_t qname_lower[DNS_NAME_MAXLEN];
	uint64_t start_ms;
	stub_search_t *search;
	uint8_t *replies[STUB_MAX_SERVERS];
	size_t reply_len[STUB_MAX_SERVERS];
	uv_udp_t sock;
	uv_timer_t timer;
	int closing;
} squery_t;

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	/* One loop thread (the loop's data is the server): one buffer serves
	 * every socket, each datagram being handled before the next is read. */
	stub_server_t *s = h->loop->data;
	*buf = uv_buf_init((char *)s->rbuf, sizeof(s->rbuf));
}

static void send_to(uv_udp_t *sock, const uint8_t *wire, size_t len, const struct sockaddr_in *to)
{
	uv_buf_t b = uv_buf_init((char *)wire, (unsigned)len);
	/* UDP: a send the kernel will not take now is a datagram lost, as on a
	 * network. */
	(void)uv_udp_try_send(sock, &b, 1, (const struct sockaddr *)to);
}

static void addr_text(const struct sockaddr_in *sa, char *out, size_t cap)
{
	char ip[16];
	snprintf(out, cap, "%s:%u", pr_ipv4_format(ntohl(sa->sin_addr.s_addr), ip),
		 (unsigned)ntohs(sa->sin_port));
}

/* ---- The log ------------------------------------------------------------------ */

static void log_begin(pr_buf_t *b, const char *role, const struct sockaddr_in *client,
		      const uint8_t *qname, uint16_t qtype)
{
	struct timespec ts;
	struct tm tm;
	char when[32], peer[32], name[DNS_NAME_TEXT_MAX], type[16];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	addr_text(client, peer, sizeof(peer));
	if (dns_name_to_text(qname, name, sizeof(name)) < 0)
		snprintf(name, sizeof(name), "?");
	pr_buf_printf(b, "{\"time\":\"%s.%03ldZ\",\"role\":\"%s\",\"client\":\"%s\",",
		      when, ts.tv_nsec / 1000000, role, peer);
	pr_buf_printf(b, "\"name\":");
	stub_json_string(b, name);
	pr_buf_printf(b, ",\"type\":\"%s\"", dns_rrtype_to_text(qtype, type, sizeof(type)));
}

static void log_end(stub_server_t *s, pr_buf_t *b)
{
	pr_buf_printf(b, "}\n");
	if (s->log) {
		fwrite(b->data, 1, b->len, s->log);
		fflush(s->log);
	}
	pr_buf_free(b);
}

/* ---- Queries in flight ---------------------------------------------------------- */

static void query_closed(uv_handle_t *h)
{
	squery_t *q = h->data;
	if (--q->closing > 0)
		return;
	for (size_t i = 0; i < STUB_MAX_SERVERS; i++)
		free(q->replies[i]);
	stub_search_destroy(&q->search);
	free(q->wire);
	free(q);
}

static void query_close(squery_t *q)
{
	if (q->prevp) {
		*q->prevp = q->next;
		if (q->next)
			q->next->prevp = q->prevp;
		q->prevp = NULL;
	}
	uv_udp_recv_stop(&q->sock);
	uv_timer_stop(&q->timer);
	q->closing = 2;
	uv_close((uv_handle_t *)&q->sock, query_closed);
	uv_close((uv_handle_t *)&q->timer, query_closed);
}

/* The search is over: answer the client, keep what may be kept, log. */
static void query_complete(squery_t *q)
{
	stub_server_t *s = q->srv;
	int by;
	stub_outcome_t o = stub_search_outcome(q->search, &by);
	uint8_t out[MSG_MAX];
	size_t len = 0;
	if (by >= 0 && q->replies[by] && o != STUB_TIMEOUT) {
		len = q->reply_len[by];
		memcpy(out, q->replies[by], len);
		knot_wire_set_id(out, q->client_id);
		if (o == STUB_ANSWERED || o == STUB_NEGATIVE)
			stub_cache_put(s->cache, q->qname_lower, q->question.qtype, out, len,
				       s->now());
	} else {
		/* A timeout: the application gets SERVFAIL rather than silence. */
		knot_wire_set_id(q->wire, q->client_id);
		len = stub_answer_error(q->wire, q->len, DNS_RCODE_SERVFAIL, out, sizeof(out));
	}
	if (len)
		send_to(&s->listen, out, len, &q->client);
	pr_buf_t b = {0};
	char rc[16];
	log_begin(&b, "client", &q->client, q->question.name, q->question.qtype);
	pr_buf_printf(&b, ",\"source\":\"servers\",\"outcome\":\"%s\",\"rcode\":\"%s\",\"ms\":%llu",
		      stub_outcome_name(o),
		      dns_rcode_name(len ? dns_message_rcode(out, len) : DNS_RCODE_SERVFAIL, rc,
				     sizeof(rc)),
		      (unsigned long long)(s->now() - q->start_ms));
	pr_buf_printf(&b, ",\"events\":[");
	stub_search_format_events(q->search, &b);
	pr_buf_printf(&b, "]");
	log_end(s, &b);
	query_close(q);
}

static void query_drive(squery_t *q);

static void timer_cb(uv_timer_t *t)
{
	query_drive(t->data);
}

/* Send the asks that are due; arm the timer for the next step, or finish. */
static void query_drive(squery_t *q)
{
	stub_server_t *s = q->srv;
	int ask[STUB_MAX_SERVERS];
	uint64_t now = s->now();
	size_t n = stub_search_poll(q->search, now, ask, STUB_MAX_SERVERS);
	for (size_t i = 0; i < n; i++) {
		uint32_t addr;
		uint16_t port;
		stub_client_server(s->cfg->client, ask[i], &addr, &port, NULL);
		struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port),
					 .sin_addr.s_addr = htonl(addr)};
		send_to(&q->sock, q->wire, q->len, &to);
	}
	if (stub_search_outcome(q->search, NULL) != STUB_PENDING) {
		query_complete(q);
		return;
	}
	uint64_t due = stub_search_deadline(q->search);
	uv_timer_start(&q->timer, timer_cb, due > now ? due - now : 0, 0);
}

static void upstream_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
			  const struct sockaddr *from, unsigned flags)
{
	squery_t *q = h->data;
	if (nread <= 0 || !from || from->sa_family != AF_INET || (flags & UV_UDP_PARTIAL))
		return;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)from;
	const uint8_t *reply = (const uint8_t *)buf->base;
	int id = stub_client_find_server(q->srv->cfg->client, ntohl(sin->sin_addr.s_addr),
					 ntohs(sin->sin_port));
	/* W-4: only from a server of ours, with our ID and question. */
	if (id < 0 || dns_reply_check(reply, (size_t)nread, q->id, &q->question) != DNS_REPLY_OK)
		return;
	int rcode;
	stub_reply_t kind = stub_classify_reply(reply, (size_t)nread, &rcode);
	free(q->replies[id]);
	q->replies[id] = pr_malloc((size_t)nread);
	memcpy(q->replies[id], reply, (size_t)nread);
	q->reply_len[id] = (size_t)nread;
	stub_search_reply(q->search, q->srv->now(), id, kind, rcode);
	query_drive(q);
}

static uint16_t random_id(void)
{
	uint16_t id = 0;
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint16_t)pr_now_ns();
	return id;
}

/* A search for the query (wire, len) of client. */
static void query_start(stub_server_t *s, const dns_query_t *dq, const uint8_t *wire, size_t len,
			const struct sockaddr_in *client)
{
	squery_t *q = pr_calloc(1, sizeof(*q));
	q->srv = s;
	q->client = *client;
	q->wire = pr_malloc(len);
	memcpy(q->wire, wire, len);
	q->len = len;
	q->client_id = dq->id;
	q->id = random_id();
	knot_wire_set_id(q->wire, q->id);
	memcpy(q->qname_lower, dq->qname_lower, dq->qname_len);
	if (dns_question_read(wire, len, &q->question) != 0) {
		free(q->wire);
		free(q);
		return;
	}
	q->start_ms = s->now();
	q->search = stub_search_new(s->cfg->client, q->start_ms);
	uv_udp_init(s->loop, &q->sock);
	uv_timer_init(s->loop, &q->timer);
	q->sock.data = q->timer.data = q;
	struct sockaddr_in any = {.sin_family = AF_INET}; /* a random port of the kernel's */
	if (uv_udp_bind(&q->sock, (const struct sockaddr *)&any, 0) == 0)
		uv_udp_recv_start(&q->sock, alloc_cb, upstream_recv);
	q->next = s->queries;
	if (q->next)
		q->next->prevp = &q->next;
	q->prevp = &s->queries;
	s->queries = q;
	query_drive(q);
}

/* ---- The listeners ----------------------------------------------------------- */

/* Hosts file and cache: an answer without asking anyone, logged. */
static bool answer_locally(stub_server_t *s, const dns_query_t *dq, const uint8_t *wire,
			   size_t len, const struct sockaddr_in *client)
{
	uint8_t out[MSG_MAX];
	uint32_t addrs[32];
	size_t n = 0, olen = 0;
	const char *source = NULL;
	if (dq->qtype == KNOT_RRTYPE_A &&
	    (n = stub_hosts_lookup(s->hosts, dq->qname_lower, addrs, 32)) > 0) {
		olen = stub_answer_a(wire, len, addrs, n, STUB_HOSTS_TTL, out, sizeof(out));
		source = "hosts";
	} else if ((olen = stub_cache_get(s->cache, dq->qname_lower, dq->qtype, dq->id, s->now(),
					  out, sizeof(out))) > 0) {
		source = "cache";
	}
	if (!olen)
		return false;
	send_to(&s->listen, out, olen, client);
	pr_buf_t b = {0};
	char rc[16];
	log_begin(&b, "client", client, dq->qname, dq->qtype);
	pr_buf_printf(&b, ",\"source\":\"%s\",\"rcode\":\"%s\"", source,
		      dns_rcode_name(dns_message_rcode(out, olen), rc, sizeof(rc)));
	log_end(s, &b);
	return true;
}

/* A datagram on a listener read as a query: true with *dq filled when it is
 * one to serve; W-3: one that can't be served got its error, or nothing. */
static bool receive_query(uv_udp_t *sock, ssize_t nread, const uv_buf_t *buf,
			  const struct sockaddr *from, unsigned flags, dns_query_t *dq)
{
	if (nread <= 0 || !from || from->sa_family != AF_INET || (flags & UV_UDP_PARTIAL))
		return false;
	dns_query_parse((const uint8_t *)buf->base, (size_t)nread, dq);
	if (dq->verdict == DNS_QUERY_OK)
		return true;
	uint8_t out[DNS_UDP_PAYLOAD_OURS];
	int rcode = dns_verdict_rcode(dq->verdict);
	size_t n = rcode > 0 ? dns_answer_error(out, sizeof(out), dq, (uint16_t)rcode, false) : 0;
	if (n)
		send_to(sock, out, n, (const struct sockaddr_in *)from);
	return false;
}

static void listen_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
			const struct sockaddr *from, unsigned flags)
{
	stub_server_t *s = h->loop->data;
	const struct sockaddr_in *client = (const struct sockaddr_in *)from;
	const uint8_t *wire = (const uint8_t *)buf->base;
	dns_query_t dq;
	if (!receive_query(h, nread, buf, from, flags, &dq))
		return;
	if (!answer_locally(s, &dq, wire, (size_t)nread, client))
		query_start(s, &dq, wire, (size_t)nread, client);
}

/* The overlay agent: its names with one reachable system at random, TTL 0;
 * SERVFAIL for the rest so that the client falls through. */
static void agent_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
		       const struct sockaddr *from, unsigned flags)
{
	stub_server_t *s = h->loop->data;
	const struct sockaddr_in *client = (const struct sockaddr_in *)from;
	const uint8_t *wire = (const uint8_t *)buf->base;
	dns_query_t dq;
	if (!receive_query(h, nread, buf, from, flags, &dq))
		return;
	uint8_t out[MSG_MAX];
	uint32_t addr = 0;
	size_t len;
	bool known = stub_agent_knows(s->cfg->names, dq.qname_lower);
	bool picked = known && dq.qtype == KNOT_RRTYPE_A &&
		      stub_agent_pick(s->cfg->names, dq.qname_lower, &addr);
	if (known)
		len = stub_answer_a(wire, (size_t)nread, &addr, picked ? 1 : 0, 0, out,
				    sizeof(out));
	else
		len = stub_answer_error(wire, (size_t)nread, DNS_RCODE_SERVFAIL, out, sizeof(out));
	if (len)
		send_to(h, out, len, client);
	pr_buf_t b = {0};
	char ip[16];
	log_begin(&b, "agent", client, dq.qname, dq.qtype);
	if (picked)
		pr_buf_printf(&b, ",\"rcode\":\"NOERROR\",\"answer\":\"%s\",\"ttl\":0",
			      pr_ipv4_format(addr, ip));
	else
		pr_buf_printf(&b, ",\"rcode\":\"%s\"", known ? "NOERROR" : "SERVFAIL");
	log_end(s, &b);
}

static int bind_udp(stub_server_t *s, uv_udp_t *u, uint32_t addr, uint16_t port,
		    uv_udp_recv_cb cb, char **why)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(addr)};
	uv_udp_init(s->loop, u);
	u->data = NULL;
	s->closing++;
	int rc = uv_udp_bind(u, (const struct sockaddr *)&sa, 0);
	if (rc == 0)
		rc = uv_udp_recv_start(u, alloc_cb, cb);
	if (rc != 0) {
		char ip[16];
		*why = pr_asprintf("cannot listen on %s:%u: %s", pr_ipv4_format(addr, ip),
				   (unsigned)port, uv_strerror(rc));
		return PR_EIO;
	}
	return 0;
}

static void server_free(stub_server_t *s)
{
	s->loop->data = NULL;
	stub_cache_destroy(&s->cache);
	stub_hosts_destroy(&s->hosts);
	if (s->log && s->log != stdout)
		fclose(s->log);
	free(s);
}

static void server_closed(uv_handle_t *h)
{
	stub_server_t *s = h->loop->data;
	if (--s->closing == 0)
		server_free(s);
}

static FILE *open_log(const char *path)
{
	if (!path)
		return NULL;
	if (!strcmp(path, "-"))
		return stdout;
	return fopen(path, "a");
}

int stub_server_start(uv_loop_t *loop, const stub_config_t *cfg, uint64_t (*now_ms)(void),
		      stub_server_t **out, char **why)
{
	stub_server_t *s = pr_calloc(1, sizeof(*s));
	s->loop = loop;
	s->cfg = cfg;
	s->now = now_ms ? now_ms : pr_now_ms;
	s->cache = stub_cache_new();
	loop->data = s;
	if (cfg->hosts_path) {
		char *text = NULL;
		size_t len, bad;
		int rc = pr_read_file(cfg->hosts_path, &text, &len);
		if (rc != 0) {
			*why = pr_asprintf("%s: %s", cfg->hosts_path, pr_strerror(rc));
			stub_server_stop(&s);
			return rc;
		}
		s->hosts = stub_hosts_parse(text, &bad);
		free(text);
	}
	s->log = open_log(cfg->log_path);
	if (cfg->log_path && !s->log) {
		*why = pr_asprintf("%s: cannot open the log", cfg->log_path);
		stub_server_stop(&s);
		return PR_EIO;
	}
	int rc = bind_udp(s, &s->listen, cfg->listen_addr, cfg->listen_port, listen_recv, why);
	if (rc == 0 && cfg->agent)
		rc = bind_udp(s, &s->agent, cfg->agent_addr, cfg->agent_port, agent_recv, why);
	if (rc != 0) {
		stub_server_stop(&s);
		return rc;
	}
	*out = s;
	return 0;
}

void stub_server_stop(stub_server_t **sp)
{
	if (!sp || !*sp)
		return;
	stub_server_t *s = *sp;
	*sp = NULL;
	while (s->queries)
		query_close(s->queries);
	if (s->closing == 0) {
		server_free(s); /* no handle was made */
		return;
	}
	if (s->listen.type == UV_UDP)
		uv_close((uv_handle_t *)&s->listen, server_closed);
	if (s->agent.type == UV_UDP)
		uv_close((uv_handle_t *)&s->agent, server_closed);
}

void stub_server_reopen_log(stub_server_t *s)
{
	if (!s->log || s->log == stdout)
		return;
	FILE *f = open_log(s->cfg->log_path);
	if (f) {
		fclose(s->log);
		s->log = f;
	}
}
