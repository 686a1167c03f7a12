/* Internal interface of the jobs module (core/src/jobs). */
#ifndef MF_JOBS_INT_H
#define MF_JOBS_INT_H

#include "mailferry/jobs.h"

/* mf_jobs_produce_job() with an opaque pointer for the producer's
 * delivery callback (the service uses it to retry failed deliveries). */
MF_WARN_UNUSED mf_err mf__jobs_produce_job(const struct mf_jobs_ctx *c,
                                           const struct mf_batch_config *cfg,
                                           const char *batch, const char *topic,
                                           const struct mf_batch_job *job,
                                           void *msg_opaque,
                                           struct mf_error *err);

#endif
