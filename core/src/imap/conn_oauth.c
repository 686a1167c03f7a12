/*
 * OAuth2 logins (conn.h): the token is asked for at every new connection
 * (a token file is read again, a provider's token comes from the cache
 * until shortly before it expires). A refusal shows the server's error
 * JSON from the SASL continuation (RFC 7628 section 3.2.2) with its own
 * code, MF_E_OAUTH_SASL_REFUSED. A refused token that came from a
 * provider gets exactly one fresh token and one more try: it may have
 * expired or been revoked since it was cached; a second refusal is final
 * (no retry storm). A token-file token whose JWT "exp" has passed is
 * MF_E_OAUTH_EXPIRED without a connection.
 */
#include "conn.h"

#include "mailferry/config.h"
#include "mailferry/oauth.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static mf_err
try_token(const struct mf_imap_conn_options *o,
          const struct mf_imap_login *login, const char *token,
          struct mf_imap_conn **conn_r, struct mf_error *err) {
    struct mf_imap_login l = *login;
    struct mf__imap_sasl_answer sasl = {{0}};
    char why[200];
    mf_err rc;

    l.oauth_token = token;
    l.password = NULL;
    l.oauth = NULL;
    rc = mf__imap_conn_open_once(o, &l, &sasl, conn_r, err);
    if (rc != MF_E_AUTH)
        return rc;
    mf_oauth_sasl_error_text(sasl.b64, why, sizeof(why));
    return mf_error_set(err, MF_E_OAUTH_SASL_REFUSED,
                        "the server refused the OAuth2 token for %s: %s",
                        login->user,
                        why[0] ? why : "no error details from the server");
}

mf_err
mf__imap_conn_open(const struct mf_imap_conn_options *o,
                   const struct mf_imap_login *login,
                   struct mf_imap_conn **conn_r, struct mf_error *err) {
    const char *mailbox;
    char *token = NULL;
    mf_err rc;

    if (!login->oauth)
        return mf__imap_conn_open_once(o, login, NULL, conn_r, err);
    mailbox = login->oauth_mailbox ? login->oauth_mailbox : login->user;
    rc = mf_oauth_token(login->oauth, mailbox, false, &token, err);
    if (rc != MF_E_OK)
        return rc;
    if (!mf_oauth_can_renew(login->oauth) &&
        mf_oauth_expired(token, (int64_t)time(NULL))) {
        rc = mf_error_set(err, MF_E_OAUTH_EXPIRED,
                          "the token file's token for %s has expired", mailbox);
        goto out;
    }
    rc = try_token(o, login, token, conn_r, err);
    if (rc != MF_E_OAUTH_SASL_REFUSED || !mf_oauth_can_renew(login->oauth))
        goto out;
    /* One fresh token, one more try. */
    mf_secret_free(&token);
    if ((rc = mf_oauth_token(login->oauth, mailbox, true, &token, err)) !=
        MF_E_OK)
        goto out;
    rc = try_token(o, login, token, conn_r, err);
out:
    mf_secret_free(&token);
    return rc;
}
