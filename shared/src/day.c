/* day.c: calendar days as numbers (days since 1970-01-01), parsing and formatting dates and periods. */
#include "kiroku/day.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kiroku/ids.h"

/* Days from civil, after Howard Hinnant's public-domain algorithm (era of 400 years). */
kr_day kr_day_from_ymd(int y, int m, int d)
{
	int era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (kr_day)(era * 146097 + doe - 719468);
}

void kr_day_to_ymd(kr_day day, int *y, int *m, int *d)
{
	int z = (int)day + 719468;
	int era = (z >= 0 ? z : z - 146096) / 146097;
	int doe = z - era * 146097;
	int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static bool is_leap(int y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

kr_status kr_day_parse(const char *what, const char *text, kr_day *out, struct kr_error *err)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d;
	size_t len = text ? strlen(text) : 0;

	if (len < 10 || (len > 10 && text[10] != 'T' && text[10] != ' ') || text[4] != '-' || text[7] != '-')
		goto bad;
	y = digits(text, 4);
	m = digits(text + 5, 2);
	d = digits(text + 8, 2);
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && is_leap(y)))
		goto bad;
	*out = kr_day_from_ymd(y, m, d);
	return KR_OK;
bad:
	return kr_fail(err, KR_ERR_INVALID, "%s: \"%.40s\" is not a date (YYYY-MM-DD)", what, text ? text : "");
}

void kr_day_format(kr_day day, char out[KR_DAY_TEXT_LEN + 1])
{
	int y, m, d;

	kr_day_to_ymd(day, &y, &m, &d);
	if (y < 0 || y > 9999)
		y = y < 0 ? 0 : 9999;
	snprintf(out, KR_DAY_TEXT_LEN + 1, "%04d-%02d-%02d", y, m, d);
}

kr_day kr_day_today(void)
{
	time_t secs = (time_t)(kr_now_ms() / 1000);
	struct tm tm;

	if (!localtime_r(&secs, &tm))
		return (kr_day)(secs / 86400);
	return kr_day_from_ymd(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

kr_status kr_period_parse(const char *text, kr_day *from, kr_day *to, struct kr_error *err)
{
	char a[11], b[11];
	const char *dots = text ? strstr(text, "..") : NULL;
	kr_status s;

	if (!dots || dots - text != 10 || strlen(dots + 2) != 10)
		return kr_fail(err, KR_ERR_INVALID, "--period: \"%.60s\" is not FROM..TO (e.g. 2026-04-01..2027-03-31)",
		               text ? text : "");
	memcpy(a, text, 10);
	a[10] = 0;
	memcpy(b, dots + 2, 10);
	b[10] = 0;
	if ((s = kr_day_parse("--period", a, from, err)) || (s = kr_day_parse("--period", b, to, err)))
		return s;
	if (*from > *to)
		return kr_fail(err, KR_ERR_INVALID, "--period: %s is after %s", a, b);
	return KR_OK;
}
