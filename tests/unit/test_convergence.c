/* test_convergence.c: property test of the merge: a hub and three agents (two of one facility, one of
 * another) make random concurrent edits and exchange change-sets through the hub in random interleavings,
 * duplicated, re-delivered and late. At the end every agent holds exactly the hub's state for its facility,
 * and the hub's conflicts are exactly those an independent model of the rules predicts from the order in
 * which the hub received the changes.
 *
 * KIROKU_PROPERTY_SEED=N fixes the seed (CI uses a fixed one; "random" picks one and prints it);
 * KIROKU_PROPERTY_ITERATIONS=N runs more, e.g.
 *   KIROKU_PROPERTY_SEED=random KIROKU_PROPERTY_ITERATIONS=5000 build/tests/test_convergence
 * The seed of a failing iteration is printed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "kiroku/changeset.h"
#include "kiroku/store.h"

#define NAGENTS 3
#define MAXMSG 64

struct msg {
	uint8_t *data;
	size_t len;
	int agent;
};

struct world {
	char dir[256];
	struct kr_store *hub;
	struct kr_store *agent[NAGENTS];
	const char *node[NAGENTS];
	const char *facility[NAGENTS];
	struct msg up[MAXMSG];   /* agent -> hub sets in flight */
	size_t nup;
	struct msg down[MAXMSG]; /* hub -> agent sets in flight */
	size_t ndown;
	uint64_t rng;
	unsigned long long seed;
};

static uint32_t rnd(struct world *w)
{
	/* xorshift64*: deterministic per seed */
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return (uint32_t)((w->rng * 2685821657736338717ULL) >> 32);
}

#define CHECK(w, cond, ...)                                                                                            \
	do {                                                                                                           \
		if (!(cond)) {                                                                                         \
			fprintf(stderr, "property test failed (seed %llu): ", (w)->seed);                              \
			fprintf(stderr, __VA_ARGS__);                                                                  \
			fprintf(stderr, "\n");                                                                         \
			fail();                                                                                        \
		}                                                                                                      \
	} while (0)

static void world_open(struct world *w, unsigned long long seed)
{
	static const char *nodes[NAGENTS] = {"school-a-pc1", "school-a-pc2", "office-b-pc1"};
	static const char *facs[NAGENTS] = {"school-a", "school-a", "office-b"};
	struct kr_error err = {0};
	char path[512];

	memset(w, 0, sizeof *w);
	w->seed = seed;
	w->rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	snprintf(w->dir, sizeof w->dir, "/tmp/kiroku-prop-XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	snprintf(path, sizeof path, "%s/hub.db", w->dir);
	assert_int_equal(kr_store_create(path, KR_ROLE_HUB, "hub", NULL, &err), KR_OK);
	assert_int_equal(kr_store_open(path, &w->hub, &err), KR_OK);
	for (int i = 0; i < NAGENTS; i++) {
		w->node[i] = nodes[i];
		w->facility[i] = facs[i];
		snprintf(path, sizeof path, "%s/%s.db", w->dir, nodes[i]);
		assert_int_equal(kr_store_create(path, KR_ROLE_AGENT, nodes[i], facs[i], &err), KR_OK);
		assert_int_equal(kr_store_open(path, &w->agent[i], &err), KR_OK);
	}
}

static void world_close(struct world *w)
{
	char cmd[512];
	kr_store_close(w->hub);
	for (int i = 0; i < NAGENTS; i++)
		kr_store_close(w->agent[i]);
	for (size_t i = 0; i < w->nup; i++)
		free(w->up[i].data);
	for (size_t i = 0; i < w->ndown; i++)
		free(w->down[i].data);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", w->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", w->dir);
}

/* ---- the users' actions ---- */

struct idlist {
	kr_ulid id[4096];
	size_t n;
};

static kr_status collect(void *ctx, const struct kr_record *rec, struct kr_error *err)
{
	struct idlist *l = ctx;
	(void)err;
	if (l->n < 4096)
		l->id[l->n++] = rec->id;
	return KR_OK;
}

static bool pick_record(struct world *w, struct kr_store *st, kr_ulid *out)
{
	static struct idlist l;
	struct kr_list_filter f = {.kind = "incident"};
	struct kr_error err = {0};
	l.n = 0;
	assert_int_equal(kr_record_list(st, &f, collect, &l, &err), KR_OK);
	if (l.n == 0)
		return false;
	*out = l.id[rnd(w) % l.n];
	return true;
}

static const char *const categories[] = {"紛失", "漏えい", "その他"};
static const char *const descriptions[] = {"USBメモリを紛失", "誤送信", "書類の置き忘れ", "調査中"};
static const char *const counts[] = {"0", "1", "12"};

static void random_fields(struct world *w, struct kr_field_text *f, size_t *n)
{
	/* One to three of a few fields with few values: concurrent writes of one field and equal values both happen. */
	static const char *const names[] = {"description", "category", "persons_affected", "containment"};
	size_t want = 1 + rnd(w) % 3;
	*n = 0;
	for (size_t i = 0; i < 4 && *n < want; i++) {
		size_t k = (i + rnd(w)) % 4;
		bool dup = false;
		for (size_t j = 0; j < *n; j++)
			dup |= strcmp(f[j].name, names[k]) == 0;
		if (dup)
			continue;
		f[*n].name = names[k];
		switch (k) {
		case 0:
			f[*n].text = descriptions[rnd(w) % 4];
			break;
		case 1:
			f[*n].text = categories[rnd(w) % 3];
			break;
		case 2:
			f[*n].text = counts[rnd(w) % 3];
			break;
		default:
			f[*n].text = rnd(w) % 2 ? "使用停止" : "";
		}
		(*n)++;
	}
}

static void act_create(struct world *w, int a)
{
	struct kr_field_text f[] = {
		{"occurred_at", "2026-11-20T15:10"},
		{"category", categories[rnd(w) % 3]},
		{"description", descriptions[rnd(w) % 4]},
	};
	struct kr_error err = {0};
	kr_ulid id;
	CHECK(w, kr_record_create(w->agent[a], "incident", NULL, f, 3, 0, &id, &err) == KR_OK, "create: %s", err.msg);
}

static void act_edit(struct world *w, int a)
{
	struct kr_field_text f[4];
	struct kr_error err = {0};
	kr_ulid id;
	size_t n;
	if (!pick_record(w, w->agent[a], &id))
		return;
	random_fields(w, f, &n);
	CHECK(w, kr_record_edit(w->agent[a], &id, f, n, 0, &err) == KR_OK, "edit: %s", err.msg);
}

static void act_delete(struct world *w, int a)
{
	struct kr_error err = {0};
	kr_ulid id;
	if (!pick_record(w, w->agent[a], &id))
		return;
	CHECK(w, kr_record_delete(w->agent[a], &id, 0, &err) == KR_OK, "delete: %s", err.msg);
}

static void act_operator(struct world *w)
{
	static const char *const status[] = {"triaged", "contained", "closed"};
	struct kr_field_text f[] = {{"status", status[rnd(w) % 3]}};
	struct kr_error err = {0};
	kr_ulid id;
	kr_status s;
	if (!pick_record(w, w->hub, &id))
		return;
	s = kr_record_edit(w->hub, &id, f, 1, KR_WRITE_OPERATOR, &err);
	CHECK(w, s == KR_OK || s == KR_ERR_CONFLICT, "operator edit: %s", err.msg);
}

/* ---- the exchange, in process ---- */

static void push(struct world *w, int a, bool deliver_now, bool lose_answer)
{
	struct kr_buf out;
	struct kr_changeset cs;
	struct kr_merge_result res;
	struct kr_error err = {0};
	size_t n;
	struct kr_limits lim = kr_default_limits;

	lim.max_changes = 1 + rnd(w) % 20; /* small batches: more interleavings */
	kr_buf_init(&out, 0);
	CHECK(w, kr_outbox_batch(w->agent[a], &lim, &out, &n, &err) == KR_OK, "outbox batch: %s", err.msg);
	if (n == 0) {
		kr_buf_release(&out);
		return;
	}
	if (!deliver_now && w->nup < MAXMSG) {
		w->up[w->nup].len = out.len;
		w->up[w->nup].agent = a;
		w->up[w->nup++].data = kr_buf_take(&out, NULL);
		return;
	}
	CHECK(w, kr_changeset_decode(out.data, out.len, &kr_default_limits, &cs, &err) == KR_OK, "decode: %s", err.msg);
	struct kr_merge_opts o = {.peer_node = w->node[a], .peer_facility = w->facility[a]};
	kr_status s = kr_merge(w->hub, &cs, &o, &res, &err);
	CHECK(w, s == KR_OK, "hub merge from %s: %s", w->node[a], err.msg);
	if (!lose_answer)
		CHECK(w, kr_outbox_ack(w->agent[a], res.acked, &err) == KR_OK, "ack: %s", err.msg);
	kr_changeset_release(&cs);
	kr_buf_release(&out);
}

static void deliver_up(struct world *w)
{
	struct kr_changeset cs;
	struct kr_merge_result res;
	struct kr_error err = {0};
	size_t i;
	if (!w->nup)
		return;
	i = rnd(w) % w->nup;
	struct msg *m = &w->up[i];
	CHECK(w, kr_changeset_decode(m->data, m->len, &kr_default_limits, &cs, &err) == KR_OK, "decode: %s", err.msg);
	struct kr_merge_opts o = {.peer_node = w->node[m->agent], .peer_facility = w->facility[m->agent]};
	kr_status s = kr_merge(w->hub, &cs, &o, &res, &err);
	/* A late set overlapping what the hub has is a replay; one that skips ahead is a gap. Both are fine. */
	CHECK(w, s == KR_OK || s == KR_ERR_GAP, "hub merge of a late set from %s: %s", w->node[m->agent], err.msg);
	if (s == KR_OK && rnd(w) % 2)
		CHECK(w, kr_outbox_ack(w->agent[m->agent], res.acked, &err) == KR_OK, "ack: %s", err.msg);
	kr_changeset_release(&cs);
	if (rnd(w) % 3) { /* keep it a third of the time: it will be delivered again */
		free(m->data);
		*m = w->up[--w->nup];
	}
}

static bool pull(struct world *w, int a, bool deliver_now)
{
	struct kr_buf out;
	struct kr_changeset cs;
	struct kr_merge_result res;
	struct kr_error err = {0};
	struct kr_limits lim = kr_default_limits;
	size_t n;
	bool more;
	uint64_t cursor = kr_store_meta_u64(w->agent[a], "cursor");

	lim.max_changes = 1 + rnd(w) % 30;
	kr_buf_init(&out, 0);
	CHECK(w, kr_hub_export(w->hub, w->facility[a], w->node[a], cursor, &lim, &out, &n, &more, &err) == KR_OK,
	      "hub export: %s", err.msg);
	if (!deliver_now && w->ndown < MAXMSG) {
		w->down[w->ndown].len = out.len;
		w->down[w->ndown].agent = a;
		w->down[w->ndown++].data = kr_buf_take(&out, NULL);
		return more;
	}
	CHECK(w, kr_changeset_decode(out.data, out.len, &kr_default_limits, &cs, &err) == KR_OK, "decode: %s", err.msg);
	CHECK(w, kr_merge(w->agent[a], &cs, NULL, &res, &err) == KR_OK, "agent merge: %s", err.msg);
	kr_changeset_release(&cs);
	kr_buf_release(&out);
	return more;
}

static void deliver_down(struct world *w)
{
	struct kr_changeset cs;
	struct kr_merge_result res;
	struct kr_error err = {0};
	size_t i;
	if (!w->ndown)
		return;
	i = rnd(w) % w->ndown;
	struct msg *m = &w->down[i];
	CHECK(w, kr_changeset_decode(m->data, m->len, &kr_default_limits, &cs, &err) == KR_OK, "decode: %s", err.msg);
	kr_status s = kr_merge(w->agent[m->agent], &cs, NULL, &res, &err);
	CHECK(w, s == KR_OK || s == KR_ERR_GAP, "agent merge of a late set: %s", err.msg);
	kr_changeset_release(&cs);
	if (rnd(w) % 3) {
		free(m->data);
		*m = w->down[--w->ndown];
	}
}

static void drain(struct world *w)
{
	/* Twice round: conflicts the hub opens on the last pass travel back on the next. */
	for (int round = 0; round < 3; round++)
		for (int a = 0; a < NAGENTS; a++) {
			for (int k = 0; k < 1000 && kr_store_meta_u64(w->agent[a], "acked") <
							   kr_store_meta_u64(w->agent[a], "last_seq"); k++)
				push(w, a, true, false);
			for (int k = 0; k < 1000 && pull(w, a, true); k++)
				;
		}
}

/* ---- the independent model of the conflict rules, replayed over the hub's journal order ---- */

struct mfield {
	char key[128]; /* record id text + '/' + field */
	struct kr_value value;
	char text[256];
	uint64_t hlc, base_hlc;
	char node[80], base_node[80];
};

struct model {
	struct mfield f[8192];
	size_t n;
	char (*conf)[256];
	size_t nconf;
};

static struct mfield *mget(struct model *m, const char *rec, const char *field, bool create)
{
	char key[128];
	snprintf(key, sizeof key, "%s/%s", rec, field);
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->f[i].key, key) == 0)
			return &m->f[i];
	if (!create || m->n == 8192)
		return NULL;
	struct mfield *f = &m->f[m->n++];
	memset(f, 0, sizeof *f);
	snprintf(f->key, sizeof f->key, "%s", key);
	return f;
}

static bool same_version(uint64_t h1, const char *n1, uint64_t h2, const char *n2)
{
	return h1 == h2 && (h1 == 0 || strcmp(n1 ? n1 : "", n2 ? n2 : "") == 0);
}

static bool same_value(const struct kr_value *a, const struct kr_value *b)
{
	if (a->type != b->type)
		return false;
	if (a->type == KR_VAL_TEXT)
		return strcmp(a->s, b->s) == 0;
	return a->type == KR_VAL_NULL || a->i == b->i;
}

static void mconflict(struct model *m, const char *rec, const char *field, const char *type, const char *wn,
		      uint64_t wh, const char *ln, uint64_t lh)
{
	m->conf = realloc(m->conf, (m->nconf + 1) * sizeof *m->conf);
	snprintf(m->conf[m->nconf++], 256, "%s|%s|%s|%s|%" PRIu64 "|%s|%" PRIu64, rec, field, type, wn, wh, ln, lh);
}

static void mset(struct mfield *f, const struct kr_value *v, uint64_t hlc, const char *node, const struct kr_version *b)
{
	f->value = *v;
	if (v->type == KR_VAL_TEXT) {
		snprintf(f->text, sizeof f->text, "%s", v->s);
		f->value.s = f->text;
	}
	f->hlc = hlc;
	snprintf(f->node, sizeof f->node, "%s", node);
	f->base_hlc = b->hlc;
	snprintf(f->base_node, sizeof f->base_node, "%s", b->node ? b->node : "");
}

static void model_apply(struct model *m, const struct kr_change *c, bool detect)
{
	char rec[KR_ULID_LEN + 1], prefix[KR_ULID_LEN + 2];
	bool is_delete = false;
	struct mfield *del;

	kr_ulid_format(&c->record, rec);
	snprintf(prefix, sizeof prefix, "%s/", rec);
	for (size_t i = 0; i < c->nwrites; i++)
		if (strcmp(c->writes[i].field, "_deleted") == 0 && c->writes[i].value.type == KR_VAL_BOOL && c->writes[i].value.i)
			is_delete = true;
	del = mget(m, rec, "_deleted", false);
	if (detect && is_delete) {
		for (size_t i = 0; i < m->n; i++) {
			struct mfield *g = &m->f[i];
			const char *name = g->key + strlen(prefix);
			if (strncmp(g->key, prefix, strlen(prefix)) != 0 || name[0] == '_')
				continue;
			uint64_t sh = 0;
			const char *sn = "";
			for (size_t k = 0; k < c->nseen; k++)
				if (strcmp(c->seen[k].field, name) == 0) {
					sh = c->seen[k].version.hlc;
					sn = c->seen[k].version.node;
				}
			if (!same_version(sh, sn, g->hlc, g->node))
				mconflict(m, rec, name, "delete", c->origin, c->hlc, g->node, g->hlc);
		}
	} else if (detect && del && del->value.type == KR_VAL_BOOL && del->value.i &&
		   !same_version(c->del_base.hlc, c->del_base.node, del->hlc, del->node)) {
		for (size_t i = 0; i < c->nwrites; i++)
			if (c->writes[i].field[0] != '_')
				mconflict(m, rec, c->writes[i].field, "delete", del->node, del->hlc, c->origin, c->hlc);
	}
	for (size_t i = 0; i < c->nwrites; i++) {
		const struct kr_write *wr = &c->writes[i];
		struct mfield *f = mget(m, rec, wr->field, false);
		if (!f) {
			f = mget(m, rec, wr->field, true);
			mset(f, &wr->value, c->hlc, c->origin, &wr->base);
			continue;
		}
		int cmp = c->hlc != f->hlc ? (c->hlc > f->hlc ? 1 : -1) : strcmp(c->origin, f->node);
		if (cmp == 0)
			continue;
		if (cmp > 0) {
			if (detect && !same_version(wr->base.hlc, wr->base.node, f->hlc, f->node) &&
			    !same_value(&wr->value, &f->value))
				mconflict(m, rec, wr->field, "value", c->origin, c->hlc, f->node, f->hlc);
			mset(f, &wr->value, c->hlc, c->origin, &wr->base);
		} else if (detect && !same_version(f->base_hlc, f->base_node, c->hlc, c->origin) &&
			   !same_value(&wr->value, &f->value)) {
			mconflict(m, rec, wr->field, "value", f->node, f->hlc, c->origin, c->hlc);
		}
	}
}

static int cmpstr(const void *a, const void *b) { return strcmp(a, b); }

static void check_conflicts(struct world *w)
{
	static struct model m;
	sqlite3_stmt *q;
	struct kr_error err = {0};
	char (*actual)[256] = NULL;
	size_t nactual = 0;

	m.n = 0;
	m.conf = NULL;
	m.nconf = 0;
	assert_int_equal(sqlite3_prepare_v2(kr_store_db(w->hub), "SELECT origin, n, changes FROM journal ORDER BY id", -1,
					    &q, NULL),
			 SQLITE_OK);
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *origin = (const char *)sqlite3_column_text(q, 0);
		struct kr_changeset env = {.format = KR_FORMAT_VERSION, .sender = "x"}, cs;
		struct kr_buf b;
		kr_buf_init(&b, 0);
		assert_int_equal(kr_changeset_encode_raw(&env, sqlite3_column_blob(q, 2), (size_t)sqlite3_column_bytes(q, 2),
							 (size_t)sqlite3_column_int64(q, 1), &b, &err),
				 KR_OK);
		assert_int_equal(kr_changeset_decode(b.data, b.len, &kr_default_limits, &cs, &err), KR_OK);
		for (size_t i = 0; i < cs.nchanges; i++) {
			if (cs.changes[i].kind[0] == '_')
				continue;
			/* The hub's own writes (operator edits) are not merged, so they raise no conflicts. */
			model_apply(&m, &cs.changes[i], strcmp(origin, "hub") != 0);
		}
		kr_changeset_release(&cs);
		kr_buf_release(&b);
	}
	sqlite3_finalize(q);

	assert_int_equal(sqlite3_prepare_v2(kr_store_db(w->hub),
					    "SELECT json_extract(fields,'$.record'), json_extract(fields,'$.field'), "
					    "json_extract(fields,'$.type'), json_extract(fields,'$.winner_node'), "
					    "json_extract(fields,'$.winner_hlc'), json_extract(fields,'$.loser_node'), "
					    "json_extract(fields,'$.loser_hlc') FROM records WHERE kind = '_conflict'",
					    -1, &q, NULL),
			 SQLITE_OK);
	while (sqlite3_step(q) == SQLITE_ROW) {
		actual = realloc(actual, (nactual + 1) * sizeof *actual);
		snprintf(actual[nactual++], 256, "%s|%s|%s|%s|%" PRIu64 "|%s|%" PRIu64, sqlite3_column_text(q, 0),
			 sqlite3_column_text(q, 1), sqlite3_column_text(q, 2), sqlite3_column_text(q, 3),
			 (uint64_t)sqlite3_column_int64(q, 4), sqlite3_column_text(q, 5), (uint64_t)sqlite3_column_int64(q, 6));
	}
	sqlite3_finalize(q);
	qsort(actual, nactual, sizeof *actual, cmpstr);
	qsort(m.conf, m.nconf, sizeof *m.conf, cmpstr);
	bool same = nactual == m.nconf;
	for (size_t i = 0; same && i < nactual; i++)
		same = strcmp(actual[i], m.conf[i]) == 0;
	if (!same) {
		fprintf(stderr, "hub conflicts (%zu):\n", nactual);
		for (size_t i = 0; i < nactual; i++)
			fprintf(stderr, "  %s\n", actual[i]);
		fprintf(stderr, "model expects (%zu):\n", m.nconf);
		for (size_t i = 0; i < m.nconf; i++)
			fprintf(stderr, "  %s\n", m.conf[i]);
	}
	free(actual);
	free(m.conf);
	CHECK(w, same, "the hub's conflicts differ from the model's");
}

static void check_converged(struct world *w)
{
	struct kr_error err = {0};
	for (int a = 0; a < NAGENTS; a++) {
		struct kr_buf hub, agent;
		kr_buf_init(&hub, 0);
		kr_buf_init(&agent, 0);
		assert_int_equal(kr_store_dump(w->hub, w->facility[a], &hub, &err), KR_OK);
		assert_int_equal(kr_store_dump(w->agent[a], NULL, &agent, &err), KR_OK);
		kr_buf_terminate(&hub);
		kr_buf_terminate(&agent);
		if (hub.len != agent.len || memcmp(hub.data, agent.data, hub.len) != 0)
			fprintf(stderr, "--- hub (%s)\n%s--- agent %s\n%s", w->facility[a], (char *)hub.data, w->node[a],
				(char *)agent.data);
		CHECK(w, hub.len == agent.len && memcmp(hub.data, agent.data, hub.len) == 0,
		      "agent %s differs from the hub", w->node[a]);
		CHECK(w, kr_store_meta_u64(w->agent[a], "acked") == kr_store_meta_u64(w->agent[a], "last_seq"),
		      "agent %s still has unacknowledged changes", w->node[a]);
		kr_buf_release(&hub);
		kr_buf_release(&agent);
	}
}

static void run_one(unsigned long long seed, int steps, size_t *conflicts_seen)
{
	struct world w;
	struct kr_store_status hs;
	struct kr_error err = {0};

	world_open(&w, seed);
	for (int i = 0; i < steps; i++) {
		int a = (int)(rnd(&w) % NAGENTS);
		uint32_t r = rnd(&w) % 100;
		if (r < 20)
			act_create(&w, a);
		else if (r < 45)
			act_edit(&w, a);
		else if (r < 49)
			act_delete(&w, a);
		else if (r < 53)
			act_operator(&w);
		else if (r < 68)
			push(&w, a, rnd(&w) % 2, rnd(&w) % 4 == 0);
		else if (r < 76)
			deliver_up(&w);
		else if (r < 90)
			pull(&w, a, rnd(&w) % 2);
		else
			deliver_down(&w);
	}
	drain(&w);
	check_converged(&w);
	check_conflicts(&w);
	assert_int_equal(kr_store_status(w.hub, &hs, &err), KR_OK);
	*conflicts_seen += hs.conflicts_open;
	world_close(&w);
}

static void test_convergence(void **state)
{
	const char *seed_env = getenv("KIROKU_PROPERTY_SEED"), *iter_env = getenv("KIROKU_PROPERTY_ITERATIONS");
	unsigned long long seed = seed_env ? strtoull(seed_env, NULL, 10) : 20261122ULL;
	if (seed_env && strcmp(seed_env, "random") == 0) {
		seed = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32);
		printf("convergence: random seed %llu\n", seed);
	}
	long iterations = iter_env ? strtol(iter_env, NULL, 10) : 12;
	size_t conflicts = 0;
	(void)state;
	for (long i = 0; i < iterations; i++)
		run_one(seed + (unsigned long long)i, 220, &conflicts);
	printf("convergence: %ld iterations from seed %llu, %zu conflicts opened and checked\n", iterations, seed, conflicts);
	/* The workload must actually make conflicts, or the test proves little. */
	assert_true(conflicts > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_convergence),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
