/*
 * What `mailferry endpoint dns` makes of an MX answer (mailferry/
 * preflight.h): whether the lookup found MX records, their highest TTL
 * against the advice (MF_DNS_TTL_ADVICE), and the lines or the JSON
 * document it prints.
 */
#include "mailferry/json.h"
#include "mailferry/preflight.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
mx_cmp(const void *a, const void *b) {
    const struct mf_dns_mx *x = a, *y = b;

    if (x->preference != y->preference)
        return x->preference < y->preference ? -1 : 1;
    return strcmp(x->exchange, y->exchange);
}

void
mf_dns_mx_judge(mf_err rc, const struct mf_error *err,
                struct mf_dns_mx_answer *ans, struct mf_dns_mx_verdict *v) {
    v->failure = NULL;
    v->max_ttl = 0;
    if (rc != MF_E_OK)
        v->failure = err->detail;
    else if (ans->rcode == MF_DNS_RCODE_NXDOMAIN)
        v->failure = "no such domain (NXDOMAIN)";
    else if (ans->rcode != MF_DNS_RCODE_NOERROR)
        v->failure = mf_dns_rcode_name(ans->rcode, v->rcbuf, sizeof(v->rcbuf));
    else if (ans->count == 0)
        v->failure = "the domain has no MX record (mail would go to its "
                     "address record)";
    if (!v->failure)
        qsort(ans->mx, ans->count, sizeof(ans->mx[0]), mx_cmp);
    for (size_t i = 0; !v->failure && i < ans->count; i++)
        if (ans->mx[i].ttl > v->max_ttl)
            v->max_ttl = ans->mx[i].ttl;
}

static void
print_json(const char *domain, const char *where, mf_err rc,
           const struct mf_dns_mx_answer *ans,
           const struct mf_dns_mx_verdict *v, int exit_code) {
    struct mf_buf out = {0};
    struct mf_json j;
    char rcbuf[16];

    mf_json_init(&j, &out);
    mf_json_object_begin(&j);
    mf_json_member(&j, "domain", domain);
    mf_json_member(&j, "server", where);
    mf_json_member(&j, "ok", (bool)(exit_code == 0));
    mf_json_member(&j, "exit_code", (uint64_t)exit_code);
    mf_json_member(&j, "error", v->failure);
    mf_json_member(&j, "rcode",
                   rc == MF_E_OK
                       ? mf_dns_rcode_name(ans->rcode, rcbuf, sizeof(rcbuf))
                       : NULL);
    mf_json_member(&j, "authoritative",
                   (bool)(rc == MF_E_OK && ans->authoritative));
    mf_json_member(&j, "ttl_advice", MF_DNS_TTL_ADVICE);
    mf_json_member_or_null(&j, "max_ttl", !v->failure, v->max_ttl);
    mf_json_key(&j, "mx"), mf_json_array_begin(&j);
    for (size_t i = 0; !v->failure && i < ans->count; i++) {
        const struct mf_dns_mx *mx = &ans->mx[i];
        mf_json_object_begin(&j);
        MF_JSON_FIELDS(&j, mx, preference, exchange, ttl);
        mf_json_member(&j, "ttl_ok", (bool)(mx->ttl <= MF_DNS_TTL_ADVICE));
        mf_json_object_end(&j);
    }
    mf_json_array_end(&j);
    mf_json_object_end(&j);
    printf("%s\n", (char *)out.data);
    mf_buf_free(&out);
}

static void
print_text(const char *domain, const char *where,
           const struct mf_dns_mx_answer *ans,
           const struct mf_dns_mx_verdict *v, int exit_code) {
    if (v->failure) {
        printf("%s MX (asked %s): lookup FAILED: %s\n", domain, where,
               v->failure);
        return;
    }
    printf("%s MX (asked %s%s):\n", domain, where,
           ans->authoritative ? ", authoritative answer" : "");
    for (size_t i = 0; i < ans->count; i++) {
        const struct mf_dns_mx *mx = &ans->mx[i];
        printf("  %5u %-40s TTL %6u s", mx->preference, mx->exchange, mx->ttl);
        if (mx->ttl > MF_DNS_TTL_ADVICE)
            printf("  WARNING: above %u s: lower it to about an hour, "
                   "then wait the old TTL (%u s, %.1f h) before the MX "
                   "switch\n",
                   MF_DNS_TTL_ADVICE, mx->ttl, mx->ttl / 3600.0);
        else
            printf("  ok\n");
    }
    if (ans->dropped)
        printf("  (%zu more records not shown)\n", ans->dropped);
    printf("result: %s\n",
           exit_code == 0
               ? "ok: TTLs are an hour or less"
               : "WARNING: lower the MX TTL before the switch (exit 4)");
}

void
mf_dns_mx_print(bool json, const char *domain, const char *where, mf_err rc,
                const struct mf_dns_mx_answer *ans,
                const struct mf_dns_mx_verdict *v, int exit_code) {
    if (json)
        print_json(domain, where, rc, ans, v, exit_code);
    else
        print_text(domain, where, ans, v, exit_code);
}
