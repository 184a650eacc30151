/* test_merge.c: the merge rules on hand-made cases: one hub and agents in temporary stores. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiroku/changeset.h"
#include "kiroku/store.h"

struct fx {
	char dir[128];
	struct kr_store *hub, *a1, *a2, *b1;
};

static struct kr_store *make(struct fx *f, const char *file, enum kr_role role, const char *node, const char *fac)
{
	char path[256];
	struct kr_error err = {0};
	struct kr_store *st;
	snprintf(path, sizeof path, "%s/%s", f->dir, file);
	assert_int_equal(kr_store_create(path, role, node, fac, &err), KR_OK);
	assert_int_equal(kr_store_open(path, &st, &err), KR_OK);
	return st;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/kiroku-merge-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->hub = make(f, "hub.db", KR_ROLE_HUB, "hub", NULL);
	f->a1 = make(f, "a1.db", KR_ROLE_AGENT, "a-pc1", "school-a");
	f->a2 = make(f, "a2.db", KR_ROLE_AGENT, "a-pc2", "school-a");
	f->b1 = make(f, "b1.db", KR_ROLE_AGENT, "b-pc1", "office-b");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[256];
	kr_store_close(f->hub);
	kr_store_close(f->a1);
	kr_store_close(f->a2);
	kr_store_close(f->b1);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Agent -> hub, with the answer's ack applied. Returns the merge status. */
static kr_status push_as(struct fx *f, struct kr_store *agent, const char *node, const char *fac,
			 struct kr_merge_result *res, struct kr_error *err)
{
	struct kr_buf out;
	struct kr_changeset cs;
	size_t n;
	kr_status s;
	struct kr_merge_opts o = {.peer_node = node, .peer_facility = fac};

	kr_buf_init(&out, 0);
	assert_int_equal(kr_outbox_batch(agent, &kr_default_limits, &out, &n, err), KR_OK);
	assert_int_equal(kr_changeset_decode(out.data, out.len, &kr_default_limits, &cs, err), KR_OK);
	s = kr_merge(f->hub, &cs, &o, res, err);
	if (s == KR_OK)
		assert_int_equal(kr_outbox_ack(agent, res->acked, err), KR_OK);
	kr_changeset_release(&cs);
	kr_buf_release(&out);
	return s;
}

static kr_status push(struct fx *f, struct kr_store *agent, struct kr_merge_result *res, struct kr_error *err)
{
	return push_as(f, agent, kr_store_node(agent), kr_store_facility(agent), res, err);
}

static void pull(struct fx *f, struct kr_store *agent)
{
	struct kr_buf out;
	struct kr_changeset cs;
	struct kr_merge_result res;
	struct kr_error err = {0};
	size_t n;
	bool more;
	kr_buf_init(&out, 0);
	assert_int_equal(kr_hub_export(f->hub, kr_store_facility(agent), kr_store_node(agent),
				       kr_store_meta_u64(agent, "cursor"), &kr_default_limits, &out, &n, &more, &err),
			 KR_OK);
	assert_int_equal(kr_changeset_decode(out.data, out.len, &kr_default_limits, &cs, &err), KR_OK);
	assert_int_equal(kr_merge(agent, &cs, NULL, &res, &err), KR_OK);
	kr_changeset_release(&cs);
	kr_buf_release(&out);
}

static kr_ulid new_incident(struct kr_store *st, const char *desc)
{
	struct kr_field_text fl[] = {
		{"occurred_at", "2026-11-20T15:10"}, {"category", "紛失"}, {"description", desc}};
	struct kr_error err = {0};
	kr_ulid id;
	assert_int_equal(kr_record_create(st, "incident", NULL, fl, 3, 0, &id, &err), KR_OK);
	return id;
}

static void edit(struct kr_store *st, kr_ulid id, const char *field, const char *text)
{
	struct kr_field_text fl[] = {{field, text}};
	struct kr_error err = {0};
	assert_int_equal(kr_record_edit(st, &id, fl, 1, 0, &err), KR_OK);
}

static const char *text_of(struct kr_store *st, kr_ulid id, const char *field, char *buf, size_t size)
{
	struct kr_record rec;
	struct kr_error err = {0};
	assert_int_equal(kr_record_get(st, &id, &rec, &err), KR_OK);
	const struct kr_field_state *fs = kr_record_field(&rec, field);
	snprintf(buf, size, "%s", fs && fs->value.type == KR_VAL_TEXT ? fs->value.s : "(none)");
	kr_record_release(&rec);
	return buf;
}

static uint64_t open_conflicts(struct kr_store *st)
{
	struct kr_store_status s;
	struct kr_error err = {0};
	assert_int_equal(kr_store_status(st, &s, &err), KR_OK);
	return s.conflicts_open;
}

static void dump(struct kr_store *st, const char *fac, struct kr_buf *out)
{
	struct kr_error err = {0};
	kr_buf_init(out, 0);
	assert_int_equal(kr_store_dump(st, fac, out, &err), KR_OK);
	kr_buf_terminate(out);
}

static void test_concurrent_edit_is_one_conflict(void **state)
{
	struct fx *f = *state;
	struct kr_merge_result res;
	struct kr_error err = {0};
	char v1[256], v2[256], vh[256];

	kr_ulid id = new_incident(f->a1, "USBメモリを紛失");
	assert_int_equal(push(f, f->a1, &res, &err), KR_OK);
	pull(f, f->a2);
	edit(f->a1, id, "description", "USBメモリを紛失（校外学習）");
	edit(f->a2, id, "description", "USBメモリを紛失（職員室）");
	assert_int_equal(push(f, f->a1, &res, &err), KR_OK);
	assert_int_equal(res.conflicts, 0);
	assert_int_equal(push(f, f->a2, &res, &err), KR_OK);
	assert_int_equal(res.conflicts, 1);
	pull(f, f->a1);
	pull(f, f->a2);
	text_of(f->a1, id, "description", v1, sizeof v1);
	text_of(f->a2, id, "description", v2, sizeof v2);
	text_of(f->hub, id, "description", vh, sizeof vh);
	assert_string_equal(v1, vh);
	assert_string_equal(v2, vh);
	assert_int_equal(open_conflicts(f->hub), 1);
	assert_int_equal(open_conflicts(f->a1), 1); /* the entry travels to the facility */
	/* The entry holds both values. */
	struct kr_buf d;
	dump(f->hub, "school-a", &d);
	assert_non_null(strstr((char *)d.data, "loser_value=\""));
	assert_non_null(strstr((char *)d.data, "（校外学習）"));
	assert_non_null(strstr((char *)d.data, "（職員室）"));
	kr_buf_release(&d);
}

static void test_sequential_edits_and_other_fields_are_not_conflicts(void **state)
{
	struct fx *f = *state;
	struct kr_merge_result res;
	struct kr_error err = {0};
	char v[256];

	kr_ulid id = new_incident(f->a1, "紛失");
	assert_int_equal(push(f, f->a1, &res, &err), KR_OK);
	pull(f, f->a2);
	edit(f->a2, id, "description", "紛失（見つかった）"); /* a2 saw a1's value */
	assert_int_equal(push(f, f->a2, &res, &err), KR_OK);
	pull(f, f->a1);
	edit(f->a1, id, "containment", "捜索済み");
	edit(f->a2, id, "persons_affected", "3"); /* different fields concurrently: both apply */
	assert_int_equal(push(f, f->a1, &res, &err), KR_OK);
	assert_int_equal(push(f, f->a2, &res, &err), KR_OK);
	assert_int_equal(open_conflicts(f->hub), 0);
	pull(f, f->a1);
	assert_string_equal(text_of(f->a1, id, "description", v, sizeof v), "紛失（見つかった）");
	assert_string_equal(text_of(f->a1, id, "containment", v, sizeof v), "捜索済み");
}

static void test_equal_concurrent_values_are_not_conflicts(void **state)
{
	struct fx *f = *state;
	struct kr_merge_result res;
	struct kr_error err = {0};
	kr_ulid id = new_incident(f->a1, "紛失");
	assert_int_equal(push(f, f->a1, &res, &err), KR_OK);
	pull(f, f->a2);
	edit(f->a1, id, "category", "漏えい");
	edit(f->a2, id, "category", "漏えい");
	assert_int_equal(push(f, f->a1, &res, &err), KR_OK);
	assert_int_equal(push(f, f->a2, &res, &err), KR_OK);
	assert_int_equal(open_conflicts(f->hub), 0);
}

static void test_delete_and_unseen_edit_conflict(void **state)
{
	struct fx *f = *state;
	struct kr_merge_result res;
	struct kr_error err = {0};
	struct kr_record rec;
	kr_ulid id = new_incident(f->a1, "紛失");
	assert_int_equal(push(f, f->a1, &res, &err), KR_OK);
	pull(f, f->a2);
	assert_int_equal(kr_record_delete(f->a1, &id, 0, &err), KR_OK);
	edit(f->a2, id, "containment", "捜索中");
	assert_int_equal(push(f, f->a2, &res, &err), KR_OK);
	assert_int_equal(push(f, f->a1, &res, &err), KR_OK);
	assert_int_equal(res.conflicts, 1);
	pull(f, f->a2);
	assert_int_equal(kr_record_get(f->a2, &id, &rec, &err), KR_OK);
	assert_true(rec.deleted);
	kr_record_release(&rec);
	/* Editing a deleted record is refused with a reason. */
	struct kr_field_text fl[] = {{"containment", "x"}};
	assert_int_equal(kr_record_edit(f->a2, &id, fl, 1, 0, &err), KR_ERR_CONFLICT);
	assert_non_null(strstr(err.msg, "deleted"));
}

static void test_replay_gap_and_forbidden_leave_hub_unchanged(void **state)
{
	struct fx *f = *state;
	struct kr_merge_result res;
	struct kr_error err = {0};
	struct kr_buf before, after, set1, set2;
	struct kr_changeset cs;
	size_t n;
	struct kr_merge_opts o = {.peer_node = "a-pc1", .peer_facility = "school-a"};

	new_incident(f->a1, "一件目");
	kr_buf_init(&set1, 0);
	assert_int_equal(kr_outbox_batch(f->a1, &kr_default_limits, &set1, &n, &err), KR_OK);
	assert_int_equal(push(f, f->a1, &res, &err), KR_OK);
	assert_int_equal(res.acked, 1);
	dump(f->hub, NULL, &before);

	/* The same set again: nothing changes. */
	assert_int_equal(kr_changeset_decode(set1.data, set1.len, &kr_default_limits, &cs, &err), KR_OK);
	assert_int_equal(kr_merge(f->hub, &cs, &o, &res, &err), KR_OK);
	assert_int_equal(res.applied, 0);
	assert_int_equal(res.skipped, 1);
	assert_int_equal(res.acked, 1);
	kr_changeset_release(&cs);

	/* Changes 2 and 3 made, 2 lost: sending only 3 is a gap naming 2. */
	new_incident(f->a1, "二件目");
	new_incident(f->a1, "三件目");
	kr_buf_init(&set2, 0);
	assert_int_equal(kr_outbox_batch(f->a1, &kr_default_limits, &set2, &n, &err), KR_OK);
	assert_int_equal(n, 2);
	assert_int_equal(kr_changeset_decode(set2.data, set2.len, &kr_default_limits, &cs, &err), KR_OK);
	cs.changes++;
	cs.nchanges--;
	assert_int_equal(kr_merge(f->hub, &cs, &o, &res, &err), KR_ERR_GAP);
	assert_int_equal(err.expected, 2);
	assert_non_null(strstr(err.msg, "expected change 2"));
	cs.changes--;
	cs.nchanges++;

	/* The same set claimed by another facility's node: forbidden. */
	struct kr_merge_opts other = {.peer_node = "a-pc1", .peer_facility = "office-b"};
	assert_int_equal(kr_merge(f->hub, &cs, &other, &res, &err), KR_ERR_FORBIDDEN);
	struct kr_merge_opts wrong_node = {.peer_node = "b-pc1", .peer_facility = "office-b"};
	assert_int_equal(kr_merge(f->hub, &cs, &wrong_node, &res, &err), KR_ERR_FORBIDDEN);
	kr_changeset_release(&cs);

	dump(f->hub, NULL, &after);
	assert_string_equal((char *)before.data, (char *)after.data);
	kr_buf_release(&before);
	kr_buf_release(&after);
	kr_buf_release(&set1);
	kr_buf_release(&set2);
}

static void test_operator_only_field_refused_from_agent(void **state)
{
	struct fx *f = *state;
	struct kr_error err = {0};
	kr_ulid id = new_incident(f->a1, "紛失");
	struct kr_field_text fl[] = {{"status", "closed"}};
	assert_int_equal(kr_record_edit(f->a1, &id, fl, 1, 0, &err), KR_ERR_FORBIDDEN);
	assert_non_null(strstr(err.msg, "status"));
	/* The operator at the hub may, once the record is there. */
	struct kr_merge_result res;
	assert_int_equal(push(f, f->a1, &res, &err), KR_OK);
	assert_int_equal(kr_record_edit(f->hub, &id, fl, 1, KR_WRITE_OPERATOR, &err), KR_OK);
	pull(f, f->a1);
	char v[64];
	assert_string_equal(text_of(f->a1, id, "status", v, sizeof v), "closed");
}

static void test_facilities_do_not_see_each_other(void **state)
{
	struct fx *f = *state;
	struct kr_merge_result res;
	struct kr_error err = {0};
	struct kr_buf d;
	new_incident(f->a1, "school-aの事案");
	new_incident(f->b1, "office-bの事案");
	assert_int_equal(push(f, f->a1, &res, &err), KR_OK);
	assert_int_equal(push(f, f->b1, &res, &err), KR_OK);
	pull(f, f->b1);
	dump(f->b1, NULL, &d);
	assert_null(strstr((char *)d.data, "school-a"));
	assert_non_null(strstr((char *)d.data, "office-b"));
	kr_buf_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_concurrent_edit_is_one_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sequential_edits_and_other_fields_are_not_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_equal_concurrent_values_are_not_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_and_unseen_edit_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_gap_and_forbidden_leave_hub_unchanged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_operator_only_field_refused_from_agent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_facilities_do_not_see_each_other, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
