/*
 * A thin driver of mailferry/oauth.h for oauth_test.py: builds one
 * struct mf_oauth from its flags, asks for tokens and prints what
 * mf_oauth_describe() says about each, never the token itself:
 *
 *   mint_tool PROVIDER KEY=VALUE... -- MAILBOX[!] ...
 *
 * KEY is a field of struct mf_oauth_config (token_url, tenant, client_id,
 * client_secret_file, certificate_file, service_account_file, ca_file,
 * token_file). A mailbox ending in '!' asks for a fresh token. Each
 * mailbox prints one line: "ok MAILBOX minted=N same=0|1 aud=.. scope=..
 * sub=.. ttl=S" or "error MAILBOX NAME detail". "sleep:S" waits S
 * seconds.
 */
#include "mailferry/config.h"
#include "mailferry/oauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char **argv) {
    struct mf_oauth_config cfg = {0};
    struct mf_oauth *o = NULL;
    struct mf_error err = {0};
    char *last = NULL;
    int i;

    if (argc < 2 || !mf_oauth_provider_parse(argv[1], &cfg.provider)) {
        fprintf(stderr, "usage: mint_tool PROVIDER KEY=VALUE... -- MAILBOX\n");
        return 2;
    }
    for (i = 2; i < argc && strcmp(argv[i], "--") != 0; i++) {
        char *eq = strchr(argv[i], '=');
        const char *v = eq ? eq + 1 : "";
        size_t k = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
#define F(name)                                                                \
    if (k == strlen(#name) && strncmp(argv[i], #name, k) == 0)                 \
        cfg.name = v;                                                          \
    else
        F(token_url)
        F(tenant)
        F(client_id)
        F(client_secret_file)
        F(certificate_file)
        F(service_account_file)
        F(ca_file)
        F(token_file) {
            fprintf(stderr, "unknown key %s\n", argv[i]);
            return 2;
        }
#undef F
    }
    if (mf_oauth_new(&cfg, &o, &err) != MF_E_OK) {
        printf("error new %s %s\n", mf_err_name(err.code), err.detail);
        return 0;
    }
    for (i++; i < argc; i++) {
        char mb[256];
        size_t n = strlen(argv[i]);
        bool fresh = n > 0 && argv[i][n - 1] == '!';
        struct mf_oauth_token_info info;
        char *tok = NULL;
        if (strncmp(argv[i], "sleep:", 6) == 0) {
            sleep((unsigned)strtoul(argv[i] + 6, NULL, 10));
            continue;
        }
        snprintf(mb, sizeof(mb), "%.*s", (int)(fresh ? n - 1 : n), argv[i]);
        if (mf_oauth_token(o, mb, fresh, &tok, &err) != MF_E_OK) {
            printf("error %s %s %s\n", mb, mf_err_name(err.code), err.detail);
            continue;
        }
        mf_oauth_describe(tok, &info);
        printf("ok %s minted=%llu same=%d aud=%s scope=%s sub=%s ttl=%lld\n",
               mb, (unsigned long long)mf_oauth_minted(o),
               last && strcmp(last, tok) == 0, info.audience, info.scope,
               info.subject,
               info.expires_at ? (long long)(info.expires_at - time(NULL))
                               : -1LL);
        mf_secret_free(&last);
        last = tok;
    }
    fflush(stdout);
    mf_secret_free(&last);
    mf_oauth_free(&o);
    return 0;
}
