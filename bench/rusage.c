/*
 * mailferry-bench-rusage: runs a command and writes its CPU time and peak
 * RSS to a file.
 *
 * Why not os.wait4() in the Python driver: Linux records a process's peak
 * RSS (ru_maxrss) as the high-water mark of every address space it had,
 * including the one it exec'd from. A child spawned by Python (vfork or
 * fork) starts from the interpreter's address space, so its ru_maxrss is
 * at least the driver's own peak, which says nothing about the tool. This
 * program is small: it forks (a child with a fresh, tiny high-water mark),
 * execs the command, reaps it with wait4() and writes
 *
 *   exit=<code> utime=<s> stime=<s> maxrss_kb=<kb> minflt=<page faults>
 *
 * to the result file. Its own exit status is the command's (128 + signal
 * when it was killed, 127 when it could not be run).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child;

/* Passes a termination request on to the command, which ends the wait. */
static void
forward(int sig) {
    if (child > 0)
        kill(child, sig);
}

int
main(int argc, char **argv) {
    struct rusage ru;
    struct sigaction sa;
    int status = 0, code;
    pid_t w;
    FILE *out;

    if (argc < 4 || strcmp(argv[2], "--") != 0) {
        fprintf(stderr, "usage: mailferry-bench-rusage RESULT-FILE -- "
                        "COMMAND [ARG...]\n");
        return 2;
    }
    child = fork();
    if (child < 0) {
        perror("mailferry-bench-rusage: fork");
        return 127;
    }
    if (child == 0) {
        /* Killed with us, so that a driver that must SIGKILL this process
         * leaves nothing behind. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execvp(argv[3], argv + 3);
        fprintf(stderr, "mailferry-bench-rusage: %s: %s\n", argv[3],
                strerror(errno));
        _exit(127);
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = forward;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    do {
        w = wait4(child, &status, 0, &ru);
    } while (w < 0 && errno == EINTR);
    if (w < 0) {
        perror("mailferry-bench-rusage: wait4");
        return 127;
    }
    if (WIFEXITED(status))
        code = WEXITSTATUS(status);
    else
        code = 128 + WTERMSIG(status);
    out = fopen(argv[1], "w");
    if (!out) {
        perror(argv[1]);
        return 127;
    }
    fprintf(out,
            "exit=%d utime=%ld.%06ld stime=%ld.%06ld maxrss_kb=%ld "
            "minflt=%ld\n",
            code, (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
            (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec, ru.ru_maxrss,
            ru.ru_minflt);
    if (fclose(out) != 0) {
        perror(argv[1]);
        return 127;
    }
    return code;
}
