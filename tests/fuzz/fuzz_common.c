/* fuzz_common.c: the scratch directory, the hub store with its fixed history, and fuzz_fail (fuzz.h). */
#define _XOPEN_SOURCE 700 /* nftw */
#include "fuzz.h"

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiroku/sync.h"

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz invariant broken: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* ---- The scratch directory ---- */

static char tmpdir[4096];
static pid_t tmpdir_owner;

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_tmpdir(void)
{
	/* libFuzzer's -fork and -jobs modes fork: only the process that made the directory removes it. */
	if (tmpdir[0] && getpid() == tmpdir_owner)
		nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_tmpdir(void)
{
	const char *base = getenv("FUZZ_TMPDIR");
	struct stat sb;

	if (tmpdir[0])
		return tmpdir;
	if (base && *base)
		; /* the caller's choice (scripts/ci-fuzz.sh: one it removes, since a crash skips atexit) */
	else if (stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK) == 0)
		base = "/dev/shm";
	else if (!(base = getenv("TMPDIR")) || !*base)
		base = "/tmp";
	snprintf(tmpdir, sizeof tmpdir, "%s/kiroku-fuzz-XXXXXX", base);
	if (!mkdtemp(tmpdir))
		fuzz_fail("cannot make a scratch directory %s: %s", tmpdir, strerror(errno));
	tmpdir_owner = getpid();
	atexit(remove_tmpdir);
	return tmpdir;
}

/* ---- The history ---- */

/* ULIDs of 2025-01-10T00:00Z (0x01944d82b800 ms) with fixed random parts. */
const kr_ulid fuzz_record_a = {
    {0x01, 0x94, 0x4d, 0x82, 0xb8, 0x00, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa}};
const kr_ulid fuzz_record_b = {
    {0x01, 0x94, 0x4d, 0x82, 0xb8, 0x00, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba}};
const kr_ulid fuzz_record_c = {
    {0x01, 0x94, 0x4d, 0x82, 0xb8, 0x00, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca}};

/* clang-format off */
#define TXT(x) {.type = KR_VAL_TEXT, .s = (x), .len = sizeof(x) - 1}
#define INT(n) {.type = KR_VAL_INT, .i = (n)}
#define BOOL(b) {.type = KR_VAL_BOOL, .i = (b)}
#define NONE {0, NULL}
#define V(h, n) {FUZZ_T0 + (h), (n)}
/* clang-format on */

static const struct kr_write a_create[] = {
    {"occurred_at", TXT("2025-01-10T09:00"), NONE},
    {"category", TXT("紛失"), NONE},
    {"media", TXT("USBメモリ等"), NONE},
    {"description", TXT("校外学習の引率中にUSBメモリを紛失"), NONE},
    {"personal_info", BOOL(1), NONE},
    {"persons_affected", INT(32), NONE},
};
static const struct kr_write a_edit_n1[] = {
    {"description", TXT("USBメモリを紛失。校内と移動経路を捜索中"), V(1, FUZZ_NODE)},
};
static const struct kr_write a_edit_n2[] = {
    {"description", TXT("USBメモリを紛失。翌朝、バスの座席で発見"), V(1, FUZZ_NODE)},
};
static const struct kr_write b_create[] = {
    {"action", TXT("持出し"), NONE},
    {"medium", TXT("成績処理用USBメモリ"), NONE},
    {"handled_by", TXT("山田 花子"), NONE},
    {"handled_at", TXT("2025-01-10T08:30"), NONE},
};
static const struct kr_write c_create[] = {
    {"occurred_at", TXT("2025-01-09T17:45"), NONE},
    {"category", TXT("誤送付・誤送信"), NONE},
    {"description", TXT("通知メールを誤った宛先に送信"), NONE},
};
static const struct kr_write c_delete[] = {
    {KR_FIELD_DELETED, BOOL(1), NONE},
};
static const struct kr_seen c_seen[] = {
    {"category", V(4, FUZZ_NODE)},
    {"description", V(4, FUZZ_NODE)},
    {"occurred_at", V(4, FUZZ_NODE)},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define CHANGE(origin, seq, rec, kind, hlc, w)                                                                         \
	{                                                                                                              \
		origin, seq, rec, kind, FUZZ_FACILITY, FUZZ_T0 + (hlc), NONE, N(w), (struct kr_write *)(w), 0, NULL,   \
		    NULL, 0                                                                                            \
	}

bool fuzz_history_set(unsigned step, struct kr_buf *out)
{
	struct kr_change n1[FUZZ_NODE_SEQ] = {
	    CHANGE(FUZZ_NODE, 1, fuzz_record_a, "incident", 1, a_create),
	    CHANGE(FUZZ_NODE, 2, fuzz_record_a, "incident", 2, a_edit_n1),
	    CHANGE(FUZZ_NODE, 3, fuzz_record_b, "pi_handling", 3, b_create),
	    CHANGE(FUZZ_NODE, 4, fuzz_record_c, "incident", 4, c_create),
	    CHANGE(FUZZ_NODE, 5, fuzz_record_c, "incident", 5, c_delete),
	};
	struct kr_change n2[] = {
	    CHANGE(FUZZ_NODE2, 1, fuzz_record_a, "incident", 3, a_edit_n2),
	};

	n1[4].seen = (struct kr_seen *)c_seen;
	n1[4].nseen = N(c_seen);
	switch (step) {
	case 0:
		fuzz_encode_set(FUZZ_NODE, n1, N(n1), true, 0, out);
		return true;
	case 1:
		fuzz_encode_set(FUZZ_NODE2, n2, N(n2), true, 0, out);
		return true;
	}
	return false;
}

void fuzz_encode_set(const char *sender, const struct kr_change *changes, size_t n, bool has_since, uint64_t since,
                     struct kr_buf *out)
{
	struct kr_changeset cs = {.format = KR_FORMAT_VERSION,
	                          .sender = sender,
	                          .facility = FUZZ_FACILITY,
	                          .nchanges = n,
	                          .changes = (struct kr_change *)changes,
	                          .has_since = has_since,
	                          .since = since};
	struct kr_error err = {0};

	if (kr_changeset_encode(&cs, out, &err))
		fuzz_fail("encoding a change-set of %s: %s", sender, err.msg);
}

struct kr_store *fuzz_hub_store(void)
{
	static struct kr_store *st;
	struct kr_error err = {0};
	struct kr_buf set, answer;
	char path[4200];

	if (st)
		return st;
	snprintf(path, sizeof path, "%s/hub.db", fuzz_tmpdir());
	if (kr_store_create(path, KR_ROLE_HUB, FUZZ_HUB_NODE, NULL, &err) || kr_store_open(path, &st, &err))
		fuzz_fail("making the hub store %s: %s", path, err.msg);
	kr_buf_init(&set, 0);
	kr_buf_init(&answer, 0);
	for (unsigned step = 0; (set.len = 0, fuzz_history_set(step, &set)); step++) {
		struct kr_sync_answer ans;
		const char *node = step == 0 ? FUZZ_NODE : FUZZ_NODE2;

		kr_sync_serve(st, node, FUZZ_FACILITY, set.data, set.len, NULL, &answer, &ans);
		if (ans.status != 200)
			fuzz_fail("the hub refused step %u of the history (HTTP %d): %.*s", step, ans.status,
			          (int)answer.len, (const char *)answer.data);
	}
	kr_buf_release(&set);
	kr_buf_release(&answer);
	return st;
}

/* ---- The structure-aware mutation ---- */

#define MUT_CHANGES 8
#define MUT_WRITES  12

static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static const kr_ulid record_d = {
    {0x01, 0x94, 0x4d, 0x82, 0xb8, 0x00, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda}};

/* A value for field f (any field when NULL): mostly of its type, sometimes of another. */
static struct kr_value some_value(const struct kr_field_def *f, uint64_t *r)
{
	static const char *const texts[] = {
	    "x",   "2025-01-10", "2025-01-10T09:00", "2025-01-10 09:00", "2025-02-30", "紛失",
	    "yes", "",           "a\tb\nc",          "\xe3\x81"};
	static const int64_t ints[] = {0, 1, -1, 32, INT64_MAX, INT64_MIN};
	unsigned pick = (unsigned)(rng_next(r) % 8);
	const char *s;

	if (f && pick < 5) {
		switch (f->type) {
		case KR_FT_ENUM:
			if (f->nvalues) {
				s = f->values[rng_next(r) % f->nvalues];
				return (struct kr_value){.type = KR_VAL_TEXT, .s = s, .len = strlen(s)};
			}
			break;
		case KR_FT_INTEGER:
		case KR_FT_COUNT:
			return (struct kr_value){.type = KR_VAL_INT, .i = ints[rng_next(r) % 6]};
		case KR_FT_BOOLEAN:
			return (struct kr_value){.type = KR_VAL_BOOL, .i = (int64_t)(rng_next(r) & 1)};
		default:
			break;
		}
	}
	switch (pick % 4) {
	case 0:
		return (struct kr_value){.type = KR_VAL_NULL};
	case 1:
		return (struct kr_value){.type = KR_VAL_INT, .i = ints[rng_next(r) % 6]};
	case 2:
		return (struct kr_value){.type = KR_VAL_BOOL, .i = (int64_t)(rng_next(r) & 1)};
	}
	s = texts[rng_next(r) % (sizeof texts / sizeof texts[0])];
	return (struct kr_value){.type = KR_VAL_TEXT, .s = s, .len = strlen(s)};
}

static struct kr_version some_version(uint64_t *r)
{
	static const char *const nodes[] = {FUZZ_NODE, FUZZ_NODE2, FUZZ_HUB_NODE};
	if (rng_next(r) % 4 == 0)
		return (struct kr_version){0, NULL};
	return (struct kr_version){FUZZ_T0 + rng_next(r) % 16, nodes[rng_next(r) % 3]};
}

size_t fuzz_mutate_changeset(uint8_t *data, size_t size, size_t max_size, unsigned seed)
{
	static struct kr_catalogue *cat;
	static const char *const nodes[] = {FUZZ_NODE, FUZZ_NODE, FUZZ_NODE2, FUZZ_HUB_NODE};
	static const char *const kinds[] = {"incident", "pi_handling", "pi_file", "self_inspection", "_conflict"};
	struct kr_changeset cs;
	struct kr_change ch[MUT_CHANGES];
	struct kr_write wr[MUT_CHANGES][MUT_WRITES];
	struct kr_seen sn[MUT_CHANGES][MUT_WRITES];
	struct kr_ack ack[4];
	struct kr_buf out;
	uint64_t r = ((uint64_t)seed << 1) | 1;
	size_t n = 0, i;
	struct kr_change *c;
	const struct kr_kind_def *kd;

	if (!cat && kr_catalogue_default(&cat, NULL))
		return 0;
	if (kr_changeset_decode(data, size, NULL, &cs, NULL))
		return 0;
	if (cs.nchanges > MUT_CHANGES || cs.nacks > 2) {
		kr_changeset_release(&cs);
		return 0;
	}
	for (i = 0; i < cs.nchanges; i++) {
		ch[i] = cs.changes[i];
		if (ch[i].nwrites > MUT_WRITES || ch[i].nseen > MUT_WRITES) {
			kr_changeset_release(&cs);
			return 0;
		}
		if (ch[i].nwrites)
			memcpy(wr[i], ch[i].writes, ch[i].nwrites * sizeof *ch[i].writes);
		if (ch[i].nseen)
			memcpy(sn[i], ch[i].seen, ch[i].nseen * sizeof *ch[i].seen);
		ch[i].writes = wr[i];
		ch[i].seen = sn[i];
	}
	if (cs.nacks)
		memcpy(ack, cs.acks, cs.nacks * sizeof *ack);
	cs.acks = ack;
	cs.changes = ch;
	if (cs.nchanges == 0 || rng_next(&r) % 8 == 0) {
		/* A new change: a copy of the last one, or an edit of record A. */
		if (cs.nchanges < MUT_CHANGES) {
			i = cs.nchanges++;
			if (i) {
				ch[i] = ch[i - 1];
				memcpy(wr[i], wr[i - 1], sizeof wr[i]);
				memcpy(sn[i], sn[i - 1], sizeof sn[i]);
				ch[i].seq++;
				ch[i].hlc++;
			} else {
				ch[i] = (struct kr_change){.origin = cs.sender,
				                           .seq = FUZZ_NODE_SEQ + 1,
				                           .record = fuzz_record_a,
				                           .kind = "incident",
				                           .facility = FUZZ_FACILITY,
				                           .hlc = FUZZ_T0 + 8};
			}
			ch[i].writes = wr[i];
			ch[i].seen = sn[i];
		}
	}
	c = cs.nchanges ? &ch[rng_next(&r) % cs.nchanges] : NULL;
	kd = c ? kr_catalogue_kind(cat, c->kind) : NULL;
	switch (rng_next(&r) % 14) {
	case 0:
		cs.has_since = rng_next(&r) % 4 != 0;
		cs.since = rng_next(&r) % 12;
		break;
	case 1:
		cs.sender = nodes[rng_next(&r) % 4];
		for (i = 0; i < cs.nchanges; i++)
			ch[i].origin = cs.sender;
		break;
	case 2: {
		static const char *const facilities[] = {FUZZ_FACILITY, "f2", NULL};
		cs.facility = facilities[rng_next(&r) % 3];
		if (c)
			c->facility = facilities[rng_next(&r) % 2];
		break;
	}
	case 3:
		if (cs.nchanges > 1)
			cs.nchanges--;
		break;
	case 4: {
		uint64_t first = 1 + rng_next(&r) % (FUZZ_NODE_SEQ + 3);
		for (i = 0; i < cs.nchanges; i++)
			ch[i].seq = first + i;
		break;
	}
	case 5:
		if (c) {
			static const kr_ulid *const recs[] = {&fuzz_record_a, &fuzz_record_b, &fuzz_record_c,
			                                      &record_d};
			unsigned k = (unsigned)(rng_next(&r) % 4);
			c->record = *recs[k];
			c->kind = k == 1                            ? "pi_handling"
			          : k == 3 || rng_next(&r) % 8 == 0 ? kinds[rng_next(&r) % 5]
			                                            : "incident";
		}
		break;
	case 6:
	case 7:
		/* Another field of the kind, with a value of its type. */
		if (c && kd && kd->nfields) {
			const struct kr_field_def *f = &kd->fields[rng_next(&r) % kd->nfields];
			size_t j = c->nwrites && (rng_next(&r) & 1) ? rng_next(&r) % c->nwrites : c->nwrites;
			if (j == c->nwrites && c->nwrites < MUT_WRITES)
				c->nwrites++;
			if (j < c->nwrites)
				wr[c - ch][j] = (struct kr_write){f->name, some_value(f, &r), some_version(&r)};
		}
		break;
	case 8:
		if (c && c->nwrites) {
			struct kr_write *w = &wr[c - ch][rng_next(&r) % c->nwrites];
			w->value = some_value(kd ? kr_catalogue_field(kd, w->field) : NULL, &r);
		}
		break;
	case 9:
		if (c && c->nwrites)
			wr[c - ch][rng_next(&r) % c->nwrites].base = some_version(&r);
		break;
	case 10:
		if (c && c->nwrites > 1) {
			size_t j = rng_next(&r) % c->nwrites;
			wr[c - ch][j] = wr[c - ch][c->nwrites - 1];
			c->nwrites--;
		}
		break;
	case 11:
		/* A delete (or undelete), with what its writer saw. */
		if (c) {
			wr[c - ch][0] = (struct kr_write){
			    KR_FIELD_DELETED, {.type = KR_VAL_BOOL, .i = rng_next(&r) % 4 != 0}, some_version(&r)};
			c->nwrites = 1;
			c->nseen = 0;
			for (i = 0; kd && i < kd->nfields && c->nseen < MUT_WRITES; i++)
				if (rng_next(&r) % 3 == 0)
					sn[c - ch][c->nseen++] = (struct kr_seen){kd->fields[i].name, some_version(&r)};
			for (i = 0; i < c->nseen; i++)
				if (sn[c - ch][i].version.hlc == 0)
					sn[c - ch][i].version = (struct kr_version){FUZZ_T0 + 1, FUZZ_NODE};
			c->del_base = some_version(&r);
		}
		break;
	case 12:
		if (c) {
			uint64_t now = kr_now_ms() << 16;
			uint64_t hlcs[] = {FUZZ_T0 + rng_next(&r) % 16, now, now + ((uint64_t)3600000 << 16),
			                   UINT64_MAX, 1};
			c->hlc = hlcs[rng_next(&r) % 5];
		}
		break;
	case 13:
		if (cs.nacks < 2) {
			ack[cs.nacks].node = nodes[cs.nacks];
			ack[cs.nacks++].seq = rng_next(&r) % 10;
		} else {
			cs.has_range = !cs.has_range;
			cs.from = rng_next(&r) % 4;
			cs.to = cs.from + rng_next(&r) % 4;
		}
		break;
	}
	kr_buf_init(&out, max_size);
	if (kr_changeset_encode(&cs, &out, NULL) == KR_OK && out.len <= max_size) {
		memcpy(data, out.data, out.len);
		n = out.len;
	}
	kr_buf_release(&out);
	kr_changeset_release(&cs);
	return n;
}
