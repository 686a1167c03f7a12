/*
 * Text and JSON log lines (see mailferry/log.h). Settings are process-wide
 * and set once at start-up, before threads run.
 */
#include "mailferry/log.h"

#include "mailferry/json.h"
#include "mailferry/util.h"

#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static enum mf_log_format log_format = MF_LOG_TEXT;
static enum mf_log_level log_min = MF_LOG_INFO;
static FILE *log_out;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void
mf_log_setup(enum mf_log_format format, enum mf_log_level min_level,
             FILE *out) {
    log_format = format;
    log_min = min_level;
    log_out = out;
}

int
mf_log_level_parse(const char *s, enum mf_log_level *level_r) {
    for (size_t i = 0; i < MF_ARRAY_LEN(level_names); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *level_r = (enum mf_log_level)i;
            return 1;
        }
    }
    return 0;
}

int
mf_log_format_parse(const char *s, enum mf_log_format *format_r) {
    if (strcmp(s, "text") == 0)
        *format_r = MF_LOG_TEXT;
    else if (strcmp(s, "json") == 0)
        *format_r = MF_LOG_JSON;
    else
        return 0;
    return 1;
}

static void
timestamp(char *out, size_t n) {
    struct timeval tv;
    struct tm tm;
    char base[24];

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03dZ", base, (int)(tv.tv_usec / 1000) % 1000);
}

static void
write_line(enum mf_log_level level, const struct mf_log_ctx *ctx,
           const char *event, const char *msg, const struct mf_error *err) {
    struct mf_buf line = {0};
    char ts[48];
    FILE *out = log_out ? log_out : stderr;

    timestamp(ts, sizeof(ts));
    if (log_format == MF_LOG_JSON) {
        struct mf_json j;
        mf_json_init(&j, &line);
        mf_json_object_begin(&j);
        mf_json_member(&j, "ts", ts);
        mf_json_member(&j, "level", level_names[level]);
        mf_json_member(&j, "event", event);
        if (ctx && ctx->batch)
            mf_json_member(&j, "batch", ctx->batch);
        if (ctx && ctx->mailbox)
            mf_json_member(&j, "mailbox", ctx->mailbox);
        if (ctx && ctx->job)
            mf_json_member(&j, "job", ctx->job);
        if (ctx && ctx->attempt)
            mf_json_member(&j, "attempt", ctx->attempt);
        if (err) {
            mf_json_member(&j, "error", mf_err_name(err->code));
            mf_json_member(&j, "error_code", err->code);
            mf_json_member(&j, "error_class",
                           mf_err_class_name(mf_err_class_of(err->code)));
        }
        mf_json_member(&j, "msg", msg);
        mf_json_object_end(&j);
    } else {
        mf_buf_appendf(&line, "%s %-5s %s", ts, level_names[level], event);
        if (ctx && ctx->batch)
            mf_buf_appendf(&line, " batch=%s", ctx->batch);
        if (ctx && ctx->mailbox)
            mf_buf_appendf(&line, " mailbox=%s", ctx->mailbox);
        if (ctx && ctx->job)
            mf_buf_appendf(&line, " job=%s", ctx->job);
        if (ctx && ctx->attempt)
            mf_buf_appendf(&line, " attempt=%u", ctx->attempt);
        if (err)
            mf_buf_appendf(&line, " error=%s(%d)", mf_err_name(err->code),
                           (int)err->code);
        mf_buf_appendf(&line, ": %s", msg);
        /* One event, one line: fold newlines a server may have sent. */
        for (size_t i = 0; i < line.len; i++)
            if (line.data[i] == '\n' || line.data[i] == '\r')
                line.data[i] = ' ';
    }
    mf_buf_append(&line, "\n", 1);
    fwrite(line.data, 1, line.len, out);
    fflush(out);
    mf_buf_free(&line);
}

void
mf_log(enum mf_log_level level, const struct mf_log_ctx *ctx, const char *event,
       const char *fmt, ...) {
    char msg[2048];
    va_list ap;

    if (level < log_min)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    write_line(level, ctx, event, msg, NULL);
}

void
mf_log_error(const struct mf_log_ctx *ctx, const char *event,
             const struct mf_error *err) {
    char msg[MF_ERROR_DETAIL_MAX + 128];

    if (MF_LOG_ERROR < log_min)
        return;
    if (err->detail[0])
        snprintf(msg, sizeof(msg), "%s: %s", mf_strerror(err->code),
                 err->detail);
    else
        snprintf(msg, sizeof(msg), "%s", mf_strerror(err->code));
    write_line(MF_LOG_ERROR, ctx, event, msg, err);
}
