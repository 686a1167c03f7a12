/*
 * The parser's per-response arena: everything a parsed response points to
 * is allocated here and freed at once after on_response() (see parser.h,
 * "valid only inside the callback"). Chunks of ARENA_CHUNK bytes; a big
 * request (a buffered literal) gets a chunk of its own.
 */
#include "imap/parser_int.h"

#include <stdlib.h>
#include <string.h>

void *
mf__imap_arena_alloc(struct mf__imap_arena *a, size_t n) {
    struct chunk *c = a->head;
    size_t off;

    if (c) {
        off = (c->used + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
        if (off <= c->cap && n <= c->cap - off) {
            c->used = off + n;
            return (uint8_t *)(c + 1) + off;
        }
    }
    /* A big request gets a chunk of its own, placed after the current one
     * so that the current chunk's free space stays in use. */
    size_t cap = n > ARENA_CHUNK / 2 ? n : ARENA_CHUNK;
    MF_ASSERT(cap <= SIZE_MAX - sizeof(struct chunk));
    struct chunk *nc = mf_xmalloc(sizeof(struct chunk) + cap);
    nc->cap = cap;
    nc->used = n;
    if (c && cap != ARENA_CHUNK) {
        nc->next = c->next;
        c->next = nc;
    } else {
        nc->next = c;
        a->head = nc;
    }
    return nc + 1;
}

/* Frees every chunk but one standard chunk, kept for the next response. */
void
mf__imap_arena_reset(struct mf__imap_arena *a) {
    struct chunk *keep = NULL;
    struct chunk *c = a->head;

    while (c) {
        struct chunk *next = c->next;
        if (!keep && c->cap == ARENA_CHUNK) {
            keep = c;
            keep->used = 0;
            keep->next = NULL;
        } else {
            free(c);
        }
        c = next;
    }
    a->head = keep;
}

void
mf__imap_arena_free(struct mf__imap_arena *a) {
    struct chunk *c = a->head;
    while (c) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

char *
mf__imap_arena_strndup(struct mf__imap_arena *a, const uint8_t *s, size_t n) {
    char *d = mf__imap_arena_alloc(a, n + 1);
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *
mf__imap_arena_upper(struct mf__imap_arena *a, const uint8_t *s, size_t n) {
    char *d = mf__imap_arena_strndup(a, s, n);
    for (size_t i = 0; i < n; i++)
        if (d[i] >= 'a' && d[i] <= 'z')
            d[i] = (char)(d[i] - 'a' + 'A');
    return d;
}
