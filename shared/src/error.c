/* error.c: building error messages. */
#include "kiroku/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

kr_status kr_fail(struct kr_error *err, kr_status code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return code;
}

void kr_error_prefix(struct kr_error *err, const char *fmt, ...)
{
	char prefix[256], old[sizeof err->msg];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
}

const char *kr_status_name(kr_status code)
{
	static const char *const names[] = {
		[KR_OK] = "ok",
		[KR_ERR_NOMEM] = "out of memory",
		[KR_ERR_IO] = "i/o error",
		[KR_ERR_STORE] = "store error",
		[KR_ERR_NOT_STORE] = "not a kiroku store",
		[KR_ERR_TOO_NEW] = "store too new",
		[KR_ERR_INVALID] = "invalid",
		[KR_ERR_MALFORMED] = "malformed",
		[KR_ERR_TOO_BIG] = "too big",
		[KR_ERR_GAP] = "sequence gap",
		[KR_ERR_FORBIDDEN] = "forbidden",
		[KR_ERR_NOT_FOUND] = "not found",
		[KR_ERR_CONFLICT] = "conflict",
		[KR_ERR_TLS] = "tls error",
		[KR_ERR_NETWORK] = "network error",
		[KR_ERR_CONFIG] = "configuration error",
		[KR_ERR_BUSY] = "busy",
		[KR_ERR_INTERNAL] = "internal error",
	};
	if ((unsigned)code < sizeof names / sizeof names[0] && names[code])
		return names[code];
	return "unknown error";
}
