/* DNS UPDATE to the emulated on-premises servers (E-2): a worker hands the
 * message to the control thread, which owns the deployment and applies it
 * (control_dns_update: validated, journaled, fsync'ed, published); the answer
 * comes back to the worker that holds the query. Updates to the cloud's own
 * listeners never come here: they are refused by the query path (E-6). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon_p.h"
#include "dns/dns.h"
#include "zones/zones.h"

/* Updates waiting for the control thread, beyond which a flood is answered
 * SERVFAIL at once (the client retries, as for a busy server). */
#define UPDATES_MAX_PENDING 1024
/* How often the control thread looks whether a server's scavenging is due
 * (E-4; periods are whole hours). */
#define SCAVENGE_CHECK_MS 60000

typedef struct update_job {
	struct update_job *next;
	worker_t *w;
	ep_query_t *eq;
	char *server;
	uint8_t *msg;
	size_t len;
	uint8_t *answer;
	size_t answer_len;
} update_job_t;

struct updates {
	uv_mutex_t lock;
	uv_async_t wake; /* on the control loop */
	update_job_t *todo;
	size_t pending;
	daemon_t *dm;
	uv_timer_t scavenge; /* E-4, on the control loop */
	uint64_t load;       /* when the zones were loaded (start) */
	json_t *last_run;    /* server name → Unix time of its last scavenging */
};

static void job_free(update_job_t *j)
{
	free(j->server);
	free(j->msg);
	free(j->answer);
	free(j);
}

/* On the control thread: apply every waiting update, in arrival order. */
static void on_wake(uv_async_t *h)
{
	updates_t *up = h->data;
	uv_mutex_lock(&up->lock);
	update_job_t *list = up->todo;
	up->todo = NULL;
	up->pending = 0;
	uv_mutex_unlock(&up->lock);
	update_job_t *rev = NULL; /* the list was pushed newest first */
	while (list) {
		update_job_t *n = list->next;
		list->next = rev;
		rev = list;
		list = n;
	}
	for (update_job_t *j = rev, *next; j; j = next) {
		next = j->next;
		j->answer = pr_malloc(DNS_TCP_MESSAGE_MAX);
		j->answer_len = control_dns_update(up->dm->control, j->server, j->msg, j->len,
						   (uint64_t)time(NULL), j->answer,
						   DNS_TCP_MESSAGE_MAX);
		worker_t *w = j->w;
		uv_mutex_lock(&up->lock);
		j->next = w->updates_done;
		w->updates_done = j;
		uv_mutex_unlock(&up->lock);
		uv_async_send(&w->update_done);
	}
}

/* On a worker: send the answers the control thread wrote. */
static void on_done(uv_async_t *h)
{
	worker_t *w = h->data;
	updates_t *up = w->dm->updates;
	uv_mutex_lock(&up->lock);
	update_job_t *list = w->updates_done;
	w->updates_done = NULL;
	uv_mutex_unlock(&up->lock);
	for (update_job_t *j = list, *next; j; j = next) {
		next = j->next;
		if (j->answer_len)
			ep_query_answer(j->eq, j->answer, j->answer_len);
		else
			ep_query_drop(j->eq);
		job_free(j);
	}
}

/* E-4: the longest refresh interval of a server's zones with aging on, or 0. */
static uint32_t refresh_hours(const model_external_server_t *x)
{
	uint32_t h = 0;
	for (size_t i = 0; i < x->n_zones; i++)
		if (x->zones[i].aging.enabled && x->zones[i].aging.refresh_hours > h)
			h = x->zones[i].aging.refresh_hours;
	return h;
}

/* E-4: scavenge each server with scavenging on whose period has come. */
static void on_scavenge(uv_timer_t *t)
{
	updates_t *up = t->data;
	uint64_t now = (uint64_t)time(NULL);
	const deployment_t *d = control_deployment(up->dm->control);
	json_t *due = json_array();
	for (size_t i = 0; i < d->n_external_servers; i++) {
		const model_external_server_t *x = &d->external_servers[i];
		uint32_t refresh = refresh_hours(x);
		json_t *last = json_object_get(up->last_run, x->name);
		if (x->scavenging && refresh &&
		    zone_scavenging_due(x->scavenging_period_hours, refresh, up->load,
					(uint64_t)json_integer_value(last), now))
			json_array_append_new(due, json_string(x->name));
	}
	size_t i;
	json_t *name;
	json_array_foreach(due, i, name) {
		/* by name: a scavenging that removes records replaces the deployment */
		pr_diag_t *diag = pr_diag_new();
		size_t removed = 0;
		control_scavenge(up->dm->control, json_string_value(name), now, &removed, diag);
		pr_diag_destroy(&diag);
		json_object_set_new(up->last_run, json_string_value(name),
				    json_integer((json_int_t)now));
	}
	json_decref(due);
}

void updates_open(daemon_t *dm)
{
	updates_t *up = pr_calloc(1, sizeof(*up));
	uv_mutex_init(&up->lock);
	uv_async_init(&dm->loop, &up->wake, on_wake);
	up->wake.data = up;
	up->dm = dm;
	up->load = (uint64_t)time(NULL);
	up->last_run = json_object();
	uv_timer_init(&dm->loop, &up->scavenge);
	up->scavenge.data = up;
	uv_timer_start(&up->scavenge, on_scavenge, SCAVENGE_CHECK_MS, SCAVENGE_CHECK_MS);
	dm->updates = up;
}

void updates_close(daemon_t *dm)
{
	updates_t *up = dm->updates;
	if (!up)
		return;
	/* workers are stopped and the control loop closed: nothing is pending */
	uv_mutex_destroy(&up->lock);
	json_decref(up->last_run);
	free(up);
	dm->updates = NULL;
}

void updates_worker_init(worker_t *w, uv_loop_t *loop)
{
	uv_async_init(loop, &w->update_done, on_done);
	w->update_done.data = w;
	w->updates_done = NULL;
}

/* Drop the queries of w that are still queued (the control loop has stopped). */
void updates_worker_stop(worker_t *w)
{
	updates_t *up = w->dm->updates;
	uv_mutex_lock(&up->lock);
	update_job_t **pp = &up->todo, *mine = NULL;
	while (*pp) {
		update_job_t *j = *pp;
		if (j->w == w) {
			*pp = j->next;
			j->next = mine;
			mine = j;
			up->pending--;
		} else {
			pp = &j->next;
		}
	}
	update_job_t *done = w->updates_done;
	w->updates_done = NULL;
	uv_mutex_unlock(&up->lock);
	for (update_job_t *lists[2] = {mine, done}, **l = lists; l < lists + 2; l++)
		for (update_job_t *j = *l, *next; j; j = next) {
			next = j->next;
			ep_query_drop(j->eq);
			job_free(j);
		}
	uv_close((uv_handle_t *)&w->update_done, NULL);
}

bool updates_take(worker_t *w, ep_query_t *eq)
{
	const uint8_t *msg = ep_query_data(eq);
	size_t len = ep_query_len(eq);
	if (!dns_message_is_update(msg, len) || !w->dm->updates)
		return false;
	const char *name = ep_query_listener_name(eq);
	const resolve_listener_t *l = resolve_snapshot_find_listener(w->snap, name);
	if (!l || l->kind != RESOLVE_LISTENER_EXTERNAL)
		return false; /* E-6: the query path refuses it */
	updates_t *up = w->dm->updates;
	update_job_t *j = pr_calloc(1, sizeof(*j));
	*j = (update_job_t){.w = w, .eq = eq, .len = len};
	j->server = pr_strdup(strchr(name, '/') ? strchr(name, '/') + 1 : name);
	j->msg = pr_malloc(len);
	memcpy(j->msg, msg, len);
	uv_mutex_lock(&up->lock);
	bool busy = up->pending >= UPDATES_MAX_PENDING;
	if (!busy) {
		j->next = up->todo;
		up->todo = j;
		up->pending++;
	}
	uv_mutex_unlock(&up->lock);
	if (busy) {
		uint8_t buf[DNS_HEADER_LEN];
		size_t n = dns_update_error(msg, len, DNS_RCODE_SERVFAIL, buf, sizeof(buf));
		if (n)
			ep_query_answer(eq, buf, n);
		else
			ep_query_drop(eq);
		job_free(j);
		return true;
	}
	uv_async_send(&up->wake);
	return true;
}
