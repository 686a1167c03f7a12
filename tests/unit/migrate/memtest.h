/*
 * Helpers shared by the migration engine's unit tests (header only, so
 * that each test_*.c stays its own executable): messages made to order,
 * the open hook that gives the engine stores over two in-memory servers,
 * and a comparison of two folders as multisets of (body, flags, date).
 */
#ifndef MF_TEST_MEMTEST_H
#define MF_TEST_MEMTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mailferry/util.h"
#include "migrate/migrate_int.h"
#include "store_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The two servers a test migrates between. */
struct memenv {
    struct mf_mem_server *src, *dst;
    unsigned src_opens, dst_opens; /* open_mem() calls, failed ones too */
};

static inline mf_err
memenv_open(void *ud, bool target, const struct mf_migrate_login *login,
            struct mf_store **st_r, struct mf_error *err, uint32_t *retry_r) {
    struct memenv *e = ud;
    (void)login;
    if (target)
        e->dst_opens++;
    else
        e->src_opens++;
    return mf_store_mem_open(target ? e->dst : e->src, st_r, err, retry_r);
}

/* One mailbox migrated pass after pass between two in-memory servers,
 * with its checkpoints kept across passes as Redis keeps them. */
struct memrun {
    struct memenv env;
    struct mf_migrate_server s_src, s_dst;
    struct mf_migrate_login login;
    struct mf_migrate_options o;
    struct mf_migrate_result res;
    struct mf__ckpt_mem *mem;
};

static inline void
memrun_init(struct memrun *r) {
    memset(r, 0, sizeof(*r));
    r->env.src = mf_mem_server_new('.');
    r->env.dst = mf_mem_server_new('/');
    /* The engine tells the sides apart by these pointers. */
    r->o.source = &r->s_src;
    r->o.target = &r->s_dst;
    r->o.backoff_ms = 1;
    r->o.max_backoff_ms = 5;
    r->login.user = "user";
    r->login.password = "secret";
}

static inline void
memrun_clear(struct memrun *r) {
    mf_migrate_result_clear(&r->res);
    mf__ckpt_mem_free(&r->mem);
    mf_mem_server_free(&r->env.src);
    mf_mem_server_free(&r->env.dst);
}

/* cmocka setup and teardown of a test whose state is a struct memrun. */
static inline int
memrun_setup(void **state) {
    struct memrun *r = calloc(1, sizeof(*r));
    memrun_init(r);
    *state = r;
    return 0;
}

static inline int
memrun_teardown(void **state) {
    struct memrun *r = *state;
    memrun_clear(r);
    free(r);
    return 0;
}

/* A test state of size bytes (at least a struct memrun) whose first
 * member is its struct memrun, initialised; memrun_teardown() frees it. */
static inline void *
memrun_state_new(size_t size) {
    struct memrun *r;

    assert_true(size >= sizeof(*r));
    r = calloc(1, size);
    memrun_init(r);
    return r;
}

/* One pass; open NULL: stores over r->env. */
static inline mf_err
memrun_pass(struct memrun *r, mf_migrate_open_fn open, void *ud) {
    mf_migrate_result_clear(&r->res);
    return mf__migrate_mailbox_mem(&r->o, "user@example.org", &r->login,
                                   &r->login, open ? open : memenv_open,
                                   open ? ud : &r->env, &r->mem, &r->res);
}

/* One pass over r->env that must succeed: anything else fails the test
 * with the error's name and detail. */
static inline void
memrun_pass_ok(struct memrun *r) {
    mf_err rc = memrun_pass(r, NULL, NULL);
    if (rc != MF_E_OK)
        fail_msg("migrate: %s (%s)", mf_err_name(rc), r->res.error.detail);
}

/* memrun_pass_ok(), and the pass must have completed. */
static inline void
memrun_expect_complete(struct memrun *r) {
    memrun_pass_ok(r);
    assert_true(r->res.stats.pass_complete);
}

/* A folder's checkpoint as the passes left it (*ck_r owns its pending
 * UIDs); false when there is none. */
static inline bool
memrun_checkpoint(struct memrun *r, const char *folder,
                  struct mf_checkpoint *ck_r) {
    struct mf__run run = {0};
    bool found = false;

    run.o = &r->o;
    run.mailbox = "user@example.org";
    run.mem = r->mem;
    if (mf__ckpt_get(&run, folder, ck_r, &found) != MF_E_OK)
        return false;
    return found;
}

/* A date that differs per message: "dd-Mon-yyyy hh:mm:ss +zzzz". */
static inline void
test_date(unsigned i, char *out, size_t cap) {
    static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    snprintf(out, cap, "%02u-%s-%u %02u:%02u:%02u %s", 1 + i % 28,
             mon[(i / 28) % 12], 2000 + (i / 336) % 20, i % 24, (i * 7) % 60,
             (i * 13) % 60, i % 2 ? "+0200" : "-0700");
}

/* Adds a message of about size bytes (at least its header) with a
 * Message-ID, Subject and filler that differ per tag; returns its UID. */
static inline uint32_t
add_msg(struct mf_mem_folder *f, const char *tag, size_t size,
        const char *flags, unsigned date_no) {
    struct mf_buf b = {0};
    char date[64];
    uint32_t uid;

    mf_buf_appendf(&b,
                   "Message-ID: <%s@test.example>\r\nSubject: Message "
                   "%s\r\nFrom: a@example.org\r\n\r\n",
                   tag, tag);
    while (b.len < size) {
        size_t k = size - b.len;
        char line[80];
        int n = snprintf(line, sizeof(line), "%s line %zu of the body\r\n", tag,
                         b.len);
        mf_buf_append(&b, line, k < (size_t)n ? k : (size_t)n);
    }
    test_date(date_no, date, sizeof(date));
    uid = mf_mem_msg_add(f, flags, date, b.data, b.len);
    mf_buf_free(&b);
    return uid;
}

/* "\Seen $Work" sorted, lower-cased, \Recent left out. */
static inline void
norm_flags(const char *in, char *out, size_t cap) {
    char tmp[1024], *w[64];
    size_t n = 0, len = 0;
    char *p = tmp;

    snprintf(tmp, sizeof(tmp), "%s", in ? in : "");
    while (*p && n < 64) {
        while (*p == ' ')
            *p++ = '\0';
        if (!*p)
            break;
        w[n++] = p;
        while (*p && *p != ' ')
            p++;
    }
    for (size_t i = 0; i < n; i++)
        for (char *c = w[i]; *c; c++)
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && strcmp(w[k - 1], w[k]) > 0; k--) {
            char *t = w[k];
            w[k] = w[k - 1];
            w[k - 1] = t;
        }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (strcmp(w[i], "\\recent") == 0)
            continue;
        len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? " " : "",
                                w[i]);
        if (len >= cap)
            break;
    }
}

struct msgkey {
    char *s; /* owned: "date\nflags\nbody" */
    size_t len;
};

static inline int
msgkey_cmp(const void *a, const void *b) {
    const struct msgkey *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The folder's messages as sorted keys; with_flags false compares bodies
 * and dates only. */
static inline struct msgkey *
folder_keys(const struct mf_mem_folder *f, bool with_flags) {
    struct msgkey *k = calloc(f->n + 1, sizeof(*k));

    for (size_t i = 0; i < f->n; i++) {
        const struct mf_mem_msg *m = &f->msgs[i];
        char flags[1024];
        struct mf_buf b = {0};

        norm_flags(with_flags ? m->flags : "", flags, sizeof(flags));
        mf_buf_appendf(&b, "%s\n%s\n", m->date ? m->date : "", flags);
        mf_buf_append(&b, m->body, m->len);
        k[i].len = b.len;
        k[i].s = (char *)b.data;
    }
    qsort(k, f->n, sizeof(*k), msgkey_cmp);
    return k;
}

static inline void
keys_free(struct msgkey *k, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(k[i].s);
    free(k);
}

/* NULL when the two folders hold the same messages (as multisets), else
 * a description of the first difference (static buffer). */
static inline const char *
folders_differ(const struct mf_mem_folder *a, const struct mf_mem_folder *b,
               bool with_flags) {
    static char why[512];
    struct msgkey *ka, *kb;
    const char *res = NULL;

    if (!a || !b) {
        snprintf(why, sizeof(why), "folder missing: %s %s", a ? "" : "source",
                 b ? "" : "target");
        return why;
    }
    if (a->n != b->n) {
        snprintf(why, sizeof(why), "%s has %zu messages, %s has %zu", a->name,
                 a->n, b->name, b->n);
        return why;
    }
    ka = folder_keys(a, with_flags);
    kb = folder_keys(b, with_flags);
    for (size_t i = 0; i < a->n; i++)
        if (msgkey_cmp(&ka[i], &kb[i]) != 0) {
            snprintf(why, sizeof(why), "%s vs %s: message %zu differs: %.80s",
                     a->name, b->name, i, ka[i].s);
            res = why;
            break;
        }
    keys_free(ka, a->n);
    keys_free(kb, b->n);
    return res;
}

/* Fails the test unless the source's folder src and the target's folder
 * dst hold the same messages, flags included. */
static inline void
memrun_expect_same(struct memrun *r, const char *src, const char *dst) {
    const char *why = folders_differ(mf_mem_folder_find(r->env.src, src),
                                     mf_mem_folder_find(r->env.dst, dst), true);
    if (why)
        fail_msg("%s -> %s: %s", src, dst, why);
}

#endif
