/*
 * Allocation wrappers, assertions, byte buffers and number parsing
 * (see mailferry/util.h).
 */
#include "mailferry/util.h"

#include <errno.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Noreturn void
out_of_memory(size_t n) {
    fprintf(stderr, "mailferry: out of memory allocating %zu bytes\n", n);
    abort();
}

void *
mf_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory(n);
    return p;
}

void *
mf_xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        out_of_memory(count * size);
    return p;
}

void *
mf_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q)
        out_of_memory(n);
    return q;
}

void *
mf_xreallocarray(void *p, size_t count, size_t size) {
    if (size && count > SIZE_MAX / size)
        out_of_memory(SIZE_MAX);
    return mf_xrealloc(p, count * size);
}

void *
mf_xmemdup(const void *p, size_t n) {
    void *q = mf_xmalloc(n ? n : 1);
    if (n)
        memcpy(q, p, n);
    return q;
}

char *
mf_xstrdup(const char *s) {
    return mf_xstrndup(s, strlen(s));
}

char *
mf_xstrndup(const char *s, size_t n) {
    size_t len = strnlen(s, n);
    char *p = mf_xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *
mf_xvasprintf(const char *fmt, va_list ap) {
    va_list copy;
    int n;
    char *p;

    va_copy(copy, ap);
    n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    MF_ASSERT(n >= 0);
    p = mf_xmalloc((size_t)n + 1);
    va_copy(copy, ap);
    vsnprintf(p, (size_t)n + 1, fmt, copy);
    va_end(copy);
    return p;
}

char *
mf_xasprintf(const char *fmt, ...) {
    va_list ap;
    char *p;

    va_start(ap, fmt);
    p = mf_xvasprintf(fmt, ap);
    va_end(ap);
    return p;
}

void
mf__assert_fail(const char *expr, const char *file, int line,
                const char *func) {
    fprintf(stderr, "mailferry: assertion failed: %s (%s:%d, %s)\n", expr, file,
            line, func);
    abort();
}

void
mf_wipe(void *p, size_t n) {
    if (p && n)
        OPENSSL_cleanse(p, n);
}

void
mf_random_hex(char *out, size_t ndigits) {
    static const char hex[] = "0123456789abcdef";
    unsigned char b[64];

    MF_ASSERT(ndigits % 2 == 0 && ndigits / 2 <= sizeof(b));
    /* RAND_bytes failing means a broken OpenSSL, a bug rather than a
     * runtime condition. */
    MF_ASSERT(RAND_bytes(b, (int)(ndigits / 2)) == 1);
    for (size_t i = 0; i < ndigits / 2; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[ndigits] = '\0';
}

static void
buf_reserve(struct mf_buf *b, size_t extra) {
    size_t need = b->len + extra + 1;
    size_t cap;

    MF_ASSERT(need > b->len);
    if (need <= b->cap)
        return;
    cap = b->cap ? b->cap : 64;
    while (cap < need) {
        MF_ASSERT(cap <= SIZE_MAX / 2);
        cap *= 2;
    }
    b->data = mf_xrealloc(b->data, cap);
    b->cap = cap;
}

void
mf_buf_append(struct mf_buf *b, const void *p, size_t n) {
    buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void
mf_buf_append_str(struct mf_buf *b, const char *s) {
    mf_buf_append(b, s, strlen(s));
}

void
mf_buf_appendf(struct mf_buf *b, const char *fmt, ...) {
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    MF_ASSERT(n >= 0);
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void
mf_buf_reset(struct mf_buf *b) {
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void
mf_buf_free(struct mf_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

bool
mf_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out_r) {
    char *end;
    unsigned long long v;

    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max)
        return false;
    *out_r = v;
    return true;
}

int
mf_base64_digit(unsigned char c, char digit63) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == (unsigned char)digit63)
        return 63;
    return -1;
}

int
mf_u32_cmp(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

size_t
mf_u32_lower_bound(const uint32_t *a, size_t n, uint32_t v) {
    return mf_u32_lower_bound_by(a, n, sizeof(*a), 0, v);
}

size_t
mf_u32_lower_bound_by(const void *a, size_t n, size_t stride, size_t offset,
                      uint32_t v) {
    const uint8_t *base = (const uint8_t *)a + offset;
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t key;

        memcpy(&key, base + mid * stride, sizeof(key));
        if (key < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

double
mf_monotonic_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t
mf_monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t
mf_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec
mf_deadline_after_ms(clockid_t clock, uint64_t ms) {
    struct timespec ts;

    clock_gettime(clock, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

void
mf_sleep_ms(uint64_t ms) {
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
                          .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

char **
mf_strv_split(const char *list, size_t *n_r) {
    char **v = NULL;
    size_t n = 0;
    const char *p = list;

    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len) {
            v = mf_xreallocarray(v, n + 1, sizeof(*v));
            v[n++] = mf_xstrndup(p, len);
        }
        p = comma ? comma + 1 : NULL;
    }
    *n_r = n;
    return v;
}

void
mf_strv_free(char **v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* glibc gives each thread that allocates under contention an arena of its
 * own, up to 8 per CPU, and each arena keeps and trims its own free
 * memory. A message body is allocated in one thread and freed in another,
 * and the embedded migrate runs the copy threads beside the worker's,
 * the service's and librdkafka's: with an arena per thread the freed
 * bodies sat in arenas the next body was not allocated from, and every
 * body was copied into pages faulted in fresh. 20 x 500 messages through
 * the embedded migrate (docs/benchmarks.md, "Malloc arenas"): 44,000 to
 * 46,000 page faults with glibc's default, 7,500 to 8,300 with one arena
 * per CPU, and 0.5 to 0.9 CPU s less. More arenas than CPUs cannot lower
 * lock contention further: no more threads than CPUs run at once. */
void
mf_malloc_tune(void) {
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    (void)mallopt(M_ARENA_MAX, ncpu > 1 ? (int)ncpu : 1);
}
