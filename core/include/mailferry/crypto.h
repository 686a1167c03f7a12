/*
 * Credentials encryption (docs/design.md §10): envelope encryption with
 * AES-256-GCM through OpenSSL's EVP interface.
 *
 * A master key ring is read from a key file. Every call to
 * mf_crypto_seal() makes a fresh random 256-bit data key, encrypts the
 * secret under it, and wraps (encrypts) the data key under the ring's
 * current master key. Both encryptions are AES-256-GCM with a random
 * 96-bit IV and a 128-bit tag, and both authenticate associated data that
 * names the batch, the mailbox and the purpose ("source", "target"), so a
 * sealed secret copied into another mailbox's job, or the source password
 * swapped for the target one, fails to open (MF_E_DECRYPT).
 *
 * Key file format (mf_crypto_keyring_load): UTF-8 text, one key per line,
 *
 *     <key-id>:<key>
 *
 * where key-id is 1 to 64 characters from [A-Za-z0-9._-] and key is 32
 * bytes written as standard base64 (44 characters with '=' padding) or as
 * 64 hex digits. Blank lines and lines starting with '#' are ignored. The
 * FIRST key is the current one: it seals new secrets. The others still
 * open secrets sealed under them, which is how keys rotate: put a new key
 * on top (mf_crypto_keyfile_generate(..., MF_CRYPTO_KEYFILE_ROTATE)),
 * re-seal or let old jobs finish, then drop the old line. A Kubernetes
 * Secret holding this text mounts as the file.
 *
 * Opened secrets live in a struct mf_crypto_secret that wipes itself
 * (OPENSSL_cleanse) when freed; the key ring wipes its keys the same way.
 * Nothing here logs; error details never contain key or secret bytes.
 * All functions are thread-safe on distinct objects; a key ring may be
 * shared read-only between threads once loaded.
 */
#ifndef MAILFERRY_CRYPTO_H
#define MAILFERRY_CRYPTO_H

#include "mailferry/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MF_CRYPTO_KEY_LEN 32    /* AES-256 */
#define MF_CRYPTO_IV_LEN 12     /* GCM's 96-bit nonce */
#define MF_CRYPTO_TAG_LEN 16    /* full 128-bit GCM tag */
#define MF_CRYPTO_KEY_ID_MAX 64 /* characters, without the NUL */
#define MF_CRYPTO_MAX_KEYS 32   /* keys in one key file */
/* Largest secret that seals (a password or an OAuth2 token). */
#define MF_CRYPTO_SECRET_MAX 16384
/* Largest key file read. */
#define MF_CRYPTO_KEYFILE_MAX 65536

/* A loaded set of master keys; the first is current. Opaque. */
struct mf_crypto_keyring;

/* A sealed secret: the C form of mailferry.v1.SealedSecret (job.proto).
 * Owns ciphertext; release it with mf_sealed_secret_clear(). */
struct mf_sealed_secret {
    char master_key_id[MF_CRYPTO_KEY_ID_MAX + 1];
    uint8_t wrapped_data_key[MF_CRYPTO_KEY_LEN];
    uint8_t wrap_iv[MF_CRYPTO_IV_LEN];
    uint8_t wrap_tag[MF_CRYPTO_TAG_LEN];
    uint8_t iv[MF_CRYPTO_IV_LEN];
    uint8_t *ciphertext; /* owned; same length as the secret */
    size_t ciphertext_len;
    uint8_t tag[MF_CRYPTO_TAG_LEN];
};

/* An opened secret. data is NUL-terminated (data[len] == 0) so that a
 * password can be used as a C string; it may contain NULs of its own. */
struct mf_crypto_secret {
    uint8_t *data; /* owned; wiped by mf_crypto_secret_free() */
    size_t len;
};

/* Parses key file text (see above). On error *kr_r is untouched and err
 * names the line; the detail never shows key material. Errors: MF_E_CONFIG
 * (syntax, bad key id, wrong key length, duplicate id, no key,
 * MF_CRYPTO_MAX_KEYS exceeded). */
MF_WARN_UNUSED mf_err mf_crypto_keyring_parse(const char *text, size_t len,
                                              struct mf_crypto_keyring **kr_r,
                                              struct mf_error *err);
/* Reads and parses the key file at path (at most MF_CRYPTO_KEYFILE_MAX
 * bytes). MF_E_SECRET_FILE if it cannot be read, else as above. The read
 * buffer is wiped. */
MF_WARN_UNUSED mf_err mf_crypto_keyring_load(const char *path,
                                             struct mf_crypto_keyring **kr_r,
                                             struct mf_error *err);
/* Wipes and frees *kr; sets it to NULL. Accepts NULL. */
void mf_crypto_keyring_free(struct mf_crypto_keyring **kr);
/* The current key's id. Borrowed: valid while kr lives. */
const char *mf_crypto_keyring_current_id(const struct mf_crypto_keyring *kr);
/* The number of keys in the ring (at least 1). */
size_t mf_crypto_keyring_count(const struct mf_crypto_keyring *kr);

/* Whether s is a valid key id. */
bool mf_crypto_key_id_valid(const char *s);
/* The id a new key gets when none is given: key-YYYYMMDD-HHMMSS of now,
 * UTC (`key generate` without --key-id). */
void mf_crypto_key_id_default(char id[MF_CRYPTO_KEY_ID_MAX + 1]);

enum mf_crypto_keyfile_mode {
    /* Create path with one new key; MF_E_EXISTS if it exists. */
    MF_CRYPTO_KEYFILE_CREATE,
    /* Put a new key on top of an existing (valid) file, keeping the old
     * keys after it; the file is replaced atomically (temp + rename). */
    MF_CRYPTO_KEYFILE_ROTATE,
};

/* Writes a key file with a new random key named key_id (mode 0600). The
 * key comes from RAND_bytes. MF_E_CONFIG for a bad or duplicate key id,
 * MF_E_EXISTS, MF_E_IO, MF_E_CRYPTO (no randomness). */
MF_WARN_UNUSED mf_err mf_crypto_keyfile_generate(
    const char *path, const char *key_id, enum mf_crypto_keyfile_mode mode,
    struct mf_error *err);

/* Seals secret (len bytes, at most MF_CRYPTO_SECRET_MAX) for one mailbox
 * of one batch under the ring's current key. purpose names the secret's
 * role ("source", "target"); batch, mailbox and purpose are bound as
 * associated data. *out_r is overwritten (it need not be cleared first);
 * the caller releases it with mf_sealed_secret_clear(). Errors:
 * MF_E_LIMIT, MF_E_CRYPTO (OpenSSL's words in err). */
MF_WARN_UNUSED mf_err mf_crypto_seal(const struct mf_crypto_keyring *kr,
                                     const char *batch, const char *mailbox,
                                     const char *purpose, const void *secret,
                                     size_t len, struct mf_sealed_secret *out_r,
                                     struct mf_error *err);

/* Opens a sealed secret with the same batch, mailbox and purpose it was
 * sealed for. On success *secret_r is a new secret the caller frees with
 * mf_crypto_secret_free() right after use. Errors: MF_E_KEY_UNKNOWN (the
 * key id is not in the ring), MF_E_DECRYPT (wrong key, wrong batch,
 * mailbox or purpose, or tampered data: GCM cannot tell which),
 * MF_E_LIMIT, MF_E_CRYPTO. */
MF_WARN_UNUSED mf_err mf_crypto_open(const struct mf_crypto_keyring *kr,
                                     const char *batch, const char *mailbox,
                                     const char *purpose,
                                     const struct mf_sealed_secret *sealed,
                                     struct mf_crypto_secret **secret_r,
                                     struct mf_error *err);

/* Wipes and frees *s; sets it to NULL. Accepts NULL. */
void mf_crypto_secret_free(struct mf_crypto_secret **s);

/* Deep copy: dst gets its own ciphertext. */
void mf_sealed_secret_copy(struct mf_sealed_secret *dst,
                           const struct mf_sealed_secret *src);
/* Frees the ciphertext and zeroes *s; s is reusable afterwards. */
void mf_sealed_secret_clear(struct mf_sealed_secret *s);

#endif
