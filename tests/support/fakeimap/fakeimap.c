/*
 * The scripted fake IMAP server (see fakeimap.h). One thread per fake; it
 * owns its end of the socketpair and a copy of the script. Input from the
 * client accumulates in `in` (pos marks what steps have consumed) and in
 * `log` (everything, for mf_fakeimap_received()). The test thread touches
 * nothing but the result, after joining.
 */
#include "fakeimap.h"

#include "mailferry/util.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_VARS 100

struct mf_fakeimap {
    char *script; /* owned */
    int fd;       /* owned: the server's end */
    pthread_t thread;
    bool joined;
    long timeout_ms;
    struct mf_buf in; /* client bytes not yet consumed from pos */
    size_t pos;
    struct mf_buf log; /* every byte the client sent */
    bool eof;          /* the client closed */
    char *vars[MAX_VARS];
    char *error; /* owned: first mismatch, or NULL */
    int lineno;
};

static void fail(struct mf_fakeimap *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail(struct mf_fakeimap *f, const char *fmt, ...) {
    char msg[1024];
    va_list ap;

    if (f->error)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    f->error = mf_xasprintf("fakeimap script line %d: %s", f->lineno, msg);
}

/* Reads what is there, waiting up to timeout_ms for something. Returns
 * false on timeout or EOF (f->eof set). */
static bool
read_more(struct mf_fakeimap *f, long timeout_ms) {
    struct pollfd pfd = {.fd = f->fd, .events = POLLIN};
    uint8_t buf[65536];
    ssize_t n;
    int k;

    if (f->eof)
        return false;
    do
        k = poll(&pfd, 1, (int)timeout_ms);
    while (k < 0 && errno == EINTR);
    if (k <= 0)
        return false;
    n = recv(f->fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return true;
        f->eof = true;
        return false;
    }
    mf_buf_append(&f->in, buf, (size_t)n);
    mf_buf_append(&f->log, buf, (size_t)n);
    return true;
}

static size_t
avail(const struct mf_fakeimap *f) {
    return f->in.len - f->pos;
}

/* Sends all of p, tolerating a client that hung up when tolerant. */
static bool
send_all(struct mf_fakeimap *f, const uint8_t *p, size_t n, bool tolerant) {
    while (n > 0) {
        ssize_t k = send(f->fd, p, n, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            if (!tolerant)
                fail(f, "send: %s", strerror(errno));
            return false;
        }
        p += k;
        n -= (size_t)k;
    }
    return true;
}

/* Expands escapes and bound variables of text into out. */
static void
expand(struct mf_fakeimap *f, const char *t, struct mf_buf *out) {
    while (*t) {
        if (t[0] == '\\' && t[1] == 'r') {
            mf_buf_append(out, "\r", 1);
            t += 2;
        } else if (t[0] == '\\' && t[1] == 'n') {
            mf_buf_append(out, "\n", 1);
            t += 2;
        } else if (t[0] == '\\' && t[1] == 'x' &&
                   isxdigit((unsigned char)t[2]) &&
                   isxdigit((unsigned char)t[3])) {
            char hex[3] = {t[2], t[3], 0};
            uint8_t b = (uint8_t)strtoul(hex, NULL, 16);
            mf_buf_append(out, &b, 1);
            t += 4;
        } else if (t[0] == '$' && isdigit((unsigned char)t[1])) {
            char *end;
            unsigned long v = strtoul(t + 1, &end, 10);
            if (v < MAX_VARS && f->vars[v]) {
                mf_buf_append_str(out, f->vars[v]);
            } else {
                fail(f, "variable $%lu used before it was bound", v);
            }
            t = end;
        } else {
            mf_buf_append(out, t, 1);
            t++;
        }
    }
}

/* Matches a client line against a C: pattern, binding variables. */
static bool
match_line(struct mf_fakeimap *f, const char *pat, const char *line,
           size_t len) {
    size_t i = 0;

    while (*pat) {
        if (pat[0] == '$' && isdigit((unsigned char)pat[1])) {
            char *end;
            unsigned long v = strtoul(pat + 1, &end, 10);
            if (v >= MAX_VARS)
                return false;
            if (f->vars[v]) {
                size_t vl = strlen(f->vars[v]);
                if (len - i < vl || memcmp(line + i, f->vars[v], vl) != 0)
                    return false;
                i += vl;
            } else {
                size_t st = i;
                while (i < len && isalnum((unsigned char)line[i]))
                    i++;
                if (i == st)
                    return false;
                f->vars[v] = mf_xstrndup(line + st, i - st);
            }
            pat = end;
            continue;
        }
        {
            struct mf_buf one = {0};
            const char *next = pat + 1;
            /* One escape or one character at a time. */
            if (pat[0] == '\\' && (pat[1] == 'r' || pat[1] == 'n'))
                next = pat + 2;
            else if (pat[0] == '\\' && pat[1] == 'x' && pat[2] && pat[3])
                next = pat + 4;
            char tmp[5] = {0};
            memcpy(tmp, pat, (size_t)(next - pat));
            expand(f, tmp, &one);
            bool ok =
                len - i >= one.len && memcmp(line + i, one.data, one.len) == 0;
            i += ok ? one.len : 0;
            mf_buf_free(&one);
            if (!ok)
                return false;
            pat = next;
        }
    }
    return i == len;
}

static void
show(char *out, size_t cap, const uint8_t *p, size_t n) {
    size_t o = 0;

    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f) {
            out[o++] = (char)p[i];
        } else {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", p[i]);
        }
    }
    out[o] = '\0';
}

static void
step_expect_line(struct mf_fakeimap *f, const char *pat) {
    long deadline = (long)mf_monotonic_ms() + f->timeout_ms;

    for (;;) {
        const uint8_t *p = f->in.data + f->pos;
        const uint8_t *crlf =
            avail(f) >= 2 ? memmem(p, avail(f), "\r\n", 2) : NULL;
        if (crlf) {
            size_t len = (size_t)(crlf - p);
            char got[512];
            if (!match_line(f, pat, (const char *)p, len)) {
                show(got, sizeof(got), p, len);
                fail(f, "expected C: \"%s\", client sent \"%s\"", pat, got);
            }
            f->pos += len + 2;
            return;
        }
        long left = deadline - (long)mf_monotonic_ms();
        if (left <= 0 || !read_more(f, left)) {
            char got[512];
            if (!f->eof && (long)mf_monotonic_ms() < deadline)
                continue;
            show(got, sizeof(got), p, avail(f));
            fail(f, "expected C: \"%s\", %s; pending bytes \"%s\"", pat,
                 f->eof ? "client closed" : "timed out", got);
            return;
        }
    }
}

static void
step_expect_bytes(struct mf_fakeimap *f, const char *text) {
    struct mf_buf want = {0};
    long deadline = (long)mf_monotonic_ms() + f->timeout_ms;

    expand(f, text, &want);
    while (avail(f) < want.len) {
        long left = deadline - (long)mf_monotonic_ms();
        if (left <= 0 || !read_more(f, left)) {
            if (!f->eof && (long)mf_monotonic_ms() < deadline)
                continue;
            char got[512];
            show(got, sizeof(got), f->in.data + f->pos, avail(f));
            fail(f, "expected C+: %zu bytes, %s after \"%s\"", want.len,
                 f->eof ? "client closed" : "timed out", got);
            goto out;
        }
    }
    if (memcmp(f->in.data + f->pos, want.data, want.len) != 0) {
        char got[512], exp[512];
        show(got, sizeof(got), f->in.data + f->pos, want.len);
        show(exp, sizeof(exp), want.data, want.len);
        fail(f, "expected C+: \"%s\", client sent \"%s\"", exp, got);
    }
    f->pos += want.len;
out:
    mf_buf_free(&want);
}

/* C*: n text: the client must send n bytes made of text repeated (a big
 * literal from a body source). */
static void
step_expect_fill(struct mf_fakeimap *f, const char *args) {
    struct mf_buf unit = {0};
    char *end;
    unsigned long n = strtoul(args, &end, 10), i = 0;
    long deadline = (long)mf_monotonic_ms() + f->timeout_ms;

    while (*end == ' ')
        end++;
    expand(f, end, &unit);
    MF_ASSERT(unit.len > 0);
    while (i < n) {
        if (avail(f) == 0) {
            long left = deadline - (long)mf_monotonic_ms();
            if (left <= 0 || (!read_more(f, left) && f->eof) ||
                (long)mf_monotonic_ms() >= deadline) {
                if (avail(f) > 0)
                    continue;
                fail(f, "expected C*: %lu bytes, %s after %lu", n,
                     f->eof ? "client closed" : "timed out", i);
                break;
            }
            continue;
        }
        if (f->in.data[f->pos] != unit.data[i % unit.len]) {
            fail(f, "expected C*: byte %lu is 0x%02x, expected 0x%02x", i,
                 f->in.data[f->pos], unit.data[i % unit.len]);
            break;
        }
        f->pos++;
        i++;
    }
    mf_buf_free(&unit);
}

static void
step_quiet(struct mf_fakeimap *f, long ms) {
    long deadline = (long)mf_monotonic_ms() + ms;
    long left;

    while (avail(f) == 0 && (left = deadline - (long)mf_monotonic_ms()) > 0)
        if (!read_more(f, left) && f->eof)
            break;
    if (avail(f) > 0) {
        char got[512];
        show(got, sizeof(got), f->in.data + f->pos, avail(f));
        fail(f, "expected QUIET %ld, client sent \"%s\"", ms, got);
    }
}

static void
step_send(struct mf_fakeimap *f, const char *text, bool crlf) {
    struct mf_buf out = {0};

    expand(f, text, &out);
    if (crlf)
        mf_buf_append(&out, "\r\n", 2);
    if (!f->error)
        send_all(f, out.data, out.len, false);
    mf_buf_free(&out);
}

/* FILL n text / S*: n text: sends n bytes made of text repeated, without
 * reading anything meanwhile (a server busy writing). FILL tolerates a
 * client that hangs up; S*: counts that as a mismatch. */
static void
step_fill(struct mf_fakeimap *f, const char *args, bool tolerant) {
    struct mf_buf unit = {0}, chunk = {0};
    char *end;
    unsigned long n = strtoul(args, &end, 10);

    while (*end == ' ')
        end++;
    expand(f, *end ? end : "x", &unit);
    while (chunk.len < 65536)
        mf_buf_append(&chunk, unit.data, unit.len);
    while (n > 0 && !f->error) {
        /* chunk holds whole repetitions: the pattern runs on. */
        size_t k = n < chunk.len ? n : chunk.len;
        if (!send_all(f, chunk.data, k, tolerant))
            break;
        n -= k;
    }
    mf_buf_free(&unit);
    mf_buf_free(&chunk);
}

/* After the script: the client must close without sending more. */
static void
await_close(struct mf_fakeimap *f) {
    long deadline = (long)mf_monotonic_ms() + f->timeout_ms;
    long left;

    while (!f->eof && avail(f) == 0 &&
           (left = deadline - (long)mf_monotonic_ms()) > 0)
        read_more(f, left);
    if (avail(f) > 0) {
        char got[512];
        show(got, sizeof(got), f->in.data + f->pos, avail(f));
        fail(f, "script ended, client sent \"%s\"", got);
    } else if (!f->eof) {
        fail(f, "script ended, client did not close in %ld ms", f->timeout_ms);
    }
}

static void *
run(void *arg) {
    struct mf_fakeimap *f = arg;
    char *line = f->script;
    bool closed = false;

    while (line && *line && !f->error && !closed) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        f->lineno++;
        while (*line == ' ' || *line == '\t')
            line++;
        if (*line == '\0' || *line == '#') {
            /* comment or blank */
        } else if (strncmp(line, "S: ", 3) == 0) {
            step_send(f, line + 3, true);
        } else if (strncmp(line, "S+: ", 4) == 0) {
            step_send(f, line + 4, false);
        } else if (strcmp(line, "C:") == 0 || strcmp(line, "C: ") == 0) {
            step_expect_line(f, "");
        } else if (strncmp(line, "C: ", 3) == 0) {
            step_expect_line(f, line + 3);
        } else if (strncmp(line, "C+: ", 4) == 0) {
            step_expect_bytes(f, line + 4);
        } else if (strncmp(line, "C*: ", 4) == 0) {
            step_expect_fill(f, line + 4);
        } else if (strncmp(line, "QUIET ", 6) == 0) {
            step_quiet(f, strtol(line + 6, NULL, 10));
        } else if (strncmp(line, "SLEEP ", 6) == 0) {
            long ms = strtol(line + 6, NULL, 10);
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        } else if (strncmp(line, "TIMEOUT ", 8) == 0) {
            f->timeout_ms = strtol(line + 8, NULL, 10);
        } else if (strncmp(line, "FILL ", 5) == 0) {
            step_fill(f, line + 5, true);
        } else if (strncmp(line, "S*: ", 4) == 0) {
            step_fill(f, line + 4, false);
        } else if (strcmp(line, "CLOSE") == 0) {
            closed = true;
        } else {
            fail(f, "bad script step \"%s\"", line);
        }
        line = nl ? nl + 1 : NULL;
    }
    if (!f->error && !closed)
        await_close(f);
    /* On a mismatch too: the client must see a disconnect, not a hang. */
    shutdown(f->fd, SHUT_RDWR);
    close(f->fd);
    f->fd = -1;
    return NULL;
}

struct mf_fakeimap *
mf_fakeimap_start(const char *script, int *client_fd_r) {
    struct mf_fakeimap *f = mf_xcalloc(1, sizeof(*f));
    int sv[2];

    MF_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    f->script = mf_xstrdup(script);
    f->fd = sv[0];
    f->timeout_ms = 3000;
    MF_ASSERT(pthread_create(&f->thread, NULL, run, f) == 0);
    *client_fd_r = sv[1];
    return f;
}

const char *
mf_fakeimap_finish(struct mf_fakeimap *f) {
    if (!f->joined) {
        pthread_join(f->thread, NULL);
        f->joined = true;
        mf_buf_append(&f->log, "", 0);
    }
    return f->error;
}

const char *
mf_fakeimap_received(struct mf_fakeimap *f) {
    mf_fakeimap_finish(f);
    return f->log.data ? (const char *)f->log.data : "";
}

void
mf_fakeimap_free(struct mf_fakeimap **fp) {
    struct mf_fakeimap *f = *fp;

    if (!f)
        return;
    mf_fakeimap_finish(f);
    for (size_t i = 0; i < MAX_VARS; i++)
        free(f->vars[i]);
    mf_buf_free(&f->in);
    mf_buf_free(&f->log);
    free(f->script);
    free(f->error);
    free(f);
    *fp = NULL;
}

mf_err
mf_fakeimap_submit_text(struct mf_imap_session *s, const char *text,
                        mf_imap_done_cb cb, void *ud, uint32_t *id_r) {
    struct mf_imap_cmd_spec c = {0};
    mf_err rc;

    mf_imap_cmd_text(&c, text);
    rc = mf_imap_session_submit(s, &c, cb, ud, id_r);
    mf_imap_cmd_clear(&c);
    return rc;
}
