/*
 * Tests for the folder plan (core/src/folders/folderplan*.c): table-driven
 * scenarios from real migrations (Dovecot, Cyrus, Exchange, Gmail), each
 * written as the two servers' LIST results plus rules, and the expected
 * entry for each source folder. Also: rules parsing, collisions, limits,
 * broken names, the JSON form, and that the plan does not depend on the
 * order in which the server listed its folders.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "folders/folderplan_int.h"
#include "mailferry/folderplan.h"
#include "mailferry/profile.h"

#define NOSEL MF_FOLDER_ATTR_NOSELECT
#define SENT MF_FOLDER_ATTR_SENT
#define TRASH MF_FOLDER_ATTR_TRASH
#define JUNK MF_FOLDER_ATTR_JUNK
#define DRAFTS MF_FOLDER_ATTR_DRAFTS

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

struct s {
    const char *name; /* NULL ends a table */
    char delim;
    unsigned attrs;
    bool sub;
};

struct t {
    const char *name;
    unsigned attrs;
};

struct setup {
    const struct s *src;
    const char *src_prefix;
    const struct t *tgt;
    char tgt_delim;
    const char *tgt_prefix;
    bool ci;
    bool tgt_utf8;
    const struct mf_folder_rules *rules;
    const struct mf_folder_name_rules *names; /* the target's, or NULL */
};

/* What one source folder should become. tgt NULL: excluded. */
struct want {
    const char *src;
    enum mf_folder_action action;
    const char *tgt;
    bool create;
};

static struct mf_folder_plan *
build(const struct setup *su) {
    struct mf_folder_src src[256];
    struct mf_folder_tgt tgt[64];
    struct mf_folder_plan_input in;
    struct mf_folder_plan *plan = NULL;
    struct mf_error err = {0};
    size_t ns = 0, nt = 0;

    for (; su->src && su->src[ns].name; ns++) {
        src[ns].name = (const uint8_t *)su->src[ns].name;
        src[ns].len = strlen(su->src[ns].name);
        src[ns].delim = su->src[ns].delim;
        src[ns].attrs = su->src[ns].attrs;
        src[ns].subscribed = su->src[ns].sub;
    }
    for (; su->tgt && su->tgt[nt].name; nt++) {
        tgt[nt].name = (const uint8_t *)su->tgt[nt].name;
        tgt[nt].len = strlen(su->tgt[nt].name);
        tgt[nt].attrs = su->tgt[nt].attrs;
    }
    in = (struct mf_folder_plan_input){.src = src,
                                       .n_src = ns,
                                       .src_prefix = su->src_prefix,
                                       .tgt = tgt,
                                       .n_tgt = nt,
                                       .tgt_delim = su->tgt_delim,
                                       .tgt_prefix = su->tgt_prefix,
                                       .tgt_case_insensitive = su->ci,
                                       .tgt_utf8 = su->tgt_utf8,
                                       .rules = su->rules,
                                       .tgt_names = su->names};
    if (mf_folder_plan_build(&in, &plan, &err) != MF_E_OK)
        fail_msg("plan build failed: %s", err.detail);
    return plan;
}

static void
dump(const struct mf_folder_plan *plan) {
    for (size_t i = 0; i < mf_folder_plan_count(plan); i++) {
        const struct mf_folder_entry *e = mf_folder_plan_entry(plan, i);
        printf("  %-10s %-12s src=%-24s tgt=%-24s wire=%s%s\n",
               mf_folder_action_name(e->action),
               mf_folder_reason_name(e->reason),
               e->src_raw ? (char *)e->src_raw : "-",
               e->tgt_name ? e->tgt_name : "-", e->tgt_wire ? e->tgt_wire : "-",
               e->create_needed ? " create" : "");
    }
}

static const struct mf_folder_entry *
find(const struct mf_folder_plan *plan, const char *raw) {
    const struct mf_folder_entry *e =
        mf_folder_plan_find_src(plan, (const uint8_t *)raw, strlen(raw));
    if (!e) {
        dump(plan);
        fail_msg("no entry for source \"%s\"", raw);
    }
    return e;
}

/* The entry whose target name is tgt (any kind), or NULL. */
static const struct mf_folder_entry *
find_tgt(const struct mf_folder_plan *plan, const char *tgt) {
    for (size_t i = 0; i < mf_folder_plan_count(plan); i++) {
        const struct mf_folder_entry *e = mf_folder_plan_entry(plan, i);
        if (e->tgt_name && strcmp(e->tgt_name, tgt) == 0)
            return e;
    }
    return NULL;
}

static void
check(const struct mf_folder_plan *plan, const struct want *w) {
    for (; w->src; w++) {
        const struct mf_folder_entry *e = find(plan, w->src);
        if (e->action != w->action ||
            (w->tgt ? !e->tgt_name || strcmp(e->tgt_name, w->tgt) != 0
                    : e->tgt_name != NULL) ||
            e->create_needed != w->create) {
            dump(plan);
            fail_msg("\"%s\": got %s \"%s\" create=%d, want %s \"%s\" "
                     "create=%d",
                     w->src, mf_folder_action_name(e->action),
                     e->tgt_name ? e->tgt_name : "(none)", e->create_needed,
                     mf_folder_action_name(w->action),
                     w->tgt ? w->tgt : "(none)", w->create);
        }
    }
}

/* Every COPY/CONTAINER entry's parent (on a hierarchical target) comes
 * earlier in the plan, or is INBOX, the prefix or already on the target. */
static void
check_parents_first(const struct mf_folder_plan *plan, char delim,
                    const char *prefix) {
    size_t n = mf_folder_plan_count(plan);

    for (size_t i = 0; i < n; i++) {
        const struct mf_folder_entry *e = mf_folder_plan_entry(plan, i);
        char *t, *cut;
        bool found = false;
        if (!e->tgt_name || !(cut = strrchr(e->tgt_name, delim)))
            continue;
        t = strndup(e->tgt_name, (size_t)(cut - e->tgt_name));
        if (strcmp(t, "INBOX") == 0 || strlen(t) < strlen(prefix))
            found = true;
        for (size_t j = 0; j < i && !found; j++) {
            const struct mf_folder_entry *p = mf_folder_plan_entry(plan, j);
            found = p->tgt_name && strcmp(p->tgt_name, t) == 0;
        }
        if (!found) {
            dump(plan);
            fail_msg("parent \"%s\" of \"%s\" does not come first", t,
                     e->tgt_name);
        }
        free(t);
    }
}

static struct mf_folder_rules *
rules(const char *const *inc, const char *const *exc, const char *const *ren) {
    struct mf_folder_rules *r = mf_folder_rules_new();
    struct mf_error err;

    for (; inc && *inc; inc++)
        assert_int_equal(mf_folder_rules_parse_include(r, *inc, &err), MF_E_OK);
    for (; exc && *exc; exc++)
        assert_int_equal(mf_folder_rules_parse_exclude(r, *exc, &err), MF_E_OK);
    for (; ren && *ren; ren++)
        assert_int_equal(mf_folder_rules_parse_rename(r, *ren, &err), MF_E_OK);
    return r;
}

/* ------------------------------------------------------------------ */
/* Hierarchy and delimiters                                            */
/* ------------------------------------------------------------------ */

static const struct s dovecot_dot[] = {
    {"INBOX", '.', MF_FOLDER_ATTR_HASNOCHILDREN, true},
    {"Archive", '.', MF_FOLDER_ATTR_HASCHILDREN, true},
    {"Archive.2019", '.', MF_FOLDER_ATTR_HASCHILDREN, false},
    {"Archive.2019.Q1", '.', 0, false},
    {"Reports 2024/25", '.', MF_FOLDER_ATTR_HASCHILDREN, true},
    {"Reports 2024/25.Sub", '.', 0, false},
    {NULL, 0, 0, false},
};

static void
test_dot_to_slash(void **state) {
    static const struct t tgt[] = {{"INBOX", 0}, {NULL, 0}};
    struct setup su = {dovecot_dot, "", tgt, '/', "", false, false, NULL, NULL};
    struct mf_folder_plan *plan;
    const struct mf_folder_entry *e;
    char why[256];
    static const struct want want[] = {
        {"INBOX", MF_FOLDER_COPY, "INBOX", false},
        {"Archive", MF_FOLDER_COPY, "Archive", true},
        {"Archive.2019", MF_FOLDER_COPY, "Archive/2019", true},
        {"Archive.2019.Q1", MF_FOLDER_COPY, "Archive/2019/Q1", true},
        {"Reports 2024/25", MF_FOLDER_COPY, "Reports 2024_25", true},
        {"Reports 2024/25.Sub", MF_FOLDER_COPY, "Reports 2024_25/Sub", true},
        {NULL, 0, NULL, false},
    };
    struct mf_folder_plan_stats st;

    (void)state;
    plan = build(&su);
    check(plan, want);
    check_parents_first(plan, '/', "");
    assert_int_equal(mf_folder_plan_count(plan), 6);
    assert_string_equal(mf_folder_plan_entry(plan, 0)->src_raw, "INBOX");
    e = find(plan, "Reports 2024/25");
    assert_true(e->flags & MF_FOLDER_F_DELIM_REPLACED);
    assert_string_equal(e->repl_from, "Reports 2024/25");
    assert_string_equal(e->repl_to, "Reports 2024_25");
    assert_string_equal(e->src_path, "Reports 2024/25");
    assert_int_equal(e->n_components, 1);
    assert_true(e->subscribed);
    mf_folder_entry_rename_why(e, why, sizeof(why));
    assert_string_equal(why, "Reports 2024/25 -> \"Reports 2024_25\": the "
                             "name holds the target's hierarchy delimiter");
    e = find(plan, "Reports 2024/25.Sub");
    assert_false(e->flags & MF_FOLDER_F_DELIM_REPLACED);
    assert_int_equal(e->n_components, 2);
    assert_false(e->subscribed);
    assert_true(find(plan, "INBOX")->flags & MF_FOLDER_F_INBOX);
    mf_folder_plan_stats(plan, &st);
    assert_int_equal(st.copy, 6);
    assert_int_equal(st.create, 5);
    assert_int_equal(st.delim_replaced, 1);
    mf_folder_plan_free(&plan);
    assert_null(plan);
}

static void
test_slash_to_dot_custom_replacement(void **state) {
    static const struct s src[] = {
        {"INBOX", '/', 0, false},
        {"v1.2", '/', 0, false},
        {"v1.2/notes", '/', 0, false},
        {NULL, 0, 0, false},
    };
    struct mf_folder_rules *r = mf_folder_rules_new();
    struct setup su = {src, "", NULL, '.', "", false, false, r, NULL};
    struct mf_folder_plan *plan;
    struct mf_error err;
    static const struct want want[] = {
        {"v1.2", MF_FOLDER_COPY, "v1-2", true},
        {"v1.2/notes", MF_FOLDER_COPY, "v1-2.notes", true},
        {NULL, 0, NULL, false},
    };

    (void)state;
    assert_int_equal(mf_folder_rules_parse_separator_replacement(r, "-", &err),
                     MF_E_OK);
    plan = build(&su);
    check(plan, want);
    mf_folder_plan_free(&plan);

    /* A replacement that contains the delimiter would split the name. */
    assert_int_equal(mf_folder_rules_parse_separator_replacement(r, "._", &err),
                     MF_E_OK);
    {
        struct mf_folder_plan_input in = {0};
        in.tgt_delim = '.';
        in.rules = r;
        assert_int_equal(mf_folder_plan_build(&in, &plan, &err), MF_E_CONFIG);
        assert_null(plan);
        assert_non_null(strstr(err.detail, "delimiter"));
    }
    mf_folder_rules_free(&r);
    assert_null(r);
}

static void
test_non_ascii(void **state) {
    static const struct s src[] = {
        {"INBOX", '/', 0, false},
        {"Entw&APw-rfe", '/', DRAFTS, false},
        {"&ZeVnLIqe-", '/', 0, false},
        {"&ZeVnLIqe-/&U,BTFw-", '/', 0, false},
        {"Caf&AOk- & Co", '/', 0, false}, /* "&" unescaped: invalid */
        {NULL, 0, 0, false},
    };
    static const struct t tgt[] = {{"Entw&APw-rfe", DRAFTS}, {NULL, 0}};
    struct setup su = {src, "", tgt, '.', "", false, false, NULL, NULL};
    struct mf_folder_plan *plan;
    const struct mf_folder_entry *e;

    (void)state;
    plan = build(&su);
    e = find(plan, "Entw&APw-rfe");
    assert_string_equal(e->src_path, "Entw\xc3\xbcrfe");
    assert_string_equal(e->tgt_name, "Entw\xc3\xbcrfe");
    assert_string_equal(e->tgt_wire, "Entw&APw-rfe");
    assert_false(e->create_needed);
    e = find(plan, "&ZeVnLIqe-/&U,BTFw-");
    assert_string_equal(e->src_path, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e/"
                                     "\xe5\x8f\xb0\xe5\x8c\x97");
    assert_string_equal(e->tgt_name, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e."
                                     "\xe5\x8f\xb0\xe5\x8c\x97");
    assert_string_equal(e->tgt_wire, "&ZeVnLIqe-.&U,BTFw-");
    assert_true(e->create_needed);
    mf_folder_plan_free(&plan);

    /* A UTF8=ACCEPT target gets UTF-8 on the wire. */
    su.tgt_utf8 = true;
    plan = build(&su);
    e = find(plan, "&ZeVnLIqe-");
    assert_string_equal(e->tgt_wire, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
    mf_folder_plan_free(&plan);
}

static void
test_utf8_source(void **state) {
    static const struct s src[] = {
        {"INBOX", '/', 0, false},
        {"Entw\xc3\xbcrfe", '/', 0, false},
        {"Caf\xe9", '/', 0, false}, /* Latin-1: not UTF-8 */
        {NULL, 0, 0, false},
    };
    struct mf_folder_plan_input in = {0};
    struct mf_folder_src fs[3];
    struct mf_folder_plan *plan;
    struct mf_error err;
    const struct mf_folder_entry *e;

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        fs[i].name = (const uint8_t *)src[i].name;
        fs[i].len = strlen(src[i].name);
        fs[i].delim = '/';
        fs[i].attrs = 0;
        fs[i].subscribed = false;
    }
    in.src = fs;
    in.n_src = 3;
    in.src_utf8 = true;
    in.tgt_delim = '/';
    assert_int_equal(mf_folder_plan_build(&in, &plan, &err), MF_E_OK);
    e = find(plan, "Entw\xc3\xbcrfe");
    assert_false(e->flags & MF_FOLDER_F_BAD_ENCODING);
    assert_string_equal(e->tgt_wire, "Entw&APw-rfe");
    e = find(plan, "Caf\xe9");
    assert_true(e->flags & MF_FOLDER_F_BAD_ENCODING);
    assert_string_equal(e->tgt_name, "Caf\xc3\xa9");
    assert_non_null(strstr(e->encoding_error, "Latin-1"));
    mf_folder_plan_free(&plan);
}

/* ------------------------------------------------------------------ */
/* Namespaces and INBOX                                                */
/* ------------------------------------------------------------------ */

static void
test_cyrus_to_dovecot(void **state) {
    static const struct s src[] = {
        {"INBOX", '.', MF_FOLDER_ATTR_HASCHILDREN, true},
        {"INBOX.Foo", '.', 0, true},
        {"INBOX.Foo.Bar", '.', 0, false},
        {"inbox.Lower", '.', 0, false},
        {"INBOX.a/b", '.', 0, false},
        {"user.bob.Shared", '.', 0, false},
        {"INBOX.", '.', 0, false},
        {NULL, 0, 0, false},
    };
    static const struct t tgt[] = {{"INBOX", 0}, {"Foo", 0}, {NULL, 0}};
    struct setup su = {src, "INBOX.", tgt, '/', "", false, false, NULL, NULL};
    struct mf_folder_plan *plan;
    const struct mf_folder_entry *e;
    static const struct want want[] = {
        {"INBOX", MF_FOLDER_COPY, "INBOX", false},
        {"INBOX.Foo", MF_FOLDER_COPY, "Foo", false},
        {"INBOX.Foo.Bar", MF_FOLDER_COPY, "Foo/Bar", true},
        {"inbox.Lower", MF_FOLDER_COPY, "Lower", true},
        {"INBOX.a/b", MF_FOLDER_COPY, "a_b", true},
        {"user.bob.Shared", MF_FOLDER_EXCLUDED, NULL, false},
        {"INBOX.", MF_FOLDER_EXCLUDED, NULL, false},
        {NULL, 0, NULL, false},
    };

    (void)state;
    plan = build(&su);
    check(plan, want);
    check_parents_first(plan, '/', "");
    e = find(plan, "INBOX.Foo.Bar");
    assert_string_equal(e->src_path, "Foo/Bar");
    assert_true(e->subscribed == false);
    assert_true(find(plan, "INBOX.Foo")->subscribed);
    assert_int_equal(find(plan, "user.bob.Shared")->reason,
                     MF_FOLDER_REASON_NAMESPACE);
    assert_int_equal(find(plan, "INBOX.")->reason, MF_FOLDER_REASON_EMPTY_NAME);
    mf_folder_plan_free(&plan);
}

static void
test_dovecot_to_cyrus(void **state) {
    static const struct s src[] = {
        {"INBOX", '/', 0, false},   {"Foo", '/', 0, false},
        {"Foo/Bar", '/', 0, false}, {"INBOX/Kid", '/', 0, false},
        {"v1.0", '/', 0, false},    {NULL, 0, 0, false},
    };
    static const struct t tgt[] = {{"INBOX", 0}, {NULL, 0}};
    struct setup su = {src, "", tgt, '.', "INBOX.", false, false, NULL, NULL};
    struct mf_folder_plan *plan;
    static const struct want want[] = {
        {"INBOX", MF_FOLDER_COPY, "INBOX", false},
        {"Foo", MF_FOLDER_COPY, "INBOX.Foo", true},
        {"Foo/Bar", MF_FOLDER_COPY, "INBOX.Foo.Bar", true},
        {"INBOX/Kid", MF_FOLDER_COPY, "INBOX.Kid", true},
        {"v1.0", MF_FOLDER_COPY, "INBOX.v1_0", true},
        {NULL, 0, NULL, false},
    };

    (void)state;
    plan = build(&su);
    check(plan, want);
    check_parents_first(plan, '.', "INBOX.");
    /* No container for "INBOX": it is the prefix and always exists. */
    assert_int_equal(mf_folder_plan_count(plan), 5);
    assert_string_equal(find(plan, "INBOX/Kid")->src_path, "INBOX/Kid");
    mf_folder_plan_free(&plan);
}

static void
test_inbox_child_collides_on_cyrus(void **state) {
    /* On a Cyrus target, Dovecot's "INBOX/Foo" and "Foo" are the same
     * place: never merged. */
    static const struct s src[] = {
        {"INBOX", '/', 0, false},
        {"Foo", '/', 0, false},
        {"INBOX/Foo", '/', 0, false},
        {NULL, 0, 0, false},
    };
    struct setup su = {src, "", NULL, '.', "INBOX.", false, false, NULL, NULL};
    struct mf_folder_plan *plan;
    const struct mf_folder_entry *e;

    (void)state;
    plan = build(&su);
    assert_string_equal(find(plan, "Foo")->tgt_name, "INBOX.Foo");
    e = find(plan, "INBOX/Foo");
    assert_string_equal(e->tgt_name, "INBOX.Foo (2)");
    assert_true(e->flags & MF_FOLDER_F_COLLISION);
    assert_string_equal(e->wanted_name, "INBOX.Foo");
    mf_folder_plan_free(&plan);
}

/* ------------------------------------------------------------------ */
/* Special use                                                         */
/* ------------------------------------------------------------------ */

static const struct t exchange[] = {
    {"INBOX", 0},
    {"Sent Items", SENT},
    {"Deleted Items", TRASH},
    {"Junk Email", JUNK},
    {"Drafts", DRAFTS},
    {"Archive", MF_FOLDER_ATTR_ARCHIVE},
    {"Calendar", 0},
    {NULL, 0},
};

static void
test_exchange_special_use(void **state) {
    static const struct s src[] = {
        {"INBOX", '/', 0, true},
        {"Sent", '/', SENT | MF_FOLDER_ATTR_HASCHILDREN, true},
        {"Sent/2019", '/', 0, false},
        {"Trash", '/', TRASH, true},
        {"Junk", '/', JUNK, true},
        {"Drafts", '/', DRAFTS, true},
        {"Sent Items", '/', 0, false}, /* an Outlook user made it */
        {"Old Sent", '/', SENT, false},
        {"calendar", '/', 0, false},
        {NULL, 0, 0, false},
    };
    struct setup su = {src, "", exchange, '/', "", true, false, NULL, NULL};
    struct mf_folder_plan *plan;
    const struct mf_folder_entry *e;
    static const struct want want[] = {
        {"Sent", MF_FOLDER_COPY, "Sent Items", false},
        {"Sent/2019", MF_FOLDER_COPY, "Sent Items/2019", true},
        {"Trash", MF_FOLDER_COPY, "Deleted Items", false},
        {"Junk", MF_FOLDER_COPY, "Junk Email", false},
        {"Drafts", MF_FOLDER_COPY, "Drafts", false},
        {"Sent Items", MF_FOLDER_COPY, "Sent Items (2)", true},
        {"Old Sent", MF_FOLDER_COPY, "Old Sent", true},
        /* Exists in another case: the target's spelling, no create. */
        {"calendar", MF_FOLDER_COPY, "Calendar", false},
        {NULL, 0, NULL, false},
    };
    struct mf_folder_plan_stats st;

    (void)state;
    plan = build(&su);
    check(plan, want);
    e = find(plan, "Sent");
    assert_true(e->flags & MF_FOLDER_F_SPECIAL_USE);
    assert_int_equal(e->special_use, SENT);
    assert_false(e->flags & MF_FOLDER_F_GUESSED_USE);
    assert_true(e->subscribed);
    assert_false(find(plan, "Old Sent")->flags & MF_FOLDER_F_SPECIAL_USE);
    mf_folder_plan_stats(plan, &st);
    assert_int_equal(st.special_use, 4);
    assert_int_equal(st.collisions, 1);
    mf_folder_plan_free(&plan);
}

static void
test_special_use_off_and_missing(void **state) {
    static const struct s src[] = {
        {"INBOX", '/', 0, false},
        {"Sent", '/', SENT, false},
        {"Trash", '/', TRASH, false},
        {NULL, 0, 0, false},
    };
    static const struct t tgt[] = {{"INBOX", 0}, {"Bin", TRASH}, {NULL, 0}};
    struct mf_folder_rules *r = mf_folder_rules_new();
    struct setup su = {src, "", tgt, '/', "", false, false, NULL, NULL};
    struct mf_folder_plan *plan;

    (void)state;
    /* The target has no \Sent folder: Sent keeps its name. */
    plan = build(&su);
    assert_string_equal(find(plan, "Sent")->tgt_name, "Sent");
    assert_false(find(plan, "Sent")->flags & MF_FOLDER_F_SPECIAL_USE);
    assert_string_equal(find(plan, "Trash")->tgt_name, "Bin");
    mf_folder_plan_free(&plan);

    r->special_use = false;
    su.rules = r;
    plan = build(&su);
    assert_string_equal(find(plan, "Trash")->tgt_name, "Trash");
    mf_folder_plan_free(&plan);
    mf_folder_rules_free(&r);

    /* An explicit rename wins over the special-use mapping. */
    {
        static const char *const ren[] = {"Trash=Old Trash", NULL};
        r = rules(NULL, NULL, ren);
        su.rules = r;
        plan = build(&su);
        assert_string_equal(find(plan, "Trash")->tgt_name, "Old Trash");
        assert_true(find(plan, "Trash")->flags & MF_FOLDER_F_RENAMED);
        assert_false(find(plan, "Trash")->flags & MF_FOLDER_F_SPECIAL_USE);
        mf_folder_plan_free(&plan);
        mf_folder_rules_free(&r);
    }
}

static void
test_special_use_guessed(void **state) {
    /* An old Cyrus without SPECIAL-USE to Exchange. */
    static const struct s src[] = {
        {"INBOX", '.', 0, false},
        {"INBOX.Sent", '.', 0, false},
        {"INBOX.Deleted Messages", '.', 0, false},
        {"INBOX.spam", '.', 0, false},
        {"INBOX.Projects", '.', 0, false},
        {"INBOX.Projects.Sent", '.', 0, false}, /* not top-level */
        {NULL, 0, 0, false},
    };
    struct setup su = {src,  "INBOX.", exchange, '/', "",
                       true, false,    NULL,     NULL};
    struct mf_folder_plan *plan;
    struct mf_folder_rules *r = mf_folder_rules_new();
    static const struct want want[] = {
        {"INBOX.Sent", MF_FOLDER_COPY, "Sent Items", false},
        {"INBOX.Deleted Messages", MF_FOLDER_COPY, "Deleted Items", false},
        {"INBOX.spam", MF_FOLDER_COPY, "Junk Email", false},
        {"INBOX.Projects.Sent", MF_FOLDER_COPY, "Projects/Sent", true},
        {NULL, 0, NULL, false},
    };

    (void)state;
    plan = build(&su);
    check(plan, want);
    assert_true(find(plan, "INBOX.Sent")->flags & MF_FOLDER_F_GUESSED_USE);
    mf_folder_plan_free(&plan);

    r->special_use_by_name = false;
    su.rules = r;
    plan = build(&su);
    assert_string_equal(find(plan, "INBOX.Sent")->tgt_name, "Sent");
    mf_folder_plan_free(&plan);
    mf_folder_rules_free(&r);
}

/* ------------------------------------------------------------------ */
/* Exchange on-premises as a source                                    */
/* ------------------------------------------------------------------ */

static const struct t dovecot_tgt[] = {
    {"INBOX", 0},   {"Sent", SENT},     {"Trash", TRASH},
    {"Junk", JUNK}, {"Drafts", DRAFTS}, {NULL, 0},
};

static void
test_exchange_onprem_source(void **state) {
    /* A German Exchange mailbox over IMAP (no SPECIAL-USE; names in
     * modified UTF-7) with the exchange-onprem profile's rules: the
     * special folders land in the target's, the non-mail ones stay. */
    static const struct s src[] = {
        {"INBOX", '/', 0, true},
        {"Gesendete Elemente", '/', 0, true},
        {"Gel&APY-schte Elemente", '/', 0, true},
        {"Junk-E-Mail", '/', 0, true},
        {"Entw&APw-rfe", '/', 0, true},
        {"Postausgang", '/', 0, true},
        {"Sync Issues", '/', MF_FOLDER_ATTR_HASCHILDREN, true},
        {"Sync Issues/Conflicts", '/', 0, true},
        {"Conversation History", '/', 0, true},
        {"Kalender", '/', MF_FOLDER_ATTR_HASCHILDREN, true},
        {"Kalender/Geburtstage", '/', 0, true},
        {"Kontakte", '/', 0, true},
        {"Aufgaben", '/', 0, true},
        {"Notes", '/', 0, true},
        {"Journal", '/', 0, true},
        {NULL, 0, 0, false},
    };
    static const struct want want[] = {
        {"Gesendete Elemente", MF_FOLDER_COPY, "Sent", false},
        {"Gel&APY-schte Elemente", MF_FOLDER_COPY, "Trash", false},
        {"Junk-E-Mail", MF_FOLDER_COPY, "Junk", false},
        {"Entw&APw-rfe", MF_FOLDER_COPY, "Drafts", false},
        {"Postausgang", MF_FOLDER_COPY, "Postausgang", true},
        {"Sync Issues/Conflicts", MF_FOLDER_COPY, "Sync Issues/Conflicts",
         true},
        {"Conversation History", MF_FOLDER_COPY, "Conversation History", true},
        {"Kalender", MF_FOLDER_EXCLUDED, NULL, false},
        {"Kalender/Geburtstage", MF_FOLDER_EXCLUDED, NULL, false},
        {"Kontakte", MF_FOLDER_EXCLUDED, NULL, false},
        {"Aufgaben", MF_FOLDER_EXCLUDED, NULL, false},
        {"Notes", MF_FOLDER_EXCLUDED, NULL, false},
        {"Journal", MF_FOLDER_EXCLUDED, NULL, false},
        {NULL, 0, NULL, false},
    };
    static const struct s french[] = {
        {"INBOX", '/', 0, true},
        {"&AMk-l&AOk-ments envoy&AOk-s", '/', 0, true},
        {"&AMk-l&AOk-ments supprim&AOk-s", '/', 0, true},
        {"Courrier ind&AOk-sirable", '/', 0, true},
        {"Brouillons", '/', 0, true},
        {"Calendrier", '/', 0, true},
        {NULL, 0, 0, false},
    };
    static const struct want want_fr[] = {
        {"&AMk-l&AOk-ments envoy&AOk-s", MF_FOLDER_COPY, "Sent", false},
        {"&AMk-l&AOk-ments supprim&AOk-s", MF_FOLDER_COPY, "Trash", false},
        {"Courrier ind&AOk-sirable", MF_FOLDER_COPY, "Junk", false},
        {"Brouillons", MF_FOLDER_COPY, "Drafts", false},
        {"Calendrier", MF_FOLDER_EXCLUDED, NULL, false},
        {NULL, 0, NULL, false},
    };
    struct mf_folder_rules *r = mf_folder_rules_new();
    struct mf_error err = {0};
    struct setup su = {src, "", dovecot_tgt, '/', "", false, false, NULL, NULL};
    struct mf_folder_plan *plan;

    (void)state;
    assert_int_equal(
        mf_profile_folder_rules(mf_profile_get(MF_PROFILE_EXCHANGE_ONPREM),
                                NULL, r, &err),
        MF_E_OK);
    su.rules = r;
    plan = build(&su);
    check(plan, want);
    assert_int_equal(find(plan, "Kalender")->reason, MF_FOLDER_REASON_RULE);
    assert_true(find(plan, "Gesendete Elemente")->flags &
                MF_FOLDER_F_GUESSED_USE);
    mf_folder_plan_free(&plan);
    su.src = french;
    plan = build(&su);
    check(plan, want_fr);
    mf_folder_plan_free(&plan);
    mf_folder_rules_free(&r);
}

/* ------------------------------------------------------------------ */
/* Gmail                                                               */
/* ------------------------------------------------------------------ */

static const struct s gmail[] = {
    {"INBOX", '/', 0, true},
    {"[Gmail]", '/', NOSEL | MF_FOLDER_ATTR_HASCHILDREN, true},
    {"[Gmail]/All Mail", '/', MF_FOLDER_ATTR_ALL, true},
    {"[Gmail]/Drafts", '/', DRAFTS, true},
    {"[Gmail]/Important", '/', MF_FOLDER_ATTR_IMPORTANT, true},
    {"[Gmail]/Sent Mail", '/', SENT, true},
    {"[Gmail]/Spam", '/', JUNK, true},
    {"[Gmail]/Starred", '/', MF_FOLDER_ATTR_FLAGGED, true},
    {"[Gmail]/Trash", '/', TRASH, true},
    {"Work", '/', 0, true},
    {"Work/Project", '/', 0, true},
    {NULL, 0, 0, false},
};

static void
test_gmail_preset(void **state) {
    struct mf_folder_rules *r = mf_folder_rules_new();
    struct setup su = {gmail, "", exchange, '/', "", true, false, r, NULL};
    struct mf_folder_plan *plan;
    struct mf_error err;
    static const struct want want[] = {
        {"[Gmail]", MF_FOLDER_EXCLUDED, NULL, false},
        {"[Gmail]/All Mail", MF_FOLDER_EXCLUDED, NULL, false},
        {"[Gmail]/Important", MF_FOLDER_EXCLUDED, NULL, false},
        {"[Gmail]/Starred", MF_FOLDER_EXCLUDED, NULL, false},
        {"[Gmail]/Sent Mail", MF_FOLDER_COPY, "Sent Items", false},
        {"[Gmail]/Drafts", MF_FOLDER_COPY, "Drafts", false},
        {"[Gmail]/Spam", MF_FOLDER_COPY, "Junk Email", false},
        {"[Gmail]/Trash", MF_FOLDER_COPY, "Deleted Items", false},
        {"Work/Project", MF_FOLDER_COPY, "Work/Project", true},
        {NULL, 0, NULL, false},
    };

    (void)state;
    assert_int_equal(mf_folder_rules_parse_preset(r, "gmail-virtual", &err),
                     MF_E_OK);
    plan = build(&su);
    check(plan, want);
    assert_int_equal(find(plan, "[Gmail]/All Mail")->reason,
                     MF_FOLDER_REASON_PRESET);
    assert_string_equal(find(plan, "[Gmail]/All Mail")->reason_detail,
                        "gmail-virtual");
    assert_int_equal(find(plan, "[Gmail]")->reason, MF_FOLDER_REASON_NOSELECT);
    mf_folder_plan_free(&plan);

    /* Without the preset, All Mail is copied and [Gmail] must exist. */
    r->presets = 0;
    plan = build(&su);
    assert_int_equal(find(plan, "[Gmail]")->action, MF_FOLDER_CONTAINER);
    assert_true(find(plan, "[Gmail]")->create_needed);
    assert_string_equal(find(plan, "[Gmail]/All Mail")->tgt_name,
                        "[Gmail]/All Mail");
    check_parents_first(plan, '/', "");
    mf_folder_plan_free(&plan);
    mf_folder_rules_free(&r);
}

static void
test_gmail_preset_by_name(void **state) {
    /* No SPECIAL-USE attributes: the names still catch the views. */
    static const struct s src[] = {
        {"INBOX", '/', 0, false},
        {"[Google Mail]/All Mail", '/', 0, false},
        {"[Google Mail]/Starred", '/', 0, false},
        {"[Google Mail]/Sent Mail", '/', 0, false},
        {NULL, 0, 0, false},
    };
    struct mf_folder_rules *r = mf_folder_rules_new();
    struct setup su = {src, "", NULL, '/', "", false, false, r, NULL};
    struct mf_folder_plan *plan;
    struct mf_error err;

    (void)state;
    assert_int_equal(mf_folder_rules_parse_preset(r, "gmail-virtual", &err),
                     MF_E_OK);
    plan = build(&su);
    assert_int_equal(find(plan, "[Google Mail]/All Mail")->action,
                     MF_FOLDER_EXCLUDED);
    assert_int_equal(find(plan, "[Google Mail]/Starred")->action,
                     MF_FOLDER_EXCLUDED);
    assert_int_equal(find(plan, "[Google Mail]/Sent Mail")->action,
                     MF_FOLDER_COPY);
    /* The unlisted parent is added as a container, before its child. */
    assert_int_equal(find_tgt(plan, "[Google Mail]")->action,
                     MF_FOLDER_CONTAINER);
    assert_int_equal(find_tgt(plan, "[Google Mail]")->reason,
                     MF_FOLDER_REASON_IMPLIED);
    assert_null(find_tgt(plan, "[Google Mail]")->src_raw);
    check_parents_first(plan, '/', "");
    mf_folder_plan_free(&plan);
    mf_folder_rules_free(&r);
}

/* ------------------------------------------------------------------ */
/* Rules                                                               */
/* ------------------------------------------------------------------ */

static const struct s ruled[] = {
    {"INBOX", '/', 0, false},
    {"Archive", '/', 0, false},
    {"Archive/2019", '/', 0, false},
    {"Archive/2019/Q1", '/', 0, false},
    {"Archive/2019-old", '/', 0, false},
    {"Archive/2020", '/', 0, false},
    {"Junk", '/', 0, false},
    {"Work", '/', 0, false},
    {"Work/Old", '/', 0, false},
    {"Work/Old/Deep", '/', 0, false},
    {"Work/New", '/', 0, false},
    {"Personal", '/', 0, false},
    {NULL, 0, 0, false},
};

static void
test_exclude_rename(void **state) {
    static const char *const exc[] = {"Archive/2019*", "Junk", NULL};
    static const char *const ren[] = {"Work=Job", "Work/Old=Attic/Work", NULL};
    struct mf_folder_rules *r = rules(NULL, exc, ren);
    struct setup su = {ruled, "", NULL, '/', "", false, false, r, NULL};
    struct mf_folder_plan *plan;
    const struct mf_folder_entry *e;
    static const struct want want[] = {
        {"INBOX", MF_FOLDER_COPY, "INBOX", false},
        {"Archive", MF_FOLDER_COPY, "Archive", true},
        {"Archive/2019", MF_FOLDER_EXCLUDED, NULL, false},
        {"Archive/2019/Q1", MF_FOLDER_EXCLUDED, NULL, false},
        {"Archive/2019-old", MF_FOLDER_EXCLUDED, NULL, false},
        {"Archive/2020", MF_FOLDER_COPY, "Archive/2020", true},
        {"Junk", MF_FOLDER_EXCLUDED, NULL, false},
        {"Work", MF_FOLDER_COPY, "Job", true},
        {"Work/Old", MF_FOLDER_COPY, "Attic/Work", true},
        {"Work/Old/Deep", MF_FOLDER_COPY, "Attic/Work/Deep", true},
        {"Work/New", MF_FOLDER_COPY, "Job/New", true},
        {"Personal", MF_FOLDER_COPY, "Personal", true},
        {NULL, 0, NULL, false},
    };

    (void)state;
    plan = build(&su);
    check(plan, want);
    check_parents_first(plan, '/', "");
    e = find(plan, "Archive/2019/Q1");
    assert_int_equal(e->reason, MF_FOLDER_REASON_RULE);
    assert_string_equal(e->reason_detail, "Archive/2019*");
    assert_true(find(plan, "Work")->flags & MF_FOLDER_F_RENAMED);
    assert_true(find(plan, "Work/Old")->flags & MF_FOLDER_F_RENAMED);
    assert_false(find(plan, "Work/New")->flags & MF_FOLDER_F_RENAMED);
    /* "Attic" is nowhere on the source: implied container. */
    e = find_tgt(plan, "Attic");
    assert_non_null(e);
    assert_int_equal(e->action, MF_FOLDER_CONTAINER);
    assert_true(e->create_needed);
    mf_folder_plan_free(&plan);
    mf_folder_rules_free(&r);
}

static void
test_include(void **state) {
    static const char *const inc[] = {"Work", "Archive/2020", NULL};
    static const char *const exc[] = {"Work/Old", NULL};
    struct mf_folder_rules *r = rules(inc, exc, NULL);
    struct setup su = {ruled, "", NULL, '/', "", false, false, r, NULL};
    struct mf_folder_plan *plan;
    static const struct want want[] = {
        {"INBOX", MF_FOLDER_EXCLUDED, NULL, false},
        /* Not included itself, but the parent of an included folder. */
        {"Archive", MF_FOLDER_CONTAINER, "Archive", true},
        {"Archive/2019", MF_FOLDER_EXCLUDED, NULL, false},
        {"Archive/2020", MF_FOLDER_COPY, "Archive/2020", true},
        {"Work", MF_FOLDER_COPY, "Work", true},
        {"Work/Old", MF_FOLDER_EXCLUDED, NULL, false},
        {"Work/Old/Deep", MF_FOLDER_EXCLUDED, NULL, false},
        {"Work/New", MF_FOLDER_COPY, "Work/New", true},
        {"Personal", MF_FOLDER_EXCLUDED, NULL, false},
        {NULL, 0, NULL, false},
    };

    (void)state;
    plan = build(&su);
    check(plan, want);
    assert_int_equal(find(plan, "Archive")->reason,
                     MF_FOLDER_REASON_NOT_INCLUDED);
    assert_int_equal(find(plan, "Work/Old/Deep")->reason,
                     MF_FOLDER_REASON_RULE);
    check_parents_first(plan, '/', "");
    mf_folder_plan_free(&plan);
    mf_folder_rules_free(&r);
}

static void
test_wildcards_and_case(void **state) {
    static const char *const exc[] = {"%/2019", "junk", NULL};
    struct mf_folder_rules *r = rules(NULL, exc, NULL);
    struct setup su = {ruled, "", NULL, '/', "", false, false, r, NULL};
    struct mf_folder_plan *plan;

    (void)state;
    plan = build(&su);
    assert_int_equal(find(plan, "Archive/2019")->action, MF_FOLDER_EXCLUDED);
    assert_int_equal(find(plan, "Archive/2019/Q1")->action, MF_FOLDER_EXCLUDED);
    assert_int_equal(find(plan, "Archive/2019-old")->action, MF_FOLDER_COPY);
    assert_int_equal(find(plan, "Junk")->action, MF_FOLDER_COPY);
    mf_folder_plan_free(&plan);

    r->case_insensitive = true;
    plan = build(&su);
    assert_int_equal(find(plan, "Junk")->action, MF_FOLDER_EXCLUDED);
    mf_folder_plan_free(&plan);
    mf_folder_rules_free(&r);
}

struct match_vec {
    const char *pattern;
    const char *path; /* levels separated by '|' */
    bool fold;
    bool match;
};

static const struct match_vec match_vecs[] = {
    {"*", "a", false, true},
    {"*", "a|b|c", false, true},
    {"%", "a|b", false, true}, /* "a" matches, so its subtree does */
    {"%/b", "a|b", false, true},
    {"%/b", "a|x|b", false, false},
    {"*/b", "a|x|b", false, true},
    {"a*", "abc", false, true},
    {"a*", "b|a", false, false},
    {"a%c", "abc", false, true},
    {"a%c", "a|c", false, false},
    {"a*c", "a|c", false, true},
    {"Archive", "Archive|2019", false, true},
    {"Archive", "Archives", false, false},
    {"Archive/*", "Archive", false, false},
    {"Archive/*", "Archive|x", false, true},
    {"Reports 2024\\/25", "Reports 2024/25", false, true},
    {"Reports 2024/25", "Reports 2024/25", false, false},
    {"Reports 2024/25", "Reports 2024|25", false, true},
    {"a\\*", "a*", false, true},
    {"a\\*", "ab", false, false},
    {"ENTW\xc3\x9c*", "entw\xc3\xbcrfe", true, true},
    {"ENTW\xc3\x9c*", "entw\xc3\xbcrfe", false, false},
    {"\xd0\x9f*", "\xd0\xbf\xd1\x80", true, true}, /* Cyrillic */
    {"**%%**x", "abcdefghijklmnopqrstuvwxyz|y", false, false},
};

static void
test_pattern_match(void **state) {
    (void)state;
    for (size_t i = 0; i < MF_ARRAY_LEN(match_vecs); i++) {
        const struct match_vec *v = &match_vecs[i];
        char *path = mf_xstrdup(v->path), *comps[16];
        size_t n = 0;
        struct mf__folder_pat pat;
        char *p = path;

        for (;;) {
            char *bar = strchr(p, '|');
            comps[n] = v->fold ? mf__folder_fold(p) : mf_xstrdup(p);
            if (bar) {
                comps[n][bar - p] = '\0';
                n++;
                p = bar + 1;
            } else {
                n++;
                break;
            }
        }
        mf__folder_pat_compile(v->pattern, v->fold, &pat);
        if (mf__folder_pat_match(&pat, comps, n) != v->match)
            fail_msg("pattern \"%s\" path \"%s\": want %d", v->pattern, v->path,
                     v->match);
        mf__folder_pat_clear(&pat);
        for (size_t k = 0; k < n; k++)
            free(comps[k]);
        free(path);
    }
}

static void
test_rules_parse(void **state) {
    struct mf_folder_rules *r = mf_folder_rules_new(), *d;
    struct mf_error err;
    static const char *const bad_paths[] = {
        "", "a//b", "/a", "a/", "a\\",
    };

    (void)state;
    assert_string_equal(r->separator_replacement, "_");
    assert_true(r->special_use);
    for (size_t i = 0; i < MF_ARRAY_LEN(bad_paths); i++) {
        assert_int_equal(mf_folder_rules_parse_include(r, bad_paths[i], &err),
                         MF_E_USAGE);
        assert_int_equal(mf_folder_rules_parse_exclude(r, bad_paths[i], &err),
                         MF_E_USAGE);
    }
    assert_int_equal(r->n_include + r->n_exclude, 0);
    assert_int_equal(mf_folder_rules_parse_exclude(r, "a\x01", &err),
                     MF_E_USAGE);
    assert_int_equal(mf_folder_rules_parse_exclude(r, "\xc3(", &err),
                     MF_E_USAGE);
    assert_int_equal(mf_folder_rules_parse_rename(r, "Foo", &err), MF_E_USAGE);
    assert_non_null(strstr(err.detail, "OLD=NEW"));
    assert_int_equal(mf_folder_rules_parse_rename(r, "=Foo", &err), MF_E_USAGE);
    assert_int_equal(mf_folder_rules_parse_rename(r, "Foo=", &err), MF_E_USAGE);
    assert_int_equal(mf_folder_rules_parse_rename(r, "Fo*=Bar", &err),
                     MF_E_USAGE);
    assert_int_equal(mf_folder_rules_parse_rename(r, "a\\=b=c=d", &err),
                     MF_E_OK);
    assert_string_equal(r->rename[0].from, "a\\=b");
    assert_string_equal(r->rename[0].to, "c=d");
    assert_int_equal(mf_folder_rules_parse_separator_replacement(r, "", &err),
                     MF_E_USAGE);
    assert_int_equal(mf_folder_rules_parse_separator_replacement(r, "*", &err),
                     MF_E_USAGE);
    assert_int_equal(
        mf_folder_rules_parse_separator_replacement(r, "\xc2\xb7", &err),
        MF_E_OK);
    assert_int_equal(mf_folder_rules_parse_target_root(r, "a//b", &err),
                     MF_E_USAGE);
    assert_int_equal(mf_folder_rules_parse_target_root(r, "Migrated", &err),
                     MF_E_OK);
    assert_int_equal(mf_folder_rules_parse_target_root(r, "", &err), MF_E_OK);
    assert_null(r->target_root);
    assert_int_equal(mf_folder_rules_parse_preset(r, "outlook", &err),
                     MF_E_USAGE);
    assert_non_null(strstr(err.detail, "gmail-virtual"));
    assert_int_equal(mf_folder_rules_parse_include(r, "A*", &err), MF_E_OK);
    d = mf_folder_rules_dup(r);
    assert_string_equal(d->include[0], "A*");
    assert_string_equal(d->rename[0].to, "c=d");
    assert_string_equal(d->separator_replacement, "\xc2\xb7");
    mf_folder_rules_free(&d);
    mf_folder_rules_free(&r);
    mf_folder_rules_free(&r); /* NULL is fine */
}

static void
test_escaped_rename(void **state) {
    static const struct s src[] = {
        {"INBOX", '.', 0, false},
        {"Reports 2024/25", '.', 0, false},
        {"Reports 2024/25.Sub", '.', 0, false},
        {NULL, 0, 0, false},
    };
    static const char *const ren[] = {"Reports 2024\\/25=Reports/2024-25",
                                      NULL};
    struct mf_folder_rules *r = rules(NULL, NULL, ren);
    struct setup su = {src, "", NULL, '/', "", false, false, r, NULL};
    struct mf_folder_plan *plan;

    (void)state;
    plan = build(&su);
    assert_string_equal(find(plan, "Reports 2024/25")->tgt_name,
                        "Reports/2024-25");
    assert_string_equal(find(plan, "Reports 2024/25.Sub")->tgt_name,
                        "Reports/2024-25/Sub");
    check_parents_first(plan, '/', "");
    mf_folder_plan_free(&plan);
    mf_folder_rules_free(&r);
}

/* Which rename rules name no folder (issue 13 section 2): an exact path, a
 * parent of a listed folder (Old, which the source does not list), case
 * folded with --case-insensitive rules; a '/' inside a level written
 * without "\/" names two levels and matches nothing; the second rule for
 * one path has no effect and is not matched. */
static void
test_rename_matched(void **state) {
    static const struct s src[] = {
        {"INBOX", '.', 0, false},     {"Reports 2024/25", '.', 0, false},
        {"Old.Stuff", '.', 0, false}, {"Mixed", '.', 0, false},
        {NULL, 0, 0, false},
    };
    static const char *const ren[] = {
        "Reports 2024\\/25=R", "Reports 2024/25=S", "Old=Older", "mixed=M",
        "Nowhere=N",           "Old=Twice",         NULL};
    struct mf_folder_rules *r = rules(NULL, NULL, ren);
    struct setup su = {src, "", NULL, '/', "", false, false, r, NULL};
    struct mf_folder_plan *plan;
    static const bool want_cs[] = {false, true, false, true, true, true};
    static const bool want_ci[] = {false, true, false, false, true, true};
    char why[256];

    (void)state;
    plan = build(&su);
    for (size_t i = 0; i < MF_ARRAY_LEN(want_cs); i++)
        assert_int_equal(mf_folder_plan_rename_unmatched(plan, i), want_cs[i]);
    assert_false(mf_folder_plan_rename_unmatched(plan, 6));
    assert_string_equal(find(plan, "Old.Stuff")->tgt_name, "Older/Stuff");
    mf_folder_plan_free(&plan);
    r->case_insensitive = true;
    plan = build(&su);
    for (size_t i = 0; i < MF_ARRAY_LEN(want_ci); i++)
        assert_int_equal(mf_folder_plan_rename_unmatched(plan, i), want_ci[i]);
    mf_folder_plan_free(&plan);
    /* A profile's rule (Gmail's All Mail) is never warned about. */
    r->rename[4].profile = true;
    plan = build(&su);
    assert_false(mf_folder_plan_rename_unmatched(plan, 4));
    mf_folder_plan_free(&plan);
    mf_folder_rename_unmatched_why(&r->rename[4], why, sizeof(why));
    assert_non_null(strstr(why, "--rename \"Nowhere=N\" matches no folder"));
    assert_non_null(strstr(why, "\\/"));
    mf_folder_rules_free(&r);
}

static void
test_target_root(void **state) {
    static const struct s src[] = {
        {"INBOX", '/', 0, true},
        {"Sent", '/', SENT, true},
        {"Foo", '/', 0, false},
        {NULL, 0, 0, false},
    };
    struct mf_folder_rules *r = mf_folder_rules_new();
    struct setup su = {src, "", exchange, '.', "INBOX.", false, false, r, NULL};
    struct mf_folder_plan *plan;
    struct mf_error err;
    static const struct want want[] = {
        {"INBOX", MF_FOLDER_COPY, "INBOX.Migrated.2024.INBOX", true},
        {"Sent", MF_FOLDER_COPY, "INBOX.Migrated.2024.Sent", true},
        {"Foo", MF_FOLDER_COPY, "INBOX.Migrated.2024.Foo", true},
        {NULL, 0, NULL, false},
    };

    (void)state;
    assert_int_equal(
        mf_folder_rules_parse_target_root(r, "Migrated/2024", &err), MF_E_OK);
    plan = build(&su);
    check(plan, want);
    assert_int_equal(find_tgt(plan, "INBOX.Migrated")->action,
                     MF_FOLDER_CONTAINER);
    assert_int_equal(find_tgt(plan, "INBOX.Migrated.2024")->action,
                     MF_FOLDER_CONTAINER);
    check_parents_first(plan, '.', "INBOX.");
    assert_true(find(plan, "INBOX")->subscribed);
    mf_folder_plan_free(&plan);

    /* A root level holding the target delimiter is an admin error. */
    assert_int_equal(mf_folder_rules_parse_target_root(r, "v1.0", &err),
                     MF_E_OK);
    {
        struct mf_folder_plan_input in = {0};
        in.tgt_delim = '.';
        in.rules = r;
        assert_int_equal(mf_folder_plan_build(&in, &plan, &err), MF_E_CONFIG);
    }
    mf_folder_rules_free(&r);
}

/* ------------------------------------------------------------------ */
/* Collisions                                                          */
/* ------------------------------------------------------------------ */

static void
test_collisions(void **state) {
    static const struct s src[] = {
        {"INBOX", '.', 0, false}, {"A/B", '.', 0, false},
        {"A/B.x", '.', 0, false}, {"A_B", '.', 0, false},
        {"A_B.x", '.', 0, false}, {"Foo", '.', 0, false},
        {"foo", '.', 0, false},   {"FOO", '.', 0, false},
        {"Inbox", '.', 0, false}, /* the same INBOX, listed twice */
        {NULL, 0, 0, false},
    };
    struct setup su = {src, "", NULL, '/', "", true, false, NULL, NULL};
    struct mf_folder_plan *plan;
    const struct mf_folder_entry *e;
    static const struct want want[] = {
        {"INBOX", MF_FOLDER_COPY, "INBOX", false},
        {"Inbox", MF_FOLDER_COPY, "INBOX (2)", true},
        {"A_B", MF_FOLDER_COPY, "A_B", true},
        {"A_B.x", MF_FOLDER_COPY, "A_B/x", true},
        {"A/B", MF_FOLDER_COPY, "A_B (2)", true},
        {"A/B.x", MF_FOLDER_COPY, "A_B (2)/x", true},
        {"FOO", MF_FOLDER_COPY, "FOO", true},
        {"Foo", MF_FOLDER_COPY, "Foo (2)", true},
        {"foo", MF_FOLDER_COPY, "foo (3)", true},
        {NULL, 0, NULL, false},
    };

    (void)state;
    plan = build(&su);
    check(plan, want);
    check_parents_first(plan, '/', "");
    e = find(plan, "A/B");
    assert_true(e->flags & MF_FOLDER_F_COLLISION);
    assert_true(e->flags & MF_FOLDER_F_DELIM_REPLACED);
    assert_string_equal(e->wanted_name, "A_B");
    assert_false(find(plan, "A/B.x")->flags & MF_FOLDER_F_COLLISION);
    assert_string_equal(find(plan, "foo")->wanted_name, "foo");
    mf_folder_plan_free(&plan);

    /* A case-sensitive target keeps Foo, foo and FOO apart. */
    su.ci = false;
    plan = build(&su);
    assert_string_equal(find(plan, "foo")->tgt_name, "foo");
    assert_string_equal(find(plan, "Foo")->tgt_name, "Foo");
    assert_string_equal(find(plan, "Inbox")->tgt_name, "INBOX (2)");
    mf_folder_plan_free(&plan);
}

static void
test_rename_collision(void **state) {
    static const char *const ren[] = {"Old=New", NULL};
    static const struct s src[] = {
        {"INBOX", '/', 0, false}, {"New", '/', 0, false},
        {"Old", '/', 0, false},   {"Old/Sub", '/', 0, false},
        {NULL, 0, 0, false},
    };
    struct mf_folder_rules *r = rules(NULL, NULL, ren);
    struct setup su = {src, "", NULL, '/', "", false, false, r, NULL};
    struct mf_folder_plan *plan;
    static const struct want want[] = {
        {"New", MF_FOLDER_COPY, "New", true},
        {"Old", MF_FOLDER_COPY, "New (2)", true},
        {"Old/Sub", MF_FOLDER_COPY, "New (2)/Sub", true},
        {NULL, 0, NULL, false},
    };

    (void)state;
    plan = build(&su);
    check(plan, want);
    mf_folder_plan_free(&plan);
    mf_folder_rules_free(&r);
}

/* ------------------------------------------------------------------ */
/* Odd servers and names                                               */
/* ------------------------------------------------------------------ */

static void
test_flat(void **state) {
    static const struct s src[] = {
        {"INBOX", 0, 0, false},
        {"a.b", 0, 0, false},
        {"x/y", 0, 0, false},
        {NULL, 0, 0, false},
    };
    static const struct s hier[] = {
        {"INBOX", '/', 0, false}, {"A", '/', NOSEL, false},
        {"A/B", '/', 0, false},   {"C/D", '/', 0, false},
        {NULL, 0, 0, false},
    };
    struct setup su = {src, "", NULL, '.', "", false, false, NULL, NULL};
    struct mf_folder_plan *plan;
    static const struct want want[] = {
        {"a.b", MF_FOLDER_COPY, "a_b", true},
        {"x/y", MF_FOLDER_COPY, "x/y", true},
        {NULL, 0, NULL, false},
    };
    static const struct want want_flat[] = {
        {"A", MF_FOLDER_EXCLUDED, NULL, false},
        {"A/B", MF_FOLDER_COPY, "A/B", true},
        {"C/D", MF_FOLDER_COPY, "C/D", true},
        {NULL, 0, NULL, false},
    };

    (void)state;
    /* A flat source: each name is one level. */
    plan = build(&su);
    check(plan, want);
    assert_int_equal(find(plan, "x/y")->n_components, 1);
    mf_folder_plan_free(&plan);

    /* A flat target: levels joined by "/", no containers. */
    su.src = hier;
    su.tgt_delim = 0;
    plan = build(&su);
    check(plan, want_flat);
    assert_int_equal(mf_folder_plan_count(plan), 4);
    mf_folder_plan_free(&plan);
}

static void
test_noselect_and_nonexistent(void **state) {
    static const struct s src[] = {
        {"INBOX", '/', 0, false},
        {"Parent", '/', NOSEL | MF_FOLDER_ATTR_HASCHILDREN, true},
        {"Parent/Child", '/', 0, true},
        {"Empty", '/', NOSEL, false},
        {"Ghost/Child", '/', 0, false},
        {"Gone", '/', MF_FOLDER_ATTR_NONEXISTENT | NOSEL, true},
        {"Exists", '/', NOSEL, false},
        {"Exists/Kid", '/', 0, false},
        {NULL, 0, 0, false},
    };
    static const struct t tgt[] = {{"INBOX", 0}, {"Exists", 0}, {NULL, 0}};
    struct setup su = {src, "", tgt, '/', "", false, false, NULL, NULL};
    struct mf_folder_plan *plan;
    const struct mf_folder_entry *e;
    static const struct want want[] = {
        {"Parent", MF_FOLDER_CONTAINER, "Parent", true},
        {"Parent/Child", MF_FOLDER_COPY, "Parent/Child", true},
        {"Empty", MF_FOLDER_EXCLUDED, NULL, false},
        {"Ghost/Child", MF_FOLDER_COPY, "Ghost/Child", true},
        {"Gone", MF_FOLDER_EXCLUDED, NULL, false},
        {"Exists", MF_FOLDER_CONTAINER, "Exists", false},
        {"Exists/Kid", MF_FOLDER_COPY, "Exists/Kid", true},
        {NULL, 0, NULL, false},
    };

    (void)state;
    plan = build(&su);
    check(plan, want);
    check_parents_first(plan, '/', "");
    assert_int_equal(find(plan, "Parent")->reason, MF_FOLDER_REASON_NOSELECT);
    assert_true(find(plan, "Parent")->subscribed);
    assert_int_equal(find(plan, "Empty")->reason, MF_FOLDER_REASON_NOSELECT);
    assert_int_equal(find(plan, "Gone")->reason, MF_FOLDER_REASON_NONEXISTENT);
    e = find_tgt(plan, "Ghost");
    assert_non_null(e);
    assert_int_equal(e->reason, MF_FOLDER_REASON_IMPLIED);
    assert_true(e->create_needed);
    mf_folder_plan_free(&plan);
}

static void
test_bad_names(void **state) {
    static const struct s src[] = {
        {"INBOX", '/', 0, false},
        {"a&b", '/', 0, false},
        {"&AOQ", '/', 0, false},
        {"Caf\xc3\xa9", '/', 0, false}, /* raw UTF-8, no UTF8=ACCEPT */
        {"Caf\xe9", '/', 0, false},     /* Latin-1 */
        {"&AGE-", '/', 0, false},       /* encodes "a": not allowed */
        {"a//b", '/', 0, false},
        {"/lead", '/', 0, false},
        {NULL, 0, 0, false},
    };
    struct setup su = {src, "", NULL, '/', "", false, false, NULL, NULL};
    struct mf_folder_plan *plan;
    const struct mf_folder_entry *e;
    struct mf_folder_plan_input in = {0};
    struct mf_folder_src nul = {(const uint8_t *)"a\0b", 3, '/', 0, false};
    struct mf_error err;
    struct mf_folder_plan_stats st;

    (void)state;
    plan = build(&su);
    e = find(plan, "a&b");
    assert_int_equal(e->action, MF_FOLDER_COPY);
    assert_true(e->flags & MF_FOLDER_F_BAD_ENCODING);
    assert_string_equal(e->tgt_name, "a&b");
    assert_string_equal(e->tgt_wire, "a&-b");
    assert_non_null(strstr(e->encoding_error, "literally"));
    e = find(plan, "&AOQ");
    assert_string_equal(e->tgt_wire, "&-AOQ");
    e = find(plan, "Caf\xc3\xa9");
    assert_string_equal(e->tgt_wire, "Caf&AOk-");
    assert_non_null(strstr(e->encoding_error, "UTF-8"));
    e = find(plan, "Caf\xe9");
    /* Same name as the UTF-8 one: a collision, not a merge. */
    assert_string_equal(e->tgt_name, "Caf\xc3\xa9 (2)");
    assert_non_null(strstr(e->encoding_error, "Latin-1"));
    assert_int_equal(find(plan, "&AGE-")->action, MF_FOLDER_COPY);
    assert_int_equal(find(plan, "a//b")->reason, MF_FOLDER_REASON_EMPTY_NAME);
    assert_int_equal(find(plan, "/lead")->reason, MF_FOLDER_REASON_EMPTY_NAME);
    mf_folder_plan_stats(plan, &st);
    assert_int_equal(st.bad_encoding, 5);
    mf_folder_plan_free(&plan);

    in.src = &nul;
    in.n_src = 1;
    in.tgt_delim = '/';
    assert_int_equal(mf_folder_plan_build(&in, &plan, &err), MF_E_OK);
    assert_int_equal(mf_folder_plan_entry(plan, 0)->reason,
                     MF_FOLDER_REASON_BAD_NAME);
    assert_int_equal(mf_folder_plan_entry(plan, 0)->src_raw_len, 3);
    mf_folder_plan_free(&plan);
}

static char *
deep_name(size_t levels, char delim) {
    struct mf_buf b = {0};

    for (size_t i = 0; i < levels; i++) {
        if (i)
            mf_buf_append(&b, &delim, 1);
        mf_buf_appendf(&b, "L%zu", i);
    }
    return (char *)b.data;
}

static void
test_limits(void **state) {
    char *d64 = deep_name(64, '/'), *d65 = deep_name(65, '/');
    char long1000[1001], long1001[1002];
    struct mf_folder_src src[5];
    struct mf_folder_plan_input in = {0};
    struct mf_folder_plan *plan;
    struct mf_error err;
    const struct mf_folder_entry *e;

    (void)state;
    memset(long1000, 'x', 1000);
    long1000[1000] = '\0';
    memset(long1001, 'y', 1001);
    long1001[1001] = '\0';
    const char *names[] = {"INBOX", d64, d65, long1000, long1001};
    for (size_t i = 0; i < 5; i++) {
        src[i].name = (const uint8_t *)names[i];
        src[i].len = strlen(names[i]);
        src[i].delim = '/';
        src[i].attrs = 0;
        src[i].subscribed = false;
    }
    in.src = src;
    in.n_src = 5;
    in.tgt_delim = '/';
    assert_int_equal(mf_folder_plan_build(&in, &plan, &err), MF_E_OK);
    assert_int_equal(find(plan, d64)->action, MF_FOLDER_COPY);
    e = find(plan, d65);
    assert_int_equal(e->action, MF_FOLDER_EXCLUDED);
    assert_int_equal(e->reason, MF_FOLDER_REASON_LIMIT);
    assert_non_null(strstr(e->reason_detail, "65 levels"));
    assert_int_equal(find(plan, long1000)->action, MF_FOLDER_COPY);
    e = find(plan, long1001);
    assert_int_equal(e->reason, MF_FOLDER_REASON_LIMIT);
    assert_non_null(strstr(e->reason_detail, "1001 bytes"));
    /* The 64-level folder needs 63 parents, all implied, in order. */
    check_parents_first(plan, '/', "");
    mf_folder_plan_free(&plan);

    /* A prefix on the target pushes a fitting name over the limit. */
    in.tgt_prefix = "INBOX/";
    assert_int_equal(mf_folder_plan_build(&in, &plan, &err), MF_E_OK);
    assert_int_equal(find(plan, long1000)->reason, MF_FOLDER_REASON_LIMIT);
    assert_int_equal(find(plan, d64)->reason, MF_FOLDER_REASON_LIMIT);
    mf_folder_plan_free(&plan);

    in.n_src = MF_FOLDER_COUNT_MAX + 1;
    assert_int_equal(mf_folder_plan_build(&in, &plan, &err), MF_E_LIMIT);
    assert_int_equal(mf_folder_plan_build(NULL, &plan, &err),
                     MF_E_INVALID_ARGUMENT);
    free(d64);
    free(d65);
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

static void
test_json(void **state) {
    static const struct s src[] = {
        {"INBOX", '.', 0, true}, {"Sent", '.', SENT, true},
        {"a/b", '.', 0, false},  {"Junk", '.', 0, false},
        {NULL, 0, 0, false},
    };
    static const struct t tgt[] = {
        {"INBOX", 0}, {"Sent Items", SENT}, {NULL, 0}};
    static const char *const exc[] = {"Junk", NULL};
    struct mf_folder_rules *r = rules(NULL, exc, NULL);
    struct setup su = {src, "", tgt, '/', "", false, false, r, NULL};
    struct mf_folder_plan *plan;
    struct mf_buf b = {0};
    struct mf_json j;

    (void)state;
    plan = build(&su);
    mf_json_init(&j, &b);
    mf_folder_plan_to_json(plan, &j);
    assert_string_equal(
        (char *)b.data,
        "{\"folders\":["
        "{\"source\":\"INBOX\",\"source_path\":\"INBOX\",\"action\":\"copy\","
        "\"target\":\"INBOX\",\"target_wire\":\"INBOX\",\"create\":false,"
        "\"subscribed\":true,\"inbox\":true},"
        "{\"source\":\"Sent\",\"source_path\":\"Sent\",\"action\":\"copy\","
        "\"target\":\"Sent Items\",\"target_wire\":\"Sent Items\","
        "\"create\":false,\"subscribed\":true,\"special_use\":\"\\\\Sent\"},"
        "{\"source\":\"a/b\",\"source_path\":\"a/b\",\"action\":\"copy\","
        "\"target\":\"a_b\",\"target_wire\":\"a_b\",\"create\":true,"
        "\"subscribed\":false,"
        "\"delimiter_replaced\":{\"from\":\"a/b\",\"to\":\"a_b\"}},"
        "{\"source\":\"Junk\",\"source_path\":\"Junk\",\"action\":"
        "\"excluded\",\"reason\":\"rule\",\"reason_detail\":\"Junk\","
        "\"target\":null,\"target_wire\":null,\"create\":false,"
        "\"subscribed\":false}],"
        "\"summary\":{\"copy\":3,\"container\":0,\"excluded\":1,\"create\":1,"
        "\"special_use\":1,\"renamed\":0,\"delimiter_replaced\":1,"
        "\"collisions\":0,\"bad_encoding\":0,\"name_mapped\":0}}");
    mf_buf_reset(&b);
    mf_json_init(&j, &b);
    mf_folder_rules_to_json(r, &j);
    assert_string_equal((char *)b.data,
                        "{\"include\":[],\"exclude\":[\"Junk\"],\"rename\":[],"
                        "\"separator_replacement\":\"_\",\"target_root\":null,"
                        "\"presets\":[],\"case_insensitive\":false,"
                        "\"special_use\":true,\"special_use_by_name\":true}");
    mf_buf_free(&b);
    mf_folder_plan_free(&plan);
    mf_folder_rules_free(&r);
}

static void
test_order_independent(void **state) {
    /* The same folders listed in a different order give the same plan,
     * collisions included. */
    struct s shuffled[MF_ARRAY_LEN(gmail) + 4];
    static const struct s extra[] = {
        {"work", '/', 0, false},
        {"wORK", '/', 0, false},
        {"WORK", '/', 0, false},
    };
    size_t n = 0;
    struct setup su = {NULL, "", exchange, '/', "", true, false, NULL, NULL};
    struct mf_folder_plan *a, *b;
    struct mf_buf ja = {0}, jb = {0};
    struct mf_json j;

    (void)state;
    for (size_t i = 0; gmail[i].name; i++)
        shuffled[n++] = gmail[i];
    for (size_t i = 0; i < MF_ARRAY_LEN(extra); i++)
        shuffled[n++] = extra[i];
    shuffled[n].name = NULL;
    su.src = shuffled;
    a = build(&su);
    mf_json_init(&j, &ja);
    mf_folder_plan_to_json(a, &j);
    /* Reverse, then rotate: two different orders. */
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < n / 2; i++) {
            struct s tmp = shuffled[i];
            shuffled[i] = shuffled[n - 1 - i];
            shuffled[n - 1 - i] = tmp;
        }
        if (round == 1) {
            struct s first = shuffled[0];
            memmove(shuffled, shuffled + 1, (n - 1) * sizeof(*shuffled));
            shuffled[n - 1] = first;
        }
        b = build(&su);
        mf_buf_reset(&jb);
        mf_json_init(&j, &jb);
        mf_folder_plan_to_json(b, &j);
        assert_string_equal((char *)ja.data, (char *)jb.data);
        mf_folder_plan_free(&b);
    }
    assert_string_equal(find(a, "WORK")->tgt_name, "WORK");
    assert_string_equal(find(a, "Work")->tgt_name, "Work (2)");
    mf_folder_plan_free(&a);
    mf_buf_free(&ja);
    mf_buf_free(&jb);
}

static void
test_odd_delimiters(void **state) {
    static const struct mf_folder_src src[] = {
        {(const uint8_t *)"INBOX", 5, 'B', 0, false},
        {(const uint8_t *)"ABC", 3, 'B', 0, false},
    };
    struct mf_folder_plan_input in = {0};
    struct mf_folder_plan *plan = NULL;
    struct mf_error err;

    (void)state;
    in.src = src;
    in.n_src = 2;
    /* A letter as the target's delimiter would cut INBOX apart. */
    in.tgt_delim = 'B';
    assert_int_equal(mf_folder_plan_build(&in, &plan, &err),
                     MF_E_IMAP_UNEXPECTED);
    assert_null(plan);
    /* On the source it is read as NIL: names stay whole. */
    in.tgt_delim = '\\';
    assert_int_equal(mf_folder_plan_build(&in, &plan, &err), MF_E_OK);
    assert_true(find(plan, "INBOX")->flags & MF_FOLDER_F_INBOX);
    assert_string_equal(find(plan, "ABC")->tgt_name, "ABC");
    assert_int_equal(find(plan, "ABC")->n_components, 1);
    mf_folder_plan_free(&plan);
}

static void
test_attrs(void **state) {
    (void)state;
    assert_int_equal(mf_folder_attr_parse("\\NoSelect", 9), NOSEL);
    assert_int_equal(mf_folder_attr_parse("\\sent", 5), SENT);
    assert_int_equal(mf_folder_attr_parse("\\HasChildren", 12),
                     MF_FOLDER_ATTR_HASCHILDREN);
    assert_int_equal(mf_folder_attr_parse("\\Important", 10),
                     MF_FOLDER_ATTR_IMPORTANT);
    assert_int_equal(mf_folder_attr_parse("\\Sentx", 6), 0);
    assert_int_equal(mf_folder_attr_parse("\\Sen", 4), 0);
    assert_string_equal(mf_folder_special_use_name(TRASH), "\\Trash");
    assert_null(mf_folder_special_use_name(TRASH | SENT));
    assert_null(mf_folder_special_use_name(NOSEL));
    assert_string_equal(mf_folder_reason_name(MF_FOLDER_REASON_IMPLIED),
                        "implied");
    assert_string_equal(mf_folder_action_name(MF_FOLDER_CONTAINER),
                        "container");
}

/* The conservative second name for a folder the target refused. */
static void
test_conservative_name(void **state) {
    (void)state;
    char *n =
        mf_folder_conservative_name("a!b;c|d\\e*f%g\"h#i~j^k?l/m", '.', NULL);

    assert_string_equal(n, "a_b_c_d_e_f_g_h_i_j_k_l_m");
    free(n);
    /* The delimiter stays; the replacement is the configured one. */
    n = mf_folder_conservative_name("Top/x!y", '/', "-");
    assert_string_equal(n, "Top/x-y");
    free(n);
    n = mf_folder_conservative_name("tab\there", '/', NULL);
    assert_string_equal(n, "tab_here");
    free(n);
    /* Nothing to replace: no second name. */
    assert_null(
        mf_folder_conservative_name("Ordinary Name (2024) & more", '/', NULL));
}

/* An earlier run's fallback on the target: the plan moves the folder,
 * and those below it, to the name the run will really use (the copy
 * engine's rule), and nothing there needs creating. */
static void
test_adopt_fallbacks(void **state) {
    static const struct s src[] = {
        {"INBOX", '/', 0, false},   {"A!B", '/', 0, false},
        {"A!B/kid", '/', 0, false}, {"A!B/new", '/', 0, false},
        {"C;D", '/', 0, false},     {"Plain", '/', 0, false},
        {"E|F", '/', 0, false},     {NULL, 0, 0, false},
    };
    static const struct t tgt[] = {
        {"INBOX", 0}, {"A_B", 0}, {"A_B/kid", 0}, {"E-F", 0}, {NULL, 0}};
    struct mf_folder_tgt raw[4];
    struct setup su = {.src = src, .tgt = tgt, .tgt_delim = '/'};
    struct mf_folder_plan *plan;
    const struct mf_folder_entry *e;
    const struct want before[] = {
        {"A!B", MF_FOLDER_COPY, "A!B", true},
        {"A!B/kid", MF_FOLDER_COPY, "A!B/kid", true},
        {"C;D", MF_FOLDER_COPY, "C;D", true},
        {NULL, 0, NULL, false},
    };
    const struct want after[] = {
        {"A!B", MF_FOLDER_COPY, "A_B", false},
        {"A!B/kid", MF_FOLDER_COPY, "A_B/kid", false},
        {"A!B/new", MF_FOLDER_COPY, "A_B/new", true},
        {"C;D", MF_FOLDER_COPY, "C;D", true}, /* "C_D" is not there */
        {"Plain", MF_FOLDER_COPY, "Plain", true},
        {"E|F", MF_FOLDER_COPY, "E|F", true}, /* another replacement's */
        {NULL, 0, NULL, false},
    };

    (void)state;
    for (size_t i = 0; tgt[i].name; i++) {
        raw[i].name = (const uint8_t *)tgt[i].name;
        raw[i].len = strlen(tgt[i].name);
        raw[i].attrs = 0;
    }
    plan = build(&su);
    check(plan, before);
    assert_int_equal(
        mf_folder_plan_adopt_fallbacks(plan, raw, 4, '/', false,
                                       mf_folder_rules_replacement(NULL)),
        1);
    check(plan, after);
    check_parents_first(plan, '/', "");
    e = find(plan, "A!B");
    assert_true(e->flags & MF_FOLDER_F_NAME_REFUSED);
    assert_string_equal(e->wanted_name, "A!B");
    assert_string_equal(e->tgt_wire, "A_B");
    e = find(plan, "A!B/new");
    assert_true(e->flags & MF_FOLDER_F_NAME_REFUSED);
    assert_string_equal(e->wanted_name, "A!B/new");
    assert_false(find(plan, "C;D")->flags & MF_FOLDER_F_NAME_REFUSED);
    /* Once there, nothing moves again. */
    assert_int_equal(
        mf_folder_plan_adopt_fallbacks(plan, raw, 4, '/', false, "_"), 0);
    check(plan, after);
    /* The batch's replacement decides the name looked for. */
    assert_int_equal(
        mf_folder_plan_adopt_fallbacks(plan, raw, 4, '/', false, "-"), 1);
    assert_string_equal(find(plan, "E|F")->tgt_name, "E-F");
    assert_false(find(plan, "E|F")->create_needed);
    mf_folder_plan_free(&plan);
    assert_int_equal(
        mf_folder_plan_adopt_fallbacks(NULL, raw, 4, '/', false, "_"), 0);
}

/* A Cyrus-like target ('.', "INBOX.", Cyrus's refused characters):
 * names are mapped by the separator's rule, a literal name keeps its
 * own, and two names mapped to one are told apart and reported. */
static void
test_names_cyrus_target(void **state) {
    static const struct mf_folder_name_rules cyrus = {
        .forbidden = "!\"%/;<>\\`{|}", .controls = true, .max_name_bytes = 490};
    static const struct s src[] = {
        {"INBOX", '/', 0, false},   {"A|B", '/', 0, false},
        {"A_B", '/', 0, false},     {"A;B", '/', 0, false},
        {"A|B/kid", '/', 0, false}, {"Reports 2024", '/', 0, false},
        {"x<y>", '/', 0, false},    {NULL, 0, 0, false},
    };
    static const struct t tgt[] = {{"INBOX", 0}, {NULL, 0}};
    struct setup su = {.src = src,
                       .tgt = tgt,
                       .tgt_delim = '.',
                       .tgt_prefix = "INBOX.",
                       .names = &cyrus};
    struct mf_folder_plan *plan;
    struct mf_folder_plan_stats st;
    const struct mf_folder_entry *e;
    const struct want want[] = {
        {"A_B", MF_FOLDER_COPY, "INBOX.A_B", true},
        {"A;B", MF_FOLDER_COPY, "INBOX.A_B (2)", true},
        {"A|B", MF_FOLDER_COPY, "INBOX.A_B (3)", true},
        {"A|B/kid", MF_FOLDER_COPY, "INBOX.A_B (3).kid", true},
        {"Reports 2024", MF_FOLDER_COPY, "INBOX.Reports 2024", true},
        {"x<y>", MF_FOLDER_COPY, "INBOX.x_y_", true},
        {NULL, 0, NULL, false},
    };

    (void)state;
    plan = build(&su);
    check(plan, want);
    check_parents_first(plan, '.', "INBOX.");
    e = find(plan, "A|B");
    assert_true(e->flags & MF_FOLDER_F_NAME_MAPPED);
    assert_true(e->flags & MF_FOLDER_F_COLLISION);
    assert_string_equal(e->repl_from, "A|B");
    assert_string_equal(e->repl_to, "A_B");
    assert_string_equal(e->wanted_name, "INBOX.A_B");
    assert_false(find(plan, "A_B")->flags & MF_FOLDER_F_TARGET_RENAMED);
    assert_false(find(plan, "A|B/kid")->flags & MF_FOLDER_F_NAME_MAPPED);
    mf_folder_plan_stats(plan, &st);
    assert_int_equal(st.name_mapped, 3);
    assert_int_equal(st.collisions, 2);
    mf_folder_plan_free(&plan);

    /* Without the profile's rules only the delimiter would be replaced:
     * "A|B" goes as it is (and the target refuses it). */
    su.names = NULL;
    plan = build(&su);
    assert_string_equal(find(plan, "A|B")->tgt_name, "INBOX.A|B");
    mf_folder_plan_free(&plan);
}

/* Exchange-like lengths: a level over the limit is cut; two long names
 * alike in their first characters stay apart, the suffix inside the
 * limit; a whole-name limit cuts the last level. */
static void
test_names_lengths(void **state) {
    static const struct mf_folder_name_rules lv = {.max_level_chars = 10,
                                                   .case_insensitive = true};
    static const struct mf_folder_name_rules nb = {.max_name_bytes = 16};
    static const struct s src[] = {
        {"INBOX", '/', 0, false},
        {"Projects 2019 old", '/', 0, false},
        {"Projects 2019 new", '/', 0, false},
        {"Short", '/', 0, false},
        {"Short/deeper level", '/', 0, false},
        {NULL, 0, 0, false},
    };
    static const struct t tgt[] = {{"INBOX", 0}, {NULL, 0}};
    struct setup su = {
        .src = src, .tgt = tgt, .tgt_delim = '/', .names = &lv, .ci = true};
    struct mf_folder_plan *plan;
    const struct mf_folder_entry *e;
    char why[256];
    const struct want want[] = {
        {"Projects 2019 new", MF_FOLDER_COPY, "Projects 2", true},
        {"Projects 2019 old", MF_FOLDER_COPY, "Projec (2)", true},
        {"Short/deeper level", MF_FOLDER_COPY, "Short/deeper lev", true},
        {NULL, 0, NULL, false},
    };

    (void)state;
    plan = build(&su);
    check(plan, want);
    e = find(plan, "Projects 2019 old");
    assert_true(e->flags & MF_FOLDER_F_NAME_MAPPED);
    assert_true(e->flags & MF_FOLDER_F_COLLISION);
    assert_string_equal(e->wanted_name, "Projects 2");
    mf_folder_plan_free(&plan);

    su.names = &nb;
    su.ci = false;
    plan = build(&su);
    e = find(plan, "Short/deeper level");
    assert_string_equal(e->tgt_name, "Short/deeper lev");
    assert_true(e->flags & MF_FOLDER_F_NAME_MAPPED);
    assert_string_equal(e->repl_from, "deeper level");
    assert_string_equal(e->repl_to, "deeper lev");
    mf_folder_entry_rename_why(e, why, sizeof(why));
    assert_string_equal(why, "Short/deeper level -> \"Short/deeper lev\": "
                             "the target refuses \"deeper level\" "
                             "(characters or length)");
    assert_true(strlen(find(plan, "Projects 2019 old")->tgt_wire) <= 16);
    mf_folder_plan_free(&plan);
}

/* A separator replacement the target refuses is a configuration error,
 * not a name the target will refuse later. */
static void
test_names_bad_replacement(void **state) {
    static const struct mf_folder_name_rules cyrus = {.forbidden = "|"};
    struct mf_folder_rules *r = mf_folder_rules_new();
    struct mf_folder_plan_input in = {0};
    struct mf_folder_plan *plan = NULL;
    struct mf_error err = {0};

    (void)state;
    assert_int_equal(mf_folder_rules_parse_separator_replacement(r, "|", &err),
                     MF_E_OK);
    in.tgt_delim = '.';
    in.tgt_names = &cyrus;
    in.rules = r;
    assert_int_equal(mf_folder_plan_build(&in, &plan, &err), MF_E_CONFIG);
    assert_non_null(strstr(err.detail, "refuses"));
    assert_null(plan);
    mf_folder_rules_free(&r);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dot_to_slash),
        cmocka_unit_test(test_slash_to_dot_custom_replacement),
        cmocka_unit_test(test_non_ascii),
        cmocka_unit_test(test_utf8_source),
        cmocka_unit_test(test_cyrus_to_dovecot),
        cmocka_unit_test(test_dovecot_to_cyrus),
        cmocka_unit_test(test_inbox_child_collides_on_cyrus),
        cmocka_unit_test(test_exchange_special_use),
        cmocka_unit_test(test_special_use_off_and_missing),
        cmocka_unit_test(test_special_use_guessed),
        cmocka_unit_test(test_exchange_onprem_source),
        cmocka_unit_test(test_gmail_preset),
        cmocka_unit_test(test_gmail_preset_by_name),
        cmocka_unit_test(test_exclude_rename),
        cmocka_unit_test(test_include),
        cmocka_unit_test(test_wildcards_and_case),
        cmocka_unit_test(test_pattern_match),
        cmocka_unit_test(test_rules_parse),
        cmocka_unit_test(test_escaped_rename),
        cmocka_unit_test(test_rename_matched),
        cmocka_unit_test(test_target_root),
        cmocka_unit_test(test_collisions),
        cmocka_unit_test(test_rename_collision),
        cmocka_unit_test(test_flat),
        cmocka_unit_test(test_noselect_and_nonexistent),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_order_independent),
        cmocka_unit_test(test_odd_delimiters),
        cmocka_unit_test(test_attrs),
        cmocka_unit_test(test_conservative_name),
        cmocka_unit_test(test_adopt_fallbacks),
        cmocka_unit_test(test_names_cyrus_target),
        cmocka_unit_test(test_names_lengths),
        cmocka_unit_test(test_names_bad_replacement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
