/*
 * A date window for pre-staging (`--since DATE`, `--before DATE`): copy
 * the recent mail first, switch MX, then copy the rest with a later pass.
 *
 * Membership is by INTERNALDATE at day granularity, with the meaning of
 * IMAP's SEARCH keys (RFC 3501 section 6.4.4): SINCE d holds "messages
 * whose internal date (disregarding time and timezone) is within or later
 * than the specified date", BEFORE d those "earlier than the specified
 * date". So a message dated "01-Mar-2026 23:30:00 -0800" is on 1 March
 * whatever the reader's timezone, and --before 2026-03-01 leaves it out.
 *
 * Days are kept as the numbers yyyymmdd (20260301); 0 is no bound. The
 * functions here are pure: they decide from the INTERNALDATE text the
 * source listed, so that the engine, the plan and the tests agree. The
 * engine does not send UID SEARCH SINCE/BEFORE: it lists every message's
 * INTERNALDATE anyway, a SEARCH answer for a large window would outgrow
 * the parser's line limit (64 KiB, about 9,000 UIDs), and a server that
 * reads the day in its own timezone would disagree with the plan at the
 * day's edges; the rule applied is SEARCH's, to the letter.
 */
#ifndef MAILFERRY_WINDOW_H
#define MAILFERRY_WINDOW_H

#include "mailferry/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mf_window {
    uint32_t since;  /* first day inside, yyyymmdd; 0: no lower bound */
    uint32_t before; /* first day outside after it; 0: no upper bound */
};

/* Room for mf_window_format()'s and mf_window_date_format()'s text. */
#define MF_WINDOW_TEXT_MAX 48

/* Reads a day: "YYYY-MM-DD" (a real calendar day, 1970-9999) or "none"
 * (0, no bound). MF_E_USAGE with the reason in err otherwise. */
MF_WARN_UNUSED mf_err mf_window_date_parse(const char *s, uint32_t *day_r,
                                           struct mf_error *err);
/* Whether day is 0 (no bound) or a real calendar day yyyymmdd, as
 * mf_window_date_parse() makes (for days that come from outside, such as
 * a job's). */
bool mf_window_day_valid(uint32_t day);
/* "2026-03-01", or "none" for 0. */
void mf_window_date_format(uint32_t day, char *out, size_t n);

/* Whether w has no bound (everything is inside). */
bool mf_window_empty(const struct mf_window *w);
/* MF_E_USAGE when since is not before before (an empty window). */
MF_WARN_UNUSED mf_err mf_window_check(const struct mf_window *w,
                                      struct mf_error *err);
bool mf_window_equal(const struct mf_window *a, const struct mf_window *b);
/* Whether a message outside old can be inside new (new is not within
 * old): a pass with new must look again at what old left out. */
bool mf_window_widens(const struct mf_window *old, const struct mf_window *now);

enum mf_window_place {
    MF_WINDOW_INSIDE,
    MF_WINDOW_OUTSIDE,
    MF_WINDOW_UNKNOWN, /* no date, or one that does not parse */
};
/* Where a message with this INTERNALDATE ("dd-Mon-yyyy hh:mm:ss +zzzz",
 * without quotes, the day possibly space-padded; NULL: none) falls. An
 * empty window holds everything, dated or not. */
enum mf_window_place mf_window_place(const struct mf_window *w,
                                     const char *internaldate);
/* The day of an INTERNALDATE (yyyymmdd), 0 when it does not parse. */
uint32_t mf_window_day_of(const char *internaldate);

/* For people: "since 2026-03-01, before 2026-06-01", "since 2026-03-01",
 * or "none". */
void mf_window_format(const struct mf_window *w, char *out, size_t n);

struct mf_json;
/* Writes the keys "since" and "before" of an open JSON object:
 * "YYYY-MM-DD", or null for no bound. */
void mf_window_to_json(struct mf_json *j, const struct mf_window *w);

#endif
