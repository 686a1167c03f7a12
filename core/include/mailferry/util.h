/*
 * Small utilities used everywhere: allocation that aborts on failure
 * (STYLE.md "Memory": the programs are supervised and every job resumes,
 * so running out of memory is not an error path), assertions that stay on
 * in release builds, a growable byte buffer, and secret wiping.
 */
#ifndef MAILFERRY_UTIL_H
#define MAILFERRY_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

void *mf_xmalloc(size_t n);
void *mf_xcalloc(size_t count, size_t size);
void *mf_xrealloc(void *p, size_t n);
/* realloc for count elements of size bytes; aborts on overflow too. */
void *mf_xreallocarray(void *p, size_t count, size_t size);
/* A copy of n bytes (n may be 0). */
void *mf_xmemdup(const void *p, size_t n);
char *mf_xstrdup(const char *s);
char *mf_xstrndup(const char *s, size_t n);
/* printf into a new string; aborts on failure. */
char *mf_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same with a va_list (not consumed: the caller still va_end()s it). */
char *mf_xvasprintf(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));

/* Programmer errors: stay on in release builds. */
#define MF_ASSERT(cond)                                                        \
    ((cond) ? (void)0 : mf__assert_fail(#cond, __FILE__, __LINE__, __func__))
_Noreturn void mf__assert_fail(const char *expr, const char *file, int line,
                               const char *func);

#define MF_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* A macro's value as a string literal, for help texts that print a
 * default from where it is defined: MF_STR(MF_BATCH_DEFAULT_ATTEMPTS). */
#define MF_STR(x) MF_STR_(x)
#define MF_STR_(x) #x

/* Overwrites n bytes at p so the compiler cannot elide it (secrets). */
void mf_wipe(void *p, size_t n);

/* Writes ndigits (even) random lowercase hex digits and a NUL into out:
 * ids and tokens that only need to be unique. */
void mf_random_hex(char *out, size_t ndigits);

/* A growable byte buffer; data is always NUL-terminated for convenience. */
struct mf_buf {
    uint8_t *data; /* owned */
    size_t len;
    size_t cap;
};
void mf_buf_append(struct mf_buf *b, const void *p, size_t n);
void mf_buf_append_str(struct mf_buf *b, const char *s);
void mf_buf_appendf(struct mf_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mf_buf_reset(struct mf_buf *b);
/* Frees the storage; b is empty and reusable afterwards. */
void mf_buf_free(struct mf_buf *b);

/* The value (0-63) of a base64 digit, or -1. The 64th digit differs by
 * use: '/' in RFC 4648 base64, ',' in IMAP's modified UTF-7. */
int mf_base64_digit(unsigned char c, char digit63);

/* Parses a whole decimal string into *out_r within [min, max]. Returns
 * false (and leaves *out_r untouched) on any junk, sign or overflow. */
bool mf_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out_r);

/* The index of the first element of the ascending array a[0..n) that is
 * not below v (n when every one is): where v is, or would go. */
size_t mf_u32_lower_bound(const uint32_t *a, size_t n, uint32_t v);
/* The same over an array of n records of stride bytes, ascending by the
 * uint32_t key at offset in each (a UID field: use offsetof()). */
size_t mf_u32_lower_bound_by(const void *a, size_t n, size_t stride,
                             size_t offset, uint32_t v);
/* qsort() comparison of two uint32_t, ascending. */
int mf_u32_cmp(const void *a, const void *b);

/* CLOCK_MONOTONIC in seconds: for durations, never for dates. */
double mf_monotonic_s(void);
/* The same clock in whole milliseconds: the one every deadline, lease and
 * rate in the tree reads. */
uint64_t mf_monotonic_ms(void);
/* CLOCK_REALTIME in whole milliseconds since the Unix epoch: for dates. */
int64_t mf_wall_ms(void);
/* The moment ms milliseconds from now on clock, as
 * pthread_cond_timedwait() takes it: clock is the one the condition
 * variable waits on (CLOCK_REALTIME unless pthread_condattr_setclock()
 * said CLOCK_MONOTONIC). */
struct timespec mf_deadline_after_ms(clockid_t clock, uint64_t ms);
/* Sleeps ms milliseconds (again after a signal). */
void mf_sleep_ms(uint64_t ms);

/* The UTF-8 sequence at s[0..n) (util/utf8.c): its length, with its code
 * point in *cp_r (may be NULL), or 0 when s does not start with a valid
 * sequence (or n is 0). */
size_t mf_utf8_next(const uint8_t *s, size_t n, uint32_t *cp_r);
/* Whether s[0..n) is all valid UTF-8. */
bool mf_utf8_valid(const uint8_t *s, size_t n);
/* Copies the text s into out (n bytes, n >= 1) so that it takes at most
 * width terminal columns (two for an East Asian wide character, one for
 * any other code point and for each invalid byte): when it does not
 * fit, or out is too small, it is cut at a character boundary and ends
 * in U+2026 (one column). Returns the columns out takes. */
size_t mf_utf8_fit(char *out, size_t n, const char *s, size_t width);
/* The length of the text s (NUL-terminated) cut to at most max bytes
 * without splitting a UTF-8 sequence: strlen(s) when it fits. */
size_t mf_utf8_cut(const char *s, size_t max);

/* Sets up glibc's malloc for a process of many threads that move message
 * bodies between them (call first thing in main()): one arena per CPU
 * (util.c says why). */
void mf_malloc_tune(void);

/* Splits a comma list (NULL reads as empty) into a new array of *n_r new
 * strings, empty items left out; NULL when there is none. Free it with
 * mf_strv_free(). */
char **mf_strv_split(const char *list, size_t *n_r);
/* Frees the n strings of v and v itself. Accepts NULL. */
void mf_strv_free(char **v, size_t n);

#endif
