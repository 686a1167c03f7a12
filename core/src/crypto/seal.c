/*
 * Sealing and opening secrets: AES-256-GCM envelope encryption
 * (docs/design.md §10, format in mailferry/crypto.h).
 *
 *   data key  DK  = 32 random bytes, new for every sealed secret
 *   wrapped   WDK = AES-256-GCM(master key, wrap_iv, AD_wrap, DK)
 *   sealed    C   = AES-256-GCM(DK, iv, AD_secret, secret)
 *
 *   AD_wrap   = "mailferry.v1/wrap"   || lp(key id) || lp(batch)
 *               || lp(mailbox) || lp(purpose)
 *   AD_secret = "mailferry.v1/secret" || lp(batch) || lp(mailbox)
 *               || lp(purpose)
 *
 * lp(s) is a 4-byte big-endian length followed by the bytes of s, so no
 * two different (batch, mailbox, purpose) triples share an encoding. Both
 * layers carry the binding: the wrapped key alone already refuses to move
 * to another mailbox, and the secret layer keeps doing so should a data
 * key ever be reused. A fresh data key per secret means a GCM nonce is
 * never used twice under one data key; the master key sees one random
 * 96-bit nonce per seal, far below the 2^32 bound NIST SP 800-38D sets
 * for random nonces.
 *
 * Data keys live on the stack and are wiped before return; opened
 * secrets live in heap buffers wiped by mf_crypto_secret_free().
 */
#include "crypto_int.h"

#include "mailferry/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define AD_WRAP "mailferry.v1/wrap"
#define AD_SECRET "mailferry.v1/secret"

/* ------------------------------------------------------------------ */
/* Associated data                                                    */
/* ------------------------------------------------------------------ */

static void
ad_put(struct mf_buf *b, const char *s) {
    size_t n = strlen(s);
    uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
                      (uint8_t)n};

    mf_buf_append(b, len, sizeof(len));
    mf_buf_append(b, s, n);
}

static void
build_ad(struct mf_buf *b, const char *label, const char *key_id,
         const char *batch, const char *mailbox, const char *purpose) {
    mf_buf_append_str(b, label);
    if (key_id)
        ad_put(b, key_id);
    ad_put(b, batch);
    ad_put(b, mailbox);
    ad_put(b, purpose);
}

/* ------------------------------------------------------------------ */
/* AES-256-GCM                                                        */
/* ------------------------------------------------------------------ */

/* AES-256-GCM, fetched from the default provider once: the implicit
 * fetch of EVP_aes_256_gcm() at every init was a tenth of the CPU of
 * `batch start`, which opens and seals four secrets per job. */
static EVP_CIPHER *aes_gcm;
static pthread_once_t aes_gcm_once = PTHREAD_ONCE_INIT;

static void
fetch_aes_gcm(void) {
    aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

static const EVP_CIPHER *
cipher(void) {
    pthread_once(&aes_gcm_once, fetch_aes_gcm);
    return aes_gcm ? aes_gcm : EVP_aes_256_gcm();
}

/* One AES-256-GCM pass. Encrypting writes tag; decrypting checks it and
 * returns MF_E_DECRYPT on a mismatch (out then holds garbage that the
 * caller wipes). in and out may not overlap. */
static mf_err
gcm(bool encrypt, const uint8_t key[MF_CRYPTO_KEY_LEN],
    const uint8_t iv[MF_CRYPTO_IV_LEN], const struct mf_buf *ad,
    const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[MF_CRYPTO_TAG_LEN],
    struct mf_error *err) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, ok;
    mf_err rc = MF_E_OK;

    if (!ctx)
        return mf__crypto_ossl_error(err, MF_E_CRYPTO, "EVP_CIPHER_CTX_new");
    if (len > INT_MAX || ad->len > INT_MAX) {
        rc = mf_error_set(err, MF_E_LIMIT, "AES-GCM input too large");
        goto out;
    }
    /* GCM's default IV length is 12 bytes (MF_CRYPTO_IV_LEN). */
    if (EVP_CipherInit_ex(ctx, cipher(), NULL, key, iv, encrypt ? 1 : 0) != 1 ||
        EVP_CipherUpdate(ctx, NULL, &n, ad->data, (int)ad->len) != 1 ||
        (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)) {
        rc = mf__crypto_ossl_error(err, MF_E_CRYPTO, "AES-256-GCM");
        goto out;
    }
    if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG,
                                        MF_CRYPTO_TAG_LEN, tag) != 1) {
        rc = mf__crypto_ossl_error(err, MF_E_CRYPTO, "AES-256-GCM set tag");
        goto out;
    }
    ok = EVP_CipherFinal_ex(ctx, out + (len > 0 ? (size_t)n : 0), &n);
    if (ok != 1) {
        if (encrypt)
            rc = mf__crypto_ossl_error(err, MF_E_CRYPTO, "AES-256-GCM final");
        else
            rc = MF_E_DECRYPT; /* detail set by the caller, who knows what */
        goto out;
    }
    if (encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG,
                                       MF_CRYPTO_TAG_LEN, tag) != 1)
        rc = mf__crypto_ossl_error(err, MF_E_CRYPTO, "AES-256-GCM get tag");
out:
    EVP_CIPHER_CTX_free(ctx); /* also cleanses the key schedule */
    return rc;
}

/* ------------------------------------------------------------------ */
/* Seal and open                                                      */
/* ------------------------------------------------------------------ */

mf_err
mf_crypto_seal(const struct mf_crypto_keyring *kr, const char *batch,
               const char *mailbox, const char *purpose, const void *secret,
               size_t len, struct mf_sealed_secret *out_r,
               struct mf_error *err) {
    const struct mf__crypto_key *mk = &kr->keys[0];
    struct mf_sealed_secret s = {0};
    struct mf_buf ad_wrap = {0}, ad_secret = {0};
    uint8_t dk[MF_CRYPTO_KEY_LEN];
    uint8_t rnd[MF_CRYPTO_KEY_LEN + 2 * MF_CRYPTO_IV_LEN];
    mf_err rc;

    MF_ASSERT(kr->n > 0 && batch && mailbox && purpose);
    MF_ASSERT(secret || len == 0);
    if (len > MF_CRYPTO_SECRET_MAX)
        return mf_error_set(err, MF_E_LIMIT,
                            "secret of %zu bytes is longer than %d", len,
                            MF_CRYPTO_SECRET_MAX);
    /* One call for the data key and both nonces: each RAND_bytes() call
     * costs far more than its bytes (locks, a fork check). */
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        rc = mf__crypto_ossl_error(err, MF_E_CRYPTO, "RAND_bytes");
        goto out;
    }
    memcpy(dk, rnd, sizeof(dk));
    memcpy(s.wrap_iv, rnd + sizeof(dk), sizeof(s.wrap_iv));
    memcpy(s.iv, rnd + sizeof(dk) + sizeof(s.wrap_iv), sizeof(s.iv));
    memcpy(s.master_key_id, mk->id, sizeof(s.master_key_id));
    build_ad(&ad_wrap, AD_WRAP, mk->id, batch, mailbox, purpose);
    build_ad(&ad_secret, AD_SECRET, NULL, batch, mailbox, purpose);
    rc = gcm(true, mk->key, s.wrap_iv, &ad_wrap, dk, sizeof(dk),
             s.wrapped_data_key, s.wrap_tag, err);
    if (rc != MF_E_OK)
        goto out;
    s.ciphertext = mf_xmalloc(len ? len : 1);
    s.ciphertext_len = len;
    rc = gcm(true, dk, s.iv, &ad_secret, secret, len, s.ciphertext, s.tag, err);
    if (rc != MF_E_OK)
        goto out;
    *out_r = s;
    s.ciphertext = NULL;
out:
    OPENSSL_cleanse(dk, sizeof(dk));
    OPENSSL_cleanse(rnd, sizeof(rnd));
    mf_sealed_secret_clear(&s);
    mf_buf_free(&ad_wrap);
    mf_buf_free(&ad_secret);
    return rc;
}

mf_err
mf_crypto_open(const struct mf_crypto_keyring *kr, const char *batch,
               const char *mailbox, const char *purpose,
               const struct mf_sealed_secret *sealed,
               struct mf_crypto_secret **secret_r, struct mf_error *err) {
    const struct mf__crypto_key *mk;
    struct mf_buf ad_wrap = {0}, ad_secret = {0};
    struct mf_crypto_secret *out = NULL;
    uint8_t dk[MF_CRYPTO_KEY_LEN];
    uint8_t tag[MF_CRYPTO_TAG_LEN];
    mf_err rc;

    MF_ASSERT(batch && mailbox && purpose && sealed);
    if (!mf_crypto_key_id_valid(sealed->master_key_id))
        return mf_error_set(err, MF_E_KEY_UNKNOWN,
                            "sealed secret has no valid master key id");
    mk = mf__crypto_keyring_find(kr, sealed->master_key_id);
    if (!mk)
        return mf_error_set(err, MF_E_KEY_UNKNOWN,
                            "master key \"%s\" is not in the key file "
                            "(current key: \"%s\")",
                            sealed->master_key_id, kr->keys[0].id);
    if (sealed->ciphertext_len > MF_CRYPTO_SECRET_MAX)
        return mf_error_set(err, MF_E_LIMIT,
                            "sealed secret of %zu bytes is longer than %d",
                            sealed->ciphertext_len, MF_CRYPTO_SECRET_MAX);
    if (!sealed->ciphertext && sealed->ciphertext_len > 0)
        return mf_error_set(err, MF_E_INVALID_ARGUMENT, "no ciphertext");

    build_ad(&ad_wrap, AD_WRAP, mk->id, batch, mailbox, purpose);
    build_ad(&ad_secret, AD_SECRET, NULL, batch, mailbox, purpose);
    memcpy(tag, sealed->wrap_tag, sizeof(tag));
    rc = gcm(false, mk->key, sealed->wrap_iv, &ad_wrap,
             sealed->wrapped_data_key, sizeof(dk), dk, tag, err);
    if (rc == MF_E_DECRYPT)
        mf_error_set(err, rc,
                     "data key does not unwrap under master key \"%s\" for "
                     "%s/%s (%s): wrong key, wrong batch, mailbox or "
                     "purpose, or tampered data",
                     mk->id, batch, mailbox, purpose);
    if (rc != MF_E_OK)
        goto out;
    out = mf_xcalloc(1, sizeof(*out));
    out->data = mf_xcalloc(1, sealed->ciphertext_len + 1);
    out->len = sealed->ciphertext_len;
    memcpy(tag, sealed->tag, sizeof(tag));
    rc = gcm(false, dk, sealed->iv, &ad_secret, sealed->ciphertext,
             sealed->ciphertext_len, out->data, tag, err);
    if (rc == MF_E_DECRYPT)
        mf_error_set(err, rc,
                     "secret for %s/%s (%s) fails authentication: tampered "
                     "data",
                     batch, mailbox, purpose);
    if (rc != MF_E_OK)
        goto out;
    *secret_r = out;
    out = NULL;
out:
    OPENSSL_cleanse(dk, sizeof(dk));
    mf_crypto_secret_free(&out);
    mf_buf_free(&ad_wrap);
    mf_buf_free(&ad_secret);
    return rc;
}

void
mf_crypto_secret_free(struct mf_crypto_secret **s) {
    if (!s || !*s)
        return;
    if ((*s)->data) {
        OPENSSL_cleanse((*s)->data, (*s)->len + 1);
        free((*s)->data);
    }
    free(*s);
    *s = NULL;
}

void
mf_sealed_secret_copy(struct mf_sealed_secret *dst,
                      const struct mf_sealed_secret *src) {
    *dst = *src;
    dst->ciphertext = mf_xmalloc(src->ciphertext_len ? src->ciphertext_len : 1);
    if (src->ciphertext_len)
        memcpy(dst->ciphertext, src->ciphertext, src->ciphertext_len);
}

void
mf_sealed_secret_clear(struct mf_sealed_secret *s) {
    if (!s)
        return;
    free(s->ciphertext);
    memset(s, 0, sizeof(*s));
}
