/*
 * base64/base64url, RS256 JWTs and keys (core/src/oauth/jwt.c), token
 * files (tokenfile.c), loading providers' files and describing tokens
 * (oauth.c). Keys and certificates are made here with OpenSSL, in
 * memory and in a mkdtemp directory that the test removes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "oauth/oauth_int.h"

#include "mailferry/config.h"
#include "mailferry/json.h"

#include <dirent.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static EVP_PKEY *pkey;
static X509 *cert;
static char dir[] = "/tmp/mf-oauth-test-XXXXXX";

static char *
pem_of(bool with_cert) {
    BIO *b = BIO_new(BIO_s_mem());
    char *p, *s;
    long n;

    assert_int_equal(
        PEM_write_bio_PrivateKey(b, pkey, NULL, NULL, 0, NULL, NULL), 1);
    if (with_cert)
        assert_int_equal(PEM_write_bio_X509(b, cert), 1);
    n = BIO_get_mem_data(b, &p);
    s = mf_xstrndup(p, (size_t)n);
    BIO_free(b);
    return s;
}

static char *
write_file(const char *name, const char *text) {
    char *path = mf_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static int
setup(void **state) {
    (void)state;
    pkey = EVP_RSA_gen(2048);
    assert_non_null(pkey);
    cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, pkey);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                               (const unsigned char *)"mailferry-test", -1, -1,
                               0);
    X509_set_issuer_name(cert, X509_get_subject_name(cert));
    X509_sign(cert, pkey, EVP_sha256());
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int
teardown(void **state) {
    (void)state;
    DIR *d = opendir(dir);
    struct dirent *e;

    assert_non_null(d);
    while ((e = readdir(d))) {
        char *path;
        if (e->d_name[0] == '.')
            continue;
        path = mf_xasprintf("%s/%s", dir, e->d_name);
        unlink(path);
        free(path);
    }
    closedir(d);
    assert_int_equal(rmdir(dir), 0);
    X509_free(cert);
    EVP_PKEY_free(pkey);
    return 0;
}

static void
base64_vectors(void **state) {
    (void)state;
    /* RFC 4648 section 10, and bytes that differ between the alphabets. */
    static const struct {
        const char *in, *b64, *url;
    } v[] = {
        {"", "", ""},
        {"f", "Zg==", "Zg"},
        {"fo", "Zm8=", "Zm8"},
        {"foo", "Zm9v", "Zm9v"},
        {"foob", "Zm9vYg==", "Zm9vYg"},
        {"fooba", "Zm9vYmE=", "Zm9vYmE"},
        {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
        {"\xfb\xff\xfe", "+//+", "-__-"},
    };

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct mf_buf a = {0}, b = {0}, c = {0}, d = {0};
        mf__b64_encode(&a, v[i].in, strlen(v[i].in));
        mf__b64url_encode(&b, v[i].in, strlen(v[i].in));
        assert_int_equal(a.len, strlen(v[i].b64));
        assert_memory_equal(a.data, v[i].b64, a.len);
        assert_int_equal(b.len, strlen(v[i].url));
        assert_memory_equal(b.data, v[i].url, b.len);
        assert_true(mf__b64_decode(&c, v[i].b64, strlen(v[i].b64)));
        assert_true(mf__b64url_decode(&d, v[i].url, strlen(v[i].url)));
        assert_int_equal(c.len, strlen(v[i].in));
        assert_int_equal(d.len, strlen(v[i].in));
        if (c.len) {
            assert_memory_equal(c.data, v[i].in, c.len);
            assert_memory_equal(d.data, v[i].in, d.len);
        }
        mf_buf_free(&a);
        mf_buf_free(&b);
        mf_buf_free(&c);
        mf_buf_free(&d);
    }
    struct mf_buf x = {0};
    assert_false(mf__b64url_decode(&x, "ab+c", 4));
    assert_false(mf__b64_decode(&x, "abcde", 5)); /* a lone digit */
    mf_buf_free(&x);
}

/* Splits a compact JWT, checks the RS256 signature with the public key
 * and returns the decoded header and claims. */
static void
verify(const char *jwt, struct mf__json_obj **h_r, struct mf__json_obj **c_r) {
    const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    struct mf_buf h = {0}, c = {0}, s = {0};
    struct mf_error err = {0};
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    assert_non_null(d2);
    assert_true(mf__b64url_decode(&h, jwt, (size_t)(d1 - jwt)));
    assert_true(mf__b64url_decode(&c, d1 + 1, (size_t)(d2 - d1 - 1)));
    assert_true(mf__b64url_decode(&s, d2 + 1, strlen(d2 + 1)));
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey),
                     1);
    assert_int_equal(EVP_DigestVerify(ctx, s.data, s.len,
                                      (const unsigned char *)jwt,
                                      (size_t)(d2 - jwt)),
                     1);
    assert_int_equal(mf__json_parse((char *)h.data, h.len, h_r, &err), MF_E_OK);
    assert_int_equal(mf__json_parse((char *)c.data, c.len, c_r, &err), MF_E_OK);
    EVP_MD_CTX_free(ctx);
    mf_buf_free(&h);
    mf_buf_free(&c);
    mf_buf_free(&s);
}

static void
sign_with_certificate(void **state) {
    (void)state;
    struct mf__oauth_key k;
    struct mf__json_obj *h = NULL, *c = NULL;
    struct mf_error err = {0};
    unsigned char *der = NULL, md[SHA_DIGEST_LENGTH];
    struct mf_buf want = {0};
    char *pem = pem_of(true), *jwt = NULL;
    int len;

    assert_int_equal(mf__oauth_key_load(pem, strlen(pem), true, &k, &err),
                     MF_E_OK);
    /* x5t = base64url(SHA-1(DER)) (RFC 7515 section 4.1.7). */
    len = i2d_X509(cert, &der);
    SHA1(der, (size_t)len, md);
    OPENSSL_free(der);
    mf__b64url_encode(&want, md, sizeof(md));
    mf_buf_append(&want, "", 1);
    assert_string_equal(k.x5t, (char *)want.data);
    assert_int_equal(mf__jwt_sign(&k, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
                                  "{\"sub\":\"a@b\",\"exp\":5}", &jwt, &err),
                     MF_E_OK);
    verify(jwt, &h, &c);
    assert_string_equal(mf__json_get(h, "alg", NULL), "RS256");
    assert_string_equal(mf__json_get(c, "sub", NULL), "a@b");
    mf__json_free(&h);
    mf__json_free(&c);
    mf_secret_free(&jwt);
    mf__oauth_key_clear(&k);
    mf_buf_free(&want);
    free(pem);
}

static void
bad_keys(void **state) {
    (void)state;
    struct mf__oauth_key k;
    struct mf_error err = {0};
    char *pem = pem_of(false);
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    long n;

    /* A key without the certificate Entra's assertion needs. */
    assert_int_equal(mf__oauth_key_load(pem, strlen(pem), true, &k, &err),
                     MF_E_OAUTH_BAD_KEY);
    assert_non_null(strstr(err.detail, "no certificate"));
    /* Not a key at all. */
    assert_int_equal(mf__oauth_key_load("hello", 5, false, &k, &err),
                     MF_E_OAUTH_BAD_KEY);
    assert_non_null(strstr(err.detail, "no private key"));
    /* Not RSA. */
    PEM_write_bio_PrivateKey(b, ec, NULL, NULL, 0, NULL, NULL);
    n = BIO_get_mem_data(b, &p);
    assert_int_equal(mf__oauth_key_load(p, (size_t)n, false, &k, &err),
                     MF_E_OAUTH_BAD_KEY);
    assert_non_null(strstr(err.detail, "not RSA"));
    BIO_free(b);
    EVP_PKEY_free(ec);
    free(pem);
}

static void
token_files(void **state) {
    (void)state;
    struct mf_error err = {0};
    char *one = write_file("one", "  tok-single \n");
    char *many =
        write_file("many", "# comment\n\nuser01@example.test  tok-one-Q7\n"
                           "USER02@example.test\ttok-two-Q7\r\n");
    char *tok = NULL;

    assert_int_equal(mf__oauth_token_file(one, "x@y", &tok, &err), MF_E_OK);
    assert_string_equal(tok, "tok-single");
    mf_secret_free(&tok);
    assert_int_equal(
        mf__oauth_token_file(many, "user01@example.test", &tok, &err), MF_E_OK);
    assert_string_equal(tok, "tok-one-Q7");
    mf_secret_free(&tok);
    assert_int_equal(
        mf__oauth_token_file(many, "user02@EXAMPLE.test", &tok, &err), MF_E_OK);
    assert_string_equal(tok, "tok-two-Q7");
    mf_secret_free(&tok);
    assert_int_equal(
        mf__oauth_token_file(many, "user03@example.test", &tok, &err),
        MF_E_OAUTH_TOKEN_FILE);
    assert_null(tok);
    /* No token in the error. (The tokens are long enough not to appear
     * by chance in the random temporary path the detail names: "t1" did,
     * in mf-oauth-test-5Ojt1x.) */
    assert_null(strstr(err.detail, "tok-one-Q7"));
    /* Read again at each call: a refresher rotates the token. */
    free(write_file("one", "tok-rotated\n"));
    assert_int_equal(mf__oauth_token_file(one, "x@y", &tok, &err), MF_E_OK);
    assert_string_equal(tok, "tok-rotated");
    mf_secret_free(&tok);
    free(one);
    free(many);
}

static void
providers_load(void **state) {
    (void)state;
    struct mf_oauth_config cfg = {.provider = MF_OAUTH_GOOGLE};
    struct mf_oauth *o = NULL;
    struct mf_error err = {0};
    struct mf_buf sa = {0};
    char *pem = pem_of(false);
    char *bad, *good, *cpem, *secret;

    mf_buf_append_str(&sa, "{\"type\":\"service_account\",\"private_key_id\":"
                           "\"k1\",\"client_email\":\"sa@p.iam\","
                           "\"private_key\":");
    mf_json_append_string(&sa, pem);
    mf_buf_append_str(&sa, "}");
    mf_buf_append(&sa, "", 1);
    good = write_file("sa.json", (char *)sa.data);
    bad = write_file("bad.json", "{\"type\":\"service_account\"}");
    cfg.service_account_file = good;
    assert_int_equal(mf_oauth_new(&cfg, &o, &err), MF_E_OK);
    assert_true(mf_oauth_can_renew(o));
    mf_oauth_free(&o);
    assert_null(o);
    cfg.service_account_file = bad;
    assert_int_equal(mf_oauth_new(&cfg, &o, &err), MF_E_OAUTH_BAD_KEY);
    assert_non_null(strstr(err.detail, "bad.json"));
    assert_null(o);

    /* Entra: exactly one of secret and certificate. */
    cpem = pem_of(true);
    cfg = (struct mf_oauth_config){
        .provider = MF_OAUTH_ENTRA, .tenant = "t", .client_id = "c"};
    assert_int_equal(mf_oauth_new(&cfg, &o, &err), MF_E_USAGE);
    cfg.certificate_file = write_file("cert.pem", cpem);
    assert_int_equal(mf_oauth_new(&cfg, &o, &err), MF_E_OK);
    mf_oauth_free(&o);
    cfg.client_secret_file = secret = write_file("secret", "s3cret\n");
    assert_int_equal(mf_oauth_new(&cfg, &o, &err), MF_E_USAGE);
    free((char *)cfg.certificate_file);
    cfg.certificate_file = NULL;
    assert_int_equal(mf_oauth_new(&cfg, &o, &err), MF_E_OK);
    mf_oauth_free(&o);
    cfg.client_secret_file = NULL;
    cfg.certificate_file = good; /* a key but no certificate */
    assert_int_equal(mf_oauth_new(&cfg, &o, &err), MF_E_OAUTH_BAD_KEY);
    free(secret);
    free(cpem);
    free(good);
    free(bad);
    free(pem);
    mf_buf_free(&sa);
}

static void
describe(void **state) {
    (void)state;
    struct mf_oauth_token_info info;
    struct mf_buf t = {0};
    const char *claims = "{\"aud\":\"https://outlook.office365.com\",\"roles\":"
                         "[\"IMAP.AccessAsApp\"],\"sub\":\"app\",\"exp\":"
                         "1900000000}";

    mf_buf_append_str(&t, "eyJhbGciOiJSUzI1NiJ9.");
    mf__b64url_encode(&t, claims, strlen(claims));
    mf_buf_append_str(&t, ".c2ln");
    mf_buf_append(&t, "", 1);
    mf_oauth_describe((char *)t.data, &info);
    assert_true(info.jwt);
    assert_string_equal(info.audience, "https://outlook.office365.com");
    assert_string_equal(info.scope, "IMAP.AccessAsApp");
    assert_string_equal(info.subject, "app");
    assert_int_equal(info.expires_at, 1900000000);
    mf_oauth_describe("ya29.opaque-google-token", &info);
    assert_false(info.jwt);
    assert_int_equal(info.expires_at, 0);
    mf_buf_free(&t);
}

static void
sasl_error_text(void **state) {
    (void)state;
    char out[200];
    struct mf_buf b = {0};
    const char *dovecot = "{\"status\":\"invalid_token\",\"schemes\":"
                          "\"bearer\",\"scope\":\"mail\"}";

    /* RFC 7628 section 3.2.2, as Dovecot sends it. */
    mf__b64_encode(&b, dovecot, strlen(dovecot));
    mf_buf_append(&b, "", 1);
    mf_oauth_sasl_error_text((char *)b.data, out, sizeof(out));
    assert_string_equal(out,
                        "status invalid_token, schemes bearer, scope mail");
    /* Not JSON: the printable text. */
    mf_buf_reset(&b);
    mf__b64_encode(&b, "no\x01way", 6);
    mf_buf_append(&b, "", 1);
    mf_oauth_sasl_error_text((char *)b.data, out, sizeof(out));
    assert_string_equal(out, "no?way");
    /* Not base64, or nothing. */
    mf_oauth_sasl_error_text("***", out, sizeof(out));
    assert_string_equal(out, "");
    mf_oauth_sasl_error_text("", out, sizeof(out));
    assert_string_equal(out, "");
    /* Truncated to the buffer. */
    mf_buf_reset(&b);
    mf__b64_encode(&b, dovecot, strlen(dovecot));
    mf_buf_append(&b, "", 1);
    mf_oauth_sasl_error_text((char *)b.data, out, 10);
    assert_int_equal(strlen(out), 9);
    mf_buf_free(&b);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base64_vectors),
        cmocka_unit_test(sign_with_certificate),
        cmocka_unit_test(bad_keys),
        cmocka_unit_test(token_files),
        cmocka_unit_test(providers_load),
        cmocka_unit_test(describe),
        cmocka_unit_test(sasl_error_text),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
