/*
 * mailferry-bench-ingest: the target server's raw ingest limit.
 *
 * The benchmark (bench/imap-bench) compares mailferry with mbsync and with
 * the fastest the target server can take the same messages in. This
 * program measures that last figure: it reads every user's messages from
 * the source Dovecot's Maildir++ files (no source IMAP server involved),
 * then N threads, one IMAP connection each, take the next user from a
 * shared queue and send that user's whole copy as one pipeline: per
 * source folder CREATE (an existing folder is fine) and SELECT of a
 * target folder, then MULTIAPPEND commands (RFC 3502) of --batch messages
 * with LITERAL+ literals (RFC 7888), no flags and no date; the session
 * keeps --window commands in flight, so the server never waits for a
 * round trip between folders. APPEND into the selected folder is
 * Dovecot's fast path (it does not reopen the mailbox per command).
 *
 * A target without MULTIAPPEND (Exchange Online, Gmail) gets single-message
 * APPENDs instead, --single-window of them in flight (32 by default),
 * each with a non-synchronising literal (LITERAL+, or LITERAL- up to 4096
 * bytes, RFC 7888): its raw pipelined-APPEND limit, which mailferry's
 * pipelined single APPENDs are measured against.
 *
 * All messages are loaded into memory before the clock starts, so the
 * figure leaves out the cost of reading the source, as the benchmark
 * defines it. Message files are stored with LF line ends; they are sent
 * with CRLF, the bytes an IMAP FETCH of the source would give.
 *
 * Ownership: main owns the user table (struct user) and every folder's
 * message buffer; worker threads only read them and own their session.
 */
#include "mailferry/imap_session.h"
#include "mailferry/csv.h"
#include "mailferry/endpoint.h"
#include "mailferry/err.h"
#include "mailferry/util.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* One source folder, loaded: all messages back to back in data. */
struct folder {
    char *target_name; /* owned: name on the target ("INBOX", "a/b") */
    uint8_t *data;     /* owned: the messages, CRLF line ends */
    size_t *off;       /* owned: nmsgs + 1 offsets into data */
    size_t nmsgs;
};

struct user {
    char *email;            /* owned */
    char *username;         /* owned */
    char *password;         /* owned */
    struct folder *folders; /* owned */
    size_t nfolders;
    uint64_t bytes, msgs;
};

struct run {
    struct mf_imap_conn_options conn;
    struct user *users; /* owned */
    size_t nusers;
    unsigned batch, window;
    unsigned single_window; /* window without MULTIAPPEND */
    atomic_size_t next_user;
    atomic_bool failed;
    bool verbose;
};

/* ------------------------------------------------------------------ */
/* Loading the source maildirs                                         */
/* ------------------------------------------------------------------ */

static int
cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the file at path to buf with LF turned into CRLF (CRLF kept). */
static bool
load_message(const char *path, struct mf_buf *buf) {
    FILE *f = fopen(path, "rb");
    uint8_t chunk[65536];
    size_t n;
    uint8_t prev = 0;

    if (!f) {
        fprintf(stderr, "ingest: %s: %s\n", path, strerror(errno));
        return false;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        size_t start = 0;
        for (size_t i = 0; i < n; i++) {
            uint8_t before = i ? chunk[i - 1] : prev;
            if (chunk[i] == '\n' && before != '\r') {
                mf_buf_append(buf, chunk + start, i - start);
                mf_buf_append(buf, "\r\n", 2);
                start = i + 1;
            }
        }
        mf_buf_append(buf, chunk + start, n - start);
        prev = chunk[n - 1];
    }
    fclose(f);
    return true;
}

/* Names of the regular files in dir (not dot files), sorted. */
static char **
list_files(const char *dir, size_t *n_r) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;

    *n_r = 0;
    if (!d)
        return NULL;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = mf_xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = mf_xstrdup(e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp_str);
    *n_r = n;
    return names;
}

/* The target name of a Maildir++ folder directory ("" is INBOX,
 * ".Projects.2024" is "Projects/2024"). A listescape escape such as
 * "\2f" keeps its backslash out (becomes '_'): the target has listescape
 * too and would read it as an escape. The name stays in modified UTF-7. */
static char *
target_name(const char *dir) {
    char *out;

    if (dir[0] == '\0')
        return mf_xstrdup("INBOX");
    out = mf_xstrdup(dir + 1);
    for (char *p = out; *p; p++) {
        if (*p == '.')
            *p = '/';
        else if (*p == '\\')
            *p = '_';
    }
    return out;
}

static bool
load_folder(const char *maildir, const char *sub, struct folder *f) {
    struct mf_buf buf = {0};
    size_t cap = 0;
    bool ok = true;

    memset(f, 0, sizeof(*f));
    f->target_name = target_name(sub);
    for (int part = 0; part < 2 && ok; part++) {
        char *dir = mf_xasprintf("%s/%s%s%s", maildir, sub, sub[0] ? "/" : "",
                                 part ? "new" : "cur");
        size_t n;
        char **names = list_files(dir, &n);
        for (size_t i = 0; i < n; i++) {
            if (ok) {
                char *path = mf_xasprintf("%s/%s", dir, names[i]);
                if (f->nmsgs + 2 > cap) {
                    cap = cap ? cap * 2 : 256;
                    f->off = mf_xrealloc(f->off, cap * sizeof(*f->off));
                }
                f->off[f->nmsgs] = buf.len;
                ok = load_message(path, &buf);
                f->nmsgs++;
                free(path);
            }
            free(names[i]);
        }
        free(names);
        free(dir);
    }
    if (!f->off)
        f->off = mf_xmalloc(sizeof(*f->off));
    f->off[f->nmsgs] = buf.len;
    f->data = buf.data; /* taken over */
    return ok;
}

/* Loads every folder of one user: <mail-dir>/<domain>/<local>/Maildir. */
static bool
load_user(const char *mail_dir, struct user *u) {
    const char *at = strrchr(u->email, '@');
    char *maildir;
    DIR *d;
    struct dirent *e;
    char **subs = NULL;
    size_t nsubs = 0, cap = 0;
    bool ok = true;

    if (!at) {
        fprintf(stderr, "ingest: %s: not an address\n", u->email);
        return false;
    }
    maildir = mf_xasprintf("%s/%s/%.*s/Maildir", mail_dir, at + 1,
                           (int)(at - u->email), u->email);
    d = opendir(maildir);
    if (!d) {
        fprintf(stderr, "ingest: %s: %s\n", maildir, strerror(errno));
        free(maildir);
        return false;
    }
    subs = mf_xmalloc(sizeof(*subs));
    subs[nsubs++] = mf_xstrdup("");
    cap = 1;
    while ((e = readdir(d)) != NULL) {
        /* Maildir++ folders are ".name" directories holding cur/. */
        char *cur;
        struct stat st;
        if (e->d_name[0] != '.' || !strcmp(e->d_name, ".") ||
            !strcmp(e->d_name, ".."))
            continue;
        cur = mf_xasprintf("%s/%s/cur", maildir, e->d_name);
        if (stat(cur, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (nsubs == cap) {
                cap *= 2;
                subs = mf_xrealloc(subs, cap * sizeof(*subs));
            }
            subs[nsubs++] = mf_xstrdup(e->d_name);
        }
        free(cur);
    }
    closedir(d);
    qsort(subs + 1, nsubs - 1, sizeof(*subs), cmp_str);
    u->folders = mf_xcalloc(nsubs, sizeof(*u->folders));
    u->nfolders = nsubs;
    for (size_t i = 0; i < nsubs; i++) {
        if (ok && load_folder(maildir, subs[i], &u->folders[i])) {
            u->msgs += u->folders[i].nmsgs;
            u->bytes += u->folders[i].off[u->folders[i].nmsgs];
        } else {
            ok = false;
        }
        free(subs[i]);
    }
    free(subs);
    free(maildir);
    return ok;
}

static void
user_free_contents(struct user *u) {
    for (size_t i = 0; i < u->nfolders; i++) {
        free(u->folders[i].target_name);
        free(u->folders[i].data);
        free(u->folders[i].off);
    }
    free(u->folders);
    free(u->email);
    free(u->username);
    if (u->password) {
        mf_wipe(u->password, strlen(u->password));
        free(u->password);
    }
}

/* ------------------------------------------------------------------ */
/* The users CSV                                                       */
/* ------------------------------------------------------------------ */

struct csv_ctx {
    struct user *users;
    size_t n, cap;
    bool bad;
};

static void
on_row(void *ud, const struct mf_csv_row *row) {
    struct csv_ctx *c = ud;
    struct user *u;

    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->users = mf_xrealloc(c->users, c->cap * sizeof(*c->users));
    }
    u = &c->users[c->n++];
    memset(u, 0, sizeof(*u));
    u->email = mf_xstrdup(row->email);
    u->username = mf_xstrdup(row->username);
    u->password = mf_xstrdup(row->password ? row->password : "");
}

static void
on_issue(void *ud, const struct mf_csv_issue *is) {
    struct csv_ctx *c = ud;

    c->bad = true;
    fprintf(stderr, "ingest: users CSV line %llu column %u: %s: %s\n",
            (unsigned long long)is->line, is->column, mf_strerror(is->code),
            is->detail);
}

/* ------------------------------------------------------------------ */
/* Appending                                                           */
/* ------------------------------------------------------------------ */

/* A literal read from a loaded message (borrowed bytes). */
struct msg_cursor {
    const uint8_t *p;
    size_t len, off;
};

static mf_err
cursor_read(void *ud, uint8_t *buf, size_t cap, size_t *n_r) {
    struct msg_cursor *c = ud;
    size_t n = c->len - c->off;

    if (n > cap)
        n = cap;
    memcpy(buf, c->p + c->off, n);
    c->off += n;
    *n_r = n;
    return MF_E_OK;
}

/* What one submitted command is, for its done callback. */
struct cmd_ctx {
    const struct user *u;
    const struct folder *f;
    const char *verb; /* "CREATE", "SELECT", "APPEND" */
    bool *failed;     /* the user's: set on the first error */
};

static void
cmd_done(void *ud, const struct mf_imap_result *res) {
    struct cmd_ctx *c = ud;

    /* A folder left over from an earlier run is fine. */
    if (res->error.code == MF_E_OK ||
        (res->error.code == MF_E_EXISTS && !strcmp(c->verb, "CREATE")))
        return;
    if (!*c->failed)
        fprintf(stderr, "ingest: %s: %s %s: %s: %s\n", c->u->email, c->verb,
                c->f->target_name, mf_strerror(res->error.code),
                res->error.detail);
    *c->failed = true;
}

static bool
submit(struct mf_imap_session *s, struct mf_imap_cmd_spec *spec,
       struct cmd_ctx *ctx) {
    mf_err rc = mf_imap_session_submit(s, spec, cmd_done, ctx, NULL);

    mf_imap_cmd_clear(spec);
    if (rc != MF_E_OK) {
        fprintf(stderr, "ingest: %s: %s %s: %s: %s\n", ctx->u->email, ctx->verb,
                ctx->f->target_name, mf_strerror(rc),
                mf_imap_session_error(s)->detail);
        *ctx->failed = true;
        return false;
    }
    return true;
}

/* Submits one folder: CREATE (not for INBOX), SELECT, then its messages
 * in MULTIAPPEND commands of run->batch. Nothing waits: the whole user is
 * one pipeline, the session keeps run->window commands in flight, so the
 * server never idles between folders. ctx has room for three entries. */
static bool
submit_folder(struct run *run, struct mf_imap_session *s,
              const struct folder *f, struct msg_cursor *cur,
              struct cmd_ctx *ctx) {
    struct mf_imap_cmd_spec spec = {0};
    size_t len = strlen(f->target_name);
    size_t batch =
        mf_imap_session_has(s, MF_IMAP_CAP_MULTIAPPEND) ? run->batch : 1;

    if (strcmp(f->target_name, "INBOX") != 0) {
        ctx[0].verb = "CREATE";
        mf_imap_cmd_text(&spec, "CREATE ");
        mf_imap_cmd_astring(&spec, (const uint8_t *)f->target_name, len);
        if (!submit(s, &spec, &ctx[0]))
            return false;
    }
    ctx[1].verb = "SELECT";
    mf_imap_cmd_text(&spec, "SELECT ");
    mf_imap_cmd_astring(&spec, (const uint8_t *)f->target_name, len);
    if (!submit(s, &spec, &ctx[1]))
        return false;
    ctx[2].verb = "APPEND";
    for (size_t i = 0; i < f->nmsgs; i += batch) {
        size_t end = i + batch < f->nmsgs ? i + batch : f->nmsgs;
        mf_imap_cmd_text(&spec, "APPEND ");
        mf_imap_cmd_astring(&spec, (const uint8_t *)f->target_name, len);
        for (size_t j = i; j < end; j++) {
            struct mf_imap_body_source src = {0};
            cur[j].p = f->data + f->off[j];
            cur[j].len = f->off[j + 1] - f->off[j];
            src.size = cur[j].len;
            src.read = cursor_read;
            src.ud = &cur[j];
            mf_imap_cmd_text(&spec, " ");
            mf_imap_cmd_source(&spec, &src);
        }
        if (!submit(s, &spec, &ctx[2]))
            return false;
    }
    return true;
}

static bool
ingest_user(struct run *run, const struct user *u) {
    struct mf_imap_login login = {.user = u->username, .password = u->password};
    struct mf_imap_session_options so = {.window = run->window};
    struct mf_imap_session *s = NULL;
    uint32_t lit = MF_IMAP_CAP_LITERAL_PLUS | MF_IMAP_CAP_LITERAL_MINUS;
    struct mf_error err = {0};
    struct msg_cursor *cur;
    struct cmd_ctx *ctx;
    bool failed = false;
    size_t m = 0;
    mf_err rc;

    /* The window is the session's: known only once the capabilities
     * are, so a target without MULTIAPPEND is opened once more. */
    for (int pass = 0; pass < 2; pass++) {
        rc = mf_imap_session_open(&run->conn, &login, &so, &s, &err, NULL);
        if (rc != MF_E_OK) {
            fprintf(stderr, "ingest: %s: login: %s: %s\n", u->email,
                    mf_strerror(rc), err.detail);
            return false;
        }
        if (mf_imap_session_has(s, MF_IMAP_CAP_MULTIAPPEND) ||
            so.window == run->single_window)
            break;
        rc = mf_imap_session_logout(s);
        (void)rc;
        mf_imap_session_free(&s);
        so.window = run->single_window;
    }
    if (!(mf_imap_session_caps(s) & lit)) {
        fprintf(stderr, "ingest: %s: the target lacks LITERAL+ and LITERAL-\n",
                u->email);
        mf_imap_session_free(&s);
        return false;
    }
    cur = mf_xcalloc(u->msgs ? u->msgs : 1, sizeof(*cur));
    ctx = mf_xcalloc(3 * u->nfolders, sizeof(*ctx));
    for (size_t i = 0; i < u->nfolders && !failed; i++) {
        for (int k = 0; k < 3; k++) {
            ctx[3 * i + k].u = u;
            ctx[3 * i + k].f = &u->folders[i];
            ctx[3 * i + k].failed = &failed;
        }
        if (!submit_folder(run, s, &u->folders[i], cur + m, &ctx[3 * i]))
            break;
        m += u->folders[i].nmsgs;
    }
    /* Runs the callbacks of everything submitted, also after a failure. */
    rc = mf_imap_session_run(s, -1);
    if (rc != MF_E_OK && !failed) {
        fprintf(stderr, "ingest: %s: %s: %s\n", u->email, mf_strerror(rc),
                mf_imap_session_error(s)->detail);
        failed = true;
    }
    if (!failed) {
        rc = mf_imap_session_logout(s);
        (void)rc; /* the data is in; a lost LOGOUT answer changes nothing */
    }
    mf_imap_session_free(&s);
    free(cur);
    free(ctx);
    if (run->verbose && !failed)
        fprintf(stderr, "ingest: %s: %llu messages\n", u->email,
                (unsigned long long)u->msgs);
    return !failed;
}

static void *
worker(void *arg) {
    struct run *run = arg;

    while (!atomic_load(&run->failed)) {
        size_t i = atomic_fetch_add(&run->next_user, 1);
        if (i >= run->nusers)
            break;
        if (!ingest_user(run, &run->users[i]))
            atomic_store(&run->failed, true);
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

static void
usage(FILE *out) {
    fprintf(out, "usage: mailferry-bench-ingest --target URL --users CSV "
                 "--mail-dir DIR\n"
                 "           [--connections N] [--batch M] [--window W] "
                 "[--single-window S] [--verbose]\n"
                 "\n"
                 "Measures the target's raw ingest rate: the messages of each "
                 "CSV user's\n"
                 "source Maildir++ (DIR/<domain>/<local part>/Maildir), loaded "
                 "into memory\n"
                 "first, appended with pipelined MULTIAPPEND (M messages per "
                 "command, W\n"
                 "commands in flight; defaults 50 and 4) over N connections "
                 "(1), one user\n"
                 "per connection at a time; a target without MULTIAPPEND "
                 "gets single-message\n"
                 "APPENDs, S in flight (32). CSV columns: "
                 "EmailAddress,UserName,Password.\n"
                 "Prints one line of key=value figures; exits 1 on any IMAP "
                 "error.\n");
}

static bool
parse_uint(const char *s, uint64_t min, uint64_t max, unsigned *out_r) {
    uint64_t v;

    if (!mf_parse_u64(s, min, max, &v))
        return false;
    *out_r = (unsigned)v;
    return true;
}

int
main(int argc, char **argv) {
    static const struct option opts[] = {
        {"target", required_argument, NULL, 't'},
        {"users", required_argument, NULL, 'u'},
        {"mail-dir", required_argument, NULL, 'd'},
        {"connections", required_argument, NULL, 'c'},
        {"batch", required_argument, NULL, 'b'},
        {"window", required_argument, NULL, 'w'},
        {"single-window", required_argument, NULL, 's'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *target = NULL, *csv = NULL, *mail_dir = NULL;
    unsigned connections = 1;
    struct run run = {0};
    struct csv_ctx cc = {0};
    struct mf_csv_callbacks cb = {on_row, on_issue};
    struct mf_error err = {0};
    pthread_t *th;
    uint64_t msgs = 0, bytes = 0;
    double t0, t1, secs;
    int c, status = 0;

    run.batch = 50;
    run.window = 4;
    run.single_window = 32;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            target = optarg;
            break;
        case 'u':
            csv = optarg;
            break;
        case 'd':
            mail_dir = optarg;
            break;
        case 'c':
            if (!parse_uint(optarg, 1, 256, &connections))
                goto bad_usage;
            break;
        case 'b':
            if (!parse_uint(optarg, 1, 10000, &run.batch))
                goto bad_usage;
            break;
        case 'w':
            if (!parse_uint(optarg, 1, 1000, &run.window))
                goto bad_usage;
            break;
        case 's':
            if (!parse_uint(optarg, 1, 1000, &run.single_window))
                goto bad_usage;
            break;
        case 'v':
            run.verbose = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            goto bad_usage;
        }
    }
    if (!target || !csv || !mail_dir || optind != argc)
        goto bad_usage;
    if (mf_endpoint_parse(target, &run.conn.endpoint, &err) != MF_E_OK) {
        fprintf(stderr, "ingest: --target %s: %s\n", target, err.detail);
        return 2;
    }
    if (mf_csv_parse_file(csv, NULL, &cb, &cc, NULL, &err) != MF_E_OK ||
        cc.bad) {
        fprintf(stderr, "ingest: %s: %s\n", csv,
                err.detail[0] ? err.detail : "invalid users CSV");
        status = 2;
        goto out;
    }
    run.users = cc.users;
    run.nusers = cc.n;

    /* Load everything before the clock starts. */
    for (size_t i = 0; i < run.nusers; i++) {
        if (!load_user(mail_dir, &run.users[i])) {
            status = 1;
            goto out;
        }
        msgs += run.users[i].msgs;
        bytes += run.users[i].bytes;
    }
    fprintf(stderr, "ingest: loaded %zu users, %llu messages, %.1f MB\n",
            run.nusers, (unsigned long long)msgs, (double)bytes / 1e6);

    if (connections > run.nusers && run.nusers > 0)
        connections = (unsigned)run.nusers;
    th = mf_xcalloc(connections, sizeof(*th));
    t0 = mf_monotonic_s();
    for (unsigned i = 0; i < connections; i++) {
        int e = pthread_create(&th[i], NULL, worker, &run);
        MF_ASSERT(e == 0);
    }
    for (unsigned i = 0; i < connections; i++)
        pthread_join(th[i], NULL);
    t1 = mf_monotonic_s();
    free(th);
    if (atomic_load(&run.failed)) {
        status = 1;
        goto out;
    }
    secs = t1 - t0;
    printf("ingest: connections=%u users=%zu messages=%llu bytes=%llu "
           "seconds=%.3f msgs_per_s=%.1f mb_per_s=%.2f\n",
           connections, run.nusers, (unsigned long long)msgs,
           (unsigned long long)bytes, secs,
           secs > 0 ? (double)msgs / secs : 0.0,
           secs > 0 ? (double)bytes / 1e6 / secs : 0.0);
out:
    for (size_t i = 0; i < cc.n; i++)
        user_free_contents(&cc.users[i]);
    free(cc.users);
    return status;

bad_usage:
    usage(stderr);
    return 2;
}
