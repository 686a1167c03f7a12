/*
 * mailferry: the coordinator's command-line entry point. Finds the command
 * named by the first words of argv and hands it the rest.
 */
#include "cli.h"
#include "commands.h"
#include "mailferry/util.h"
#include "mailferry/version.h"

#include <stdio.h>
#include <string.h>

struct command {
    const char *group; /* first word */
    const char *name;  /* second word, or NULL for one-word commands */
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"csv", "validate", cmd_csv_validate,
     "check a batch CSV file; every error with line and column"},
    {"migrate", NULL, cmd_migrate,
     "migrate the mailboxes of a CSV in this process, N at a time"},
    {"endpoint", "test", cmd_endpoint_test,
     "check an IMAP endpoint: TLS, capabilities, logins, connection limit"},
    {"endpoint", "dns", cmd_endpoint_dns,
     "show a domain's MX records and warn when a TTL is above an hour"},
    {"batch", "create", cmd_batch_create,
     "validate a CSV, seal its passwords and store a batch (Created)"},
    {"batch", "start", cmd_batch_start,
     "enqueue a job per mailbox on Kafka (or resume a Stopped batch)"},
    {"batch", "status", cmd_batch_status,
     "batch and mailbox states, progress, msgs/s, ETA (--watch)"},
    {"batch", "stop", cmd_batch_stop,
     "workers stop at a message boundary with a checkpoint"},
    {"batch", "sync", cmd_batch_sync,
     "run an incremental pass now (--mailbox: only those mailboxes)"},
    {"batch", "complete", cmd_batch_complete,
     "final incremental pass, then Completed"},
    {"batch", "report", cmd_batch_report,
     "the consolidated report as csv, json or html"},
    {"batch", "list", cmd_batch_list, "list the batches"},
    {"batch", "remove", cmd_batch_remove, "delete a batch that is not running"},
    {"batch", "set", cmd_batch_set,
     "change the size cap, attempts or incremental interval of a batch"},
    {"batch", "add", cmd_batch_add,
     "add the mailboxes of a CSV to a batch, also while it runs"},
    {"batch", "update", cmd_batch_update,
     "new logins/passwords from a CSV; AUTH failures retried at once"},
    {"batch", "drop", cmd_batch_drop,
     "take mailboxes out of a batch (copied mail stays on the target)"},
    {"batch", "retry", cmd_batch_retry,
     "run the failed mailboxes again (all, or --mailbox ones)"},
    {"batch", "compare", cmd_batch_compare,
     "test batches side by side: bytes, duration, throughput, connections"},
    {"verify", NULL, cmd_verify,
     "compare source and target of each mailbox of a CSV, read-only"},
    {"batch", "verify", cmd_batch_verify,
     "verify every mailbox of a batch; results in its report"},
    {"plan", NULL, cmd_plan,
     "folder plan and sizes per mailbox; estimates from test batches"},
    {"serve", NULL, cmd_serve,
     "the coordinator service: results, retries, schedules, /metrics"},
    {"key", "generate", cmd_key_generate,
     "make (or --rotate) the master key file that seals passwords"},
};

static void
usage(FILE *out) {
    fprintf(out, "usage: mailferry COMMAND [ARGS] [--help]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s%s%s", commands[i].group,
                 commands[i].name ? " " : "",
                 commands[i].name ? commands[i].name : "");
        fprintf(out, "  %-22s %s\n", name, commands[i].summary);
    }
    fprintf(out, "\nmailferry --version prints the version.\n");
}

int
main(int argc, char **argv) {
    mf_malloc_tune();
    if (argc < 2) {
        usage(stderr);
        return MF_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return MF_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("mailferry %s\n", MF_VERSION);
        return MF_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        const struct command *c = &commands[i];
        if (strcmp(argv[1], c->group) != 0)
            continue;
        if (!c->name)
            return c->run(argc - 2, argv + 2);
        if (argc >= 3 && strcmp(argv[2], c->name) == 0)
            return c->run(argc - 3, argv + 3);
    }
    fprintf(stderr, "mailferry: unknown command \"%s%s%s\"\n", argv[1],
            argc >= 3 ? " " : "", argc >= 3 ? argv[2] : "");
    usage(stderr);
    return MF_EXIT_USAGE;
}
