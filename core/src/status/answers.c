/*
 * The one-line answers of the batch commands that change a batch's state
 * (mailferry/status.h): `batch start`, `sync` and `complete` say what the
 * pass queued, `batch stop` and `remove` one word; as text or one JSON
 * object headed by the batch's name, as every batch command's.
 */
#include "status/status_int.h"

#include "mailferry/json.h"
#include "mailferry/status.h"

#include <stdio.h>

/* {"batch": NAME, KEY: VALUE} on out. */
static void
word_json(FILE *out, const char *batch, const char *key, const char *value) {
    struct mf_buf b = {0};
    struct mf_json j;

    mf_json_init(&j, &b);
    mf_json_object_begin(&j);
    mf_json_key(&j, "batch"), mf_json_string(&j, batch);
    mf_json_key(&j, key), mf_json_string(&j, value);
    mf_json_object_end(&j);
    fprintf(out, "%s\n", (char *)b.data);
    mf_buf_free(&b);
}

void
mf_status_pass_print(FILE *out, bool json, const char *batch,
                     enum mf_batch_state st, uint64_t jobs, const char *topic) {
    struct mf_buf b = {0};
    struct mf_json j;

    if (!json) {
        fprintf(out, "batch %s: %llu job%s queued on %s; state %s\n", batch,
                (unsigned long long)jobs, jobs == 1 ? "" : "s", topic,
                mf_batch_state_name(st));
        return;
    }
    mf_json_init(&j, &b);
    mf_json_object_begin(&j);
    mf_json_key(&j, "batch"), mf_json_string(&j, batch);
    mf_json_key(&j, "state"), mf_json_string(&j, mf_batch_state_name(st));
    mf_json_key(&j, "jobs"), mf_json_u64(&j, jobs);
    mf_json_key(&j, "topic"), mf_json_string(&j, topic);
    mf_json_object_end(&j);
    fprintf(out, "%s\n", (char *)b.data);
    mf_buf_free(&b);
}

void
mf_status_word_print(FILE *out, bool json, const char *batch, const char *key,
                     const char *value, const char *text) {
    if (json)
        word_json(out, batch, key, value);
    else
        fprintf(out, "batch %s: %s\n", batch, text);
}

void
mf_status_stop_print(FILE *out, bool json, const char *batch,
                     enum mf_batch_state st) {
    char text[128];

    snprintf(text, sizeof(text), "%s%s", mf_batch_state_name(st),
             st == MF_BATCH_STOPPING
                 ? " (workers stop at the next message boundary)"
                 : "");
    mf_status_word_print(out, json, batch, "state", mf_batch_state_name(st),
                         text);
}
