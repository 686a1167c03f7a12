/*
 * A second name for a folder the target refused to create by its name.
 *
 * Servers refuse different characters in folder names (Cyrus: "! \" % /
 * ; < > \\ ` { | }"; others their own sets, not all documented), and
 * answer `NO Invalid mailbox name` or `NO [CANNOT]` (RFC 5530
 * 3: "CANNOT: The operation violates some invariant of the server and
 * can never succeed"). Rather than fail every message of the folder, the
 * copy engine (migrate/mailbox.c) asks once for a conservative name: the
 * characters the strictest servers refuse (mf_folder_name_rules_strict(),
 * folderplan_names.c), in the refused level (the
 * levels above it were created), replaced with the separator replacement (the
 * same rule as a source separator that the target uses as its own). The entry
 * and every entry below it move to the new name, keep the old one in
 * wanted_name and are flagged MF_FOLDER_F_NAME_REFUSED, so the report and the
 * plan say so.
 *
 * The rule is a pure function of the name, so every pass finds the same
 * second name (and the target's "[ALREADYEXISTS]" for it).
 */
#include "folderplan_int.h"

#include "mailferry/mutf7.h"
#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>

char *
mf_folder_conservative_name(const char *name, char delim, const char *repl) {
    struct mf_buf b = {0};
    bool changed = false;

    for (const char *p = name; *p; p++) {
        if (mf_folder_name_refuses(mf_folder_name_rules_strict(),
                                   (unsigned char)*p, delim)) {
            mf_buf_append_str(&b, repl && repl[0] ? repl : "_");
            changed = true;
        } else {
            mf_buf_append(&b, p, 1);
        }
    }
    mf_buf_append(&b, "", 1);
    if (!changed) {
        mf_buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

/* Encodes a decoded target name for the wire; NULL if impossible. */
static char *
wire_name(const char *name, bool utf8) {
    struct mf_buf b = {0};

    if (utf8)
        return mf_xstrdup(name);
    if (mf_mutf7_encode(name, &b, NULL) != MF_E_OK) {
        mf_buf_free(&b);
        return NULL;
    }
    mf_buf_append(&b, "", 1);
    return (char *)b.data;
}

/* e's target name moves from old (len n) to repl_name + the rest. */
static bool
move_entry(struct mf_folder_entry *e, size_t n, const char *new_prefix,
           bool utf8) {
    char *name = mf_xasprintf("%s%s", new_prefix, e->tgt_name + n);
    char *wire = wire_name(name, utf8);

    if (!wire) {
        free(name);
        return false;
    }
    if (!e->wanted_name)
        e->wanted_name = mf_xstrdup(e->tgt_name);
    free(e->tgt_name);
    free(e->tgt_wire);
    e->tgt_name = name;
    e->tgt_wire = wire;
    e->flags |= MF_FOLDER_F_NAME_REFUSED;
    return true;
}

/* The conservative name of e's own level in place of that level (the
 * levels above were created, or existed); NULL when it has nothing to
 * replace. New string. */
static char *
conservative_of(const struct mf_folder_entry *e, char delim, const char *repl) {
    const char *last = delim ? strrchr(e->tgt_name, delim) : NULL;
    char *level, *out;

    last = last ? last + 1 : e->tgt_name;
    if (!(level = mf_folder_conservative_name(last, delim, repl)))
        return NULL;
    out = mf_xasprintf("%.*s%s", (int)(last - e->tgt_name), e->tgt_name, level);
    free(level);
    return out;
}

char *
mf_folder_plan_fallback_wire(const struct mf_folder_plan *plan, size_t i,
                             char delim, bool utf8, const char *repl) {
    char *name, *wire;

    if (!plan || i >= plan->n || !plan->e[i].tgt_name)
        return NULL;
    if (!(name = conservative_of(&plan->e[i], delim, repl)))
        return NULL;
    wire = wire_name(name, utf8);
    free(name);
    return wire;
}

bool
mf_folder_plan_fallback(struct mf_folder_plan *plan, size_t i, char delim,
                        bool utf8, const char *repl) {
    char *old, *conservative;
    size_t n;
    bool ok = true;

    if (!plan || i >= plan->n || !plan->e[i].tgt_name)
        return false;
    if (!(conservative = conservative_of(&plan->e[i], delim, repl)))
        return false;
    old = mf_xstrdup(plan->e[i].tgt_name);
    n = strlen(old);
    for (size_t k = i; k < plan->n && ok; k++) {
        struct mf_folder_entry *c = &plan->e[k];

        if (!c->tgt_name || strncmp(c->tgt_name, old, n) != 0 ||
            (c->tgt_name[n] != '\0' && (!delim || c->tgt_name[n] != delim)))
            continue;
        ok = move_entry(c, n, conservative, utf8);
    }
    free(old);
    free(conservative);
    return ok;
}

/* Whether the target's LIST (tgt) showed wire. */
static bool
tgt_has(const struct mf_folder_tgt *tgt, size_t n_tgt, const char *wire) {
    size_t n = strlen(wire);

    for (size_t k = 0; k < n_tgt; k++)
        if (tgt[k].len == n && memcmp(tgt[k].name, wire, n) == 0)
            return true;
    return false;
}

size_t
mf_folder_plan_adopt_fallbacks(struct mf_folder_plan *plan,
                               const struct mf_folder_tgt *tgt, size_t n_tgt,
                               char delim, bool utf8, const char *repl) {
    size_t moved = 0;

    for (size_t i = 0; plan && i < plan->n; i++) {
        struct mf_folder_entry *e = &plan->e[i];
        char *wire;
        bool there;

        if (e->action == MF_FOLDER_EXCLUDED || !e->create_needed)
            continue;
        if (tgt_has(tgt, n_tgt, e->tgt_wire)) {
            /* Below a folder moved here: there already. */
            e->create_needed = false;
            continue;
        }
        wire = mf_folder_plan_fallback_wire(plan, i, delim, utf8, repl);
        there = wire && tgt_has(tgt, n_tgt, wire);
        free(wire);
        if (there && mf_folder_plan_fallback(plan, i, delim, utf8, repl)) {
            e->create_needed = false;
            moved++;
        }
    }
    return moved;
}

const char *
mf_folder_rules_replacement(const struct mf_folder_rules *rules) {
    return rules && rules->separator_replacement ? rules->separator_replacement
                                                 : "_";
}
