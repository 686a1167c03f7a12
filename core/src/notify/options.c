/*
 * The notifier from the options of `mailferry serve`
 * (mf_notifier_from_config(), mailferry/notify.h): the URL, the signing
 * secret read as every secret file is (util/secrets.c), the CA file and
 * this host's name as the sender.
 */
#include "mailferry/config.h"
#include "mailferry/notify.h"
#include "mailferry/util.h"

#include <stdlib.h>
#include <unistd.h>

/* The largest signing secret taken. */
#define SECRET_MAX 4096

mf_err
mf_notifier_from_config(const struct mf_config *c, struct mf_notify_metrics *m,
                        struct mf_notifier **n_r, struct mf_error *err) {
    struct mf_notify_options no = {0};
    struct mf_error e = {0};
    char host[64] = "";
    char *secret = NULL;
    size_t len = 0;
    const char *path;
    mf_err rc = MF_E_OK;

    *n_r = NULL;
    if (!(no.url = mf_config_get(c, "notify-url", NULL)))
        return MF_E_OK;
    if ((path = mf_config_get(c, "notify-secret-file", NULL))) {
        if ((rc = mf_secret_file_read(path, SECRET_MAX, &secret, &len, &e)))
            return mf_error_set(err, MF_E_SECRET_FILE,
                                "--notify-secret-file %s", e.detail);
        if (len && secret[len - 1] == '\n')
            len--;
        if (len == 0) {
            rc = mf_error_set(err, MF_E_SECRET_FILE,
                              "--notify-secret-file %s: empty", path);
            goto out;
        }
    }
    gethostname(host, sizeof(host) - 1);
    no.secret = (const uint8_t *)secret;
    no.secret_len = len;
    no.sender = host[0] ? host : "mailferry";
    no.ca_file = mf_config_get(c, "notify-ca-file", NULL);
    no.metrics = m;
    /* The notifier keeps a copy of the secret. */
    if ((rc = mf_notifier_new(&no, n_r, &e)))
        mf_error_set(err, rc, "--notify-url: %s", e.detail);
out:
    if (secret) {
        mf_wipe(secret, len + 1);
        free(secret);
    }
    return rc;
}
