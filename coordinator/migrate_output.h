/*
 * What `mailferry migrate` prints: a live progress line on a terminal,
 * one line per finished mailbox, and a summary (text or one JSON
 * document).
 */
#ifndef MF_MIGRATE_OUTPUT_H
#define MF_MIGRATE_OUTPUT_H

#include "mailferry/migrate.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

/* One CSV row; secrets are wiped when freed. */
struct csv_mailbox {
    char *email, *username, *password;
    char *target_username, *target_password;
};

/* One mailbox's run as the printer sees it. */
struct mailbox_outcome {
    const char *email; /* borrowed */
    atomic_bool started, done;
    struct mf_migrate_progress *progress; /* owned */
    struct mf_migrate_result result;
};

/* One line (or a few with skipped and failed messages) about a finished
 * mailbox. */
void migrate_print_mailbox(FILE *out, const struct mailbox_outcome *o);
/* Redraws a progress line on stderr every second until finished == n or
 * stop is set (then until the workers finish); returns at once when
 * draw is false. *finished is read under mu. */
void migrate_watch(pthread_mutex_t *mu, const struct mailbox_outcome *v,
                   size_t n, const size_t *finished, const atomic_bool *stop,
                   bool draw);
/* Prints the summary or the JSON document; true when every mailbox
 * finished without error. */
bool migrate_print_summary(FILE *out, const struct mailbox_outcome *v, size_t n,
                           double seconds, bool json, bool stopped);

#endif
