/*
 * IMAP connections against the real Dovecot pair (fixture "dovecot"):
 * every login form and TLS mode, a distinct error for each failure, and
 * the non-blocking send/receive/wait loop with a big literal.
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
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct env {
    char *port, *tls_port, *ca, *master, *master_pw;
};
static struct env E;

static int
setup(void **state) {
    (void)state;
    E.port = mf_itest_dovecot("SOURCE_IMAP_PORT");
    E.tls_port = mf_itest_dovecot("SOURCE_IMAPS_PORT");
    E.ca = mf_itest_dovecot("CA_FILE");
    E.master = mf_itest_dovecot("MASTER_USER");
    E.master_pw = mf_itest_dovecot("MASTER_PASSWORD");
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

/* Logs in with open_as() (which must succeed), runs cmd with command()
 * and closes: cmd's answer, which the caller frees. */
static char *
login_command(const char *url, const char *ca, const char *user, const char *pw,
              const char *authzid, const char *cmd) {
    struct mf_imap_conn *c = NULL;
    struct mf_error err = {0};
    char *out;

    assert_int_equal(open_as(url, ca, user, pw, authzid, &c, &err), MF_E_OK);
    out = command(c, cmd);
    mf__imap_conn_free(&c);
    return out;
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
    out = login_command(imaps, E.ca, "user01@example.test", "pw-user01", NULL,
                        "NOOP");
    assert_non_null(strstr(out, "mf1 OK"));
    free(out);
    out = login_command(starttls, E.ca, "user01@example.test", "pw-user01",
                        NULL, "NOOP");
    assert_non_null(strstr(out, "mf1 OK"));
    free(out);

    /* The fixture's CA is not in the system store: verification fails. */
    assert_int_equal(open_as(imaps, NULL, "user01@example.test", "pw-user01",
                             NULL, &c, &err),
                     MF_E_TLS_VERIFY);
    assert_null(c);
    assert_non_null(strstr(err.detail, "imaps://127.0.0.1"));

    /* --insecure turns verification off. */
    struct mf_imap_conn_options o;
    struct mf_imap_login login = {.user = "user01@example.test",
                                  .password = "pw-user01"};
    options(&o, imaps);
    o.insecure = true;
    assert_int_equal(mf__imap_conn_open(&o, &login, &c, &err), MF_E_OK);
    mf__imap_conn_free(&c);
    free(imaps);
    free(starttls);
}

/* The marker folders test_plain_login_and_command() leaves. */
#define MARKERS "LIST \"\" mfconn-marker*"

static void
test_impersonation(void **state) {
    char *u = url("imap", E.port, "/?tls=off");
    char *login = mf_xasprintf("user01@example.test*%s", E.master);
    char *out;

    (void)state;
    /* SASL PLAIN: authcid = admin, authzid = the user. */
    out = login_command(u, NULL, E.master, E.master_pw, "user01@example.test",
                        MARKERS);
    assert_non_null(strstr(out, "mfconn-marker-user01"));
    free(out);
    out = login_command(u, NULL, E.master, E.master_pw, "user02@example.test",
                        MARKERS);
    assert_null(strstr(out, "mfconn-marker-user01"));
    free(out);
    /* Dovecot's user*admin form. */
    out = login_command(u, NULL, login, E.master_pw, NULL, MARKERS);
    assert_non_null(strstr(out, "mfconn-marker-user01"));
    free(out);
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
    struct mf_imap_login login = {.user = "user01@example.test",
                                  .password = "pw-user01"};
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

/* The non-blocking primitives over TLS and over plain IMAP: an 8 MB
 * APPEND literal goes out with send_some() from two buffers used in turn
 * (conn.h asks only for the same bytes again after a send that would
 * block, not the same address: curl's SSL_write needs the latter, the
 * connection's own copy provides it), answers come in with recv_some()
 * until it gives nothing, and the loop sleeps in wait() for both
 * directions. */
#define NB_SIZE (8 * 1024 * 1024)

static void
nonblocking_append(const char *u, const char *ca) {
    struct mf_imap_conn *c = NULL;
    struct mf_error err = {0};
    struct mf_buf req = {0}, in = {0};
    uint8_t *bufs[2];
    size_t off = 0, sends = 0, blocked = 0;
    int sndbuf = 4096;
    char folder[64];
    char *out;
    bool done = false;

    snprintf(folder, sizeof(folder), "mfconn-nb-%d", (int)getpid());
    assert_int_equal(
        open_as(u, ca, "user01@example.test", "pw-user01", NULL, &c, &err),
        MF_E_OK);
    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "CREATE %s", folder);
        free(command(c, cmd));
    }
    /* A small send buffer: sends would block often, also in the middle of
     * a TLS record (the retry path). */
    assert_int_equal(setsockopt(mf__imap_conn_fd(c), SOL_SOCKET, SO_SNDBUF,
                                &sndbuf, sizeof(sndbuf)),
                     0);
    mf_buf_appendf(&req, "mf2 APPEND %s {%d+}\r\n", folder, NB_SIZE);
    for (size_t i = 0; i < NB_SIZE; i++) {
        uint8_t b = (i % 64 == 62)   ? '\r'
                    : (i % 64 == 63) ? '\n'
                                     : 'a' + i % 26;
        mf_buf_append(&req, &b, 1);
    }
    mf_buf_append(&req, "\r\n", 2);
    bufs[0] = mf_xmalloc(req.len);
    bufs[1] = mf_xmalloc(req.len);
    while (!done) {
        bool rd = false, wr = false;
        size_t n;
        /* 1. Take in everything that is there. */
        for (;;) {
            uint8_t buf[4096];
            n = 0;
            assert_int_equal(
                mf__imap_conn_recv_some(c, buf, sizeof(buf), &n, &err),
                MF_E_OK);
            if (n == 0)
                break;
            mf_buf_append(&in, buf, n);
        }
        char *tag = strstr((char *)in.data ? (char *)in.data : "", "mf2 ");
        if (tag && strstr(tag, "\r\n")) {
            done = true;
            break;
        }
        /* 2. Send until it would block, from a buffer that moves. */
        while (off < req.len) {
            uint8_t *b = bufs[sends++ % 2];
            /* At most 64 KiB a call: copying all that is left (8 MB)
             * each time was slow enough under ASan that Dovecot drained
             * the socket between calls and no send ever blocked. */
            size_t left = req.len - off < 65536 ? req.len - off : 65536;
            size_t sent = 0;
            memcpy(b, req.data + off, left);
            assert_int_equal(mf__imap_conn_send_some(c, b, left, &sent, &err),
                             MF_E_OK);
            if (sent == 0) {
                blocked++;
                break;
            }
            off += sent;
        }
        /* 3. Wait for either direction. */
        mf_err rc =
            mf__imap_conn_wait(c, true, off < req.len, -1, &rd, &wr, &err);
        if (rc != MF_E_OK)
            fail_msg("wait: %s %s (sent %zu of %zu)", mf_err_name(rc),
                     err.detail, off, req.len);
        assert_true(rd || wr);
    }
    assert_int_equal(off, req.len);
    assert_true(blocked > 0);
    assert_non_null(strstr((char *)in.data, "mf2 OK"));
    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "DELETE %s", folder);
        out = command(c, cmd);
        assert_non_null(strstr(out, "mf1 OK"));
        free(out);
    }
    mf__imap_conn_free(&c);
    free(bufs[0]);
    free(bufs[1]);
    mf_buf_free(&req);
    mf_buf_free(&in);
}

static void
test_nonblocking(void **state) {
    char *imaps = url("imaps", E.tls_port, "");
    char *plain = url("imap", E.port, "/?tls=off");

    (void)state;
    nonblocking_append(imaps, E.ca);
    nonblocking_append(plain, NULL);
    free(imaps);
    free(plain);
}

int
main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_login_and_command),
        cmocka_unit_test(test_tls_modes),
        cmocka_unit_test(test_impersonation),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_bind_address),
        cmocka_unit_test(test_nonblocking),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
