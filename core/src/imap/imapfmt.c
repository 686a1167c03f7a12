/*
 * Command-side formatting helpers for the IMAP engine: choosing how an
 * astring travels (atom, quoted string or literal, RFC 3501 section 4 and
 * RFC 7888), and INTERNALDATE date-time values (RFC 3501 section 9
 * "date-time"): formatting for APPEND, parsing from FETCH, conversion to
 * and from Unix time. Pure functions; nothing here allocates except
 * through the caller's struct mf_buf.
 */
#include "mailferry/imap_parser.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ================================================================== */
/* astring                                                             */
/* ================================================================== */

#define QUOTED_MAX 1024

/* ASTRING-CHAR = ATOM-CHAR / resp-specials
 * ATOM-CHAR = <any CHAR except atom-specials>
 * atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards /
 *                 quoted-specials / resp-specials */
static bool
is_astring_char(uint8_t c) {
    if (c <= 0x20 || c >= 0x7f)
        return false;
    return !strchr("(){%*\"\\", c);
}

enum mf_imap_quote_kind
mf_imap_quote_astring(struct mf_buf *out, const uint8_t *s, size_t n,
                      bool literal_plus, size_t *split_r) {
    bool atom = n > 0;
    bool quotable = n <= QUOTED_MAX;

    for (size_t i = 0; i < n; i++) {
        if (!is_astring_char(s[i]))
            atom = false;
        /* TEXT-CHAR allows most controls, but servers differ on them:
         * anything but printable 7-bit goes as a literal. */
        if (s[i] < 0x20 || s[i] >= 0x7f)
            quotable = false;
    }
    /* "NIL" is an atom to the grammar but some servers read it as NIL. */
    if (n == 3 && (s[0] | 0x20) == 'n' && (s[1] | 0x20) == 'i' &&
        (s[2] | 0x20) == 'l')
        atom = false;
    if (atom) {
        mf_buf_append(out, s, n);
        return MF_IMAP_QUOTE_ATOM;
    }
    if (quotable) {
        mf_buf_append(out, "\"", 1);
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '"' || s[i] == '\\')
                mf_buf_append(out, "\\", 1);
            mf_buf_append(out, &s[i], 1);
        }
        mf_buf_append(out, "\"", 1);
        return MF_IMAP_QUOTE_QUOTED;
    }
    mf_buf_appendf(out, "{%zu%s}\r\n", n, literal_plus ? "+" : "");
    if (!literal_plus && split_r)
        *split_r = out->len;
    mf_buf_append(out, s, n);
    return literal_plus ? MF_IMAP_QUOTE_LITERAL_PLUS
                        : MF_IMAP_QUOTE_LITERAL_SYNC;
}

/* ================================================================== */
/* date-time                                                           */
/* ================================================================== */

static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool
is_leap(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m) {
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

static bool
datetime_valid(const struct mf_imap_datetime *dt) {
    return dt->year >= 1 && dt->year <= 9999 && dt->month >= 1 &&
           dt->month <= 12 && dt->day >= 1 &&
           dt->day <= days_in_month(dt->year, dt->month) && dt->hour >= 0 &&
           dt->hour <= 23 && dt->min >= 0 && dt->min <= 59 && dt->sec >= 0 &&
           dt->sec <= 60 && dt->tz_minutes > -24 * 60 &&
           dt->tz_minutes < 24 * 60;
}

void
mf_imap_datetime_format(const struct mf_imap_datetime *dt,
                        char out[MF_IMAP_DATETIME_LEN + 1]) {
    int tz = dt->tz_minutes < 0 ? -dt->tz_minutes : dt->tz_minutes;

    MF_ASSERT(datetime_valid(dt));
    snprintf(out, MF_IMAP_DATETIME_LEN + 1,
             "\"%02u-%s-%04u %02u:%02u:%02u %c%02u%02u\"",
             /* The "% 100"s only tell the compiler the widths (the values
              * are in range already). */
             (unsigned)dt->day % 100u, months[dt->month - 1],
             (unsigned)dt->year % 10000u, (unsigned)dt->hour % 100u,
             (unsigned)dt->min % 100u, (unsigned)dt->sec % 100u,
             dt->tz_minutes < 0 ? '-' : '+', (unsigned)(tz / 60) % 100u,
             (unsigned)(tz % 60) % 100u);
}

void
mf_imap_date_format(int year, int month, int day, char out[12]) {
    MF_ASSERT(year >= 1 && year <= 9999 && month >= 1 && month <= 12 &&
              day >= 1 && day <= 31);
    snprintf(out, 12, "%u-%s-%04u", (unsigned)day % 100u, months[month - 1],
             (unsigned)year % 10000u);
}

/* Reads exactly n digits at s[*pos]. */
static bool
digits(const char *s, size_t len, size_t *pos, size_t n, int *v_r) {
    int v = 0;
    if (len - *pos < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[*pos + i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *pos += n;
    *v_r = v;
    return true;
}

static bool
expect(const char *s, size_t len, size_t *pos, char c) {
    if (*pos >= len || s[*pos] != c)
        return false;
    (*pos)++;
    return true;
}

/* date-time = DQUOTE date-day-fixed "-" date-month "-" date-year
 *             SP time SP zone DQUOTE
 * date-day-fixed = (SP DIGIT) / 2DIGIT; zone = ("+" / "-") 4DIGIT
 * Also accepted: a one-digit day without the space. */
mf_err
mf_imap_datetime_parse(const char *s, size_t len,
                       struct mf_imap_datetime *dt_r) {
    struct mf_imap_datetime dt;
    size_t pos = 0;
    int tzh, tzm;
    char sign;

    if (pos < len && s[pos] == ' ')
        pos++;
    if (!digits(s, len, &pos, 1, &dt.day))
        return MF_E_IMAP_PARSE;
    if (pos < len && s[pos] >= '0' && s[pos] <= '9') {
        dt.day = dt.day * 10 + (s[pos] - '0');
        pos++;
    }
    if (!expect(s, len, &pos, '-') || len - pos < 3)
        return MF_E_IMAP_PARSE;
    dt.month = 0;
    for (int m = 0; m < 12; m++) {
        if (strncasecmp(s + pos, months[m], 3) == 0) {
            dt.month = m + 1;
            break;
        }
    }
    pos += 3;
    if (dt.month == 0 || !expect(s, len, &pos, '-') ||
        !digits(s, len, &pos, 4, &dt.year) || !expect(s, len, &pos, ' ') ||
        !digits(s, len, &pos, 2, &dt.hour) || !expect(s, len, &pos, ':') ||
        !digits(s, len, &pos, 2, &dt.min) || !expect(s, len, &pos, ':') ||
        !digits(s, len, &pos, 2, &dt.sec) || !expect(s, len, &pos, ' ') ||
        pos >= len)
        return MF_E_IMAP_PARSE;
    sign = s[pos++];
    if ((sign != '+' && sign != '-') || !digits(s, len, &pos, 2, &tzh) ||
        !digits(s, len, &pos, 2, &tzm) || pos != len || tzm > 59)
        return MF_E_IMAP_PARSE;
    dt.tz_minutes = (sign == '-' ? -1 : 1) * (tzh * 60 + tzm);
    if (!datetime_valid(&dt))
        return MF_E_IMAP_PARSE;
    *dt_r = dt;
    return MF_E_OK;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t
days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t
mf_imap_datetime_to_unix(const struct mf_imap_datetime *dt) {
    int64_t days = days_from_civil(dt->year, dt->month, dt->day);
    return days * 86400 + dt->hour * 3600 + dt->min * 60 + dt->sec -
           (int64_t)dt->tz_minutes * 60;
}

void
mf_imap_datetime_from_unix(int64_t t, int tz_minutes,
                           struct mf_imap_datetime *dt_r) {
    int64_t local = t + (int64_t)tz_minutes * 60;
    int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    int64_t secs = local - days * 86400;

    /* civil_from_days */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);

    dt_r->year = (int)y;
    dt_r->month = (int)m;
    dt_r->day = (int)d;
    dt_r->hour = (int)(secs / 3600);
    dt_r->min = (int)(secs / 60 % 60);
    dt_r->sec = (int)(secs % 60);
    dt_r->tz_minutes = tz_minutes;
}
