/*
 * mf_job_copy() (core/src/kafka/envelope.c), the copy the worker's
 * handback re-produces: a Job with EVERY field of job.proto set, found
 * by walking protobuf-c's descriptors (so a field added to the schema is
 * covered without touching this file), goes through mf_envelope_unpack(),
 * mf_job_copy() and mf_envelope_pack(), and must come back equal field by
 * field. A field the copy dropped would be named in the failure. Twice a
 * hand-written copy dropped a new field (the date window, the fingerprint
 * mode) and the next worker failed DECRYPT, since both are bound into the
 * sealed secrets; the last test shows a copied secret still opens.
 *
 * Values are distinct per field. The few fields that unpacking checks
 * (a key id, AES-GCM sizes, calendar days, a fingerprint word) take a
 * value from the table `valid`; a new checked field needs a line there,
 * and the test says which field when it is missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/crypto.h"
#include "mailferry/envelope.h"
#include "mailferry/util.h"

#include "mailferry/v1/envelope.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Values that pass the unpacking checks, by "Message.field". */
static const struct {
    const char *field;
    const char *text; /* strings */
    size_t len;       /* bytes: this many */
    uint32_t number;  /* integers */
} valid[] = {
    {"SealedSecret.master_key_id", "k1", 0, 0},
    {"SealedSecret.wrapped_data_key", NULL, MF_CRYPTO_KEY_LEN, 0},
    {"SealedSecret.wrap_iv", NULL, MF_CRYPTO_IV_LEN, 0},
    {"SealedSecret.wrap_tag", NULL, MF_CRYPTO_TAG_LEN, 0},
    {"SealedSecret.iv", NULL, MF_CRYPTO_IV_LEN, 0},
    {"SealedSecret.tag", NULL, MF_CRYPTO_TAG_LEN, 0},
    {"Job.fingerprint", "lenient", 0, 0},
    {"DateWindow.since", NULL, 0, 20260301},
    {"DateWindow.before", NULL, 0, 20260401},
};

static int
valid_index(const ProtobufCMessageDescriptor *d,
            const ProtobufCFieldDescriptor *f) {
    char name[128];

    snprintf(name, sizeof(name), "%s.%s", d->short_name, f->name);
    for (size_t i = 0; i < MF_ARRAY_LEN(valid); i++)
        if (strcmp(valid[i].field, name) == 0)
            return (int)i;
    return -1;
}

static void *
at(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
    return (char *)m + f->offset;
}

static const void *
cat(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
    return (const char *)m + f->offset;
}

/* Sets every field of m to a value no other field has (*seq counts),
 * allocating what it points at (freed by free_filled()). */
static void
fill(ProtobufCMessage *m, unsigned *seq) {
    const ProtobufCMessageDescriptor *d = m->descriptor;

    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        int v = valid_index(d, f);
        unsigned n = ++*seq;

        if (f->label == PROTOBUF_C_LABEL_REPEATED)
            fail_msg("%s.%s is repeated: teach fill() to set it", d->short_name,
                     f->name);
        if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset)
            *(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
        switch (f->type) {
        case PROTOBUF_C_TYPE_STRING: {
            char buf[64];
            snprintf(buf, sizeof(buf), "%s-%u", f->name, n);
            *(char **)at(m, f) = mf_xstrdup(v >= 0 ? valid[v].text : buf);
            break;
        }
        case PROTOBUF_C_TYPE_BYTES: {
            ProtobufCBinaryData *b = at(m, f);
            b->len = v >= 0 ? valid[v].len : 5 + n % 7;
            b->data = mf_xmalloc(b->len);
            for (size_t k = 0; k < b->len; k++)
                b->data[k] = (uint8_t)(n + k);
            break;
        }
        case PROTOBUF_C_TYPE_BOOL:
            *(protobuf_c_boolean *)at(m, f) = 1;
            break;
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_INT32:
            *(uint32_t *)at(m, f) = v >= 0 ? valid[v].number : 100 + n;
            break;
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_INT64:
            /* Above 32 bits, so that a 32-bit copy would show. */
            *(uint64_t *)at(m, f) = (1ull << 40) + n;
            break;
        case PROTOBUF_C_TYPE_ENUM: {
            /* The last value: not the default 0. */
            const ProtobufCEnumDescriptor *e = f->descriptor;
            *(int *)at(m, f) = e->values[e->n_values - 1].value;
            break;
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
            const ProtobufCMessageDescriptor *sd = f->descriptor;
            ProtobufCMessage *sub = mf_xcalloc(1, sd->sizeof_message);
            sd->message_init(sub);
            fill(sub, seq);
            *(ProtobufCMessage **)at(m, f) = sub;
            break;
        }
        default:
            fail_msg("%s.%s: type %d unknown to fill()", d->short_name, f->name,
                     (int)f->type);
        }
    }
}

static void
free_filled(ProtobufCMessage *m) {
    const ProtobufCMessageDescriptor *d = m->descriptor;

    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type == PROTOBUF_C_TYPE_STRING)
            free(*(char **)at(m, f));
        else if (f->type == PROTOBUF_C_TYPE_BYTES)
            free(((ProtobufCBinaryData *)at(m, f))->data);
        else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            ProtobufCMessage *sub = *(ProtobufCMessage **)at(m, f);
            if (sub)
                free_filled(sub);
        }
    }
    free(m);
}

/* Whether a and b differ; if so, where_r names the first field that
 * does ("Job.window.since"). */
static bool
differs(const ProtobufCMessage *a, const ProtobufCMessage *b, const char *path,
        char *where_r, size_t where_len) {
    const ProtobufCMessageDescriptor *d = a->descriptor;

    assert_ptr_equal(d, b->descriptor);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *x = cat(a, f), *y = cat(b, f);
        bool same = true;

        snprintf(where_r, where_len, "%s.%s", path, f->name);
        switch (f->type) {
        case PROTOBUF_C_TYPE_STRING:
            same = strcmp(*(char *const *)x ? *(char *const *)x : "",
                          *(char *const *)y ? *(char *const *)y : "") == 0;
            break;
        case PROTOBUF_C_TYPE_BYTES: {
            const ProtobufCBinaryData *p = x, *q = y;
            same = p->len == q->len &&
                   (!p->len || memcmp(p->data, q->data, p->len) == 0);
            break;
        }
        case PROTOBUF_C_TYPE_BOOL:
            same = !*(const protobuf_c_boolean *)x ==
                   !*(const protobuf_c_boolean *)y;
            break;
        case PROTOBUF_C_TYPE_MESSAGE: {
            const ProtobufCMessage *p = *(ProtobufCMessage *const *)x;
            const ProtobufCMessage *q = *(ProtobufCMessage *const *)y;
            char sub[256];
            if (!p || !q) {
                same = p == q;
                break;
            }
            snprintf(sub, sizeof(sub), "%s", where_r);
            if (differs(p, q, sub, where_r, where_len))
                return true;
            break;
        }
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_INT64:
            same = *(const uint64_t *)x == *(const uint64_t *)y;
            break;
        default: /* the 32-bit integers and enums fill() sets */
            same = *(const uint32_t *)x == *(const uint32_t *)y;
            break;
        }
        if (!same)
            return true;
    }
    return false;
}

static void
expect_equal(const ProtobufCMessage *a, const ProtobufCMessage *b) {
    char where[256];

    if (differs(a, b, "Job", where, sizeof(where)))
        fail_msg("the copy lost or changed %s", where);
}

/* env_r: the envelope mf_envelope_unpack() makes of a Job with every
 * field set (*job_r, freed with free_filled()). */
static void
unpack_full_job(struct mf_envelope *env_r, ProtobufCMessage **job_r) {
    Mailferry__V1__Job *job = mf_xcalloc(1, sizeof(*job));
    Mailferry__V1__Envelope pe;
    struct mf_error err = {0};
    unsigned seq = 0;
    uint8_t *buf;
    size_t len;

    mailferry__v1__job__init(job);
    fill(&job->base, &seq);
    mailferry__v1__envelope__init(&pe);
    pe.schema_version = MF_ENVELOPE_SCHEMA_VERSION;
    pe.message_id = (char *)"m";
    pe.sender = (char *)"test";
    pe.body_case = MAILFERRY__V1__ENVELOPE__BODY_JOB;
    pe.job = job;
    len = mailferry__v1__envelope__get_packed_size(&pe);
    buf = mf_xmalloc(len);
    mailferry__v1__envelope__pack(&pe, buf);
    if (mf_envelope_unpack(buf, len, 0, env_r, &err) != MF_E_OK)
        fail_msg("a full job does not unpack (%s): a checked field needs a "
                 "line in `valid`",
                 err.detail);
    free(buf);
    *job_r = &job->base;
}

/* The Job that mf_envelope_pack() writes for env. */
static Mailferry__V1__Envelope *
repack(const struct mf_envelope *env) {
    struct mf_error err = {0};
    Mailferry__V1__Envelope *pe;
    uint8_t *buf;
    size_t len;

    assert_int_equal(mf_envelope_pack(env, &buf, &len, &err), MF_E_OK);
    pe = mailferry__v1__envelope__unpack(NULL, len, buf);
    free(buf);
    assert_non_null(pe);
    assert_int_equal(pe->body_case, MAILFERRY__V1__ENVELOPE__BODY_JOB);
    return pe;
}

/* ------------------------------------------------------------------ */

static void
test_every_field_copied(void **state) {
    struct mf_envelope in, out;
    struct mf_error err = {0};
    ProtobufCMessage *full;
    Mailferry__V1__Envelope *pe;

    (void)state;
    unpack_full_job(&in, &full);
    /* The trip without the copy first: a field the envelope itself does
     * not carry is its own failure, not the copy's. */
    pe = repack(&in);
    expect_equal(full, &pe->job->base);
    mailferry__v1__envelope__free_unpacked(pe, NULL);

    mf_envelope_init(&out, MF_ENVELOPE_JOB, "copy");
    assert_int_equal(mf_job_copy(&in.job, &out.job, &err), MF_E_OK);
    /* The copy owns all it holds. */
    mf_envelope_clear(&in);
    pe = repack(&out);
    expect_equal(full, &pe->job->base);
    mailferry__v1__envelope__free_unpacked(pe, NULL);
    mf_envelope_clear(&out);
    free_filled(full);
}

/* The comparison above names a field that a copy lost: shown here by
 * losing two on purpose. */
static void
test_comparison_names_a_lost_field(void **state) {
    struct mf_envelope in;
    ProtobufCMessage *full;
    Mailferry__V1__Envelope *pe;
    char where[256];

    (void)state;
    unpack_full_job(&in, &full);
    pe = repack(&in);
    assert_false(differs(full, &pe->job->base, "Job", where, sizeof(where)));
    pe->job->fingerprint[0] = '\0';
    assert_true(differs(full, &pe->job->base, "Job", where, sizeof(where)));
    assert_string_equal(where, "Job.fingerprint");
    pe->job->window->before = 0; /* field 14, compared before 15 */
    assert_true(differs(full, &pe->job->base, "Job", where, sizeof(where)));
    assert_string_equal(where, "Job.window.before");
    mailferry__v1__envelope__free_unpacked(pe, NULL);
    mf_envelope_clear(&in);
    free_filled(full);
}

/* A copied secret opens: the window and mode it is bound to came along. */
static void
test_copied_secret_opens(void **state) {
    static const char keys[] =
        "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
    struct mf_crypto_keyring *kr = NULL;
    struct mf_crypto_secret *pw = NULL;
    struct mf_job src = {0}, copy;
    struct mf_envelope holder;
    struct mf_error err = {0};

    (void)state;
    assert_int_equal(mf_crypto_keyring_parse(keys, strlen(keys), &kr, &err),
                     MF_E_OK);
    src.batch = (char *)"b";
    src.mailbox = (char *)"alice@example.org";
    src.job_id = (char *)"b/alice@example.org/3";
    src.source.login = (char *)"alice";
    src.source.has_password = true;
    assert_int_equal(mf_crypto_seal(kr, src.batch, src.mailbox, "source", "pw",
                                    2, &src.source.password, &err),
                     MF_E_OK);
    src.has_window = true;
    src.window = (struct mf_window){20260301, 0};
    src.fingerprint = (char *)"strict";
    assert_int_equal(mf_job_copy(&src, &copy, &err), MF_E_OK);
    assert_true(copy.has_window);
    assert_int_equal(copy.window.since, 20260301);
    assert_string_equal(copy.fingerprint, "strict");
    assert_int_equal(mf_crypto_open(kr, copy.batch, copy.mailbox, "source",
                                    &copy.source.password, &pw, &err),
                     MF_E_OK);
    assert_string_equal((const char *)pw->data, "pw");
    mf_crypto_secret_free(&pw);
    mf_sealed_secret_clear(&src.source.password);
    memset(&holder, 0, sizeof(holder));
    holder.job = copy;
    mf_envelope_clear(&holder);

    /* A job that would not travel is not copied either. */
    src = (struct mf_job){.batch = (char *)"b",
                          .mailbox = (char *)"m",
                          .job_id = (char *)"j",
                          .fingerprint = (char *)"fuzzy"};
    assert_int_equal(mf_job_copy(&src, &copy, &err), MF_E_ENVELOPE);
    mf_crypto_keyring_free(&kr);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_field_copied),
        cmocka_unit_test(test_comparison_names_a_lost_field),
        cmocka_unit_test(test_copied_secret_opens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
