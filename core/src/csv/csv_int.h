/*
 * Internal interface of the CSV module: the RFC 4180 tokenizer that the
 * batch-file parser (parser.c) is built on.
 *
 * The tokenizer turns bytes into records of fields. It knows quoting,
 * line ends (CRLF, LF, and a lone CR), the UTF-8 BOM, UTF-8 validity and
 * the field size cap; it knows nothing about columns. It reports framing
 * problems itself and hands complete records to its owner.
 */
#ifndef MF_CSV_INT_H
#define MF_CSV_INT_H

#include "mailferry/csv.h"
#include "mailferry/util.h"

/* One field of a record being built. */
struct mf__csv_field {
    size_t off; /* into the record's byte buffer */
    size_t len;
    uint64_t line; /* physical line where the field starts */
    bool bad;      /* a problem was already reported for it */
};

#define MF_CSV_MAX_FIELDS 64

struct mf__csv_record {
    struct mf_buf bytes; /* owned: the fields, each NUL-terminated */
    struct mf__csv_field fields[MF_CSV_MAX_FIELDS];
    unsigned nfields; /* fields kept (at most MF_CSV_MAX_FIELDS) */
    unsigned ntotal;  /* fields seen, including any past the cap */
    uint64_t line;    /* line where the record starts */
    bool bad;         /* a framing problem was reported in it */
};

struct mf__csv_tokenizer;

typedef void (*mf__csv_record_cb)(void *ud, struct mf__csv_record *rec);
typedef void (*mf__csv_issue_cb)(void *ud, uint64_t line, unsigned column,
                                 mf_err code, const char *detail);

struct mf__csv_tokenizer *mf__csv_tokenizer_new(size_t max_field,
                                                mf__csv_record_cb on_record,
                                                mf__csv_issue_cb on_issue,
                                                void *ud);
void mf__csv_tokenizer_free(struct mf__csv_tokenizer **t);
void mf__csv_tokenizer_feed(struct mf__csv_tokenizer *t, const uint8_t *data,
                            size_t len);
void mf__csv_tokenizer_finish(struct mf__csv_tokenizer *t);

#endif
