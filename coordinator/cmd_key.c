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

static void
print_generated(bool json, const char *file, const char *key_id, bool rotate) {
    struct mf_json_doc doc;
    struct mf_json *j;

    if (!json) {
        printf("%s: new current key %s%s (keep this file secret; mode 0600)\n",
               file, key_id, rotate ? " on top of the old ones" : "");
        return;
    }
    j = mf_json_doc_begin(&doc);
    mf_json_object_begin(j);
    mf_json_member(j, "file", file);
    mf_json_member(j, "key_id", key_id);
    mf_json_member(j, "rotated", rotate);
    mf_json_object_end(j);
    mf_json_doc_print(&doc, stdout);
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
    int exit_code;
    mf_err rc;

    if ((exit_code = cli_parse_one(&cli, "key generate", usage, options, argc,
                                   argv, "FILE")) >= 0)
        goto out;
    exit_code = MF_EXIT_USAGE;
    if (mf_config_get_bool(cli.config, "rotate", false, &rotate, &err)) {
        cli_usage("key generate", usage, "expected one FILE");
        goto out;
    }
    key_id = mf_config_get(cli.config, "key-id", NULL);
    if (!key_id)
        mf_crypto_key_id_default(id), key_id = id;
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
