/*
 * Internal to the IMAP response parser (parser.c, parser_lex.c,
 * parser_resp.c, parser_arena.c): not for use outside those files. The
 * parser's contract is parser.h.
 */
#ifndef MF_IMAP_PARSER_INT_H
#define MF_IMAP_PARSER_INT_H

#include "mailferry/imap_parser.h"

/* ------------------------------------------------------------------ */
/* Arena (parser_arena.c)                                              */
/* ------------------------------------------------------------------ */

#define ARENA_CHUNK 8192
#define ARENA_ALIGN 16

struct chunk {
    struct chunk *next; /* owned */
    size_t cap;
    size_t used;
    size_t pad; /* keeps the data after the header 16-byte aligned */
};

struct mf__imap_arena {
    struct chunk *head; /* owned; the current chunk first */
};

void *mf__imap_arena_alloc(struct mf__imap_arena *a, size_t n);
/* Frees every chunk but one standard chunk, kept for the next response. */
void mf__imap_arena_reset(struct mf__imap_arena *a);
void mf__imap_arena_free(struct mf__imap_arena *a);
char *mf__imap_arena_strndup(struct mf__imap_arena *a, const uint8_t *s,
                             size_t n);
/* A copy of s in upper case (ASCII). */
char *mf__imap_arena_upper(struct mf__imap_arena *a, const uint8_t *s,
                           size_t n);

/* ------------------------------------------------------------------ */
/* Parser state (parser.c)                                             */
/* ------------------------------------------------------------------ */

struct mf__imap_level {
    struct mf_imap_arg *v; /* owned; reused across responses */
    size_t n, cap;
};

enum frame_state {
    F_LINE,    /* collecting a line into p->line */
    F_LITERAL, /* reading literal bytes */
};

struct mf_imap_parser {
    struct mf_imap_parser_limits lim;
    struct mf_imap_parser_cb cb;
    void *ud; /* borrowed */
    struct mf_error err;
    bool failed;

    /* framing */
    enum frame_state fstate;
    uint8_t *line; /* owned; the current line, CRLF included */
    size_t line_len, line_cap;
    size_t resp_bytes;     /* bytes outside literals in this response */
    uint64_t lit_buffered; /* buffered literal bytes in this response */
    bool in_response;      /* the first line of a response was seen */
    bool data_response;    /* args follow the header (literals allowed) */

    /* the literal being read */
    uint64_t lit_size, lit_got;
    bool lit_stream;
    uint8_t *lit_buf; /* in the arena */

    /* structure */
    struct mf__imap_level *stack; /* owned; max_depth + 1 levels */
    unsigned depth;               /* open lists */
    size_t nargs;
    struct mf__imap_arena arena;
    struct mf_imap_response resp;
};

/* ------------------------------------------------------------------ */
/* Tokenizer (parser_lex.c) and response header (parser_resp.c)        */
/* ------------------------------------------------------------------ */

/* A cursor over one line (CRLF removed). */
struct mf__imap_cur {
    const uint8_t *s;
    size_t len, pos;
};

static inline bool
mf__imap_is_ctl(uint8_t c) {
    return c < 0x20 || c == 0x7f;
}

static inline void
mf__imap_skip_sp(struct mf__imap_cur *c) {
    while (c->pos < c->len && c->s[c->pos] == ' ')
        c->pos++;
}

/* Appends a to the innermost open list; fails past lim.max_args. */
MF_WARN_UNUSED mf_err mf__imap_parser_push_arg(struct mf_imap_parser *p,
                                               const struct mf_imap_arg *a,
                                               struct mf_error *e);
/* Copies level's args into the arena; the level is emptied. */
const struct mf_imap_arg *mf__imap_parser_seal_level(struct mf_imap_parser *p,
                                                     struct mf__imap_level *l,
                                                     size_t *count_r);
/* Tokenizes the rest of the line into the open lists. Sets *lit_r when the
 * line ends in a literal's size (only when allow_literal). */
MF_WARN_UNUSED mf_err mf__imap_parser_tokenize(struct mf_imap_parser *p,
                                               struct mf__imap_cur *c,
                                               bool allow_literal, bool *lit_r,
                                               uint64_t *lit_size_r,
                                               struct mf_error *e);
/* Parses the first line of a response into p->resp; sets p->data_response
 * when args (and so literals) follow. */
MF_WARN_UNUSED mf_err mf__imap_parser_header(struct mf_imap_parser *p,
                                             struct mf__imap_cur *c,
                                             struct mf_error *e);

#endif
