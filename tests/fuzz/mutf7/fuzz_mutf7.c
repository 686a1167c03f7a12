/*
 * libFuzzer target for modified UTF-7 (core/src/imap/mutf7.c).
 *
 * The input, cut at its first NUL, is tried both ways:
 *   - as modified UTF-7: when it decodes, re-encoding the UTF-8 and
 *     decoding again must give the same UTF-8 (names survive a copy from
 *     one server to another);
 *   - as UTF-8: when it encodes, the result must be printable US-ASCII and
 *     decode back to exactly the input.
 * A failed call must leave its output buffer as it was. Any violation
 * aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailferry/mutf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_untouched(mf_err rc, const struct mf_buf *b, size_t len) {
    if (rc != MF_E_OK && b->len != len)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *in = malloc(size + 1);
    struct mf_buf dec = {0}, enc = {0}, dec2 = {0};
    struct mf_error err;
    mf_err rc;

    if (!in)
        return 0;
    memcpy(in, data, size);
    in[size] = '\0';

    /* Prefill so that "left as it was" is checked on a non-empty buffer. */
    mf_buf_append(&dec, "x", 1);
    rc = mf_mutf7_decode(in, &dec, &err);
    check_untouched(rc, &dec, 1);
    if (rc == MF_E_OK) {
        rc = mf_mutf7_encode((const char *)dec.data + 1, &enc, &err);
        if (rc != MF_E_OK)
            abort();
        rc =
            mf_mutf7_decode(enc.len ? (const char *)enc.data : "", &dec2, &err);
        if (rc != MF_E_OK || dec2.len != dec.len - 1 ||
            (dec2.len && memcmp(dec2.data, dec.data + 1, dec2.len) != 0))
            abort();
    }
    mf_buf_free(&dec);
    mf_buf_free(&enc);
    mf_buf_free(&dec2);

    mf_buf_append(&enc, "y", 1);
    rc = mf_mutf7_encode(in, &enc, &err);
    check_untouched(rc, &enc, 1);
    if (rc == MF_E_OK) {
        for (size_t i = 1; i < enc.len; i++)
            if (enc.data[i] < 0x20 || enc.data[i] > 0x7e)
                abort();
        rc = mf_mutf7_decode((const char *)enc.data + 1, &dec, &err);
        if (rc != MF_E_OK || dec.len != strlen(in) ||
            (dec.len && memcmp(dec.data, in, dec.len) != 0))
            abort();
    }
    mf_buf_free(&dec);
    mf_buf_free(&enc);
    free(in);
    return 0;
}
