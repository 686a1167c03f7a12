/*
 * Fuzz target: the batch CSV parser. The input is parsed twice, whole and
 * in chunks of a size taken from the first byte; both runs must agree on
 * the number of rows, mailboxes and issues (chunking must never matter).
 */
#include "mailferry/csv.h"
#include "mailferry/util.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
on_row(void *ud, const struct mf_csv_row *r) {
    /* Touch every string: the sanitizers check they are readable. */
    size_t *sum = ud;
    *sum += strlen(r->email) + strlen(r->username);
    if (r->password)
        *sum += strlen(r->password);
}

static void
on_issue(void *ud, const struct mf_csv_issue *is) {
    size_t *sum = ud;
    *sum += strlen(is->detail) + is->column;
}

static void
run(const uint8_t *data, size_t size, size_t chunk, struct mf_csv_stats *st) {
    static const struct mf_csv_callbacks cb = {on_row, on_issue};
    struct mf_csv_options opt = {.max_rows = 1000, .max_field = 256};
    size_t sum = 0;
    struct mf_csv_parser *p = mf_csv_parser_new(&opt, &cb, &sum);

    for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (mf_csv_parser_feed(p, data + off, n) != MF_E_OK)
            break;
    }
    mf_err rc = mf_csv_parser_finish(p); /* judged by the stats */
    (void)rc;
    mf_csv_parser_stats(p, st);
    mf_csv_parser_free(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct mf_csv_stats whole, chunked;
    size_t chunk = size ? (size_t)(data[0] % 16) + 1 : 1;

    run(data, size, size ? size : 1, &whole);
    run(data, size, chunk, &chunked);
    MF_ASSERT(whole.rows == chunked.rows);
    MF_ASSERT(whole.mailboxes == chunked.mailboxes);
    MF_ASSERT(whole.issues == chunked.issues);
    return 0;
}
