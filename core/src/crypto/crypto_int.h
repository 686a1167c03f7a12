/*
 * Internal header of the crypto module: the key ring's layout, shared by
 * keyring.c (parsing, loading, generating key files) and seal.c (sealing
 * and opening secrets). Keys are plain bytes in a heap block that
 * mf_crypto_keyring_free() wipes; nothing else holds a copy for longer
 * than one call.
 */
#ifndef MF_CRYPTO_INT_H
#define MF_CRYPTO_INT_H

#include "mailferry/crypto.h"

struct mf__crypto_key {
    char id[MF_CRYPTO_KEY_ID_MAX + 1];
    uint8_t key[MF_CRYPTO_KEY_LEN];
};

struct mf_crypto_keyring {
    size_t n; /* at least 1 once parsed; keys[0] is current */
    struct mf__crypto_key keys[MF_CRYPTO_MAX_KEYS];
};

/* The key called id, or NULL. */
const struct mf__crypto_key *
mf__crypto_keyring_find(const struct mf_crypto_keyring *kr, const char *id);

/* Sets err to code with what failed and OpenSSL's error string (or
 * "no OpenSSL error" when its queue is empty), clears OpenSSL's queue and
 * returns code. */
mf_err mf__crypto_ossl_error(struct mf_error *err, mf_err code,
                             const char *what);

#endif
