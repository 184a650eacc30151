/* fuzz_sync.c: the hub's sync handler (kr_sync_serve) on fuzzed request bodies from peer n1 of facility f1,
 * against a hub store that holds a fixed history (fuzz.h: n1's changes 1 to 5, n2's change 1, an open
 * conflict, a ledger entry, a deleted record). Each input runs inside a transaction that is rolled back after
 * it, so every input starts from the same state (and a crash replays) without copying the store. The answer
 * must be a status the handler documents; a 200 must carry a change-set that decodes, a refusal a reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "kiroku/sync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kr_store *st = fuzz_hub_store();
	struct kr_sync_answer ans;
	struct kr_error err = {0};
	struct kr_buf out;

	kr_buf_init(&out, (size_t)16 << 20);
	if (kr_store_begin(st, &err))
		fuzz_fail("BEGIN: %s", err.msg);
	kr_sync_serve(st, FUZZ_NODE, FUZZ_FACILITY, data, size, NULL, &out, &ans);
	if (ans.status == 200) {
		/* Sent again (its answer was lost), the same body is a replay: nothing new, nothing refused. The
		 * records it touched read back, and the facility's dump reads every record. */
		struct kr_sync_answer again;
		struct kr_buf out2, dump;
		kr_buf_init(&out2, (size_t)16 << 20);
		kr_buf_init(&dump, 0);
		kr_sync_serve(st, FUZZ_NODE, FUZZ_FACILITY, data, size, NULL, &out2, &again);
		if (again.status != 200 || again.merged.applied || again.merged.conflicts ||
		    again.merged.skipped != ans.merged.skipped + ans.merged.applied ||
		    again.merged.acked != ans.merged.acked)
			fuzz_fail(
			    "sent again: HTTP %d, %zu applied, %zu conflicts, %zu skipped, acked %llu (first: %zu "
			    "applied, %zu skipped, acked %llu): %.*s",
			    again.status, again.merged.applied, again.merged.conflicts, again.merged.skipped,
			    (unsigned long long)again.merged.acked, ans.merged.applied, ans.merged.skipped,
			    (unsigned long long)ans.merged.acked, again.status == 200 ? 0 : (int)out2.len,
			    (const char *)out2.data);
		if (ans.merged.applied && kr_store_dump(st, FUZZ_FACILITY, &dump, &err))
			fuzz_fail("dumping the facility after a merge: %s", err.msg);
		kr_buf_release(&out2);
		kr_buf_release(&dump);
	}
	kr_store_rollback(st);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "HTTP %d: %zu applied, %zu skipped, %zu conflicts, %zu out; %.*s\n", ans.status,
		        ans.merged.applied, ans.merged.skipped, ans.merged.conflicts, ans.changes_out,
		        ans.status == 200 ? 0 : (int)out.len, (const char *)out.data);

	switch (ans.status) {
	case 200: {
		struct kr_changeset cs;
		if (kr_changeset_decode(out.data, out.len, &kr_sync_limits, &cs, &err))
			fuzz_fail("the hub's answer does not decode: %s", err.msg);
		if (!cs.has_range || strcmp(cs.sender, FUZZ_HUB_NODE) != 0)
			fuzz_fail("the hub's answer has no range or comes from \"%s\"", cs.sender);
		if (cs.nchanges != ans.changes_out)
			fuzz_fail("the answer holds %zu changes, the handler says %zu", cs.nchanges, ans.changes_out);
		for (size_t i = 0; i < cs.nchanges; i++)
			if (strcmp(cs.changes[i].facility, FUZZ_FACILITY) != 0 ||
			    strcmp(cs.changes[i].origin, FUZZ_NODE) == 0)
				fuzz_fail("the answer sends change %zu of %s (facility %s) back to %s", i + 1,
				          cs.changes[i].origin, cs.changes[i].facility, FUZZ_NODE);
		kr_changeset_release(&cs);
		break;
	}
	case 400:
	case 403:
	case 409:
	case 413:
		if (out.len == 0 || out.data[out.len - 1] != '\n')
			fuzz_fail("HTTP %d without a one-line reason", ans.status);
		if (ans.merged.applied || ans.merged.conflicts)
			fuzz_fail("HTTP %d, yet %zu changes applied and %zu conflicts opened", ans.status,
			          ans.merged.applied, ans.merged.conflicts);
		break;
	default:
		/* 500 and 503 are failures of the hub, not of the request: a bug here. */
		fuzz_fail("HTTP %d: %.*s", ans.status, (int)out.len, (const char *)out.data);
	}
	kr_buf_release(&out);
	return 0;
}

#ifdef KR_LIBFUZZER
/* Half of the mutations are structure-aware (fuzz_mutate_changeset), the rest libFuzzer's own on bytes. */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	size_t n = (seed & 1) ? fuzz_mutate_changeset(data, size, max_size, seed >> 1) : 0;
	return n ? n : LLVMFuzzerMutate(data, size, max_size);
}
#endif
