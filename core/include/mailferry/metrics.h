/*
 * A Prometheus metrics registry (docs/design.md §11): counters, gauges and
 * histograms with labels, rendered in the Prometheus text exposition format
 * 0.0.4 for /metrics (see mf_http_health_handler in http.h).
 *
 * A *family* is declared once with a name, a type and help text; a
 * *series* is one family plus one set of label values and is created on
 * first use. Label pairs are passed as a NULL-terminated list of C strings,
 * name then value:
 *
 *     mf_metrics_declare(m, "mailferry_mailboxes", "gauge",
 *                        "Mailboxes by state.");
 *     mf_metrics_set(m, "mailferry_mailboxes", 12, "state", "synced", NULL);
 *     mf_metrics_add(m, "mailferry_jobs_total", 1, NULL);   // no labels
 *
 * Programmer errors are assertions (they stay on in release builds): an invalid
 * metric or label name, using a family that was not declared, declaring a name
 * again with another type, an odd label list, or a series whose label names
 * differ from the family's first series (same names, same order). Label values
 * are free text (escaped when rendered). Series are rendered in the order they
 * were created, families in the order they were declared; a series is never
 * removed (set a gauge to 0 instead), so keep label values bounded (states,
 * error codes), never per-mailbox.
 *
 * Threads: every function is safe to call from any thread; one mutex
 * guards the registry (updates are a lookup and an add, far off any hot
 * loop: call sites count per message or per mailbox, not per byte).
 */
#ifndef MAILFERRY_METRICS_H
#define MAILFERRY_METRICS_H

#include "mailferry/util.h"

#include <stdbool.h>
#include <stddef.h>

#define MF_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define MF_METRICS_MAX_LABELS 8   /* label pairs per series */
#define MF_METRICS_MAX_BUCKETS 32 /* histogram bucket bounds */

struct mf_metrics;

struct mf_metrics *mf_metrics_new(void);
/* Frees the registry and every series; NULL and *m == NULL are fine. */
void mf_metrics_free(struct mf_metrics **m);

/* Declares a family. name must match [a-zA-Z_:][a-zA-Z0-9_:]*; type is
 * "counter" or "gauge" ("histogram" needs mf_metrics_declare_histogram);
 * help is any text (escaped when rendered). Declaring the same name again
 * with the same type is a no-op, so collectors may declare lazily. */
void mf_metrics_declare(struct mf_metrics *m, const char *name,
                        const char *type, const char *help);
/* Declares a histogram with n (1..MF_METRICS_MAX_BUCKETS) strictly
 * increasing finite upper bounds; the +Inf bucket is implicit. */
void mf_metrics_declare_histogram(struct mf_metrics *m, const char *name,
                                  const char *help, const double *bounds,
                                  size_t n);

/* Counter (or gauge) += v, label pairs NULL-terminated. Creates the series
 * at 0 on first use. A counter's v must be >= 0. */
void mf_metrics_add(struct mf_metrics *m, const char *name, double v, ...)
    __attribute__((sentinel));
/* Gauge (or counter, e.g. a total copied from elsewhere) = v. */
void mf_metrics_set(struct mf_metrics *m, const char *name, double v, ...)
    __attribute__((sentinel));
/* Histogram: counts one observation v. */
void mf_metrics_observe(struct mf_metrics *m, const char *name, double v, ...)
    __attribute__((sentinel));

/* The same with the label pairs in an array ending in NULL (labels itself
 * may be NULL for none), for callers that build labels at run time. */
void mf_metrics_add_l(struct mf_metrics *m, const char *name, double v,
                      const char *const *labels);
void mf_metrics_set_l(struct mf_metrics *m, const char *name, double v,
                      const char *const *labels);

/* Appends the whole registry to out in text format 0.0.4: for each family
 * "# HELP", "# TYPE" and one line per series (a family with no series yet
 * shows only HELP and TYPE). */
void mf_metrics_render(struct mf_metrics *m, struct mf_buf *out);

/* True when name is a valid metric name (labels: the same without ':').
 * Exposed for callers that build names at run time. */
bool mf_metrics_name_valid(const char *name);

#endif
