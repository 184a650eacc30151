/* test_ids.c: ULIDs, node ids and the hybrid logical clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "kiroku/ids.h"

static void test_ulid_round_trip_and_order(void **state)
{
	struct kr_error err = {0};
	kr_ulid a, b, back;
	char ta[KR_ULID_LEN + 1], tb[KR_ULID_LEN + 1];
	(void)state;

	assert_int_equal(kr_ulid_new(1763800000000ULL, &a, &err), KR_OK);
	assert_int_equal(kr_ulid_new(1763800000001ULL, &b, &err), KR_OK);
	kr_ulid_format(&a, ta);
	kr_ulid_format(&b, tb);
	assert_int_equal(strlen(ta), 26);
	assert_true(strcmp(ta, tb) < 0); /* text order follows time */
	assert_int_equal(kr_ulid_parse(ta, &back, &err), KR_OK);
	assert_memory_equal(a.b, back.b, 16);
	assert_int_equal(kr_ulid_time(&a), 1763800000000ULL);
}

static void test_ulid_known_value(void **state)
{
	/* All-ones is the largest ULID; all-zeros the smallest. */
	kr_ulid max, zero;
	char t[KR_ULID_LEN + 1];
	struct kr_error err = {0};
	(void)state;
	memset(max.b, 0xff, 16);
	memset(zero.b, 0, 16);
	kr_ulid_format(&max, t);
	assert_string_equal(t, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
	kr_ulid_format(&zero, t);
	assert_string_equal(t, "00000000000000000000000000");
	/* Crockford aliases and lower case parse. */
	kr_ulid x;
	assert_int_equal(kr_ulid_parse("7zzzzzzzzzzzzzzzzzzzzzzzzz", &x, &err), KR_OK);
	assert_memory_equal(x.b, max.b, 16);
	assert_int_equal(kr_ulid_parse("0O0000000000000000000000IL", &x, &err), KR_OK);
}

static void test_ulid_rejects(void **state)
{
	struct kr_error err = {0};
	kr_ulid x;
	(void)state;
	assert_int_equal(kr_ulid_parse("01ARZ3NDEKTSV4RRFFQ69G5FA", &x, &err), KR_ERR_INVALID); /* 25 chars */
	assert_int_equal(kr_ulid_parse("01ARZ3NDEKTSV4RRFFQ69G5FAVX", &x, &err), KR_ERR_INVALID);
	assert_int_equal(kr_ulid_parse("01ARZ3NDEKTSV4RRFFQ69G5FAU", &x, &err), KR_ERR_INVALID); /* U */
	assert_non_null(strstr(err.msg, "bad character"));
	assert_int_equal(kr_ulid_parse("81ARZ3NDEKTSV4RRFFQ69G5FAV", &x, &err), KR_ERR_INVALID); /* > 128 bits */
}

static void test_id_valid(void **state)
{
	(void)state;
	assert_true(kr_id_valid("hikarigaoka-es.pc-1"));
	assert_false(kr_id_valid(""));
	assert_false(kr_id_valid("Upper"));
	assert_false(kr_id_valid("has space"));
	assert_false(kr_id_valid("光が丘"));
	char long_id[70];
	memset(long_id, 'a', 65);
	long_id[65] = 0;
	assert_false(kr_id_valid(long_id));
}

static void test_hlc_monotonic_when_clock_jumps_back(void **state)
{
	(void)state;
	uint64_t t = kr_hlc_tick(0, 100000000);
	assert_int_equal(kr_hlc_phys(t), 100000000);
	assert_int_equal(kr_hlc_counter(t), 0);
	/* The wall clock goes back an hour: time keeps moving forward through the counter. */
	uint64_t t2 = kr_hlc_tick(t, 100000000 - 3600000);
	assert_true(t2 > t);
	assert_int_equal(kr_hlc_phys(t2), 100000000);
	assert_int_equal(kr_hlc_counter(t2), 1);
	uint64_t t3 = kr_hlc_tick(t2, 100000000 - 3600000 + 5);
	assert_true(t3 > t2);
	/* When the wall clock catches up the counter resets. */
	uint64_t t4 = kr_hlc_tick(t3, 100000001);
	assert_int_equal(kr_hlc_phys(t4), 100000001);
	assert_int_equal(kr_hlc_counter(t4), 0);
}

static void test_hlc_counter_overflow_moves_physical(void **state)
{
	(void)state;
	uint64_t t = kr_hlc_make(5000, 0xffff);
	uint64_t t2 = kr_hlc_tick(t, 10);
	assert_true(t2 > t);
	assert_int_equal(kr_hlc_phys(t2), 5001);
	assert_int_equal(kr_hlc_counter(t2), 0);
}

static void test_hlc_remote_far_ahead(void **state)
{
	(void)state;
	/* A node whose clock runs a year ahead: what we do after seeing its stamp orders after it. */
	uint64_t now = 1763800000000ULL, year = 365ULL * 24 * 3600 * 1000;
	uint64_t local = kr_hlc_tick(0, now);
	uint64_t remote = kr_hlc_make(now + year, 7);
	uint64_t after = kr_hlc_recv(local, remote, now);
	assert_true(after >= remote);
	uint64_t next = kr_hlc_tick(after, now);
	assert_true(next > remote);
	assert_int_equal(kr_hlc_phys(next), now + year);
	/* A remote stamp far behind changes nothing. */
	assert_int_equal(kr_hlc_recv(next, kr_hlc_make(now - year, 0), now), next);
}

static void test_version_order(void **state)
{
	(void)state;
	struct kr_version a = {100, "a"}, b = {100, "b"}, c = {101, "a"}, none = {0, NULL};
	assert_true(kr_version_cmp(&a, &b) < 0); /* tie on HLC: node id decides */
	assert_true(kr_version_cmp(&b, &c) < 0);
	assert_true(kr_version_cmp(&none, &a) < 0);
	assert_true(kr_version_eq(&a, &(struct kr_version){100, "a"}));
	assert_false(kr_version_eq(&a, &b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ulid_round_trip_and_order),
		cmocka_unit_test(test_ulid_known_value),
		cmocka_unit_test(test_ulid_rejects),
		cmocka_unit_test(test_id_valid),
		cmocka_unit_test(test_hlc_monotonic_when_clock_jumps_back),
		cmocka_unit_test(test_hlc_counter_overflow_moves_physical),
		cmocka_unit_test(test_hlc_remote_far_ahead),
		cmocka_unit_test(test_version_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
