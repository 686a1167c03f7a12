/* See fakeredis.h. */
#include "fakeredis.h"

#include "mailferry/util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Reads one RESP command array; false at EOF. */
static bool
read_command(FILE *f, struct mf_fakeredis *fk) {
    size_t k = fk->seen;
    char line[64];
    size_t n;

    if (!fgets(line, sizeof(line), f) || line[0] != '*')
        return false;
    n = strtoul(line + 1, NULL, 10);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        char *buf;
        if (!fgets(line, sizeof(line), f) || line[0] != '$')
            return false;
        len = strtoul(line + 1, NULL, 10);
        buf = mf_xmalloc(len + 3);
        if (fread(buf, 1, len + 2, f) != len + 2) {
            free(buf);
            return false;
        }
        buf[len] = '\0';
        if (k < MF_FAKEREDIS_SEEN && i < MF_FAKEREDIS_ARGS)
            snprintf(fk->arg[k][i], sizeof(fk->arg[k][i]), "%s", buf);
        free(buf);
    }
    if (k < MF_FAKEREDIS_SEEN)
        fk->argc[k] = n;
    fk->seen++;
    return true;
}

static void *
serve(void *ud) {
    struct mf_fakeredis *fk = ud;
    size_t next = 0;

    while (next < fk->n_replies) {
        int fd = accept(fk->lfd, NULL, NULL);
        FILE *f;
        if (fd < 0)
            break;
        f = fdopen(fd, "r+");
        while (next < fk->n_replies && read_command(f, fk)) {
            const char *reply = fk->replies[next++];
            if (!reply)
                break; /* hang up without answering */
            fputs(reply, f);
            fflush(f);
        }
        fclose(f);
    }
    return NULL;
}

struct mf_redis *
mf_fakeredis_start(struct mf_fakeredis *fk, const char *const *replies,
                   size_t n) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct mf_redis *r = NULL;
    struct mf_error err = {0};
    char url[128];

    memset(fk, 0, sizeof(*fk));
    snprintf(fk->dir, sizeof(fk->dir), "/tmp/mf-fakeredis-XXXXXX");
    MF_ASSERT(mkdtemp(fk->dir));
    snprintf(fk->path, sizeof(fk->path), "%s/redis.sock", fk->dir);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fk->path);
    fk->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    MF_ASSERT(fk->lfd >= 0);
    MF_ASSERT(bind(fk->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    MF_ASSERT(listen(fk->lfd, 4) == 0);
    fk->replies = replies;
    fk->n_replies = n;
    MF_ASSERT(pthread_create(&fk->thread, NULL, serve, fk) == 0);
    snprintf(url, sizeof(url), "unix://%s", fk->path);
    MF_ASSERT(mf_redis_connect(url, 2000, &r, &err) == MF_E_OK);
    return r;
}

void
mf_fakeredis_stop(struct mf_fakeredis *fk, struct mf_redis **r) {
    mf_redis_free(r);
    /* Replies left over: accept() fails and the thread ends. */
    shutdown(fk->lfd, SHUT_RDWR);
    pthread_join(fk->thread, NULL);
    close(fk->lfd);
    unlink(fk->path);
    rmdir(fk->dir);
}
