/*
 * Submitting a command (mailferry/imap_session.h: mf_imap_session_submit()): a
 * command spec becomes a queued struct mf__imap_cmd (session_int.h).
 *
 * A command is rendered once, at submit, into its `out` buffer (tag, text,
 * literal headers, inline literal bytes, CRLF) and cut into parts: bytes
 * to send, a WAIT for the server's "+" after a synchronizing literal
 * header, or a body source, read only while it is sent (session_io.c).
 * The literal form is chosen here from the capabilities: {n+} with
 * LITERAL+, or LITERAL- and n <= 4096 (RFC 7888), else a synchronizing
 * {n}. The verb (SELECT, CLOSE, LOGOUT, a login) is noted for the state
 * machine in session.c, and the trace line keeps literals out and masks
 * credentials. The command copies what it sends out of the spec (the
 * caller keeps and clears the spec) and takes over its body sources,
 * whose release runs when the command is freed.
 */
#include "imap/session_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* LITERAL- (RFC 7888 section 4): non-synchronizing literals up to 4096. */
#define LITERAL_MINUS_MAX 4096

static enum mf__imap_verb
verb_of(const struct mf_imap_cmd_spec *spec) {
    static const struct {
        const char *word;
        enum mf__imap_verb verb;
    } verbs[] = {
        {"SELECT", MF__IMAP_VERB_SELECT},
        {"EXAMINE", MF__IMAP_VERB_SELECT},
        {"CLOSE", MF__IMAP_VERB_CLOSE},
        {"UNSELECT", MF__IMAP_VERB_CLOSE},
        {"LOGOUT", MF__IMAP_VERB_LOGOUT},
        {"LOGIN", MF__IMAP_VERB_SECRET},
        {"AUTHENTICATE", MF__IMAP_VERB_SECRET},
    };
    const struct mf_imap_seg *sg = &spec->segs[0];
    const char *t = (const char *)spec->bytes.data + sg->off;
    size_t n = 0;

    if (sg->kind != MF_IMAP_SEG_TEXT)
        return MF__IMAP_VERB_OTHER;
    while (n < sg->len && t[n] != ' ')
        n++;
    for (size_t i = 0; i < MF_ARRAY_LEN(verbs); i++)
        if (strlen(verbs[i].word) == n && strncasecmp(t, verbs[i].word, n) == 0)
            return verbs[i].verb;
    return MF__IMAP_VERB_OTHER;
}

static struct mf__imap_part *
add_part(struct mf__imap_cmd *c, enum mf__imap_part_kind kind, size_t *cap) {
    if (c->nparts == *cap) {
        *cap = *cap ? 2 * *cap : 4;
        c->parts = mf_xrealloc(c->parts, *cap * sizeof(*c->parts));
    }
    struct mf__imap_part *p = &c->parts[c->nparts++];
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    p->off = c->out.len;
    return p;
}

/* Keeps "mf3 LOGIN" or "mf3 AUTHENTICATE PLAIN" of a trace line and
 * masks the rest: credentials never reach a log. */
static void
mask_trace(struct mf__imap_cmd *c) {
    const char *t = (const char *)c->trace.data;
    size_t words = strncasecmp(t + strlen(c->tag) + 1, "AUTH", 4) == 0 ? 3 : 2;
    size_t n = 0, seen = 0;

    while (n < c->trace.len && seen < words) {
        if (t[n] == ' ')
            seen++;
        if (seen < words)
            n++;
    }
    c->trace.len = n;
    mf_buf_append_str(&c->trace, " <masked>");
}

/* Renders spec into c->out and c->parts, and the trace line. */
static void
render(struct mf_imap_session *s, struct mf__imap_cmd *c,
       const struct mf_imap_cmd_spec *spec) {
    size_t cap = 0;
    struct mf__imap_part *bytes = NULL;

    bytes = add_part(c, MF__IMAP_PART_BYTES, &cap);
    mf_buf_appendf(&c->out, "%s ", c->tag);
    mf_buf_appendf(&c->trace, "%s ", c->tag);
    for (size_t i = 0; i < spec->nsegs; i++) {
        const struct mf_imap_seg *sg = &spec->segs[i];
        const uint8_t *data = spec->bytes.data + sg->off;
        uint64_t size;
        bool plus;

        if (!bytes)
            bytes = add_part(c, MF__IMAP_PART_BYTES, &cap);
        if (sg->kind == MF_IMAP_SEG_TEXT) {
            mf_buf_append(&c->out, data, sg->len);
            mf_buf_append(&c->trace, data, sg->len);
            bytes->len = c->out.len - bytes->off;
            continue;
        }
        size = sg->kind == MF_IMAP_SEG_SOURCE ? sg->source.size : sg->len;
        c->literal_bytes += size;
        plus = (s->caps & MF_IMAP_CAP_LITERAL_PLUS) ||
               ((s->caps & MF_IMAP_CAP_LITERAL_MINUS) &&
                size <= LITERAL_MINUS_MAX);
        mf_buf_appendf(&c->out, "{%llu%s}\r\n", (unsigned long long)size,
                       plus ? "+" : "");
        mf_buf_appendf(&c->trace, "{%llu%s} <%llu bytes>",
                       (unsigned long long)size, plus ? "+" : "",
                       (unsigned long long)size);
        bytes->len = c->out.len - bytes->off;
        if (!plus) {
            add_part(c, MF__IMAP_PART_WAIT, &cap);
            bytes = NULL;
        }
        if (sg->kind == MF_IMAP_SEG_LITERAL) {
            if (!bytes)
                bytes = add_part(c, MF__IMAP_PART_BYTES, &cap);
            mf_buf_append(&c->out, data, sg->len);
            bytes->len = c->out.len - bytes->off;
        } else {
            struct mf__imap_part *p = add_part(c, MF__IMAP_PART_SOURCE, &cap);
            p->src = sg->source;
            bytes = NULL;
        }
    }
    if (!bytes)
        bytes = add_part(c, MF__IMAP_PART_BYTES, &cap);
    mf_buf_append(&c->out, "\r\n", 2);
    bytes->len = c->out.len - bytes->off;
    if (c->verb == MF__IMAP_VERB_SECRET)
        mask_trace(c);
    /* Drop empty byte parts (a sync literal at the very start, say). */
    {
        size_t k = 0;
        for (size_t i = 0; i < c->nparts; i++)
            if (c->parts[i].kind != MF__IMAP_PART_BYTES || c->parts[i].len > 0)
                c->parts[k++] = c->parts[i];
        c->nparts = k;
    }
}

mf_err
mf_imap_session_submit(struct mf_imap_session *s,
                       const struct mf_imap_cmd_spec *spec, mf_imap_done_cb cb,
                       void *ud, uint32_t *id_r) {
    struct mf__imap_cmd *c;

    if (s->state == MF_IMAP_STATE_BROKEN)
        return s->err.code;
    if (s->state == MF_IMAP_STATE_LOGOUT)
        return MF_E_STATE;
    if (!spec || spec->nsegs == 0)
        return MF_E_INVALID_ARGUMENT;
    c = mf_xcalloc(1, sizeof(*c));
    c->id = ++s->next_id;
    if (s->next_id == UINT32_MAX)
        s->next_id = 0; /* ids wrap; 0 stays "none" */
    snprintf(c->tag, sizeof(c->tag), "mf%u", c->id);
    c->cb = cb;
    c->ud = ud;
    c->verb = verb_of(spec);
    render(s, c, spec);
    if (c->verb == MF__IMAP_VERB_LOGOUT)
        s->state = MF_IMAP_STATE_LOGOUT;
    if (s->tail)
        s->tail->next = c;
    else
        s->head = c;
    s->tail = c;
    if (!s->send_cur)
        s->send_cur = c;
    s->pending++;
    if (id_r)
        *id_r = c->id;
    return MF_E_OK;
}
