/* web.h: the agent's local web form for staff: server, sessions, pages, forms (agent/web*.c).
 *
 * The agent serves a small web application on a loopback address with the same HTTP layer as the hub
 * (httpd.h, plain mode: no TLS, loopback only). Pages are rendered here from the catalogue: the facility's
 * records with the hub's review state and conflicts, the sync state, and a form per record kind whose errors
 * are shown next to each field, in Japanese or English, which also corrects a record. No external assets, no
 * script.
 *
 * Protection (web.c): every request must name this server in its Host header (127.0.0.1:PORT,
 * localhost:PORT or [::1]:PORT), which defeats DNS rebinding; nothing is written on GET; every POST needs
 * the session's cookie, a same-origin Origin (or, without one, Referer) header and the session's CSRF token
 * as a form field. Pages carry a Content-Security-Policy that allows only this origin's style sheet.
 *
 * Threads: the server's workers call the handler; one mutex serialises the handler's work, which uses one
 * store connection of its own (the daemon's sync uses another; SQLite's write lock orders them).
 */
#ifndef KR_WEB_H
#define KR_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiroku/buf.h"
#include "kiroku/error.h"
#include "kiroku/httpd.h"
#include "kiroku/store.h"
#include "web_text.h"

/* ---- The server (web.c) ---- */

struct web_config {
	const char *store_path; /* the agent's store; the server opens its own connection */
	const char *host;       /* loopback address to listen on ["127.0.0.1"] */
	unsigned short port;    /* 0: any free port (web_port tells which) */
	const char *lang;       /* the language of a new session: "ja" or "en" */
	const char *hub_url;    /* shown on the status panel */
	/* Served by the daemon (kiroku-agent run): its sync interval in seconds (0 when the form runs alone), and
	 * the function that asks it to sync now (may be NULL). */
	long long sync_interval;
	void (*sync_now)(void *ctx);
	void *sync_now_ctx;
	bool log_requests; /* one line per POST and per refused request on stderr */
};

struct web;

/* Opens the store and starts listening. On error nothing is left running and *out is NULL. cfg's strings
 * are copied. Free with web_free. */
kr_status web_start(const struct web_config *cfg, struct web **out, struct kr_error *err);
unsigned short web_port(const struct web *w);
/* Stops the server (finishing requests in flight), closes the store and frees everything. NULL is fine. */
void web_free(struct web *w);

/* The style sheet (web_assets.c), served as /static/style.css. */
extern const char web_style_css[];

/* ---- Sessions (web_session.c) ---- */

#define WEB_SESSION_ID_LEN  32                    /* hex characters of the cookie value (128 random bits) */
#define WEB_TOKEN_LEN       64                    /* hex characters of the CSRF token (256 random bits) */
#define WEB_MAX_SESSIONS    64                    /* the least recently used session is dropped beyond this */
#define WEB_SESSION_IDLE_MS (12ull * 3600 * 1000) /* a session unused this long is dropped */
#define WEB_NAME_MAX        200                   /* bytes of the remembered recorder's name */

struct web_session {
	bool used;
	char id[WEB_SESSION_ID_LEN + 1];
	char token[WEB_TOKEN_LEN + 1];
	char lang[3];                    /* "ja" or "en" */
	char recorder[WEB_NAME_MAX + 1]; /* who records, remembered from the last form; "" none */
	uint64_t last_used_ms;
};

struct web_sessions {
	struct web_session v[WEB_MAX_SESSIONS];
};

/* The live session with this cookie value (and marks it used now), or NULL. */
struct web_session *web_session_find(struct web_sessions *ss, const char *id, uint64_t now_ms);
/* A new session with fresh random id and token, replacing the least recently used one when full.
 * KR_ERR_TLS when the random source fails (nothing is changed). */
kr_status web_session_new(struct web_sessions *ss, const char *lang, uint64_t now_ms, struct web_session **out,
                          struct kr_error *err);

/* ---- One request (web.c), as the pages see it ---- */

struct web_req {
	struct web *w;
	struct kr_store *st;
	const struct web_config *cfg;
	const struct kr_http_request *http;
	struct kr_http_response *resp;
	struct web_session *sess; /* NULL only on a page refusing a POST without a session */
	const char *lang;         /* the session's */
	struct web_form query;    /* the URL's query */
	struct web_form form;     /* a POST's body */
	struct kr_arena arena;    /* freed after the response */
	kr_status fail;           /* the first error writing the page: the response becomes a 500 */
};

/* ---- Writing pages (web_page.c) ---- */

/* Appends literal markup (never text from a record or a person). */
void web_raw(struct web_req *r, const char *markup);
/* Appends markup made with printf; every %s must be escaped already or be a constant. */
void web_printf(struct web_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends text, HTML-escaped (web_html_escape). NULL appends nothing. */
void web_text(struct web_req *r, const char *text);
void web_textn(struct web_req *r, const char *text, size_t n);
/* The document head, the top bar (facility, navigation, language switch) and the opening of <main>. title is
 * text (escaped here). */
void web_page_begin(struct web_req *r, int status, const char *title);
/* Closes <main>, the footer and the document. */
void web_page_end(struct web_req *r);
/* The hidden CSRF token field of a form. */
void web_token_field(struct web_req *r);
/* A local time "2026-11-20 15:10" for milliseconds since the epoch into out[32]; "" for 0. */
void web_local_time(uint64_t ms, char out[32]);
/* A stored date or date and time for people: "2026-11-20T15:10" -> "2026-11-20 15:10". Returns out[32]. */
const char *web_display_date(const char *stored, char out[32]);
/* A field's value for people (enumeration labels in the language, yes/no words, numbers); "" for none.
 * The text lives in r's arena. */
const char *web_value_text(struct web_req *r, const struct kr_field_def *f, const struct kr_value *v);

/* ---- The words of the pages (web_words.c) ---- */

enum web_word {
	WW_APP_TITLE,
	WW_SKIP,
	WW_HOME,
	WW_LANG_SWITCH,
	WW_FACILITY,
	WW_NODE,
	WW_RECORD_NEW,
	WW_RECORD_STAFF_HINT,
	WW_RECORD_OTHER,
	WW_KIND_HINT_INCIDENT,
	WW_KIND_HINT_PI_HANDLING,
	WW_KIND_HINT_TRAINING,
	WW_KIND_HINT_SELF_INSPECTION,
	WW_CONFLICT_BADGE,
	WW_RECORDS,
	WW_RECORDS_ALL,
	WW_RECORDS_NONE,
	WW_RECORDS_SHOWN,
	WW_COL_DATE,
	WW_COL_KIND,
	WW_COL_SUMMARY,
	WW_COL_STATUS,
	WW_COL_REVIEW,
	WW_SYNC_TITLE,
	WW_SYNC_NEVER,
	WW_SYNC_OK,
	WW_SYNC_FAILED,
	WW_SYNC_REFUSED,
	WW_COUNT_ITEMS,
	WW_CONFLICT_SIDE,
	WW_SYNC_SAFE,
	WW_SYNC_LAST,
	WW_SYNC_LAST_ATTEMPT,
	WW_SYNC_WAITING,
	WW_SYNC_WAITING_NONE,
	WW_SYNC_AUTO,
	WW_SYNC_MANUAL,
	WW_SYNC_NOW,
	WW_SYNC_REQUESTED,
	WW_SYNC_DETAILS,
	WW_SYNC_HUB,
	WW_CONFLICTS_OPEN,
	WW_REQUIRED,
	WW_OPTIONAL_NONE,
	WW_RECORDER_TITLE,
	WW_RECORDER_HINT,
	WW_RECORDER_ATTENDEE_HINT,
	WW_FORM_SUBMIT,
	WW_FORM_CANCEL,
	WW_FORM_ERRORS,
	WW_FORM_ERROR_PREFIX,
	WW_FORM_NOT_SAVED,
	WW_FORM_LEDGER_NOTE,
	WW_FORM_INTRO,
	WW_HINT_DATETIME,
	WW_HINT_DATE,
	WW_HINT_COUNT,
	WW_HINT_INTEGER,
	WW_ERR_REQUIRED,
	WW_ERR_DATETIME,
	WW_ERR_DATE,
	WW_ERR_COUNT,
	WW_ERR_INTEGER,
	WW_ERR_CHOICE,
	WW_ERR_BOOLEAN,
	WW_ERR_TOO_LONG,
	WW_ERR_CHARACTERS,
	WW_ERR_UNKNOWN_FIELD,
	WW_YES,
	WW_NO,
	WW_CHOOSE,
	WW_SAVED,
	WW_SAVED_DETAIL,
	WW_REC_CONTENT,
	WW_REC_HUB,
	WW_REC_HUB_NONE,
	WW_REC_REVIEW_STATE,
	WW_REC_REVIEW_NONE,
	WW_REC_DELETED,
	WW_REC_ID,
	WW_REC_BACK,
	WW_REC_CONFLICTS,
	WW_CONFLICT_OPEN,
	WW_CONFLICT_RESOLVED,
	WW_CONFLICT_KEPT,
	WW_CONFLICT_ASIDE,
	WW_CONFLICT_CHOSEN,
	WW_CONFLICT_DELETE,
	WW_CONFLICT_NONE_VALUE,
	WW_CONFLICT_WAIT,
	WW_STATUS_DEFAULT,
	WW_NOT_FOUND,
	WW_NOT_FOUND_DETAIL,
	WW_ERROR_TITLE,
	WW_ERROR_DETAIL,
	WW_REFUSED_TITLE,
	WW_REFUSED_SESSION,
	WW_REFUSED_ORIGIN,
	WW_REFUSED_TOKEN,
	WW_COMMENT,
	WW_EDIT,
	WW_EDIT_TITLE,
	WW_EDIT_SUBMIT,
	WW_EDITED,
	WW_EDITED_DETAIL,
	WW_EDIT_UNCHANGED,
	WW_EDIT_NOT_SAVED,
	WW_EDIT_NOT_EDITABLE,
	WW_EDIT_LEDGER,
	WW_EDIT_CHANGED_MEANWHILE,
	WW_EDIT_CHANGED_TITLE,
	WW_FOOTER,
	WW_COUNT_
};

/* The word in "ja" or "en" (anything else reads as "ja"). Never NULL. */
const char *web_word(enum web_word w, const char *lang);
/* A word that is a format (its text has %llu where the numbers go) with a and b put in, in r's language; the
 * text lives in r's arena ("" when out of memory). */
struct web_req;
const char *web_wordf(struct web_req *r, enum web_word w, unsigned long long a, unsigned long long b);

/* ---- Pages (web_pages.c) and forms (web_form.c) ---- */

void web_page_home(struct web_req *r);
void web_page_record(struct web_req *r, const char *id_text);
/* Loads the record named by id_text (text of a ULID) for a page: *kd its kind. False after writing the page
 * that says why not: 404 for an unknown id, another facility's record or a kind this agent does not know,
 * 500 for a store error. On true, release rec with kr_record_release. */
bool web_load_record(struct web_req *r, const char *id_text, struct kr_record *rec, const struct kr_kind_def **kd);
void web_page_new(struct web_req *r, const char *kind);
void web_post_new(struct web_req *r, const char *kind);
/* Correcting a record (/edit/ID): its form with the current values, and the submission, which writes only the
 * fields the person changed and refuses (409, the form again) to overwrite a field a sync changed meanwhile. */
void web_page_edit(struct web_req *r, const char *id_text);
void web_post_edit(struct web_req *r, const char *id_text);
/* A page saying what went wrong, with a link home; status is the HTTP status. */
void web_page_message(struct web_req *r, int status, enum web_word title, const char *detail);

/* The field that names who made a record of kind, the recorder's name the form remembers for the session,
 * or NULL when the kind has none; *remember says whether a value typed there becomes the remembered name
 * (a training record's attendee is only filled in from it). */
const char *web_recorder_field(const char *kind, bool *remember);

#endif
