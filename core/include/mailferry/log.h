/*
 * Logging: one line per event, as text or JSON, with the batch, mailbox,
 * job and attempt ids when the caller knows them (docs/design.md §11).
 *
 * The core returns errors and does not log them; the programs log each
 * error once, at the mailbox or job boundary (STYLE.md "Errors"). Never
 * pass a secret to these functions: nothing here can know which text is
 * one.
 *
 * Thread-safe: each line is formatted first and written with one call.
 */
#ifndef MAILFERRY_LOG_H
#define MAILFERRY_LOG_H

#include "mailferry/err.h"

#include <stdint.h>
#include <stdio.h>

enum mf_log_level { MF_LOG_DEBUG, MF_LOG_INFO, MF_LOG_WARN, MF_LOG_ERROR };
enum mf_log_format { MF_LOG_TEXT, MF_LOG_JSON };

/* Who an event is about. Any field may be NULL / 0 (unknown). */
struct mf_log_ctx {
    const char *batch;   /* borrowed */
    const char *mailbox; /* borrowed */
    const char *job;     /* borrowed */
    uint32_t attempt;
};

/* Sets the format, the minimum level and the stream (NULL: stderr). */
void mf_log_setup(enum mf_log_format format, enum mf_log_level min_level,
                  FILE *out);
/* Parses "debug|info|warn|error" and "text|json"; false if unknown. */
int mf_log_level_parse(const char *s, enum mf_log_level *level_r);
int mf_log_format_parse(const char *s, enum mf_log_format *format_r);

/* Logs one event. event is a short stable name ("mailbox.done"); the
 * message is free text. ctx may be NULL. */
void mf_log(enum mf_log_level level, const struct mf_log_ctx *ctx,
            const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Logs an error with its code, name, class and detail. */
void mf_log_error(const struct mf_log_ctx *ctx, const char *event,
                  const struct mf_error *err);

#endif
