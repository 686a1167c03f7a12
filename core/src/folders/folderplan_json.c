/*
 * The folder plan's outward faces: LIST attribute names, the names of
 * actions and reasons, counts, and the JSON form used by "plan" and
 * "batch create --dry-run" (see mailferry/folderplan.h). Optional members
 * of a folder object appear only when they say something, so that a plan
 * of thousands of folders stays readable.
 */
#include "folderplan_int.h"

#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    unsigned bit;
} attr_names[] = {
    {"\\Noselect", MF_FOLDER_ATTR_NOSELECT},
    {"\\NonExistent", MF_FOLDER_ATTR_NONEXISTENT},
    {"\\Noinferiors", MF_FOLDER_ATTR_NOINFERIORS},
    {"\\HasChildren", MF_FOLDER_ATTR_HASCHILDREN},
    {"\\HasNoChildren", MF_FOLDER_ATTR_HASNOCHILDREN},
    {"\\Marked", MF_FOLDER_ATTR_MARKED},
    {"\\Unmarked", MF_FOLDER_ATTR_UNMARKED},
    {"\\Subscribed", MF_FOLDER_ATTR_SUBSCRIBED},
    {"\\All", MF_FOLDER_ATTR_ALL},
    {"\\Archive", MF_FOLDER_ATTR_ARCHIVE},
    {"\\Drafts", MF_FOLDER_ATTR_DRAFTS},
    {"\\Flagged", MF_FOLDER_ATTR_FLAGGED},
    {"\\Junk", MF_FOLDER_ATTR_JUNK},
    {"\\Sent", MF_FOLDER_ATTR_SENT},
    {"\\Trash", MF_FOLDER_ATTR_TRASH},
    {"\\Important", MF_FOLDER_ATTR_IMPORTANT},
};

unsigned
mf_folder_attr_parse(const char *name, size_t len) {
    for (size_t i = 0; i < MF_ARRAY_LEN(attr_names); i++)
        if (strlen(attr_names[i].name) == len &&
            strncasecmp(attr_names[i].name, name, len) == 0)
            return attr_names[i].bit;
    return 0;
}

const char *
mf_folder_special_use_name(unsigned attr) {
    if (!(attr & MF_FOLDER_ATTR_SPECIAL_USE_MASK) || (attr & (attr - 1)))
        return NULL;
    for (size_t i = 0; i < MF_ARRAY_LEN(attr_names); i++)
        if (attr_names[i].bit == attr)
            return attr_names[i].name;
    return NULL;
}

const char *
mf_folder_action_name(enum mf_folder_action a) {
    switch (a) {
    case MF_FOLDER_COPY:
        return "copy";
    case MF_FOLDER_CONTAINER:
        return "container";
    case MF_FOLDER_EXCLUDED:
        return "excluded";
    }
    return "?";
}

/* No default: the compiler flags a reason without a name. */
const char *
mf_folder_reason_name(enum mf_folder_reason r) {
    switch (r) {
    case MF_FOLDER_REASON_NONE:
        return "";
    case MF_FOLDER_REASON_RULE:
        return "rule";
    case MF_FOLDER_REASON_NOT_INCLUDED:
        return "not-included";
    case MF_FOLDER_REASON_PRESET:
        return "preset";
    case MF_FOLDER_REASON_NOSELECT:
        return "noselect";
    case MF_FOLDER_REASON_NONEXISTENT:
        return "nonexistent";
    case MF_FOLDER_REASON_EMPTY_NAME:
        return "empty-name";
    case MF_FOLDER_REASON_NAMESPACE:
        return "namespace";
    case MF_FOLDER_REASON_LIMIT:
        return "limit";
    case MF_FOLDER_REASON_BAD_NAME:
        return "bad-name";
    case MF_FOLDER_REASON_IMPLIED:
        return "implied";
    }
    return "?";
}

void
mf_folder_plan_stats(const struct mf_folder_plan *plan,
                     struct mf_folder_plan_stats *st) {
    memset(st, 0, sizeof(*st));
    for (size_t i = 0; i < mf_folder_plan_count(plan); i++) {
        const struct mf_folder_entry *e = mf_folder_plan_entry(plan, i);
        st->copy += e->action == MF_FOLDER_COPY;
        st->container += e->action == MF_FOLDER_CONTAINER;
        st->excluded += e->action == MF_FOLDER_EXCLUDED;
        st->create += e->create_needed;
        st->special_use += (e->flags & MF_FOLDER_F_SPECIAL_USE) != 0;
        st->renamed += (e->flags & MF_FOLDER_F_RENAMED) != 0;
        st->delim_replaced += (e->flags & MF_FOLDER_F_DELIM_REPLACED) != 0;
        st->collisions += (e->flags & MF_FOLDER_F_COLLISION) != 0;
        st->bad_encoding += (e->flags & MF_FOLDER_F_BAD_ENCODING) != 0;
        st->name_mapped += (e->flags & MF_FOLDER_F_NAME_MAPPED) != 0;
    }
}

/* key: {"from": the level as it was, "to": as the target gets it}. */
static void
from_to(struct mf_json *j, const char *key, const struct mf_folder_entry *e) {
    mf_json_key(j, key);
    mf_json_object_begin(j);
    mf_json_member(j, "from", e->repl_from);
    mf_json_member(j, "to", e->repl_to);
    mf_json_object_end(j);
}

static void
json_entry(const struct mf_folder_entry *e, struct mf_json *j) {
    mf_json_object_begin(j);
    mf_json_key(j, "source");
    if (e->src_raw)
        /* The raw name holds no NUL unless it was excluded for one; the
         * JSON writer replaces bytes that are not UTF-8. */
        mf_json_string(j, (const char *)e->src_raw);
    else
        mf_json_null(j);
    mf_json_member(j, "source_path", e->src_path);
    mf_json_member(j, "action", mf_folder_action_name(e->action));
    if (e->reason != MF_FOLDER_REASON_NONE) {
        mf_json_member(j, "reason", mf_folder_reason_name(e->reason));
    }
    if (e->reason_detail) {
        mf_json_member(j, "reason_detail", e->reason_detail);
    }
    mf_json_member(j, "target", e->tgt_name);
    mf_json_member(j, "target_wire", e->tgt_wire);
    mf_json_member(j, "create", e->create_needed);
    mf_json_member(j, "subscribed", e->subscribed);
    if (e->flags & MF_FOLDER_F_INBOX) {
        mf_json_member(j, "inbox", (bool)true);
    }
    if (e->flags & MF_FOLDER_F_SPECIAL_USE) {
        mf_json_member(j, "special_use",
                       mf_folder_special_use_name(e->special_use));
        if (e->flags & MF_FOLDER_F_GUESSED_USE) {
            mf_json_member(j, "special_use_guessed", (bool)true);
        }
    }
    if (e->flags & MF_FOLDER_F_RENAMED) {
        mf_json_member(j, "renamed", (bool)true);
    }
    if (e->flags & MF_FOLDER_F_DELIM_REPLACED)
        from_to(j, "delimiter_replaced", e);
    /* The target refuses the name as it is: the plan's warning. */
    if (e->flags & MF_FOLDER_F_NAME_MAPPED)
        from_to(j, "name_mapped", e);
    if (e->flags & MF_FOLDER_F_NAME_REFUSED) {
        mf_json_key(j, "name_refused");
        mf_json_object_begin(j);
        mf_json_member(j, "wanted", e->wanted_name);
        mf_json_object_end(j);
    }
    if (e->flags & MF_FOLDER_F_COLLISION) {
        mf_json_key(j, "collision");
        mf_json_object_begin(j);
        mf_json_member(j, "wanted", e->wanted_name);
        mf_json_object_end(j);
    }
    if (e->encoding_error) {
        mf_json_member(j, "encoding_error", e->encoding_error);
    }
    mf_json_object_end(j);
}

void
mf_folder_plan_to_json(const struct mf_folder_plan *plan, struct mf_json *j) {
    struct mf_folder_plan_stats st;

    mf_folder_plan_stats(plan, &st);
    mf_json_object_begin(j);
    mf_json_key(j, "folders");
    mf_json_array_begin(j);
    for (size_t i = 0; i < mf_folder_plan_count(plan); i++)
        json_entry(mf_folder_plan_entry(plan, i), j);
    mf_json_array_end(j);
    mf_json_key(j, "summary");
    mf_json_object_begin(j);
    MF_JSON_FIELDS(j, &st, copy, container, excluded, create, special_use,
                   renamed);
    mf_json_member(j, "delimiter_replaced", st.delim_replaced);
    MF_JSON_FIELDS(j, &st, collisions, bad_encoding, name_mapped);
    mf_json_object_end(j);
    mf_json_object_end(j);
}

/* Appends "; " and one formatted reason to b. */
static void reason(struct mf_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
reason(struct mf_buf *b, const char *fmt, ...) {
    char tmp[MF_FOLDER_RULE_LEN_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    mf_buf_append_str(b, b->len ? "; " : "");
    mf_buf_append_str(b, tmp);
}

void
mf_folder_entry_rename_why(const struct mf_folder_entry *e, char *out,
                           size_t n) {
    struct mf_buf b = {0};
    const char *src = e->src_path ? e->src_path : "?";
    const char *from = e->repl_from ? e->repl_from : "";
    /* The line already shows both whole names: name the level that changed
     * only when it is not the whole name (the report read "A/B -> "A_B":
     * "A/B" holds the target's delimiter: "A_B""). */
    const char *what = strcmp(from, src) == 0 ? "the name" : from;
    const char *quote = what == from ? "\"" : "";

    if ((e->flags & MF_FOLDER_F_DELIM_REPLACED) &&
        !(e->flags & MF_FOLDER_F_NAME_MAPPED))
        reason(&b, "%s%s%s holds the target's hierarchy delimiter", quote, what,
               quote);
    if (e->flags & MF_FOLDER_F_NAME_MAPPED)
        reason(&b, "the target refuses %s%s%s (characters or length)", quote,
               what, quote);
    if ((e->flags & MF_FOLDER_F_COLLISION) && e->wanted_name &&
        !(e->flags & MF_FOLDER_F_NAME_REFUSED))
        reason(&b, "\"%s\" is another folder's: suffixed", e->wanted_name);
    if ((e->flags & MF_FOLDER_F_NAME_REFUSED) && e->wanted_name)
        reason(&b, "the target refused to create \"%s\"", e->wanted_name);
    snprintf(out, n, "%s -> \"%s\": %s", src, e->tgt_name ? e->tgt_name : "",
             b.len ? (char *)b.data : "");
    mf_buf_free(&b);
}
