/*
 * Date windows (mailferry/window.h): parsing and printing days, and the
 * one rule that says whether a message is inside, used by the copy engine
 * (folder.c), the plan and the tests alike. No I/O, no clock, no
 * timezone: RFC 3501 section 6.4.4 compares the internal date "disregarding
 * time and timezone", so only the day written in the INTERNALDATE counts.
 */
#include "mailferry/window.h"

#include "mailferry/json.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr",
                                            "May", "Jun", "Jul", "Aug",
                                            "Sep", "Oct", "Nov", "Dec"};

static bool
leap(unsigned y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned
days_in(unsigned y, unsigned m) {
    static const unsigned d[12] = {31, 28, 31, 30, 31, 30,
                                   31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : d[m - 1];
}

static bool
valid_day(unsigned y, unsigned m, unsigned d) {
    return y >= 1970 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 &&
           d <= days_in(y, m);
}

/* n decimal digits at p into *v. */
static bool
digits(const char *p, int n, unsigned *v) {
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        *v = *v * 10 + (unsigned)(p[i] - '0');
    }
    return true;
}

mf_err
mf_window_date_parse(const char *s, uint32_t *day_r, struct mf_error *err) {
    unsigned y, m, d;

    if (s && strcmp(s, "none") == 0) {
        *day_r = 0;
        return MF_E_OK;
    }
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
        !digits(s, 4, &y) || !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d) ||
        !valid_day(y, m, d))
        return mf_error_set(err, MF_E_USAGE,
                            "'%.40s' is not a day: give YYYY-MM-DD (or none)",
                            s ? s : "");
    *day_r = y * 10000 + m * 100 + d;
    return MF_E_OK;
}

bool
mf_window_day_valid(uint32_t day) {
    return day == 0 || valid_day(day / 10000, day / 100 % 100, day % 100);
}

void
mf_window_date_format(uint32_t day, char *out, size_t n) {
    if (day == 0)
        snprintf(out, n, "none");
    else
        snprintf(out, n, "%04u-%02u-%02u", day / 10000, day / 100 % 100,
                 day % 100);
}

bool
mf_window_empty(const struct mf_window *w) {
    return w->since == 0 && w->before == 0;
}

mf_err
mf_window_check(const struct mf_window *w, struct mf_error *err) {
    if (w->since && w->before && w->since >= w->before) {
        char a[MF_WINDOW_TEXT_MAX], b[MF_WINDOW_TEXT_MAX];
        mf_window_date_format(w->since, a, sizeof(a));
        mf_window_date_format(w->before, b, sizeof(b));
        return mf_error_set(err, MF_E_USAGE,
                            "--since %s is not before --before %s: no day "
                            "would be inside",
                            a, b);
    }
    return MF_E_OK;
}

bool
mf_window_equal(const struct mf_window *a, const struct mf_window *b) {
    return a->since == b->since && a->before == b->before;
}

bool
mf_window_widens(const struct mf_window *old, const struct mf_window *now) {
    bool lower_within = old->since == 0 || (now->since >= old->since);
    bool upper_within =
        old->before == 0 || (now->before && now->before <= old->before);
    return !(lower_within && upper_within);
}

/* INTERNALDATE (RFC 3501 section 9):
 *   date-time      = DQUOTE date-day-fixed "-" date-month "-" date-year
 *                    SP time SP zone DQUOTE
 *   date-day-fixed = (SP DIGIT) / 2DIGIT
 * The quotes are gone by the time the engine has it; a server that sends
 * the day unpadded ("1-Mar-2026") is read too. */
uint32_t
mf_window_day_of(const char *s) {
    unsigned d, y, m = 0;
    const char *p;

    if (!s)
        return 0;
    while (*s == ' ')
        s++;
    if (digits(s, 2, &d))
        p = s + 2;
    else if (digits(s, 1, &d))
        p = s + 1;
    else
        return 0;
    if (*p != '-')
        return 0;
    p++;
    for (unsigned i = 0; i < 12; i++)
        if (strncasecmp(p, month_names[i], 3) == 0)
            m = i + 1;
    if (m == 0 || p[3] != '-' || !digits(p + 4, 4, &y) || !valid_day(y, m, d))
        return 0;
    return y * 10000 + m * 100 + d;
}

enum mf_window_place
mf_window_place(const struct mf_window *w, const char *internaldate) {
    uint32_t day;

    if (mf_window_empty(w))
        return MF_WINDOW_INSIDE;
    if ((day = mf_window_day_of(internaldate)) == 0)
        return MF_WINDOW_UNKNOWN;
    if (w->since && day < w->since)
        return MF_WINDOW_OUTSIDE;
    if (w->before && day >= w->before)
        return MF_WINDOW_OUTSIDE;
    return MF_WINDOW_INSIDE;
}

void
mf_window_format(const struct mf_window *w, char *out, size_t n) {
    char a[MF_WINDOW_TEXT_MAX], b[MF_WINDOW_TEXT_MAX];

    mf_window_date_format(w->since, a, sizeof(a));
    mf_window_date_format(w->before, b, sizeof(b));
    if (mf_window_empty(w))
        snprintf(out, n, "none");
    else if (!w->before)
        snprintf(out, n, "since %s", a);
    else if (!w->since)
        snprintf(out, n, "before %s", b);
    else
        snprintf(out, n, "since %s, before %s", a, b);
}

void
mf_window_to_json(struct mf_json *j, const struct mf_window *w) {
    const uint32_t days[2] = {w->since, w->before};
    static const char *const keys[2] = {"since", "before"};
    char d[MF_WINDOW_TEXT_MAX];

    for (int i = 0; i < 2; i++) {
        mf_json_key(j, keys[i]);
        if (days[i]) {
            mf_window_date_format(days[i], d, sizeof(d));
            mf_json_string(j, d);
        } else {
            mf_json_null(j);
        }
    }
}
