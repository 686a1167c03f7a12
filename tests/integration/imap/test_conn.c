/*
 * IMAP connections against the real Dovecot pair (fixture "dovecot"):
 * every login form and TLS mode, and a distinct error for each failure.
 * Commands are written and answers read with plain string matching, so
 * this test depends on nothing but the connection layer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "imap/conn.h"
#include "mailferry/util.h"
#include "testenv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct env {
    char *port, *tls_port, *ca, *master, *master_pw;
};
static struct env E;

static char *
need(const char *key) {
    char *v = mf_testenv_get("dovecot", key);
    if (!v)
        fail_msg("dovecot.env has no %s (is the fixture running?)", key);
    return v;
}

static int
setup(void **state) {
    (void)state;
    E.port = need("SOURCE_IMAP_PORT");
    E.tls_port = need("SOURCE_IMAPS_PORT");
    E.ca = need("CA_FILE");
    E.master = need("MASTER_USER");
    E.master_pw = need("MASTER_PASSWORD");
    return 0;
}

static int
teardown(void **state) {
    (void)state;
    free(E.port), free(E.tls_port), free(E.ca), free(E.master);
    free(E.master_pw);
    return 0;
}

static void
options(struct mf_imap_conn_options *o, const char *url) {
    struct mf_error err = {0};
    memset(o, 0, sizeof(*o));
    assert_int_equal(mf_endpoint_parse(url, &o->endpoint, &err), MF_E_OK);
    o->connect_timeout_ms = 10000;
    o->io_timeout_ms = 10000;
}

static mf_err
open_as(const char *url, const char *ca, const char *user, const char *pw,
        const char *authzid, struct mf_imap_conn **c, struct mf_error *err) {
    struct mf_imap_conn_options o;
    struct mf_imap_login login = {
        .user = user, .password = pw, .authzid = authzid};
    options(&o, url);
    o.ca_file = ca;
    return mf__imap_conn_open(&o, &login, c, err);
}

/* Sends "mf1 <cmd>" and returns everything up to the tagged answer. */
static char *
command(struct mf_imap_conn *c, const char *cmd) {
    struct mf_error err = {0};
    struct mf_buf in = {0};
    char line[512];

    snprintf(line, sizeof(line), "mf1 %s\r\n", cmd);
    assert_int_equal(mf__imap_conn_send(c, line, strlen(line), &err), MF_E_OK);
    for (;;) {
        uint8_t buf[4096];
        size_t n = 0;
        mf_err rc = mf__imap_conn_recv(c, buf, sizeof(buf), &n, -1, &err);
        if (rc != MF_E_OK)
            fail_msg("recv after %s: %s %s", cmd, mf_err_name(rc), err.detail);
        mf_buf_append(&in, buf, n);
        char *tag = strstr((char *)in.data, "mf1 ");
        if (tag && (tag == (char *)in.data || tag[-1] == '\n') &&
            strstr(tag, "\r\n"))
            return (char *)in.data;
    }
}

static char *
url(const char *scheme, const char *port, const char *suffix) {
    return mf_xasprintf("%s://127.0.0.1:%s%s", scheme, port, suffix);
}

static void
test_plain_login_and_command(void **state) {
    struct mf_imap_conn *c = NULL;
    struct mf_error err = {0};
    char *u = url("imap", E.port, "/?tls=off");
    char *out;

    (void)state;
    assert_int_equal(
        open_as(u, NULL, "user01@example.test", "pw-user01", NULL, &c, &err),
        MF_E_OK);
    assert_string_equal(mf__imap_conn_local_ip(c), "127.0.0.1");
    out = command(c, "CAPABILITY");
    assert_non_null(strstr(out, "* CAPABILITY IMAP4rev1"));
    assert_non_null(strstr(out, "mf1 OK"));
    free(out);
    /* A marker folder that only user01 has, to tell logins apart below. */
    out = command(c, "CREATE mfconn-marker-user01");
    free(out);
    mf__imap_conn_free(&c);
    assert_null(c);
    free(u);
}

static void
test_tls_modes(void **state) {
    struct mf_imap_conn *c = NULL;
    struct mf_error err = {0};
    char *imaps = url("imaps", E.tls_port, "");
    char *starttls = url("imap", E.port, "");
    char *out;

    (void)state;
    assert_int_equal(open_as(imaps, E.ca, "user01@example.test", "pw-user01",
                             NULL, &c, &err),
                     MF_E_OK);
    out = command(c, "NOOP");
    assert_non_null(strstr(out, "mf1 OK"));
    free(out);
    mf__imap_conn_free(&c);

    assert_int_equal(open_as(starttls, E.ca, "user01@example.test", "pw-user01",
                             NULL, &c, &err),
                     MF_E_OK);
    out = command(c, "NOOP");
    assert_non_null(strstr(out, "mf1 OK"));
    free(out);
    mf__imap_conn_free(&c);

    /* The fixture's CA is not in the system store: verification fails. */
    assert_int_equal(open_as(imaps, NULL, "user01@example.test", "pw-user01",
                             NULL, &c, &err),
                     MF_E_TLS_VERIFY);
    assert_null(c);
    assert_non_null(strstr(err.detail, "imaps://127.0.0.1"));

    /* --insecure turns verification off. */
    struct mf_imap_conn_options o;
    struct mf_imap_login login = {"user01@example.test", "pw-user01", NULL,
                                  NULL};
    options(&o, imaps);
    o.insecure = true;
    assert_int_equal(mf__imap_conn_open(&o, &login, &c, &err), MF_E_OK);
    mf__imap_conn_free(&c);
    free(imaps);
    free(starttls);
}

static void
test_impersonation(void **state) {
    struct mf_imap_conn *c = NULL;
    struct mf_error err = {0};
    char *u = url("imap", E.port, "/?tls=off");
    char *login = mf_xasprintf("user01@example.test*%s", E.master);
    char *out;

    (void)state;
    /* SASL PLAIN: authcid = admin, authzid = the user. */
    assert_int_equal(open_as(u, NULL, E.master, E.master_pw,
                             "user01@example.test", &c, &err),
                     MF_E_OK);
    out = command(c, "LIST \"\" mfconn-marker*");
    assert_non_null(strstr(out, "mfconn-marker-user01"));
    free(out);
    mf__imap_conn_free(&c);

    assert_int_equal(open_as(u, NULL, E.master, E.master_pw,
                             "user02@example.test", &c, &err),
                     MF_E_OK);
    out = command(c, "LIST \"\" mfconn-marker*");
    assert_null(strstr(out, "mfconn-marker-user01"));
    free(out);
    mf__imap_conn_free(&c);

    /* Dovecot's user*admin form. */
    assert_int_equal(open_as(u, NULL, login, E.master_pw, NULL, &c, &err),
                     MF_E_OK);
    out = command(c, "LIST \"\" mfconn-marker*");
    assert_non_null(strstr(out, "mfconn-marker-user01"));
    free(out);
    mf__imap_conn_free(&c);
    free(login);
    free(u);
}

static void
test_failures(void **state) {
    struct mf_imap_conn *c = NULL;
    struct mf_error err = {0};
    char *u = url("imap", E.port, "/?tls=off");

    (void)state;
    assert_int_equal(
        open_as(u, NULL, "user01@example.test", "wrong", NULL, &c, &err),
        MF_E_AUTH);
    assert_null(c);
    assert_null(strstr(err.detail, "wrong"));
    assert_int_equal(
        open_as(u, NULL, E.master, "wrong", "user01@example.test", &c, &err),
        MF_E_AUTH);
    /* Port 1 on loopback: nothing listens there. */
    assert_int_equal(
        open_as("imap://127.0.0.1:1/?tls=off", NULL, "u", "p", NULL, &c, &err),
        MF_E_CONNECT);
    assert_int_equal(open_as("imap://no-such-host.invalid/?tls=off", NULL, "u",
                             "p", NULL, &c, &err),
                     MF_E_DNS);
    free(u);
}

static void
test_bind_address(void **state) {
    struct mf_imap_conn_options o;
    struct mf_imap_login login = {"user01@example.test", "pw-user01", NULL,
                                  NULL};
    struct mf_imap_conn *c = NULL;
    struct mf_error err = {0};
    char *u = url("imap", E.port, "/?tls=off");

    (void)state;
    options(&o, u);
    o.bind_address = "127.0.0.2";
    assert_int_equal(mf__imap_conn_open(&o, &login, &c, &err), MF_E_OK);
    assert_string_equal(mf__imap_conn_local_ip(c), "127.0.0.2");
    mf__imap_conn_free(&c);
    free(u);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_login_and_command),
        cmocka_unit_test(test_tls_modes),
        cmocka_unit_test(test_impersonation),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_bind_address),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
