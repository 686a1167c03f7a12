/*
 * Preloaded into the Cyrus fixture's servers (LD_PRELOAD): rand() from
 * the kernel's generator, srand() ignored.
 *
 * Why: Debian's Cyrus 3.6 is built without libuuid, so it names every
 * new mailbox with 24 characters of rand() (lib/util.c makeuuid()), and
 * its 3.6 storage keeps each mailbox in a directory named by that id.
 * imapd processes that the master forks within the same second start
 * from the same seed: two users whose INBOXes were created at their
 * first logins, each in such a process, got the same id and so one
 * shared mailbox (each saw the other's messages). Seen in about one run
 * in three of a test that logs in three users one after the other on a
 * fresh server; with this library, never.
 */
#include <stdlib.h>
#include <sys/random.h>

int
rand(void) {
    unsigned int v = 0;

    while (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
        ;
    return (int)(v & RAND_MAX);
}

void
srand(unsigned int seed) {
    (void)seed;
}
