/* web_session.c: the web form's sessions: a random cookie id, a CSRF token, the language and the recorder's
 * name, kept in memory only (a restarted agent starts new sessions; nothing personal is written to disk). */
#include <stdio.h>
#include <string.h>

#include "kiroku/crypto.h"
#include "web.h"

static kr_status random_hex(char *out, size_t hex_len, struct kr_error *err)
{
	unsigned char raw[WEB_TOKEN_LEN / 2];
	kr_status s;

	if (hex_len / 2 > sizeof raw)
		return kr_fail(err, KR_ERR_INTERNAL, "random_hex: %zu is too long", hex_len);
	if ((s = kr_random_bytes(raw, hex_len / 2, err)))
		return s;
	kr_hex(raw, hex_len / 2, out);
	return KR_OK;
}

struct web_session *web_session_find(struct web_sessions *ss, const char *id, uint64_t now_ms)
{
	if (strlen(id) != WEB_SESSION_ID_LEN)
		return NULL;
	for (size_t i = 0; i < WEB_MAX_SESSIONS; i++) {
		struct web_session *s = &ss->v[i];
		if (!s->used || !web_token_equal(s->id, id))
			continue;
		if (now_ms > s->last_used_ms + WEB_SESSION_IDLE_MS) {
			memset(s, 0, sizeof *s); /* expired: forget the name it held */
			return NULL;
		}
		s->last_used_ms = now_ms;
		return s;
	}
	return NULL;
}

kr_status web_session_new(struct web_sessions *ss, const char *lang, uint64_t now_ms, struct web_session **out,
                          struct kr_error *err)
{
	struct web_session fresh, *slot = NULL;
	kr_status s;

	memset(&fresh, 0, sizeof fresh);
	if ((s = random_hex(fresh.id, WEB_SESSION_ID_LEN, err)) || (s = random_hex(fresh.token, WEB_TOKEN_LEN, err)))
		return s;
	fresh.used = true;
	fresh.last_used_ms = now_ms;
	snprintf(fresh.lang, sizeof fresh.lang, "%s", lang && strcmp(lang, "en") == 0 ? "en" : "ja");
	for (size_t i = 0; i < WEB_MAX_SESSIONS; i++) {
		struct web_session *c = &ss->v[i];
		if (!c->used) {
			slot = c;
			break;
		}
		if (!slot || c->last_used_ms < slot->last_used_ms)
			slot = c;
	}
	*slot = fresh;
	*out = slot;
	return KR_OK;
}
