/*
 * mailferry-worker: consumes per-mailbox jobs from Kafka and migrates them
 * (DESIGN.md §3, §6). The job loop is built on the IMAP engine and the
 * Kafka transport; until those land this entry point only answers
 * --version and --help, and says so instead of pretending to work.
 */
#include <stdio.h>
#include <string.h>

#ifndef MF_VERSION
#define MF_VERSION "0.1.0"
#endif

int
main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("mailferry-worker %s\n", MF_VERSION);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
        printf("usage: mailferry-worker --kafka HOST:PORT --redis URL "
               "[--slots M]\n");
        return 0;
    }
    fprintf(stderr, "mailferry-worker: the job loop is not built yet "
                    "(see the open pipeline issue)\n");
    return 3;
}
