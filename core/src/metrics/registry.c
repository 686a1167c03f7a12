/*
 * The Prometheus metrics registry (see mailferry/metrics.h).
 *
 * A registry is a list of families in declaration order; a family owns its
 * label names (fixed by its first series) and a list of series in creation
 * order; a series owns its label values and its number (or, for a
 * histogram, bucket counts, sum and count). Lookups are linear: a process
 * has a few dozen families with a handful of series each, and an update is
 * a few string compares under the mutex, far cheaper than the IMAP work
 * being counted.
 *
 * Text format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/): # HELP <name>
 * <help, with \ and newline escaped> # TYPE <name> counter|gauge|histogram
 *   <name>{<label>="<value, with \ " and newline escaped>",...} <value>
 * Values are Go-style floats: "+Inf", "-Inf", "NaN" or a decimal number.
 */
#include "mailferry/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum mtype { COUNTER, GAUGE, HISTOGRAM };
static const char *const type_names[] = {"counter", "gauge", "histogram"};

struct series {
    char **values; /* owned: nlabels strings */
    double value;  /* counter, gauge */
    /* histogram: */
    uint64_t *buckets; /* owned: nbounds + 1 (last is +Inf), not cumulative */
    double sum;
    uint64_t count;
};

struct family {
    char *name; /* owned */
    char *help; /* owned */
    enum mtype type;
    double bounds[MF_METRICS_MAX_BUCKETS];
    size_t nbounds;
    bool labels_fixed;   /* label names set by the first series */
    size_t nlabels;      /* label pairs per series */
    char **label_names;  /* owned */
    struct series *ser;  /* owned */
    size_t nser, capser; /* count and capacity of ser */
};

struct mf_metrics {
    pthread_mutex_t mu;
    struct family *fam; /* owned */
    size_t nfam, capfam;
};

struct mf_metrics *
mf_metrics_new(void) {
    struct mf_metrics *m = mf_xcalloc(1, sizeof(*m));
    MF_ASSERT(pthread_mutex_init(&m->mu, NULL) == 0);
    return m;
}

void
mf_metrics_free(struct mf_metrics **mp) {
    if (!mp || !*mp)
        return;
    struct mf_metrics *m = *mp;
    for (size_t i = 0; i < m->nfam; i++) {
        struct family *f = &m->fam[i];
        for (size_t j = 0; j < f->nser; j++) {
            for (size_t k = 0; k < f->nlabels; k++)
                free(f->ser[j].values[k]);
            free(f->ser[j].values);
            free(f->ser[j].buckets);
        }
        for (size_t k = 0; k < f->nlabels; k++)
            free(f->label_names[k]);
        free(f->label_names);
        free(f->ser);
        free(f->name);
        free(f->help);
    }
    free(m->fam);
    pthread_mutex_destroy(&m->mu);
    free(m);
    *mp = NULL;
}

bool
mf_metrics_name_valid(const char *name) {
    /* [a-zA-Z_:][a-zA-Z0-9_:]* */
    if (!name || !*name || (*name >= '0' && *name <= '9'))
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == ':'))
            return false;
    }
    return true;
}

/* Label names: [a-zA-Z_][a-zA-Z0-9_]*, and "__" prefixes are reserved for
 * Prometheus itself. */
static bool
label_name_valid(const char *name) {
    return mf_metrics_name_valid(name) && !strchr(name, ':') &&
           strncmp(name, "__", 2) != 0;
}

static struct family *
find_family(struct mf_metrics *m, const char *name) {
    for (size_t i = 0; i < m->nfam; i++)
        if (strcmp(m->fam[i].name, name) == 0)
            return &m->fam[i];
    return NULL;
}

static void
declare(struct mf_metrics *m, const char *name, enum mtype type,
        const char *help, const double *bounds, size_t nbounds) {
    MF_ASSERT(m && help);
    MF_ASSERT(mf_metrics_name_valid(name));
    pthread_mutex_lock(&m->mu);
    struct family *f = find_family(m, name);
    if (f) {
        /* Declaring again is fine as long as it is the same family. */
        MF_ASSERT(f->type == type && f->nbounds == nbounds);
        pthread_mutex_unlock(&m->mu);
        return;
    }
    if (m->nfam == m->capfam) {
        m->capfam = m->capfam ? 2 * m->capfam : 16;
        m->fam = mf_xreallocarray(m->fam, m->capfam, sizeof(*m->fam));
    }
    f = &m->fam[m->nfam++];
    memset(f, 0, sizeof(*f));
    f->name = mf_xstrdup(name);
    f->help = mf_xstrdup(help);
    f->type = type;
    if (nbounds)
        memcpy(f->bounds, bounds, nbounds * sizeof(*bounds));
    f->nbounds = nbounds;
    pthread_mutex_unlock(&m->mu);
}

void
mf_metrics_declare(struct mf_metrics *m, const char *name, const char *type,
                   const char *help) {
    MF_ASSERT(type);
    enum mtype t = COUNTER;
    if (strcmp(type, "counter") == 0)
        t = COUNTER;
    else if (strcmp(type, "gauge") == 0)
        t = GAUGE;
    else
        MF_ASSERT(!"type must be \"counter\" or \"gauge\"");
    declare(m, name, t, help, NULL, 0);
}

void
mf_metrics_declare_histogram(struct mf_metrics *m, const char *name,
                             const char *help, const double *bounds, size_t n) {
    MF_ASSERT(bounds && n >= 1 && n <= MF_METRICS_MAX_BUCKETS);
    for (size_t i = 0; i < n; i++) {
        MF_ASSERT(isfinite(bounds[i]));
        MF_ASSERT(i == 0 || bounds[i] > bounds[i - 1]);
    }
    declare(m, name, HISTOGRAM, help, bounds, n);
}

/* The series of f with these label pairs (NULL-terminated), created on
 * first use. Called with the mutex held. */
static struct series *
find_series(struct family *f, const char *const *labels) {
    size_t n = 0;
    while (labels && labels[2 * n]) {
        MF_ASSERT(labels[2 * n + 1] != NULL); /* pairs: name, value */
        n++;
    }
    MF_ASSERT(n <= MF_METRICS_MAX_LABELS);
    if (!f->labels_fixed) {
        for (size_t k = 0; k < n; k++) {
            MF_ASSERT(label_name_valid(labels[2 * k]));
            /* "le" names a histogram's bucket bound. */
            MF_ASSERT(f->type != HISTOGRAM || strcmp(labels[2 * k], "le") != 0);
            for (size_t j = 0; j < k; j++)
                MF_ASSERT(strcmp(labels[2 * j], labels[2 * k]) != 0);
        }
        f->label_names = mf_xcalloc(n ? n : 1, sizeof(char *));
        for (size_t k = 0; k < n; k++)
            f->label_names[k] = mf_xstrdup(labels[2 * k]);
        f->nlabels = n;
        f->labels_fixed = true;
    }
    /* Every series of a family has the same label names in the same
     * order; anything else is a programming error at the call site. */
    MF_ASSERT(n == f->nlabels);
    for (size_t k = 0; k < n; k++)
        MF_ASSERT(strcmp(labels[2 * k], f->label_names[k]) == 0);

    for (size_t i = 0; i < f->nser; i++) {
        size_t k = 0;
        while (k < n && strcmp(f->ser[i].values[k], labels[2 * k + 1]) == 0)
            k++;
        if (k == n)
            return &f->ser[i];
    }
    if (f->nser == f->capser) {
        f->capser = f->capser ? 2 * f->capser : 4;
        f->ser = mf_xreallocarray(f->ser, f->capser, sizeof(*f->ser));
    }
    struct series *s = &f->ser[f->nser++];
    memset(s, 0, sizeof(*s));
    s->values = mf_xcalloc(n ? n : 1, sizeof(char *));
    for (size_t k = 0; k < n; k++)
        s->values[k] = mf_xstrdup(labels[2 * k + 1]);
    if (f->type == HISTOGRAM)
        s->buckets = mf_xcalloc(f->nbounds + 1, sizeof(uint64_t));
    return s;
}

enum op { ADD, SET, OBSERVE };

static void
update(struct mf_metrics *m, const char *name, double v, enum op op,
       const char *const *labels) {
    MF_ASSERT(m && name);
    pthread_mutex_lock(&m->mu);
    struct family *f = find_family(m, name);
    MF_ASSERT(f != NULL); /* declare the family first */
    MF_ASSERT((op == OBSERVE) == (f->type == HISTOGRAM));
    MF_ASSERT(!(op == ADD && f->type == COUNTER && !(v >= 0)));
    struct series *s = find_series(f, labels);
    switch (op) {
    case ADD:
        s->value += v;
        break;
    case SET:
        s->value = v;
        break;
    case OBSERVE: {
        size_t b = 0;
        while (b < f->nbounds && !(v <= f->bounds[b]))
            b++;
        s->buckets[b]++;
        s->sum += v;
        s->count++;
        break;
    }
    }
    pthread_mutex_unlock(&m->mu);
}

/* The variadic entry points copy their label pairs into an array. */
#define COLLECT_LABELS(arr, last)                                              \
    const char *arr[2 * MF_METRICS_MAX_LABELS + 1];                            \
    do {                                                                       \
        va_list ap;                                                            \
        va_start(ap, last);                                                    \
        size_t i_ = 0;                                                         \
        for (;;) {                                                             \
            const char *l_ = va_arg(ap, const char *);                         \
            MF_ASSERT(i_ < MF_ARRAY_LEN(arr));                                 \
            arr[i_++] = l_;                                                    \
            if (!l_)                                                           \
                break;                                                         \
        }                                                                      \
        va_end(ap);                                                            \
    } while (0)

void
mf_metrics_add(struct mf_metrics *m, const char *name, double v, ...) {
    COLLECT_LABELS(labels, v);
    update(m, name, v, ADD, labels);
}

void
mf_metrics_set(struct mf_metrics *m, const char *name, double v, ...) {
    COLLECT_LABELS(labels, v);
    update(m, name, v, SET, labels);
}

void
mf_metrics_observe(struct mf_metrics *m, const char *name, double v, ...) {
    COLLECT_LABELS(labels, v);
    update(m, name, v, OBSERVE, labels);
}

void
mf_metrics_add_l(struct mf_metrics *m, const char *name, double v,
                 const char *const *labels) {
    update(m, name, v, ADD, labels);
}

void
mf_metrics_set_l(struct mf_metrics *m, const char *name, double v,
                 const char *const *labels) {
    update(m, name, v, SET, labels);
}

/* ---- rendering --------------------------------------------------------- */

/* A float the way Prometheus parses it: the shortest of %.15g..%.17g that
 * reads back exactly, so 0.1 is "0.1" and 3 is "3". */
static void
put_float(struct mf_buf *out, double v) {
    if (isnan(v)) {
        mf_buf_append_str(out, "NaN");
        return;
    }
    if (isinf(v)) {
        mf_buf_append_str(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    mf_buf_append_str(out, tmp);
}

/* HELP text escapes \ and newline; label values also escape ". */
static void
put_escaped(struct mf_buf *out, const char *s, bool quote) {
    for (; *s; s++) {
        if (*s == '\\')
            mf_buf_append_str(out, "\\\\");
        else if (*s == '\n')
            mf_buf_append_str(out, "\\n");
        else if (quote && *s == '"')
            mf_buf_append_str(out, "\\\"");
        else
            mf_buf_append(out, s, 1);
    }
}

/* name{labels[,le="bound"]} for one series; le may be NULL. */
static void
put_series_name(struct mf_buf *out, const struct family *f,
                const struct series *s, const char *suffix, const char *le) {
    mf_buf_append_str(out, f->name);
    mf_buf_append_str(out, suffix);
    if (f->nlabels == 0 && !le)
        return;
    mf_buf_append_str(out, "{");
    for (size_t k = 0; k < f->nlabels; k++) {
        mf_buf_appendf(out, "%s%s=\"", k ? "," : "", f->label_names[k]);
        put_escaped(out, s->values[k], true);
        mf_buf_append_str(out, "\"");
    }
    if (le)
        mf_buf_appendf(out, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    mf_buf_append_str(out, "}");
}

static void
render_histogram(struct mf_buf *out, const struct family *f,
                 const struct series *s) {
    uint64_t cum = 0;
    for (size_t b = 0; b <= f->nbounds; b++) {
        struct mf_buf le = {0};
        if (b < f->nbounds)
            put_float(&le, f->bounds[b]);
        else
            mf_buf_append_str(&le, "+Inf");
        cum += s->buckets[b];
        put_series_name(out, f, s, "_bucket", (const char *)le.data);
        mf_buf_appendf(out, " %llu\n", (unsigned long long)cum);
        mf_buf_free(&le);
    }
    put_series_name(out, f, s, "_sum", NULL);
    mf_buf_append_str(out, " ");
    put_float(out, s->sum);
    mf_buf_append_str(out, "\n");
    put_series_name(out, f, s, "_count", NULL);
    mf_buf_appendf(out, " %llu\n", (unsigned long long)s->count);
}

void
mf_metrics_render(struct mf_metrics *m, struct mf_buf *out) {
    MF_ASSERT(m && out);
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->nfam; i++) {
        const struct family *f = &m->fam[i];
        mf_buf_appendf(out, "# HELP %s ", f->name);
        put_escaped(out, f->help, false);
        mf_buf_appendf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
        for (size_t j = 0; j < f->nser; j++) {
            const struct series *s = &f->ser[j];
            if (f->type == HISTOGRAM) {
                render_histogram(out, f, s);
                continue;
            }
            put_series_name(out, f, s, "", NULL);
            mf_buf_append_str(out, " ");
            put_float(out, s->value);
            mf_buf_append_str(out, "\n");
        }
    }
    pthread_mutex_unlock(&m->mu);
}
