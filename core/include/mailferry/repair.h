/*
 * Message repair (issue 13, `--repair`): what in a message strict targets
 * refuse, and the smallest change that makes them take it.
 *
 * Exchange answers "BAD Command Argument Error. 11" to an APPEND of a
 * message with bare LF line ends, lines longer than RFC 5322 allows, or a
 * header line that is not a field. Generic servers store such messages
 * as they are, so nothing is changed unless the target refused the
 * message and the admin asked for --repair; then only the defects found
 * are fixed, and the report lists each repaired message with what was
 * changed. Without --repair the message fails alone (MESSAGE_MALFORMED)
 * and the report says what is wrong with it.
 *
 * Pure functions on message bytes; no I/O.
 */
#ifndef MAILFERRY_REPAIR_H
#define MAILFERRY_REPAIR_H

#include "mailferry/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 5322 2.1.1: "Each line of characters MUST be no more than 998
 * characters, ... excluding the CRLF." */
#define MF_REPAIR_LINE_MAX 998

/* Defects (bits of struct mf_repair.found). */
#define MF_REPAIR_BARE_LF (1u << 0)    /* LF without CR (RFC 5322 2.3) */
#define MF_REPAIR_BARE_CR (1u << 1)    /* CR without LF */
#define MF_REPAIR_LONG_LINE (1u << 2)  /* over MF_REPAIR_LINE_MAX bytes */
#define MF_REPAIR_NUL (1u << 3)        /* a NUL byte (RFC 5322 2.3) */
#define MF_REPAIR_BAD_HEADER (1u << 4) /* a header line that is no field */

/* What mf_repair_check() found (counts, and the first line of each). */
struct mf_repair {
    unsigned found; /* MF_REPAIR_ bits */
    uint64_t bare_lf, bare_cr, long_lines, nuls, bad_headers;
    uint64_t first_long_line; /* 1-based line numbers; 0 none */
    uint64_t first_bad_header;
};

/* Looks at a whole message; fills *r. Returns r->found (0: nothing a
 * strict target would refuse, as far as mailferry knows). */
unsigned mf_repair_check(const uint8_t *msg, size_t len, struct mf_repair *r);

/* Appends to out the message with the defects of r->found fixed, and
 * nothing else changed:
 *   bare LF, bare CR   become CRLF;
 *   NUL                becomes a space;
 *   a long header line is folded (RFC 5322 2.2.3) at the last space or
 *                      tab before the limit, else broken with CRLF SP;
 *   a long body line   is broken with CRLF at the last space or tab
 *                      before the limit, else at the limit;
 *   a header line that is no field becomes a continuation of the field
 *                      before it (a leading space), or, as the first
 *                      line, an "X-Mailferry-Repaired:" field.
 * The result passes mf_repair_check() with found == 0. */
void mf_repair_fix(const uint8_t *msg, size_t len, const struct mf_repair *r,
                   struct mf_buf *out);

/* Writes what r says in words into out (always NUL-terminated):
 * "12 bare LF line ends, 1 line over 998 bytes (line 40)". fixed: say
 * what was changed ("12 bare LF line ends made CRLF, ...") rather than
 * what is wrong. */
void mf_repair_describe(const struct mf_repair *r, bool fixed, char *out,
                        size_t n);

#endif
