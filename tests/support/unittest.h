/*
 * Checks shared by the cmocka unit tests (header only: each test_*.c is
 * its own executable and takes what it uses): substrings in text and in
 * bytes, lists of substrings that must and must not appear, and a key
 * ring parsed from key file text. Every check fails the test with the
 * needle it missed, so a table of needles reports which row failed.
 */
#ifndef MF_TEST_UNITTEST_H
#define MF_TEST_UNITTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mailferry/crypto.h"

#include <stdbool.h>
#include <string.h>

/* True when needle occurs in the n bytes at hay (which need no NUL). */
static inline bool
mf_test_contains(const uint8_t *hay, size_t n, const char *needle) {
    size_t m = strlen(needle);

    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return true;
    return false;
}

/* Fails unless every string of the NULL-terminated list occurs in text. */
static inline void
mf_test_assert_has_all(const char *text, const char *const *needles) {
    for (; *needles; needles++)
        if (!strstr(text, *needles))
            fail_msg("missing \"%s\" in:\n%s", *needles, text);
}

/* Fails if any string of the NULL-terminated list occurs in text. */
static inline void
mf_test_assert_has_none(const char *text, const char *const *needles) {
    for (; *needles; needles++)
        if (strstr(text, *needles))
            fail_msg("unexpected \"%s\" in:\n%s", *needles, text);
}

/* The key ring of key file text (caller frees); a parse error fails the
 * test with its detail. */
static inline struct mf_crypto_keyring *
mf_test_keyring(const char *text) {
    struct mf_crypto_keyring *kr = NULL;
    struct mf_error err = {0};

    if (mf_crypto_keyring_parse(text, strlen(text), &kr, &err) != MF_E_OK)
        fail_msg("key ring: %s", err.detail);
    return kr;
}

#endif
