/*
 * Fuzz target: the envelope decoder (mf_envelope_unpack). Whatever the
 * input, unpacking must fail cleanly or give an envelope that packs again
 * and unpacks to the same body and names (a round trip through the typed
 * structs must be stable).
 */
#include "mailferry/envelope.h"
#include "mailferry/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *
batch_of(const struct mf_envelope *e) {
    switch (e->body) {
    case MF_ENVELOPE_JOB:
        return e->job.batch;
    case MF_ENVELOPE_PROGRESS:
        return e->progress.batch;
    case MF_ENVELOPE_RESULT:
        return e->result.batch;
    case MF_ENVELOPE_NONE:
        break;
    }
    return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct mf_envelope a, b;
    struct mf_error err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;

    if (mf_envelope_unpack(data, size, 65536, &a, &err) != MF_E_OK) {
        MF_ASSERT(err.code != MF_E_OK && err.detail[0] != '\0');
        return 0;
    }
    MF_ASSERT(a.body != MF_ENVELOPE_NONE);
    MF_ASSERT(a.schema_version == MF_ENVELOPE_SCHEMA_VERSION);
    MF_ASSERT(mf_envelope_pack(&a, &buf, &len, &err) == MF_E_OK);
    MF_ASSERT(mf_envelope_unpack(buf, len, 0, &b, &err) == MF_E_OK);
    MF_ASSERT(a.body == b.body);
    MF_ASSERT(strcmp(a.message_id, b.message_id) == 0);
    MF_ASSERT(strcmp(batch_of(&a), batch_of(&b)) == 0);
    if (a.body == MF_ENVELOPE_JOB) {
        const struct mf_sealed_secret *x = &a.job.source.password,
                                      *y = &b.job.source.password;
        MF_ASSERT(a.job.source.has_password == b.job.source.has_password);
        MF_ASSERT(x->ciphertext_len == y->ciphertext_len);
        MF_ASSERT(x->ciphertext_len == 0 ||
                  memcmp(x->ciphertext, y->ciphertext, x->ciphertext_len) == 0);
    }
    if (a.body == MF_ENVELOPE_RESULT)
        MF_ASSERT(a.result.nskipped == b.result.nskipped &&
                  a.result.nfailed == b.result.nfailed);
    mf_envelope_clear(&a);
    mf_envelope_clear(&b);
    free(buf);
    return 0;
}
