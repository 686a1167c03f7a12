/* Internal interface of the service module (core/src/service). */
#ifndef MF_SERVICE_INT_H
#define MF_SERVICE_INT_H

#include "mailferry/notify.h"
#include "mailferry/service.h"

/* The batches the service has seen, for notifications (watch.c). Times
 * are monotonic seconds. mf__service_watch_state() announces a change of
 * a batch it knew (not its first sighting); mf__service_watch_stuck()
 * announces, once until it moves again, a running batch idle for
 * stuck_after_s (0: never). */
struct mf__service_watch;
struct mf__service_watch *mf__service_watch_new(void);
void mf__service_watch_free(struct mf__service_watch **w);
void mf__service_watch_state(struct mf__service_watch *w, struct mf_notifier *n,
                             const char *batch, enum mf_batch_state state,
                             int64_t now);
void mf__service_watch_activity(struct mf__service_watch *w, const char *batch,
                                int64_t now);
void mf__service_watch_stuck(struct mf__service_watch *w, struct mf_notifier *n,
                             int64_t now, uint32_t stuck_after_s);
/* "mailbox.failed" or "mailbox.synced" for result r. */
void mf__service_notify_mailbox(struct mf_notifier *n, const char *event,
                                const struct mf_result *r);

#endif
