/*
 * libFuzzer target for the header scanner and the RFC 2047 decoder
 * (core/src/message/fingerprint.c).
 *
 * The input is scanned whole, then again in chunks whose sizes come from
 * the input itself, with the default limit and with a small one (so that
 * the limit is reached often). Every way must give the same fields, state
 * and length; fields must be trimmed and hold no CR, LF or NUL; the length
 * never passes the limit. Each field then goes through the RFC 2047
 * decoder (output at most 3 times the input) and into a fingerprint, and
 * the set must find what was added. Any violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailferry/fingerprint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef const char *(*getter)(const struct mf_header_scan *);

static const getter getters[] = {
    mf_header_scan_message_id,
    mf_header_scan_subject,
    mf_header_scan_date,
    mf_header_scan_from,
};

static void
check(bool ok) {
    if (!ok)
        abort();
}

static void
run(struct mf_header_scan *s, const uint8_t *data, size_t size, bool chunked,
    size_t *consumed_r) {
    size_t off = 0, k = 0, consumed = 0;

    mf_header_scan_reset(s);
    while (off < size) {
        size_t n = chunked ? 1 + (size_t)(data[k++ % size] % 17) : size;

        if (n > size - off)
            n = size - off;
        consumed += mf_header_scan_feed(s, data + off, n);
        off += n;
    }
    mf_header_scan_finish(s);
    *consumed_r = consumed;
}

static void
check_field(const char *v) {
    size_t n;
    struct mf_buf b = {0};

    if (!v)
        return;
    n = strlen(v);
    check(n > 0 && v[0] != ' ' && v[0] != '\t' && v[n - 1] != ' ' &&
          v[n - 1] != '\t');
    check(!memchr(v, '\r', n) && !memchr(v, '\n', n));
    mf_buf_append(&b, "x", 1);
    mf_header_decode_2047(v, &b);
    check(b.len - 1 <= 3 * n);
    mf_buf_free(&b);
}

static void
one_limit(const uint8_t *data, size_t size, size_t max) {
    struct mf_header_scan *a = mf_header_scan_new(max);
    struct mf_header_scan *b = mf_header_scan_new(max);
    struct mf_fingerprint_set *set = mf_fingerprint_set_new(4);
    struct mf_fingerprint fp, fp2;
    size_t ca, cb;

    run(a, data, size, false, &ca);
    run(b, data, size, true, &cb);
    check(ca == cb && ca == mf_header_scan_length(a));
    check(mf_header_scan_length(a) == mf_header_scan_length(b));
    check(mf_header_scan_length(a) <= (max ? max : MF_HEADER_SCAN_MAX));
    check(mf_header_scan_state(a) == mf_header_scan_state(b));
    check(mf_header_scan_state(a) != MF_HEADER_SCAN_MORE);
    for (size_t i = 0; i < sizeof(getters) / sizeof(getters[0]); i++) {
        const char *va = getters[i](a), *vb = getters[i](b);

        check((va == NULL) == (vb == NULL));
        check(!va || strcmp(va, vb) == 0);
        check_field(va);
    }

    mf_fingerprint_compute(mf_header_scan_message_id(a), size, (int64_t)size, 0,
                           &fp);
    mf_fingerprint_from_header(b, data, size, size, (int64_t)size, 0, &fp2);
    check(memcmp(&fp, &fp2, sizeof(fp)) == 0);
    check(mf_fingerprint_set_add(set, &fp) == MF_E_OK);
    check(mf_fingerprint_set_take(set, &fp2));
    check(!mf_fingerprint_set_take(set, &fp2));

    mf_fingerprint_set_free(&set);
    mf_header_scan_free(&a);
    mf_header_scan_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s;
    struct mf_buf b = {0};

    one_limit(data, size, 0);
    one_limit(data, size, 40);

    /* The decoder on the raw input, cut at its first NUL. */
    s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    mf_header_decode_2047(s, &b);
    check(b.len <= 3 * strlen(s));
    mf_buf_free(&b);
    free(s);
    return 0;
}
