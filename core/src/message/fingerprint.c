/*
 * Message fingerprints and the fingerprint multiset (see
 * mailferry/fingerprint.h for the why). The header scanner that finds the
 * Message-ID is in headerscan.c.
 *
 * The canonical string hashed into a fingerprint (version 1; never change
 * it, add a version 2 instead):
 *
 *     "mailferry-fp 1 strict\n"        or "mailferry-fp 1 lenient\n"
 *     "message-id <len> <bytes>\n"     or "message-id none\n"
 *     "size <decimal>\n"               (left out when lenient and a
 *                                       Message-ID is present)
 *     "date <decimal, '-' if before 1970>\n"
 *
 * The Message-ID goes in with its length in front so that no byte in it
 * can fake a line.
 *
 * Version 2, lenient only (mf_fingerprint_lenient()):
 *
 *     "mailferry-fp 2 lenient\n"
 *     "message-id <len> <bytes>\n"     or "message-id none\n"
 *     "date <decimal>\n"
 *     "subject <len> <normalised>\n"   or "subject none\n"
 *     "from <len> <address>\n"         or "from none\n"
 *
 * The multiset is an open-addressing hash table with linear probing, keyed
 * by the digest (already uniformly distributed, so its first 8 bytes are
 * the hash). Slots whose count drops to zero stay, so there are no
 * tombstones.
 */
#include "mailferry/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "mailferry/fingerprint.h"

/* ================================================================== */
/* Fingerprints                                                        */
/* ================================================================== */

static void
digest_update(EVP_MD_CTX *ctx, const void *p, size_t n) {
    int ok = EVP_DigestUpdate(ctx, p, n);

    MF_ASSERT(ok == 1);
}

void
mf_fingerprint_compute(const char *message_id, uint64_t size,
                       int64_t internal_date, unsigned flags,
                       struct mf_fingerprint *fp_r) {
    bool lenient = (flags & MF_FINGERPRINT_LENIENT) != 0;
    bool have_id = message_id && *message_id;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int dlen = 0;
    char line[64];
    int n, ok;

    MF_ASSERT(fp_r && (flags & ~MF_FINGERPRINT_LENIENT) == 0);
    /* Failures here are allocation failures inside OpenSSL: abort, as
     * mf_xmalloc does. */
    MF_ASSERT(ctx);
    ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    MF_ASSERT(ok == 1);
    if (lenient)
        digest_update(ctx, "mailferry-fp 1 lenient\n", 23);
    else
        digest_update(ctx, "mailferry-fp 1 strict\n", 22);
    if (have_id) {
        size_t idlen = strlen(message_id);

        n = snprintf(line, sizeof(line), "message-id %zu ", idlen);
        MF_ASSERT(n > 0 && (size_t)n < sizeof(line));
        digest_update(ctx, line, (size_t)n);
        digest_update(ctx, message_id, idlen);
        digest_update(ctx, "\n", 1);
    } else {
        digest_update(ctx, "message-id none\n", 16);
    }
    if (!lenient || !have_id) {
        n = snprintf(line, sizeof(line), "size %" PRIu64 "\n", size);
        MF_ASSERT(n > 0 && (size_t)n < sizeof(line));
        digest_update(ctx, line, (size_t)n);
    }
    n = snprintf(line, sizeof(line), "date %" PRId64 "\n", internal_date);
    MF_ASSERT(n > 0 && (size_t)n < sizeof(line));
    digest_update(ctx, line, (size_t)n);
    ok = EVP_DigestFinal_ex(ctx, fp_r->digest, &dlen);
    MF_ASSERT(ok == 1 && dlen == sizeof(fp_r->digest));
    EVP_MD_CTX_free(ctx);
}

/* "subject <len> <value>\n", or "subject none\n" for NULL. */
static void
digest_field(EVP_MD_CTX *ctx, const char *name, const char *v, size_t n) {
    char line[64];
    int k;

    if (!v) {
        k = snprintf(line, sizeof(line), "%s none\n", name);
        MF_ASSERT(k > 0 && (size_t)k < sizeof(line));
        digest_update(ctx, line, (size_t)k);
        return;
    }
    k = snprintf(line, sizeof(line), "%s %zu ", name, n);
    MF_ASSERT(k > 0 && (size_t)k < sizeof(line));
    digest_update(ctx, line, (size_t)k);
    digest_update(ctx, v, n);
    digest_update(ctx, "\n", 1);
}

static bool
blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char
lower(char c) {
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Blanks collapsed and trimmed, ASCII lower-cased, into out. */
static void
normalise(const char *s, size_t n, struct mf_buf *out) {
    bool gap = false;

    for (size_t i = 0; i < n; i++) {
        if (blank(s[i])) {
            gap = out->len > 0;
            continue;
        }
        if (gap)
            mf_buf_append(out, " ", 1);
        gap = false;
        char c = lower(s[i]);
        mf_buf_append(out, &c, 1);
    }
}

void
mf_fingerprint_lenient(const char *message_id, const char *subject,
                       const char *from, int64_t internal_date,
                       struct mf_fingerprint *fp_r) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    struct mf_buf norm = {0};
    unsigned int dlen = 0;
    char line[64];
    int n, ok;

    MF_ASSERT(ctx);
    ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    MF_ASSERT(ok == 1);
    digest_update(ctx, "mailferry-fp 2 lenient\n", 23);
    digest_field(ctx, "message-id",
                 message_id && *message_id ? message_id : NULL,
                 message_id ? strlen(message_id) : 0);
    n = snprintf(line, sizeof(line), "date %" PRId64 "\n", internal_date);
    MF_ASSERT(n > 0 && (size_t)n < sizeof(line));
    digest_update(ctx, line, (size_t)n);
    if (subject)
        normalise(subject, strlen(subject), &norm);
    digest_field(ctx, "subject", subject ? (const char *)norm.data : NULL,
                 norm.len);
    mf_buf_reset(&norm);
    if (from) {
        /* RFC 5322 3.4: name-addr = [display-name] angle-addr. */
        const char *lt = strrchr(from, '<');
        const char *gt = lt ? strchr(lt, '>') : NULL;
        if (lt && gt)
            normalise(lt + 1, (size_t)(gt - lt - 1), &norm);
        else
            normalise(from, strlen(from), &norm);
    }
    digest_field(ctx, "from", from ? (const char *)norm.data : NULL, norm.len);
    mf_buf_free(&norm);
    ok = EVP_DigestFinal_ex(ctx, fp_r->digest, &dlen);
    MF_ASSERT(ok == 1 && dlen == sizeof(fp_r->digest));
    EVP_MD_CTX_free(ctx);
}

void
mf_fingerprint_from_header(struct mf_header_scan *scan, const uint8_t *hdr,
                           size_t len, uint64_t size, int64_t internal_date,
                           unsigned flags, struct mf_fingerprint *fp_r) {
    struct mf_header_scan *tmp = NULL;

    if (!scan)
        scan = tmp = mf_header_scan_new(0);
    else
        mf_header_scan_reset(scan);
    (void)mf_header_scan_feed(scan, hdr, len);
    mf_header_scan_finish(scan);
    mf_fingerprint_compute(mf_header_scan_message_id(scan), size, internal_date,
                           flags, fp_r);
    mf_header_scan_free(&tmp);
}

void
mf_fingerprint_hex(const struct mf_fingerprint *fp, char out[65]) {
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < sizeof(fp->digest); i++) {
        out[2 * i] = hex[fp->digest[i] >> 4];
        out[2 * i + 1] = hex[fp->digest[i] & 0xf];
    }
    out[64] = '\0';
}

/* ================================================================== */
/* Multiset                                                            */
/* ================================================================== */

struct slot {
    uint8_t digest[32];
    uint64_t count; /* may be 0 after take(): the slot stays */
    bool used;
};

struct mf_fingerprint_set {
    struct slot *slots; /* owned; cap is a power of two */
    size_t cap;
    size_t distinct; /* used slots */
    size_t max_distinct;
    uint64_t total;
};

#define SET_INITIAL_CAP 64

struct mf_fingerprint_set *
mf_fingerprint_set_new(size_t max_distinct) {
    struct mf_fingerprint_set *set = mf_xcalloc(1, sizeof(*set));

    set->cap = SET_INITIAL_CAP;
    set->slots = mf_xcalloc(set->cap, sizeof(*set->slots));
    set->max_distinct = max_distinct;
    return set;
}

void
mf_fingerprint_set_free(struct mf_fingerprint_set **p) {
    if (!p || !*p)
        return;
    free((*p)->slots);
    free(*p);
    *p = NULL;
}

static size_t
slot_hash(const uint8_t *digest) {
    uint64_t h;

    memcpy(&h, digest, sizeof(h));
    return (size_t)h;
}

/* The slot holding digest, or the empty slot where it would go (the load
 * stays below 1, so there is one). */
static struct slot *
find(struct slot *slots, size_t cap, const uint8_t *digest) {
    size_t i = slot_hash(digest) & (cap - 1);

    while (slots[i].used && memcmp(slots[i].digest, digest, 32) != 0)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static void
grow(struct mf_fingerprint_set *set) {
    size_t cap = set->cap * 2;
    struct slot *slots;

    MF_ASSERT(cap > set->cap && cap <= SIZE_MAX / sizeof(*slots));
    slots = mf_xcalloc(cap, sizeof(*slots));
    for (size_t i = 0; i < set->cap; i++)
        if (set->slots[i].used)
            *find(slots, cap, set->slots[i].digest) = set->slots[i];
    free(set->slots);
    set->slots = slots;
    set->cap = cap;
}

mf_err
mf_fingerprint_set_add(struct mf_fingerprint_set *set,
                       const struct mf_fingerprint *fp) {
    struct slot *sl;

    MF_ASSERT(set && fp);
    sl = find(set->slots, set->cap, fp->digest);
    if (!sl->used) {
        if (set->max_distinct && set->distinct >= set->max_distinct)
            return MF_E_LIMIT;
        /* Keep the load at 3/4 or below so probes stay short. */
        if ((set->distinct + 1) * 4 > set->cap * 3) {
            grow(set);
            sl = find(set->slots, set->cap, fp->digest);
        }
        memcpy(sl->digest, fp->digest, sizeof(sl->digest));
        sl->used = true;
        set->distinct++;
    }
    sl->count++;
    set->total++;
    return MF_E_OK;
}

bool
mf_fingerprint_set_take(struct mf_fingerprint_set *set,
                        const struct mf_fingerprint *fp) {
    struct slot *sl;

    MF_ASSERT(set && fp);
    sl = find(set->slots, set->cap, fp->digest);
    if (!sl->used || sl->count == 0)
        return false;
    sl->count--;
    set->total--;
    return true;
}

uint64_t
mf_fingerprint_set_count(const struct mf_fingerprint_set *set,
                         const struct mf_fingerprint *fp) {
    const struct slot *sl;

    MF_ASSERT(set && fp);
    sl = find(set->slots, set->cap, fp->digest); /* only reads */
    return sl->used ? sl->count : 0;
}

uint64_t
mf_fingerprint_set_total(const struct mf_fingerprint_set *set) {
    MF_ASSERT(set);
    return set->total;
}
