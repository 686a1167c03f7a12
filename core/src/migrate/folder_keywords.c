/*
 * The keywords a target folder has taken during its copy (the writer's,
 * folder_write.c): fr->kw, sorted, compared without case, owned by the
 * folder (freed with it, folder.c). A message with a keyword not among
 * them goes to the target in an APPEND of its own (mf__folder_kw_fresh()).
 */
#include "migrate/folder_int.h"

#include "mailferry/util.h"

#include <string.h>
#include <strings.h>

/* Orders a taken keyword v against the token k (n bytes), without case
 * (Cyrus's mailbox_user_flag() compares user flags so). */
static int
kw_cmp(const char *v, const char *k, size_t n) {
    int c = strncasecmp(v, k, n);
    return c ? c : v[n] != '\0';
}

/* Why it matters: a target may hold a number of keywords per folder
 * (Cyrus 3.6: 100) and refuse the message that would add one more, and
 * Cyrus 3.6.1's imapd dies (free(): double free, SIGABRT) when that
 * refusal comes inside a MULTIAPPEND to a folder that holds messages
 * after two of the command's messages were taken: the connection closes
 * unanswered, and every attempt would send that command again. A message
 * with a keyword not taken yet therefore goes alone (folder_write.c,
 * take_whole()): no MULTIAPPEND adds a keyword, so none is refused for
 * one; that costs one APPEND per new keyword and folder. */
bool
mf__folder_kw_fresh(struct mf__folder *fr, const char *flags, bool add) {
    bool fresh = false;

    for (const char *p = flags ? flags : ""; *p;) {
        size_t n = strcspn(p, " "), lo = 0, hi = fr->nkw;
        while (n && p[0] != '\\' && lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (kw_cmp(fr->kw[mid], p, n) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (n && p[0] != '\\' &&
            (lo == fr->nkw || kw_cmp(fr->kw[lo], p, n) != 0)) {
            fresh = true;
            if (!add)
                break;
            if (fr->nkw == fr->kw_cap) {
                fr->kw_cap = fr->kw_cap ? fr->kw_cap * 2 : 16;
                fr->kw = mf_xreallocarray(fr->kw, fr->kw_cap, sizeof(*fr->kw));
            }
            memmove(fr->kw + lo + 1, fr->kw + lo,
                    (fr->nkw - lo) * sizeof(*fr->kw));
            fr->kw[lo] = mf_xstrndup(p, n);
            fr->nkw++;
        }
        p += n + (p[n] == ' ');
    }
    return fresh;
}
