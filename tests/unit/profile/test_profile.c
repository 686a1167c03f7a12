/* Provider profiles (core/src/profile/profile.c): the table, finding a
 * profile by name, the defaults a profile gives and the flags that
 * override them, and guessing a server's profile from its greeting,
 * capabilities and ID answer (vectors from the providers' pages). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mailferry/folderplan.h"
#include "mailferry/profile.h"

#include <string.h>

static void
test_find(void **state) {
    const struct mf_profile *p = NULL;
    struct mf_error err = {0};

    (void)state;
    for (int i = 0; i < MF_PROFILE_COUNT; i++) {
        const struct mf_profile *q = mf_profile_get((enum mf_profile_id)i);
        assert_int_equal(q->id, i);
        assert_int_equal(mf_profile_find(q->name, &p, &err), MF_E_OK);
        assert_ptr_equal(p, q);
        assert_non_null(strstr(mf_profile_names(), q->name));
        assert_non_null(q->docs);
    }
    assert_int_equal(mf_profile_find("Exchange-Online", &p, &err), MF_E_OK);
    assert_int_equal(p->id, MF_PROFILE_EXCHANGE_ONLINE);
    assert_int_equal(mf_profile_find(NULL, &p, &err), MF_E_OK);
    assert_int_equal(p->id, MF_PROFILE_GENERIC);
    assert_int_equal(mf_profile_find("", &p, &err), MF_E_OK);
    assert_int_equal(p->id, MF_PROFILE_GENERIC);
    p = NULL;
    assert_int_equal(mf_profile_find("exchange", &p, &err), MF_E_USAGE);
    assert_null(p);
    assert_non_null(strstr(err.detail, "exchange-online"));
    assert_int_equal(mf_profile_or_generic("gmail")->id, MF_PROFILE_GMAIL);
    assert_int_equal(mf_profile_or_generic("zimbra")->id, MF_PROFILE_GENERIC);
    assert_int_equal(mf_profile_or_generic(NULL)->id, MF_PROFILE_GENERIC);
}

static void
test_defaults(void **state) {
    const struct mf_profile *exo = mf_profile_get(MF_PROFILE_EXCHANGE_ONLINE);
    const struct mf_profile *gm = mf_profile_get(MF_PROFILE_GMAIL);
    const struct mf_profile *onp = mf_profile_get(MF_PROFILE_EXCHANGE_ONPREM);
    const struct mf_profile *gen = mf_profile_generic();

    (void)state;
    /* Size: the flag wins, then the target profile, then 35 MB. */
    assert_int_equal(mf_profile_max_message_size(exo, 0), 35000000);
    assert_int_equal(mf_profile_max_message_size(exo, 1000), 1000);
    assert_int_equal(mf_profile_max_message_size(gm, 0), 35651584);
    assert_int_equal(mf_profile_max_message_size(gen, 0),
                     MF_PROFILE_DEFAULT_MAX_MESSAGE_SIZE);
    assert_int_equal(mf_profile_max_message_size(NULL, 0),
                     MF_PROFILE_DEFAULT_MAX_MESSAGE_SIZE);
    /* Exchange and Gmail take one message per APPEND and re-encode. */
    assert_true(exo->no_multiappend && gm->no_multiappend);
    assert_false(gen->no_multiappend);
    assert_int_equal(exo->fingerprint, MF_PROFILE_FP_LENIENT);
    assert_int_equal(gm->fingerprint, MF_PROFILE_FP_LENIENT);
    assert_int_equal(gen->fingerprint, MF_PROFILE_FP_STRICT);
    assert_int_equal(gm->max_connections_per_user, 15);
    /* Exchange Server: as Exchange Online, and Set-ImapSettings'
     * MaxConnectionsPerUser (16) as its per-login cap. */
    assert_true(onp->no_multiappend);
    assert_int_equal(onp->fingerprint, MF_PROFILE_FP_LENIENT);
    assert_int_equal(onp->max_connections_per_user, 16);
    assert_int_equal(exo->max_connections_per_user, 0);
    /* Those two have caps of their own: leases without a flag. */
    assert_true(mf_profile_has_caps(gm) && mf_profile_has_caps(onp));
    assert_false(mf_profile_has_caps(exo) || mf_profile_has_caps(gen) ||
                 mf_profile_has_caps(NULL));
    /* Leases also where a provider throttles (Exchange Online has no
     * caps): its lowered connection limit holds only through them. */
    assert_true(mf_profile_takes_leases(NULL, exo) &&
                mf_profile_takes_leases(exo, gen) &&
                mf_profile_takes_leases(gen, gm) &&
                mf_profile_takes_leases(onp, NULL));
    assert_false(mf_profile_takes_leases(gen, NULL) ||
                 mf_profile_takes_leases(NULL, NULL) ||
                 mf_profile_takes_leases(mf_profile_get(MF_PROFILE_DOVECOT),
                                         mf_profile_get(MF_PROFILE_CYRUS)));
    /* Impersonation template: the flag's, else the source profile's. */
    assert_string_equal(mf_profile_login_format(onp, NULL),
                        "{domain}/{admin}/{user}");
    assert_string_equal(mf_profile_login_format(onp, "{user}*{admin}"),
                        "{user}*{admin}");
    assert_null(mf_profile_login_format(gen, NULL));
    assert_null(mf_profile_login_format(NULL, ""));
}

static void
test_folder_rules(void **state) {
    struct mf_folder_rules *r = mf_folder_rules_new();
    struct mf_error err = {0};
    bool spam = false, trash = false;

    (void)state;
    assert_int_equal(
        mf_profile_folder_rules(mf_profile_generic(), NULL, r, &err), MF_E_OK);
    assert_int_equal(r->n_exclude, 0);
    assert_int_equal(r->presets, 0);
    assert_int_equal(mf_profile_folder_rules(NULL, NULL, r, &err), MF_E_OK);
    assert_int_equal(mf_profile_folder_rules(mf_profile_get(MF_PROFILE_GMAIL),
                                             "Gmail Archive", r, &err),
                     MF_E_OK);
    assert_true(r->presets & MF_FOLDER_PRESET_GMAIL_LABELS);
    assert_int_equal(r->n_rename, 2);
    assert_string_equal(r->rename[0].from, "[Gmail]/All Mail");
    assert_string_equal(r->rename[0].to, "Gmail Archive");
    for (size_t i = 0; i < r->n_exclude; i++) {
        spam = spam || strcmp(r->exclude[i], "[Gmail]/Spam") == 0;
        trash = trash || strcmp(r->exclude[i], "[Gmail]/Trash") == 0;
    }
    assert_true(spam && trash);
    mf_folder_rules_free(&r);

    /* Without --gmail-archive-folder, archived mail goes to "Archive"
     * (issue 13). */
    r = mf_folder_rules_new();
    assert_int_equal(mf_profile_folder_rules(mf_profile_get(MF_PROFILE_GMAIL),
                                             NULL, r, &err),
                     MF_E_OK);
    assert_int_equal(r->n_rename, 2);
    assert_string_equal(r->rename[0].from, "[Gmail]/All Mail");
    assert_string_equal(r->rename[0].to, "Archive");
    assert_string_equal(r->rename[1].to, "Archive");
    mf_folder_rules_free(&r);
}

static const struct {
    const char *greeting, *caps, *id;
    enum mf_profile_id want;
    bool certain;
} vectors[] = {
    /* developers.google.com/gmail/imap/imap-extensions */
    {"OK Gimap ready for requests from 127.0.0.1 k2if6111336rvb.0",
     "IMAP4rev1 UNSELECT LITERAL+ IDLE NAMESPACE QUOTA ID XLIST CHILDREN "
     "X-GM-EXT-1",
     "name GImap vendor Google, Inc. support-url "
     "http://mail.google.com/support remote-host 127.0.0.1",
     MF_PROFILE_GMAIL, true},
    {NULL, "IMAP4rev1 X-GM-EXT-1 UIDPLUS", NULL, MF_PROFILE_GMAIL, true},
    {"OK Gimap ready", NULL, NULL, MF_PROFILE_GMAIL, true},
    /* outlook.office365.com */
    {"OK The Microsoft Exchange IMAP4 service is ready. [TQBXADIA]",
     "IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID "
     "UNSELECT CHILDREN IDLE NAMESPACE LITERAL+",
     "", MF_PROFILE_EXCHANGE_ONLINE, false},
    {"OK Microsoft Exchange IMAP4 service ready.",
     "IMAP4 IMAP4rev1 AUTH=XOAUTH2 LOGINDISABLED SASL-IR UIDPLUS", NULL,
     MF_PROFILE_EXCHANGE_ONLINE, false},
    /* An on-premises server without modern authentication. */
    {"OK The Microsoft Exchange IMAP4 service is ready.",
     "IMAP4 IMAP4rev1 AUTH=NTLM AUTH=GSSAPI AUTH=PLAIN UIDPLUS", NULL,
     MF_PROFILE_EXCHANGE_ONPREM, false},
    /* "XOAUTH2" inside another atom is not AUTH=XOAUTH2. */
    {"OK The Microsoft Exchange IMAP4 service is ready.",
     "IMAP4rev1 X-AUTH=XOAUTH2", NULL, MF_PROFILE_EXCHANGE_ONPREM, false},
    {"OK [CAPABILITY IMAP4rev1] Dovecot (Debian) ready.", "IMAP4rev1", NULL,
     MF_PROFILE_DOVECOT, true},
    /* A renamed greeting: the ID answer still names it. */
    {"OK mailferry source ready", "IMAP4rev1 ID", "name Dovecot",
     MF_PROFILE_DOVECOT, true},
    {"OK imap.example.org Cyrus IMAP 3.6.1 server ready", "IMAP4rev1", NULL,
     MF_PROFILE_CYRUS, true},
    {"OK ready", "IMAP4rev1", "name Cyrus IMAPd version 3.6.1",
     MF_PROFILE_CYRUS, true},
    {"OK ready", "IMAP4rev1 LITERAL+", NULL, MF_PROFILE_GENERIC, false},
    {NULL, NULL, NULL, MF_PROFILE_GENERIC, false},
};

static void
test_detect(void **state) {
    (void)state;
    for (size_t i = 0; i < MF_ARRAY_LEN(vectors); i++) {
        struct mf_profile_guess g;
        mf_profile_detect(vectors[i].greeting, vectors[i].caps, vectors[i].id,
                          &g);
        if (g.profile->id != vectors[i].want || g.certain != vectors[i].certain)
            fail_msg("vector %zu: %s (%s), want %s", i, g.profile->name, g.why,
                     mf_profile_get(vectors[i].want)->name);
        assert_true(g.why[0] != '\0');
    }
}

/* Folder-name rules as targets (issue 13 section 2): Cyrus's refused
 * characters and name length; Exchange's and Dovecot's level lengths;
 * Exchange and Gmail compare names without case; generic knows nothing
 * (the fallback after a refused CREATE covers it). */
static void
test_names(void **state) {
    const struct mf_profile *cy = mf_profile_get(MF_PROFILE_CYRUS);
    const struct mf_profile *exo = mf_profile_get(MF_PROFILE_EXCHANGE_ONLINE);
    const struct mf_profile *gm = mf_profile_get(MF_PROFILE_GMAIL);
    const char *cyrus_refuses = "!\"%/;<>\\`{|}";

    (void)state;
    assert_null(mf_profile_generic()->names);
    for (const char *p = cyrus_refuses; *p; p++)
        assert_true(mf_folder_name_refuses(cy->names, (unsigned char)*p, '.'));
    assert_false(mf_folder_name_refuses(cy->names, '&', '.'));
    assert_true(mf_folder_name_refuses(cy->names, '\t', '.'));
    assert_int_equal(cy->names->max_name_bytes, 490);
    assert_int_equal(exo->names->max_level_chars, 256);
    assert_true(exo->names->case_insensitive);
    assert_ptr_equal(exo->names,
                     mf_profile_get(MF_PROFILE_EXCHANGE_ONPREM)->names);
    assert_true(gm->names->case_insensitive);
    assert_null(gm->names->forbidden);
    assert_int_equal(mf_profile_get(MF_PROFILE_DOVECOT)->names->max_level_chars,
                     255);
}

/* Throttling rules: the admin's flags, else the profile's, else the
 * engine's defaults; and the fingerprint mode, flag over profile. */
static void
test_throttle_rules(void **state) {
    struct mf_throttle_rules r, given = {0};
    (void)state;

    mf_profile_throttle_rules(mf_profile_get(MF_PROFILE_EXCHANGE_ONLINE), NULL,
                              &r);
    assert_int_equal(r.pause_ms, 60000);
    assert_int_equal(r.pause_max_ms, MF_THROTTLE_DEFAULT_PAUSE_MAX_MS);
    assert_int_equal(r.min_connections, 1);
    assert_int_equal(r.window_ms, MF_THROTTLE_DEFAULT_WINDOW_MS);
    mf_profile_throttle_rules(NULL, &given, &r);
    assert_int_equal(r.pause_ms, 30000); /* generic */
    given = (struct mf_throttle_rules){.pause_ms = 5000,
                                       .pause_max_ms = 20000,
                                       .min_connections = 3,
                                       .window_ms = 120000};
    mf_profile_throttle_rules(mf_profile_get(MF_PROFILE_GMAIL), &given, &r);
    assert_int_equal(r.pause_ms, 5000);
    assert_int_equal(r.pause_max_ms, 20000);
    assert_int_equal(r.min_connections, 3);
    assert_int_equal(r.window_ms, 120000);

    assert_int_equal(
        mf_profile_fingerprint_mode(mf_profile_get(MF_PROFILE_GMAIL), false,
                                    MF_PROFILE_FP_STRICT),
        MF_PROFILE_FP_LENIENT);
    assert_int_equal(
        mf_profile_fingerprint_mode(mf_profile_get(MF_PROFILE_GMAIL), true,
                                    MF_PROFILE_FP_STRICT),
        MF_PROFILE_FP_STRICT);
    assert_int_equal(
        mf_profile_fingerprint_mode(NULL, false, MF_PROFILE_FP_LENIENT),
        MF_PROFILE_FP_STRICT);
}

/* The quotas: Gmail's on the side it is (downloads from a source,
 * uploads to a target), none elsewhere, each flag over the profile's,
 * the window a day unless given. */
static void
test_quota_rules(void **state) {
    const struct mf_profile *gm = mf_profile_get(MF_PROFILE_GMAIL);
    struct mf_quota_rules r, given = {0};

    (void)state;
    mf_profile_quota_rules(gm, NULL, NULL, &r);
    assert_true(r.download_bytes == (uint64_t)2500 * 1000 * 1000);
    assert_true(r.upload_bytes == 0);
    assert_true(r.window_s == 86400);
    mf_profile_quota_rules(NULL, gm, &given, &r);
    assert_true(r.download_bytes == 0);
    assert_true(r.upload_bytes == (uint64_t)500 * 1000 * 1000);
    mf_profile_quota_rules(mf_profile_get(MF_PROFILE_EXCHANGE_ONLINE), NULL,
                           NULL, &r);
    assert_true(r.download_bytes == 0 && r.upload_bytes == 0);
    given = (struct mf_quota_rules){.upload_bytes = 300000, .window_s = 4};
    mf_profile_quota_rules(gm, gm, &given, &r);
    assert_true(r.download_bytes == (uint64_t)2500 * 1000 * 1000);
    assert_true(r.upload_bytes == 300000);
    assert_true(r.window_s == 4);
    /* A flag sets a quota on a profile that has none. */
    given = (struct mf_quota_rules){.download_bytes = 7};
    mf_profile_quota_rules(NULL, NULL, &given, &r);
    assert_true(r.download_bytes == 7 && r.upload_bytes == 0);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_folder_rules),
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_throttle_rules),
        cmocka_unit_test(test_quota_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
