/* day.h: calendar days (proleptic Gregorian) as numbers, for deadlines, periods and month buckets.
 *
 * A kr_day counts days since 1970-01-01 (day 0); it may be negative. Dates are written "YYYY-MM-DD".
 * Nothing here touches global state or the time zone database except kr_day_today, which reads the clock
 * (kr_now_ms, so the tests' fake clock applies) and the machine's local time zone.
 */
#ifndef KR_DAY_H
#define KR_DAY_H

#include <stdbool.h>
#include <stdint.h>

#include "kiroku/error.h"

typedef int32_t kr_day;

#define KR_DAY_TEXT_LEN 10 /* "YYYY-MM-DD" */

/* The day of a calendar date; y from 1 to 9999. Does not check that the date exists (kr_day_parse does). */
kr_day kr_day_from_ymd(int y, int m, int d);
/* The calendar date of a day. Can't fail. */
void kr_day_to_ymd(kr_day day, int *y, int *m, int *d);

/* Parses "YYYY-MM-DD", or the date part of a date and time ("YYYY-MM-DDThh:mm[:ss]"): the first ten bytes
 * must be a real date and what follows, if anything, must start with 'T' or ' '. KR_ERR_INVALID otherwise,
 * with a message naming what (e.g. "--today") and the text. */
kr_status kr_day_parse(const char *what, const char *text, kr_day *out, struct kr_error *err);
/* Writes "YYYY-MM-DD" and a NUL into out. Can't fail. */
void kr_day_format(kr_day day, char out[KR_DAY_TEXT_LEN + 1]);

/* Today in the machine's local time zone (a city hall's hub runs on Japan time). Can't fail. */
kr_day kr_day_today(void);

/* The period "FROM..TO" (both "YYYY-MM-DD", FROM <= TO), as given to report commands. */
kr_status kr_period_parse(const char *text, kr_day *from, kr_day *to, struct kr_error *err);

#endif
