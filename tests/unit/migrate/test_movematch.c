/*
 * Unit tests of the matching of --sync-deletes' moves
 * (core/src/migrate/movematch.c), a pure function.
 *
 * What they prove: a vanished message and a new one in another folder
 * with the same fingerprint match; different fingerprints, a message
 * without a Message-ID and a message re-added to its own folder do not;
 * several vanished with one fingerprint pair with the new ones by
 * (folder, UID) order, each at most once, the rest left over, and the
 * outcome does not depend on the order the candidates come in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mailferry/util.h"
#include "migrate/migrate_int.h"

#include <stdlib.h>
#include <string.h>

static struct mf__move_cand
cand(size_t folder, uint32_t uid, const char *mid) {
    struct mf__move_cand c = {.folder = folder, .uid = uid};

    c.has_id = mid != NULL;
    mf_fingerprint_compute(mid, 1000, 1700000000, MF_FINGERPRINT_STRICT, &c.fp);
    return c;
}

/* The pairs as "gone-folder/uid>fresh-folder/uid" lines, sorted. */
static char *
render(const struct mf__move_cand *gone, size_t ng,
       const struct mf__move_cand *fresh, size_t nf) {
    struct mf__move_pair *p = NULL;
    size_t n = mf__move_match(gone, ng, fresh, nf, &p);
    char **lines = calloc(n + 1, sizeof(*lines));
    struct mf_buf b = {0};

    for (size_t i = 0; i < n; i++) {
        assert_true(p[i].from < ng && p[i].to < nf);
        lines[i] = mf_xasprintf("%zu/%u>%zu/%u", gone[p[i].from].folder,
                                gone[p[i].from].uid, fresh[p[i].to].folder,
                                fresh[p[i].to].uid);
    }
    for (size_t i = 1; i < n; i++) /* insertion sort: a handful */
        for (size_t k = i; k > 0 && strcmp(lines[k - 1], lines[k]) > 0; k--) {
            char *t = lines[k];
            lines[k] = lines[k - 1];
            lines[k - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        mf_buf_appendf(&b, "%s%s", i ? " " : "", lines[i]);
        free(lines[i]);
    }
    mf_buf_append(&b, "", 1);
    free(lines);
    free(p);
    return (char *)b.data;
}

static void
expect(const struct mf__move_cand *gone, size_t ng,
       const struct mf__move_cand *fresh, size_t nf, const char *want) {
    char *got = render(gone, ng, fresh, nf);
    assert_string_equal(got, want);
    free(got);
}

static void
test_simple(void **state) {
    struct mf__move_cand gone[] = {cand(0, 10, "<a@x>"), cand(0, 11, "<b@x>")};
    struct mf__move_cand fresh[] = {cand(1, 5, "<b@x>"), cand(2, 6, "<c@x>")};
    (void)state;
    expect(gone, 2, fresh, 2, "0/11>1/5");
    expect(gone, 2, fresh, 0, "");
    expect(gone, 0, fresh, 2, "");
}

/* No Message-ID: size and date alone never move a message. */
static void
test_no_message_id(void **state) {
    struct mf__move_cand gone[] = {cand(0, 10, NULL)};
    struct mf__move_cand fresh[] = {cand(1, 5, NULL)};
    (void)state;
    assert_memory_equal(gone[0].fp.digest, fresh[0].fp.digest, 32);
    expect(gone, 1, fresh, 1, "");
}

/* Re-added to its own folder: not a move; another folder's new one is
 * taken instead. */
static void
test_same_folder(void **state) {
    struct mf__move_cand gone[] = {cand(1, 10, "<a@x>")};
    struct mf__move_cand fresh[] = {cand(1, 12, "<a@x>"), cand(3, 2, "<a@x>")};
    (void)state;
    expect(gone, 1, fresh, 1, "");
    expect(gone, 1, fresh, 2, "1/10>3/2");
}

/* Three vanished with one fingerprint, two new: paired in (folder, UID)
 * order, whatever order they come in; the third is left to removal. */
static void
test_ambiguous(void **state) {
    struct mf__move_cand gone[] = {cand(2, 7, "<d@x>"), cand(0, 3, "<d@x>"),
                                   cand(0, 1, "<d@x>"), cand(0, 4, "<e@x>")};
    struct mf__move_cand fresh[] = {cand(1, 9, "<d@x>"), cand(1, 4, "<d@x>"),
                                    cand(3, 8, "<e@x>")};
    const char *want = "0/1>1/4 0/3>1/9 0/4>3/8";
    (void)state;
    expect(gone, 4, fresh, 3, want);
    /* Reversed inputs: the same pairs. */
    for (size_t i = 0; i < 2; i++) {
        struct mf__move_cand t = gone[i];
        gone[i] = gone[3 - i];
        gone[3 - i] = t;
    }
    {
        struct mf__move_cand t = fresh[0];
        fresh[0] = fresh[2];
        fresh[2] = t;
    }
    expect(gone, 4, fresh, 3, want);
    /* More new than vanished: each vanished one moves once. */
    expect(gone, 1, fresh, 3, "0/4>3/8");
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple),
        cmocka_unit_test(test_no_message_id),
        cmocka_unit_test(test_same_folder),
        cmocka_unit_test(test_ambiguous),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
