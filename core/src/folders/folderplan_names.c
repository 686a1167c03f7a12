/*
 * Names a target accepts (issue 13 section 2): one level of a target
 * folder name mapped so that the target takes it, by one rule for
 * everything it refuses. The target's own delimiter, the characters its
 * profile lists as refused and (if it refuses them) control characters
 * are each replaced by the separator replacement ("_" unless
 * --separator-replacement says otherwise); a level longer than the
 * target allows is cut at a character boundary.
 *
 * Pure: no I/O, no state, the same input always gives the same output,
 * so every pass, every worker and `plan` agree on a name. Collisions
 * (two source names that map to one) are the plan's business
 * (folderplan_target.c suffixes the later one and reports it).
 *
 * The strict rules are the union of what the servers we know refuse,
 * the conservative name of a CREATE the target refused by its name
 * (folderplan_fallback.c).
 */
#include "folderplan_int.h"

#include "mailferry/mutf7.h"
#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>

/* Cyrus's refused characters (mboxname_policycheck()), the LIST
 * wildcards, and what Dovecot and Windows-based stores balk at. */
static const struct mf_folder_name_rules strict = {
    .forbidden = "/\\!;|*%\"#~^?<>`{}",
    .controls = true,
};

const struct mf_folder_name_rules *
mf_folder_name_rules_strict(void) {
    return &strict;
}

bool
mf_folder_name_refuses(const struct mf_folder_name_rules *rules,
                       unsigned char ch, char delim) {
    if (!rules || ch == '\0' || ch == (unsigned char)delim)
        return false;
    if (ch < 0x20 || ch == 0x7f)
        return rules->controls;
    return ch < 0x80 && rules->forbidden && strchr(rules->forbidden, ch);
}

/* Bytes of s that hold its first n characters (UTF-8; a stray
 * continuation byte counts with the character before it). */
static size_t
prefix_bytes(const char *s, size_t n) {
    size_t i = 0, chars = 0;

    for (; s[i]; i++) {
        if (((unsigned char)s[i] & 0xc0) == 0x80)
            continue;
        if (chars == n)
            break;
        chars++;
    }
    return i;
}

char *
mf_folder_name_map_level(const struct mf_folder_name_rules *rules,
                         const char *level, char delim, const char *repl,
                         unsigned reserve, unsigned *what_r) {
    struct mf_buf b = {0};
    unsigned what = 0;
    const char *r = repl && repl[0] ? repl : "_";

    for (const char *p = level; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (delim && ch == (unsigned char)delim) {
            mf_buf_append_str(&b, r);
            what |= MF_FOLDER_MAP_DELIM;
        } else if (mf_folder_name_refuses(rules, ch, delim)) {
            mf_buf_append_str(&b, r);
            what |= MF_FOLDER_MAP_CHAR;
        } else {
            mf_buf_append(&b, p, 1);
        }
    }
    mf_buf_append(&b, "", 1);
    if (rules && rules->max_level_chars) {
        size_t keep = rules->max_level_chars > reserve
                          ? rules->max_level_chars - reserve
                          : 1;
        size_t n = prefix_bytes((const char *)b.data, keep);
        if (((char *)b.data)[n] != '\0') {
            ((char *)b.data)[n] = '\0';
            what |= MF_FOLDER_MAP_LENGTH;
        }
    }
    if (what_r)
        *what_r = what;
    return (char *)b.data;
}

/* Bytes of name on the wire. */
static size_t
wire_len(const char *name, bool utf8) {
    struct mf_buf b = {0};
    size_t n;

    if (utf8 || mf_mutf7_encode(name, &b, NULL) != MF_E_OK) {
        mf_buf_free(&b);
        return strlen(name); /* unencodable: target_limit() says so */
    }
    n = b.len;
    mf_buf_free(&b);
    return n;
}

size_t
mf__folder_chars(const char *s) {
    size_t n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

char *
mf__folder_fit_name(const struct mf_folder_name_rules *rules, const char *name,
                    size_t level_at, size_t from, const char *suffix, bool utf8,
                    bool *cut_r) {
    size_t level_max = rules ? rules->max_level_chars : 0;
    size_t name_max = rules ? rules->max_name_bytes : 0;
    size_t sl = mf__folder_chars(suffix), keep = mf__folder_chars(name + from);
    char *head = mf_xstrndup(name + level_at, from - level_at);
    size_t pre = mf__folder_chars(head); /* the level before from (flat) */
    char *out = NULL;

    free(head);
    *cut_r = false;
    if (level_max && pre + keep + sl > level_max) {
        keep = level_max > pre + sl ? level_max - pre - sl : 1;
        *cut_r = true;
    }
    for (;;) {
        free(out);
        out = mf_xasprintf("%.*s%s",
                           (int)(from + prefix_bytes(name + from, keep)), name,
                           suffix);
        if (!name_max || keep <= 1 || wire_len(out, utf8) <= name_max)
            return out;
        keep--;
        *cut_r = true;
    }
}
