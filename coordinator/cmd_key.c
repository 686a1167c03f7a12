/*
 * `mailferry key generate FILE [--key-id ID] [--rotate]`: the master key
 * file that seals the passwords of batches (crypto.h), mode 0600; with
 * --rotate a new current key goes on top of an existing file.
 *
 * Exit codes: 0 key written; 1 the file exists (without --rotate) or is
 * not a key file; 2 wrong command line; 3 could not write it.
 */
#include "cli.h"
#include "commands.h"
#include "mailferry/crypto.h"
#include "mailferry/json.h"
#include "mailferry/util.h"

#include <stdio.h>
#include <time.h>

/* What a generated key is called when --key-id is not given:
 * key-YYYYMMDD-HHMMSS (UTC). */
static void
default_key_id(char *id, size_t n) {
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(id, n, "key-%Y%m%d-%H%M%S", &tm);
}

static void
print_generated(bool json, const char *file, const char *key_id, bool rotate) {
    struct mf_buf b = {0};
    struct mf_json j;

    if (!json) {
        printf("%s: new current key %s%s (keep this file secret; mode 0600)\n",
               file, key_id, rotate ? " on top of the old ones" : "");
        return;
    }
    mf_json_init(&j, &b);
    mf_json_object_begin(&j);
    mf_json_key(&j, "file"), mf_json_string(&j, file);
    mf_json_key(&j, "key_id"), mf_json_string(&j, key_id);
    mf_json_key(&j, "rotated"), mf_json_bool(&j, rotate);
    mf_json_object_end(&j);
    printf("%s\n", (char *)b.data);
    mf_buf_free(&b);
}

int
cmd_key_generate(int argc, char **argv) {
    static const struct mf_option options[] = {
        {"key-id", true,
         "name of the new key (default: key-YYYYMMDD-HHMMSS, UTC)"},
        {"rotate", false,
         "put a new current key on top of an existing file; the old keys "
         "still open what they sealed"},
        {NULL, false, NULL},
    };
    static const char usage[] = "FILE [--key-id ID] [--rotate] [--json]";
    struct cli cli;
    struct mf_error err = {0};
    char id[MF_CRYPTO_KEY_ID_MAX + 1];
    const char *key_id;
    bool rotate = false;
    int exit_code = MF_EXIT_USAGE;
    mf_err rc;

    if (!cli_parse(&cli, "key generate", usage, options, argc, argv))
        goto out;
    if (cli.help) {
        exit_code = MF_EXIT_OK;
        goto out;
    }
    if (cli.npositional != 1 ||
        mf_config_get_bool(cli.config, "rotate", false, &rotate, &err)) {
        fprintf(stderr,
                "mailferry key generate: expected one FILE\n"
                "usage: mailferry key generate %s\n",
                usage);
        goto out;
    }
    key_id = mf_config_get(cli.config, "key-id", NULL);
    if (!key_id) {
        default_key_id(id, sizeof(id));
        key_id = id;
    }
    if (!mf_crypto_key_id_valid(key_id)) {
        fprintf(stderr,
                "mailferry key generate: \"%s\" is not a key id: 1 to %d of "
                "A-Z a-z 0-9 . _ -\n",
                key_id, MF_CRYPTO_KEY_ID_MAX);
        goto out;
    }
    rc = mf_crypto_keyfile_generate(
        cli.positional[0], key_id,
        rotate ? MF_CRYPTO_KEYFILE_ROTATE : MF_CRYPTO_KEYFILE_CREATE, &err);
    if (rc) {
        fprintf(stderr, "mailferry key generate: %s: %s [%s]\n",
                cli.positional[0], err.detail, mf_err_name(rc));
        exit_code = rc == MF_E_EXISTS || rc == MF_E_CONFIG ? MF_EXIT_FAIL
                                                           : MF_EXIT_ERROR;
        if (rc == MF_E_EXISTS)
            fprintf(stderr, "(--rotate adds a new key to an existing file)\n");
        goto out;
    }
    print_generated(cli.json, cli.positional[0], key_id, rotate);
    exit_code = MF_EXIT_OK;
out:
    cli_free(&cli);
    return exit_code;
}
