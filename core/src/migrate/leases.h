/*
 * Connection and bandwidth caps of one mailbox run (see leases.c). Every
 * function accepts a NULL leases object (no caps configured) and then does
 * nothing.
 */
#ifndef MF_MIGRATE_LEASES_H
#define MF_MIGRATE_LEASES_H

#include "mailferry/caps.h"
#include "mailferry/migrate.h"
#include "mailferry/store.h"

struct mf__leases;

/* Connects to the caps' Redis and starts the keeper; *l_r stays NULL when
 * o->caps is NULL. */
MF_WARN_UNUSED mf_err mf__leases_new(const struct mf_migrate_options *o,
                                     struct mf__leases **l_r,
                                     struct mf_error *err);
/* Stops the keeper and releases every lease still held. */
void mf__leases_free(struct mf__leases **l);
/* Waits for a slot in the source's mailbox cap (when it has one). */
MF_WARN_UNUSED mf_err mf__leases_mailbox(struct mf__leases *l,
                                         struct mf_error *err);
/* Waits for a connection lease on one side for login name user. Returns
 * MF_E_CANCELLED when the run is stopped meanwhile. */
MF_WARN_UNUSED mf_err mf__leases_connection(struct mf__leases *l, bool target,
                                            const char *user,
                                            struct mf_error *err);
/* The store opened under that side's lease: aborted if the lease is lost. */
void mf__leases_attach(struct mf__leases *l, bool target, struct mf_store *st);
/* Releases the connection leases of the sides asked for, after their
 * stores were closed (and a short grace: see leases.c). */
void mf__leases_release_connections(struct mf__leases *l, bool source,
                                    bool target);
/* Takes bytes from the side's bandwidth bucket, sleeping as told. */
void mf__leases_bandwidth(struct mf__leases *l, bool target, uint64_t bytes);
/* The endpoint id of one side in the caps ("src:host:port"), also when
 * there are no caps (throttle.c keys its pause by it). */
void mf__leases_endpoint_id(const struct mf_migrate_options *o, bool target,
                            char *out, size_t n);
/* The side's fleet-wide connection cap (with the profile's default), 0
 * when none or l is NULL. */
unsigned mf__leases_cap(const struct mf__leases *l, bool target);
/* While the side holds a connection lease: the endpoint's pause and the
 * limits in force, and whether its connection is one of those above
 * them (f_r->over: it should close, and queue for a lease again), in one
 * Redis round trip (mf_caps_throttle_over()). False without a lease or
 * when Redis cannot tell. */
bool mf__leases_in_force(struct mf__leases *l, bool target,
                         struct mf_caps_in_force *f_r);
/* Total time spent waiting for leases. */
uint64_t mf__leases_waited_ms(const struct mf__leases *l);

#endif
