/*
 * Master key rings: parsing key file text, loading a key file, and
 * generating (or rotating) one. The format is documented in
 * mailferry/crypto.h: "<key-id>:<base64 or hex of 32 bytes>" lines, the
 * first one current.
 *
 * Every buffer that held key bytes or key file text is wiped with
 * OPENSSL_cleanse before it is freed, and no error detail quotes a key:
 * details name the line and what is wrong with it.
 */
#include "crypto_int.h"
#include "mailferry/config.h"

#include "mailferry/util.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

mf_err
mf__crypto_ossl_error(struct mf_error *err, mf_err code, const char *what) {
    unsigned long e = ERR_get_error();
    char buf[200];

    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    else
        snprintf(buf, sizeof(buf), "no OpenSSL error");
    ERR_clear_error();
    return mf_error_set(err, code, "%s: %s", what, buf);
}

void
mf_crypto_key_id_default(char id[MF_CRYPTO_KEY_ID_MAX + 1]) {
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(id, MF_CRYPTO_KEY_ID_MAX + 1, "key-%Y%m%d-%H%M%S", &tm);
}

bool
mf_crypto_key_id_valid(const char *s) {
    size_t n = 0;

    if (!s)
        return false;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
        if (n == MF_CRYPTO_KEY_ID_MAX)
            return false;
    }
    return n > 0;
}

static int
hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes exactly MF_CRYPTO_KEY_LEN bytes from 64 hex digits or from
 * base64 (43 digits, optionally followed by one '='). Strict: the unused
 * low bits of the last base64 digit must be zero, so each key has one
 * spelling. */
static bool
decode_key(const char *s, size_t n, uint8_t out[MF_CRYPTO_KEY_LEN]) {
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;

    if (n == 2 * MF_CRYPTO_KEY_LEN) {
        for (size_t i = 0; i < MF_CRYPTO_KEY_LEN; i++) {
            int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
            if (hi < 0 || lo < 0)
                return false;
            out[i] = (uint8_t)(hi << 4 | lo);
        }
        return true;
    }
    if (n == 44 && s[43] == '=')
        n = 43;
    if (n != 43)
        return false;
    for (size_t i = 0; i < n; i++) {
        int v = mf_base64_digit((unsigned char)s[i], '/');
        if (v < 0)
            return false;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return o == MF_CRYPTO_KEY_LEN && acc == 0;
}

const struct mf__crypto_key *
mf__crypto_keyring_find(const struct mf_crypto_keyring *kr, const char *id) {
    for (size_t i = 0; i < kr->n; i++)
        if (strcmp(kr->keys[i].id, id) == 0)
            return &kr->keys[i];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Parsing and loading                                                */
/* ------------------------------------------------------------------ */

static bool
is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Parses one line (without its newline) into kr. Returns MF_E_OK, also
 * for blank and comment lines. */
static mf_err
parse_line(struct mf_crypto_keyring *kr, const char *p, size_t n,
           unsigned lineno, struct mf_error *err) {
    const char *colon;
    size_t idlen;
    struct mf__crypto_key *k;

    while (n > 0 && is_space(*p))
        p++, n--;
    while (n > 0 && is_space(p[n - 1]))
        n--;
    if (n == 0 || *p == '#')
        return MF_E_OK;
    colon = memchr(p, ':', n);
    if (!colon)
        return mf_error_set(err, MF_E_CONFIG,
                            "line %u: expected <key-id>:<key>", lineno);
    idlen = (size_t)(colon - p);
    if (kr->n == MF_CRYPTO_MAX_KEYS)
        return mf_error_set(err, MF_E_CONFIG, "line %u: more than %d keys",
                            lineno, MF_CRYPTO_MAX_KEYS);
    k = &kr->keys[kr->n];
    if (idlen == 0 || idlen > MF_CRYPTO_KEY_ID_MAX)
        return mf_error_set(err, MF_E_CONFIG,
                            "line %u: key id must be 1 to %d characters",
                            lineno, MF_CRYPTO_KEY_ID_MAX);
    memcpy(k->id, p, idlen);
    k->id[idlen] = '\0';
    if (!mf_crypto_key_id_valid(k->id))
        return mf_error_set(err, MF_E_CONFIG,
                            "line %u: key id may only hold A-Z a-z 0-9 . _ -",
                            lineno);
    if (mf__crypto_keyring_find(kr, k->id))
        return mf_error_set(err, MF_E_CONFIG,
                            "line %u: key id \"%s\" appears twice", lineno,
                            k->id);
    if (!decode_key(colon + 1, n - idlen - 1, k->key)) {
        OPENSSL_cleanse(k->key, sizeof(k->key));
        return mf_error_set(err, MF_E_CONFIG,
                            "line %u: key \"%s\" is not 32 bytes in base64 "
                            "(44 characters) or hex (64 digits)",
                            lineno, k->id);
    }
    kr->n++;
    return MF_E_OK;
}

mf_err
mf_crypto_keyring_parse(const char *text, size_t len,
                        struct mf_crypto_keyring **kr_r, struct mf_error *err) {
    struct mf_crypto_keyring *kr = mf_xcalloc(1, sizeof(*kr));
    unsigned lineno = 0;
    size_t off = 0;
    mf_err rc = MF_E_OK;

    if (len > MF_CRYPTO_KEYFILE_MAX) {
        rc = mf_error_set(err, MF_E_CONFIG, "key file larger than %d bytes",
                          MF_CRYPTO_KEYFILE_MAX);
        goto out;
    }
    while (off < len) {
        const char *nl = memchr(text + off, '\n', len - off);
        size_t n = nl ? (size_t)(nl - (text + off)) : len - off;

        lineno++;
        if (memchr(text + off, '\0', n)) {
            rc = mf_error_set(err, MF_E_CONFIG, "line %u: NUL byte", lineno);
            goto out;
        }
        rc = parse_line(kr, text + off, n, lineno, err);
        if (rc != MF_E_OK)
            goto out;
        off += n + (nl ? 1 : 0);
    }
    if (kr->n == 0) {
        rc = mf_error_set(err, MF_E_CONFIG, "no key in key file");
        goto out;
    }
    *kr_r = kr;
    kr = NULL;
out:
    mf_crypto_keyring_free(&kr);
    return rc;
}

mf_err
mf_crypto_keyring_load(const char *path, struct mf_crypto_keyring **kr_r,
                       struct mf_error *err) {
    char *text = NULL;
    size_t len = 0;
    mf_err rc;

    rc = mf_secret_file_read(path, MF_CRYPTO_KEYFILE_MAX, &text, &len, err);
    if (rc != MF_E_OK)
        return rc;
    rc = mf_crypto_keyring_parse(text, len, kr_r, err);
    if (rc != MF_E_OK) {
        /* Say which file: the parser only knows the line. */
        char detail[MF_ERROR_DETAIL_MAX];
        snprintf(detail, sizeof(detail), "%s", err->detail);
        mf_error_set(err, rc, "key file %s: %s", path, detail);
    }
    OPENSSL_cleanse(text, len);
    free(text);
    return rc;
}

void
mf_crypto_keyring_free(struct mf_crypto_keyring **kr) {
    if (!kr || !*kr)
        return;
    OPENSSL_cleanse(*kr, sizeof(**kr));
    free(*kr);
    *kr = NULL;
}

const char *
mf_crypto_keyring_current_id(const struct mf_crypto_keyring *kr) {
    MF_ASSERT(kr->n > 0);
    return kr->keys[0].id;
}

size_t
mf_crypto_keyring_count(const struct mf_crypto_keyring *kr) {
    return kr->n;
}

/* ------------------------------------------------------------------ */
/* Generating key files                                               */
/* ------------------------------------------------------------------ */

static mf_err
write_all(int fd, const char *p, size_t n, const char *path,
          struct mf_error *err) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return mf_error_set(err, MF_E_IO, "%s: %s", path, strerror(errno));
        p += w;
        n -= (size_t)w;
    }
    return MF_E_OK;
}

/* Writes "<id>:<base64 key>\n" for a new random key into line (which must
 * hold MF_CRYPTO_KEY_ID_MAX + 48 bytes). */
static mf_err
new_key_line(const char *key_id, char *line, size_t n, struct mf_error *err) {
    uint8_t key[MF_CRYPTO_KEY_LEN];
    unsigned char b64[48];
    mf_err rc = MF_E_OK;

    if (RAND_bytes(key, sizeof(key)) != 1)
        return mf__crypto_ossl_error(err, MF_E_CRYPTO, "RAND_bytes");
    EVP_EncodeBlock(b64, key, sizeof(key));
    if ((size_t)snprintf(line, n, "%s:%s\n", key_id, (char *)b64) >= n)
        rc = mf_error_set(err, MF_E_INTERNAL, "key line buffer too small");
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(b64, sizeof(b64));
    return rc;
}

static mf_err
create_file(const char *path, const char *line, struct mf_error *err) {
    static const char head[] =
        "# mailferry master keys: <key-id>:<base64 key>, the first is\n"
        "# current (mailferry/crypto.h). Keep this file secret.\n";
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    mf_err rc;

    if (fd < 0)
        return mf_error_set(err, errno == EEXIST ? MF_E_EXISTS : MF_E_IO,
                            "%s: %s", path, strerror(errno));
    rc = write_all(fd, head, sizeof(head) - 1, path, err);
    if (rc == MF_E_OK)
        rc = write_all(fd, line, strlen(line), path, err);
    if (rc == MF_E_OK && fsync(fd) != 0)
        rc = mf_error_set(err, MF_E_IO, "%s: %s", path, strerror(errno));
    close(fd);
    if (rc != MF_E_OK)
        unlink(path);
    return rc;
}

/* Puts line on top of the keys in path: comments at the top stay first,
 * the new key goes right before the first key line. */
static mf_err
rotate_file(const char *path, const char *key_id, const char *line,
            struct mf_error *err) {
    struct mf_crypto_keyring *kr = NULL;
    char *text = NULL, *tmp = NULL;
    size_t len = 0, split = 0;
    int fd = -1;
    mf_err rc;

    rc = mf_secret_file_read(path, MF_CRYPTO_KEYFILE_MAX, &text, &len, err);
    if (rc != MF_E_OK)
        return rc;
    rc = mf_crypto_keyring_parse(text, len, &kr, err);
    if (rc != MF_E_OK)
        goto out;
    if (mf__crypto_keyring_find(kr, key_id)) {
        rc = mf_error_set(err, MF_E_CONFIG, "key id \"%s\" is already in %s",
                          key_id, path);
        goto out;
    }
    if (kr->n == MF_CRYPTO_MAX_KEYS) {
        rc = mf_error_set(err, MF_E_CONFIG, "%s already holds %d keys", path,
                          MF_CRYPTO_MAX_KEYS);
        goto out;
    }
    /* Skip leading blank and comment lines. */
    while (split < len) {
        const char *nl = memchr(text + split, '\n', len - split);
        size_t n = nl ? (size_t)(nl - (text + split)) + 1 : len - split;
        size_t i = 0;
        while (i < n && is_space(text[split + i]))
            i++;
        if (i < n && text[split + i] != '#')
            break;
        split += n;
    }
    tmp = mf_xasprintf("%s.XXXXXX", path);
    fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0) {
        rc = mf_error_set(err, MF_E_IO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    rc = write_all(fd, text, split, tmp, err);
    if (rc == MF_E_OK)
        rc = write_all(fd, line, strlen(line), tmp, err);
    if (rc == MF_E_OK)
        rc = write_all(fd, text + split, len - split, tmp, err);
    if (rc == MF_E_OK && len > 0 && text[len - 1] != '\n')
        rc = write_all(fd, "\n", 1, tmp, err);
    if (rc == MF_E_OK && fsync(fd) != 0)
        rc = mf_error_set(err, MF_E_IO, "%s: %s", tmp, strerror(errno));
    if (rc == MF_E_OK && rename(tmp, path) != 0)
        rc = mf_error_set(err, MF_E_IO, "rename %s: %s", tmp, strerror(errno));
out:
    if (fd >= 0) {
        close(fd);
        if (rc != MF_E_OK)
            unlink(tmp);
    }
    free(tmp);
    mf_crypto_keyring_free(&kr);
    OPENSSL_cleanse(text, len);
    free(text);
    return rc;
}

mf_err
mf_crypto_keyfile_generate(const char *path, const char *key_id,
                           enum mf_crypto_keyfile_mode mode,
                           struct mf_error *err) {
    char line[MF_CRYPTO_KEY_ID_MAX + 64];
    mf_err rc;

    if (!mf_crypto_key_id_valid(key_id))
        return mf_error_set(err, MF_E_CONFIG,
                            "key id must be 1 to %d characters from "
                            "A-Z a-z 0-9 . _ -",
                            MF_CRYPTO_KEY_ID_MAX);
    rc = new_key_line(key_id, line, sizeof(line), err);
    if (rc == MF_E_OK)
        rc = mode == MF_CRYPTO_KEYFILE_CREATE
                 ? create_file(path, line, err)
                 : rotate_file(path, key_id, line, err);
    OPENSSL_cleanse(line, sizeof(line));
    return rc;
}
