/*
 * Credentials encryption (core/src/crypto): key file parsing, key file
 * generation and rotation, and sealing/opening secrets with their
 * batch/mailbox/purpose binding. Key files go into a private mkdtemp
 * directory that teardown removes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/crypto.h"
#include "mailferry/util.h"
#include "unittest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Two fixed keys: 32 bytes 0x00..0x1f in base64, and 32 bytes 0xa5 in
 * hex. */
#define KEY_B64 "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_HEX                                                                \
    "k0:a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5"

/* ------------------------------------------------------------------ */

static void
test_keyfile_parse(void **state) {
    struct mf_crypto_keyring *kr;

    (void)state;
    kr = mf_test_keyring("# comment\n\n  " KEY_B64 "  \r\n" KEY_HEX "\n");
    assert_int_equal(mf_crypto_keyring_count(kr), 2);
    assert_string_equal(mf_crypto_keyring_current_id(kr), "k1");
    mf_crypto_keyring_free(&kr);
    assert_null(kr);
    mf_crypto_keyring_free(&kr); /* NULL is fine */

    /* Base64 without padding is the same key. */
    kr = mf_test_keyring("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
    assert_string_equal(mf_crypto_keyring_current_id(kr), "k1");
    mf_crypto_keyring_free(&kr);
}

static void
test_keyfile_parse_errors(void **state) {
    static const struct {
        const char *text;
        const char *detail; /* a part of the expected detail */
    } bad[] = {
        {"", "no key"},
        {"# only a comment\n", "no key"},
        {"k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "line 1"},
        {":AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "key id"},
        {"k 1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "key id"},
        {"k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
         "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
         "twice"},
        {"k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh==", "line 1"},
        {"k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=", "32 bytes"},
        {"k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=", "32 bytes"},
        {"k1:a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5",
         "32 bytes"},
        {"k1:g5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5",
         "32 bytes"},
        {"\n\nk1:short", "line 3"},
    };

    (void)state;
    for (size_t i = 0; i < MF_ARRAY_LEN(bad); i++) {
        struct mf_crypto_keyring *kr = NULL;
        struct mf_error err = {0};
        mf_err rc = mf_crypto_keyring_parse(bad[i].text, strlen(bad[i].text),
                                            &kr, &err);
        if (rc != MF_E_CONFIG || kr)
            fail_msg("accepted key file %zu", i);
        if (!strstr(err.detail, bad[i].detail))
            fail_msg("case %zu: detail \"%s\" lacks \"%s\"", i, err.detail,
                     bad[i].detail);
        /* No key material in the detail. */
        assert_null(strstr(err.detail, "AAECAwQF"));
    }
    {
        /* An id of 65 characters is too long; 64 is fine. */
        char text[200];
        struct mf_crypto_keyring *kr = NULL;
        struct mf_error err = {0};
        char id[66];
        memset(id, 'a', 65);
        id[65] = '\0';
        snprintf(text, sizeof(text), "%s%s", id, &KEY_B64[2]); /* ":<key>" */
        assert_int_equal(mf_crypto_keyring_parse(text, strlen(text), &kr, &err),
                         MF_E_CONFIG);
        snprintf(text, sizeof(text), "%s%s", id + 1, &KEY_B64[2]);
        assert_int_equal(mf_crypto_keyring_parse(text, strlen(text), &kr, &err),
                         MF_E_OK);
        mf_crypto_keyring_free(&kr);
    }
    {
        struct mf_crypto_keyring *kr = NULL;
        struct mf_error err = {0};
        const char text[] = "k1:AAEC\0AwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        assert_int_equal(
            mf_crypto_keyring_parse(text, sizeof(text) - 1, &kr, &err),
            MF_E_CONFIG);
        assert_int_equal(
            mf_crypto_keyring_load("/nonexistent/mf-key", &kr, &err),
            MF_E_SECRET_FILE);
    }
}

static void
test_round_trip(void **state) {
    struct mf_crypto_keyring *kr = mf_test_keyring(KEY_B64 "\n" KEY_HEX "\n");
    struct mf_sealed_secret s;
    struct mf_crypto_secret *out = NULL;
    struct mf_error err = {0};
    const char pw[] = "correct horse battery staple";

    (void)state;
    assert_int_equal(mf_crypto_seal(kr, "b1", "alice@example.org", "source", pw,
                                    strlen(pw), &s, &err),
                     MF_E_OK);
    assert_string_equal(s.master_key_id, "k1");
    assert_int_equal(s.ciphertext_len, strlen(pw));
    /* No plaintext in any sealed field. */
    assert_false(mf_test_contains(s.ciphertext, s.ciphertext_len, "correct"));
    assert_false(mf_test_contains((const uint8_t *)&s, sizeof(s), "correct"));
    assert_int_equal(
        mf_crypto_open(kr, "b1", "alice@example.org", "source", &s, &out, &err),
        MF_E_OK);
    assert_int_equal(out->len, strlen(pw));
    assert_string_equal((const char *)out->data, pw);
    mf_crypto_secret_free(&out);
    assert_null(out);
    mf_crypto_secret_free(&out);

    /* Two seals of one secret differ (fresh data key and IVs). */
    {
        struct mf_sealed_secret t;
        assert_int_equal(mf_crypto_seal(kr, "b1", "alice@example.org", "source",
                                        pw, strlen(pw), &t, &err),
                         MF_E_OK);
        assert_memory_not_equal(s.ciphertext, t.ciphertext, s.ciphertext_len);
        assert_memory_not_equal(s.wrapped_data_key, t.wrapped_data_key,
                                sizeof(s.wrapped_data_key));
        mf_sealed_secret_clear(&t);
    }
    /* A deep copy opens too. */
    {
        struct mf_sealed_secret c;
        mf_sealed_secret_copy(&c, &s);
        assert_ptr_not_equal(c.ciphertext, s.ciphertext);
        assert_int_equal(mf_crypto_open(kr, "b1", "alice@example.org", "source",
                                        &c, &out, &err),
                         MF_E_OK);
        mf_crypto_secret_free(&out);
        mf_sealed_secret_clear(&c);
    }
    mf_sealed_secret_clear(&s);

    /* An empty secret and a secret with NUL bytes. */
    assert_int_equal(mf_crypto_seal(kr, "b", "m", "target", "", 0, &s, &err),
                     MF_E_OK);
    assert_int_equal(mf_crypto_open(kr, "b", "m", "target", &s, &out, &err),
                     MF_E_OK);
    assert_int_equal(out->len, 0);
    assert_int_equal(out->data[0], 0);
    mf_crypto_secret_free(&out);
    mf_sealed_secret_clear(&s);
    assert_int_equal(
        mf_crypto_seal(kr, "b", "m", "target", "a\0b", 3, &s, &err), MF_E_OK);
    assert_int_equal(mf_crypto_open(kr, "b", "m", "target", &s, &out, &err),
                     MF_E_OK);
    assert_int_equal(out->len, 3);
    assert_memory_equal(out->data, "a\0b", 3);
    mf_crypto_secret_free(&out);
    mf_sealed_secret_clear(&s);

    /* Size limit. */
    {
        char *big = mf_xcalloc(1, MF_CRYPTO_SECRET_MAX + 1);
        assert_int_equal(mf_crypto_seal(kr, "b", "m", "target", big,
                                        MF_CRYPTO_SECRET_MAX + 1, &s, &err),
                         MF_E_LIMIT);
        assert_int_equal(mf_crypto_seal(kr, "b", "m", "target", big,
                                        MF_CRYPTO_SECRET_MAX, &s, &err),
                         MF_E_OK);
        mf_sealed_secret_clear(&s);
        free(big);
    }
    mf_crypto_keyring_free(&kr);
}

static void
test_binding(void **state) {
    struct mf_crypto_keyring *kr = mf_test_keyring(KEY_B64);
    struct mf_sealed_secret s;
    struct mf_crypto_secret *out = NULL;
    struct mf_error err = {0};
    static const char *const other[][3] = {
        {"b2", "alice@example.org", "source"},
        {"b1", "bob@example.org", "source"},
        {"b1", "alice@example.org", "target"},
        /* Same concatenation, different split: length prefixes tell. */
        {"b1a", "lice@example.org", "source"},
        {"", "b1alice@example.org", "source"},
    };

    (void)state;
    assert_int_equal(mf_crypto_seal(kr, "b1", "alice@example.org", "source",
                                    "pw", 2, &s, &err),
                     MF_E_OK);
    for (size_t i = 0; i < MF_ARRAY_LEN(other); i++) {
        mf_err rc = mf_crypto_open(kr, other[i][0], other[i][1], other[i][2],
                                   &s, &out, &err);
        if (rc != MF_E_DECRYPT || out)
            fail_msg("opened for %s/%s/%s", other[i][0], other[i][1],
                     other[i][2]);
    }
    assert_non_null(strstr(err.detail, "tampered"));
    mf_sealed_secret_clear(&s);
    mf_crypto_keyring_free(&kr);
}

/* Flips one bit at a time in every field; every flip must fail. */
static void
test_tamper(void **state) {
    struct mf_crypto_keyring *kr = mf_test_keyring(KEY_B64);
    struct mf_sealed_secret s, t;
    struct mf_crypto_secret *out = NULL;
    struct mf_error err = {0};
    struct {
        const char *name;
        size_t off; /* offset of the field in struct mf_sealed_secret */
        size_t len;
    } fields[] = {
        {"wrapped_data_key",
         offsetof(struct mf_sealed_secret, wrapped_data_key),
         MF_CRYPTO_KEY_LEN},
        {"wrap_iv", offsetof(struct mf_sealed_secret, wrap_iv),
         MF_CRYPTO_IV_LEN},
        {"wrap_tag", offsetof(struct mf_sealed_secret, wrap_tag),
         MF_CRYPTO_TAG_LEN},
        {"iv", offsetof(struct mf_sealed_secret, iv), MF_CRYPTO_IV_LEN},
        {"tag", offsetof(struct mf_sealed_secret, tag), MF_CRYPTO_TAG_LEN},
    };

    (void)state;
    assert_int_equal(
        mf_crypto_seal(kr, "b", "m", "source", "hunter2", 7, &s, &err),
        MF_E_OK);
    for (size_t f = 0; f < MF_ARRAY_LEN(fields); f++) {
        for (size_t i = 0; i < fields[f].len; i++) {
            t = s;
            ((uint8_t *)&t)[fields[f].off + i] ^= 0x01;
            if (mf_crypto_open(kr, "b", "m", "source", &t, &out, &err) !=
                MF_E_DECRYPT)
                fail_msg("flip in %s[%zu] opened", fields[f].name, i);
        }
    }
    for (size_t i = 0; i < s.ciphertext_len; i++) {
        mf_sealed_secret_copy(&t, &s);
        t.ciphertext[i] ^= 0x80;
        assert_int_equal(mf_crypto_open(kr, "b", "m", "source", &t, &out, &err),
                         MF_E_DECRYPT);
        mf_sealed_secret_clear(&t);
    }
    /* A truncated ciphertext fails as well. */
    t = s;
    t.ciphertext_len--;
    assert_int_equal(mf_crypto_open(kr, "b", "m", "source", &t, &out, &err),
                     MF_E_DECRYPT);
    assert_null(out);
    mf_sealed_secret_clear(&s);
    mf_crypto_keyring_free(&kr);
}

static void
test_key_ids(void **state) {
    struct mf_crypto_keyring *a = mf_test_keyring(KEY_B64),
                             *b = mf_test_keyring(KEY_HEX);
    struct mf_crypto_keyring *c = mf_test_keyring(
        "k1:a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5");
    struct mf_sealed_secret s;
    struct mf_crypto_secret *out = NULL;
    struct mf_error err = {0};

    (void)state;
    assert_int_equal(mf_crypto_seal(a, "b", "m", "source", "pw", 2, &s, &err),
                     MF_E_OK);
    /* A ring without k1. */
    assert_int_equal(mf_crypto_open(b, "b", "m", "source", &s, &out, &err),
                     MF_E_KEY_UNKNOWN);
    assert_non_null(strstr(err.detail, "\"k1\""));
    /* A ring with another key called k1. */
    assert_int_equal(mf_crypto_open(c, "b", "m", "source", &s, &out, &err),
                     MF_E_DECRYPT);
    /* A key id that is no key id. */
    memcpy(s.master_key_id, "k 1", 4);
    assert_int_equal(mf_crypto_open(a, "b", "m", "source", &s, &out, &err),
                     MF_E_KEY_UNKNOWN);
    assert_null(out);
    mf_sealed_secret_clear(&s);
    mf_crypto_keyring_free(&a);
    mf_crypto_keyring_free(&b);
    mf_crypto_keyring_free(&c);
}

/* ------------------------------------------------------------------ */
/* Key files on disk                                                  */
/* ------------------------------------------------------------------ */

struct dir {
    char path[64];
    char key[96];
};

static int
setup_dir(void **state) {
    struct dir *d = mf_xcalloc(1, sizeof(*d));

    snprintf(d->path, sizeof(d->path), "/tmp/mf-crypto-test.XXXXXX");
    if (!mkdtemp(d->path))
        return -1;
    snprintf(d->key, sizeof(d->key), "%s/master.key", d->path);
    *state = d;
    return 0;
}

static int
teardown_dir(void **state) {
    struct dir *d = *state;
    char tmp[128];

    unlink(d->key);
    snprintf(tmp, sizeof(tmp), "%s/other.key", d->path);
    unlink(tmp);
    rmdir(d->path);
    free(d);
    return 0;
}

/* The default id is the UTC time of now, a valid id. */
static void
test_key_id_default(void **state) {
    char id[MF_CRYPTO_KEY_ID_MAX + 1];
    unsigned y, mo, d, h, mi, s;
    int end = 0;

    (void)state;
    mf_crypto_key_id_default(id);
    assert_true(mf_crypto_key_id_valid(id));
    assert_int_equal(strlen(id), strlen("key-20261207-012345"));
    assert_int_equal(
        sscanf(id, "key-%4u%2u%2u-%2u%2u%2u%n", &y, &mo, &d, &h, &mi, &s, &end),
        6);
    assert_int_equal(end, (int)strlen(id));
    assert_true(y >= 2024 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31);
    assert_true(h < 24 && mi < 60 && s < 61);
}

static void
test_keyfile_generate_rotate(void **state) {
    struct dir *d = *state;
    struct mf_crypto_keyring *kr = NULL, *kr2 = NULL;
    struct mf_sealed_secret s1, s2;
    struct mf_crypto_secret *out = NULL;
    struct mf_error err = {0};
    struct stat st;

    assert_int_equal(mf_crypto_keyfile_generate(d->key, "2024-01",
                                                MF_CRYPTO_KEYFILE_CREATE, &err),
                     MF_E_OK);
    assert_int_equal(stat(d->key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(mf_crypto_keyfile_generate(d->key, "2024-02",
                                                MF_CRYPTO_KEYFILE_CREATE, &err),
                     MF_E_EXISTS);
    assert_int_equal(mf_crypto_keyfile_generate(d->key, "bad id",
                                                MF_CRYPTO_KEYFILE_ROTATE, &err),
                     MF_E_CONFIG);
    assert_int_equal(mf_crypto_keyring_load(d->key, &kr, &err), MF_E_OK);
    assert_string_equal(mf_crypto_keyring_current_id(kr), "2024-01");
    assert_int_equal(
        mf_crypto_seal(kr, "b", "m", "source", "old", 3, &s1, &err), MF_E_OK);

    /* Rotation: a new current key, the old one still opens. */
    assert_int_equal(mf_crypto_keyfile_generate(d->key, "2024-01",
                                                MF_CRYPTO_KEYFILE_ROTATE, &err),
                     MF_E_CONFIG); /* duplicate id */
    assert_int_equal(mf_crypto_keyfile_generate(d->key, "2024-02",
                                                MF_CRYPTO_KEYFILE_ROTATE, &err),
                     MF_E_OK);
    assert_int_equal(stat(d->key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(mf_crypto_keyring_load(d->key, &kr2, &err), MF_E_OK);
    assert_int_equal(mf_crypto_keyring_count(kr2), 2);
    assert_string_equal(mf_crypto_keyring_current_id(kr2), "2024-02");
    assert_int_equal(mf_crypto_open(kr2, "b", "m", "source", &s1, &out, &err),
                     MF_E_OK);
    assert_string_equal((char *)out->data, "old");
    mf_crypto_secret_free(&out);
    assert_int_equal(
        mf_crypto_seal(kr2, "b", "m", "source", "new", 3, &s2, &err), MF_E_OK);
    assert_string_equal(s2.master_key_id, "2024-02");
    /* The old ring cannot open what the new key sealed. */
    assert_int_equal(mf_crypto_open(kr, "b", "m", "source", &s2, &out, &err),
                     MF_E_KEY_UNKNOWN);
    mf_sealed_secret_clear(&s1);
    mf_sealed_secret_clear(&s2);
    mf_crypto_keyring_free(&kr);
    mf_crypto_keyring_free(&kr2);

    /* Rotating a file that is not a key file is refused; it stays. */
    {
        char other[128];
        FILE *f;
        snprintf(other, sizeof(other), "%s/other.key", d->path);
        f = fopen(other, "w");
        assert_non_null(f);
        fputs("not a key\n", f);
        fclose(f);
        assert_int_equal(mf_crypto_keyfile_generate(
                             other, "k", MF_CRYPTO_KEYFILE_ROTATE, &err),
                         MF_E_CONFIG);
        assert_int_equal(mf_crypto_keyring_load(other, &kr, &err), MF_E_CONFIG);
        assert_non_null(strstr(err.detail, other));
    }
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyfile_parse),
        cmocka_unit_test(test_keyfile_parse_errors),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_binding),
        cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_key_ids),
        cmocka_unit_test(test_key_id_default),
        cmocka_unit_test_setup_teardown(test_keyfile_generate_rotate, setup_dir,
                                        teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
