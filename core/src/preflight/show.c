/*
 * What `mailferry endpoint test` prints (mailferry/preflight.h,
 * mf_preflight_print()): a verdict line per step with the capabilities
 * mailferry uses starred, or one JSON document with every detail the
 * checks found.
 */
#include "mailferry/json.h"
#include "mailferry/preflight.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <string.h>

static const char *
badge(enum mf_preflight_verdict v) {
    switch (v) {
    case MF_PREFLIGHT_OK:
        return "[ ok ]";
    case MF_PREFLIGHT_WARN:
        return "[warn]";
    case MF_PREFLIGHT_FAIL:
        return "[FAIL]";
    case MF_PREFLIGHT_SKIP:
        return "[skip]";
    }
    return "[ ?? ]";
}

/* Prints the capability atoms, "*" before those mailferry uses. */
static void
print_caps(const char *label, const char *caps) {
    const char *p = caps;

    if (!caps[0])
        return;
    printf("  %s:", label);
    while (*p) {
        char atom[128];
        size_t n;
        p += strspn(p, " ");
        n = strcspn(p, " ");
        if (n == 0)
            break;
        snprintf(atom, sizeof(atom), "%.*s", (int)n, p);
        printf(" %s%s", mf_preflight_cap_used(atom) ? "*" : "", atom);
        p += n;
    }
    printf("\n");
}

static void
print_text(const char *role, const struct mf_preflight_result *res) {
    printf("%s %s\n", role, res->url);
    for (size_t i = 0; i < res->nsteps; i++) {
        const struct mf_preflight_step *s = &res->steps[i];
        printf("  %s %-22s %s", badge(s->verdict), s->name, s->text);
        if (s->verdict != MF_PREFLIGHT_SKIP)
            printf(" (%llu ms)", (unsigned long long)s->elapsed_ms);
        printf("\n");
    }
    for (size_t i = 0; i < res->n_names; i++)
        printf("  WARNING: %s\n", res->names[i].why);
    if (res->names_refused > res->n_names)
        printf("  ... and %zu more folder names the target refuses\n",
               res->names_refused - res->n_names);
    print_caps("capabilities after login (* used by mailferry)", res->caps);
    if (!res->caps[0])
        print_caps("capabilities before login (* used by mailferry)",
                   res->caps_prelogin);
    if (res->probe_asked && res->probe_opened)
        printf("  connection limit: %s%u\n",
               res->probe_refused ? "" : ">= ", res->probe_opened);
}

static void
json_caps(struct mf_json *j, const char *caps) {
    const char *p = caps;

    mf_json_array_begin(j);
    while (*p) {
        size_t n;
        p += strspn(p, " ");
        n = strcspn(p, " ");
        if (n == 0)
            break;
        {
            char atom[128];
            snprintf(atom, sizeof(atom), "%.*s", (int)n, p);
            mf_json_string(j, atom);
        }
        p += n;
    }
    mf_json_array_end(j);
}

static void
json_error(struct mf_json *j, mf_err code) {
    if (code == MF_E_OK) {
        mf_json_null(j);
        return;
    }
    mf_json_object_begin(j);
    mf_json_member(j, "code", mf_err_name(code));
    mf_json_member(j, "number", (uint64_t)code);
    mf_json_member(j, "message", mf_strerror(code));
    mf_json_object_end(j);
}

static void
json_tls(struct mf_json *j, const struct mf_preflight_tls_info *t) {
    mf_json_key(j, "tls");
    if (t->done) {
        mf_json_object_begin(j);
        MF_JSON_FIELDS(j, t, version, cipher, subject, issuer);
        mf_json_member(j, "subject_alt_names", t->san);
        MF_JSON_FIELDS(j, t, not_after, days_left, verified, verify_result);
        mf_json_object_end(j);
    } else {
        mf_json_null(j);
    }
}

/* What mailferry needs of the server and whether it is there. */
static void
json_needs(struct mf_json *j, const struct mf_preflight_result *res) {
    const struct mf_preflight_cap *tab;
    size_t ntab;

    mf_json_key(j, "capabilities_mailferry"), mf_json_array_begin(j);
    tab = mf_preflight_caps_table(&ntab);
    for (size_t i = 0; i < ntab && res->caps[0]; i++) {
        mf_json_object_begin(j);
        MF_JSON_FIELDS(j, &tab[i], name);
        mf_json_member(j, "need", mf_preflight_need_name(tab[i].need));
        mf_json_member(j, "present",
                       mf_preflight_caps_have(res->caps, tab[i].name));
        MF_JSON_FIELDS(j, &tab[i], why);
        mf_json_object_end(j);
    }
    mf_json_array_end(j);
}

/* The connection probe and the limit it found. */
static void
json_probe(struct mf_json *j, const struct mf_preflight_result *res) {
    mf_json_key(j, "probe");
    if (res->probe_asked) {
        mf_json_object_begin(j);
        mf_json_member(j, "asked", res->probe_asked);
        mf_json_member(j, "opened", res->probe_opened);
        mf_json_member(j, "refused", res->probe_refused);
        mf_json_member(j, "refusal",
                       res->probe_refused ? res->probe_refusal : NULL);
        mf_json_object_end(j);
    } else {
        mf_json_null(j);
    }
    /* The effective limit: known only when the server refused one. */
    mf_json_member_or_null(j, "connection_limit",
                           res->probe_asked && res->probe_refused &&
                               res->probe_opened,
                           res->probe_opened);
}

/* The folder names the target refuses (mf_preflight_folder_names()). */
static void
json_names(struct mf_json *j, const struct mf_preflight_result *res) {
    mf_json_key(j, "folder_names");
    if (!res->names_checked) {
        mf_json_null(j);
        return;
    }
    mf_json_object_begin(j);
    mf_json_member(j, "mailbox", res->names_mailbox);
    mf_json_member(j, "target_profile", res->names_profile);
    mf_json_member(j, "refused", res->names_refused);
    mf_json_key(j, "names"), mf_json_array_begin(j);
    for (size_t i = 0; i < res->n_names; i++) {
        mf_json_object_begin(j);
        MF_JSON_FIELDS(j, &res->names[i], source, target, why);
        mf_json_object_end(j);
    }
    mf_json_array_end(j);
    mf_json_object_end(j);
}

static void
json_result(struct mf_json *j, const struct mf_preflight_result *res,
            mf_err rc) {
    mf_json_object_begin(j);
    MF_JSON_FIELDS(j, res, url);
    mf_json_member(j, "ok", (bool)(rc == MF_E_OK));
    mf_json_key(j, "error"), json_error(j, rc);
    mf_json_member(j, "peer", res->peer[0] ? res->peer : NULL);
    mf_json_key(j, "steps"), mf_json_array_begin(j);
    for (size_t i = 0; i < res->nsteps; i++) {
        const struct mf_preflight_step *s = &res->steps[i];
        mf_json_object_begin(j);
        MF_JSON_FIELDS(j, s, name);
        mf_json_member(j, "verdict", mf_preflight_verdict_name(s->verdict));
        mf_json_member(j, "code", s->code ? mf_err_name(s->code) : NULL);
        MF_JSON_FIELDS(j, s, text, elapsed_ms);
        mf_json_object_end(j);
    }
    mf_json_array_end(j);
    json_tls(j, &res->tls);
    mf_json_member(j, "greeting", res->greeting[0] ? res->greeting : NULL);
    mf_json_key(j, "capabilities_prelogin"), json_caps(j, res->caps_prelogin);
    mf_json_key(j, "capabilities"), json_caps(j, res->caps);
    mf_json_member(j, "server_id", res->server_id[0] ? res->server_id : NULL);
    mf_json_key(j, "profile");
    if (res->profile[0]) {
        mf_json_object_begin(j);
        mf_json_member(j, "name", res->profile);
        mf_json_member(j, "certain", res->profile_certain);
        mf_json_member(j, "why", res->profile_why);
        mf_json_object_end(j);
    } else {
        mf_json_null(j);
    }
    json_needs(j, res);
    mf_json_member_or_null(j, "appendlimit", res->appendlimit,
                           res->appendlimit);
    mf_json_key(j, "namespace");
    if (res->has_namespace) {
        mf_json_object_begin(j);
        mf_json_member(j, "personal_prefix", res->ns_personal_prefix);
        mf_json_member(j, "personal_separator",
                       res->ns_personal_sep[0] ? res->ns_personal_sep : NULL);
        mf_json_member(j, "other_users", res->ns_other);
        mf_json_member(j, "shared", res->ns_shared);
        mf_json_object_end(j);
    } else {
        mf_json_null(j);
    }
    mf_json_member(j, "separator", res->separator[0] ? res->separator : NULL);
    json_probe(j, res);
    json_names(j, res);
    mf_json_object_end(j);
}

void
mf_preflight_print(bool json, const struct mf_preflight_result *src,
                   mf_err src_rc, const struct mf_preflight_result *tgt,
                   mf_err tgt_rc, int exit_code) {
    if (json) {
        struct mf_buf out = {0};
        struct mf_json j;
        mf_json_init(&j, &out);
        mf_json_object_begin(&j);
        mf_json_member(&j, "ok", (bool)(exit_code == 0));
        mf_json_member(&j, "exit_code", (uint64_t)exit_code);
        mf_json_key(&j, "source"), json_result(&j, src, src_rc);
        mf_json_key(&j, "target");
        if (tgt)
            json_result(&j, tgt, tgt_rc);
        else
            mf_json_null(&j);
        mf_json_object_end(&j);
        printf("%s\n", (char *)out.data);
        mf_buf_free(&out);
        return;
    }
    print_text("source", src);
    if (tgt)
        print_text("target", tgt);
    if (exit_code == 0)
        printf("result: ok\n");
    else
        printf("result: FAILED: %s [%s] (exit %d)\n",
               mf_strerror(src_rc ? src_rc : tgt_rc),
               mf_err_name(src_rc ? src_rc : tgt_rc), exit_code);
}
