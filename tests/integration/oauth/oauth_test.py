#!/usr/bin/python3
"""OAuth2 tokens minted by mailferry (issue 12) against our token endpoint
(tests/support/oauth/tokenserver.py) over HTTPS with a test CA.

  mint     the core (mint_tool over mailferry/oauth.h): Entra with a
           secret and with a certificate, Google per mailbox, the cache,
           fresh tokens, and each refusal with its own error code; no
           secret or key in any output.
  dovecot  `mailferry migrate --direct` against a private Dovecot pair
           whose oauth2 passdb asks our endpoint about each token: minted
           service-account tokens on both sides copy the mailboxes (the
           comparer agrees) and `verify`, `plan` and `endpoint test` log
           in with them too; a token revoked after it was cached is
           renewed once; a token never accepted, a wrong key, a token for
           another mailbox and an expired token each fail their mailbox
           with their own code; no token, secret or key in the output or
           in Dovecot's logs.
"""

import os
import subprocess
import sys

SRC = os.environ.get("MF_SOURCE_DIR",
                     os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BUILD = os.environ.get("MF_BUILD_DIR", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tests", "support", "oauth"))
sys.path.insert(0, os.path.join(SRC, "tests", "support"))
import oauthenv  # noqa: E402

TOOL = os.path.join(BUILD, "tests", "integration", "oauth", "oauth_mint_tool")


def log(msg):
    print("oauth_test: " + msg, flush=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    log("ok: " + what)


def mint(env, provider, keys, mailboxes):
    args = [TOOL, provider] + ["%s=%s" % kv for kv in keys.items()]
    args += ["--"] + list(mailboxes)
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    for s in env.secrets():
        assert s not in out, "a secret or key in the output"
    check(r.returncode == 0, "mint_tool ran: %s" % out.strip()[:300])
    lines = [line.split(" ", 3) for line in r.stdout.splitlines()]
    return [dict(kind=x[0], who=x[1], code=x[2] if len(x) > 2 else "",
                 rest=x[3] if len(x) > 3 else "", line=" ".join(x))
            for x in lines]


def case_mint(env):
    entra = dict(tenant=oauthenv.TENANT, client_id=oauthenv.CLIENT_ID,
                 token_url=env.entra_url, ca_file=env.ca_file)
    # Entra with the secret: one app token serves every mailbox.
    r = mint(env, "entra", dict(entra, client_secret_file=env.secret_file),
             ["a@example.test", "b@example.test", "c@example.test!"])
    check([x["kind"] for x in r] == ["ok"] * 3, "entra secret: 3 tokens")
    check("minted=1" in r[0]["line"] and "minted=1" in r[1]["line"] and
          "same=1" in r[1]["line"], "entra: cached for the second mailbox")
    check("minted=2" in r[2]["line"] and "same=0" in r[2]["line"],
          "entra: a fresh token when asked")
    check("aud=https://outlook.office365.com" in r[0]["line"] and
          "scope=IMAP.AccessAsApp" in r[0]["line"],
          "entra: audience and roles shown")
    # Entra with the certificate (client assertion).
    r = mint(env, "entra", dict(entra, certificate_file=env.cert_file),
             ["a@example.test"])
    check(r[0]["kind"] == "ok", "entra certificate: token")
    check(env.mints()[-1].get("auth") == "certificate",
          "the endpoint verified the client assertion")
    # Google: one token per mailbox, sub = the mailbox.
    g = dict(service_account_file=env.sa_file, ca_file=env.ca_file)
    r = mint(env, "google", g, ["u1@example.test", "u2@example.test",
                                "u1@example.test"])
    check([x["kind"] for x in r] == ["ok"] * 3, "google: 3 tokens")
    check("sub=u1@example.test" in r[0]["line"] and
          "sub=u2@example.test" in r[1]["line"], "google: sub is the mailbox")
    check("minted=2" in r[2]["line"], "google: u1's token came from cache")
    check("scope=https://mail.google.com/" in r[0]["line"],
          "google: scope shown")
    subs = [e.get("sub") for e in env.mints() if e.get("grant") ==
            "jwt-bearer"]
    check(subs == ["u1@example.test", "u2@example.test"],
          "google: two grants at the endpoint")

    # Refusals, each with its own code, one request each (no retry storm).
    before = len(env.events())
    r = mint(env, "entra", dict(entra, client_secret_file=env.wrong_secret_file),
             ["a@example.test"])
    check(r[0]["code"] == "OAUTH_INVALID_CLIENT" and "AADSTS7000215" in
          r[0]["rest"], "wrong secret: OAUTH_INVALID_CLIENT with AADSTS text")
    r = mint(env, "entra", dict(entra, certificate_file=env.wrong_cert_file),
             ["a@example.test"])
    check(r[0]["code"] == "OAUTH_INVALID_CLIENT" and "AADSTS700027" in
          r[0]["rest"], "unregistered certificate: OAUTH_INVALID_CLIENT")
    r = mint(env, "entra", dict(entra, certificate_file=env.bad_key_file),
             ["a@example.test"])
    check(r[0]["who"] == "new" and r[0]["code"] == "OAUTH_BAD_KEY",
          "unreadable key: OAUTH_BAD_KEY before any request")
    r = mint(env, "google", dict(g, service_account_file=env.wrong_sa_file),
             ["u1@example.test"])
    check(r[0]["code"] == "OAUTH_DENIED" and "Invalid JWT Signature" in
          r[0]["rest"] and "u1@example.test" in r[0]["rest"],
          "service account with the wrong key: OAUTH_DENIED, Google's words")
    r = mint(env, "google", g, ["revoked@example.test"])
    check(r[0]["code"] == "OAUTH_DENIED" and "Invalid email" in r[0]["rest"],
          "unknown mailbox: OAUTH_DENIED")
    check(len(env.events()) - before == 4,
          "one request per refusal (the bad key sent none)")
    # Certificates verified: without the test CA the endpoint is untrusted.
    r = mint(env, "google", dict(service_account_file=env.sa_file),
             ["u1@example.test"])
    check(r[0]["code"] == "OAUTH_TOKEN_ENDPOINT" and
          "certificate" in r[0]["rest"].lower(),
          "untrusted endpoint: OAUTH_TOKEN_ENDPOINT, nothing sent")
    # Plain HTTP is refused: the form holds the secret.
    r = mint(env, "entra", dict(entra, client_secret_file=env.secret_file,
                                token_url="http://127.0.0.1:%d/t" % env.port),
             ["a@example.test"])
    check(r[0]["code"] == "OAUTH_TOKEN_ENDPOINT" and
          "not supported" in r[0]["rest"].lower(),
          "a token endpoint over plain HTTP is refused")
    # Nobody listening.
    r = mint(env, "entra", dict(entra, client_secret_file=env.secret_file,
                                token_url="https://127.0.0.1:1/t"),
             ["a@example.test"])
    check(r[0]["code"] == "OAUTH_TOKEN_ENDPOINT", "no endpoint: retryable")


def mailbox_lines(out):
    """{email: (status line, error line or "")} from migrate's text."""
    res, last = {}, None
    for line in out.splitlines():
        words = [w.rstrip(":") for w in line.split()[:2]]
        who = [w for w in words if "@" in w]
        if who and not line.startswith(" "):
            last = who[0]
            res[last] = [line, ""]
        elif last and line.strip().startswith("error "):
            res[last][1] = line.strip()
    return res


def case_dovecot(env):
    from pipeline import Pipeline, user
    os.environ["MF_DOVECOT_OAUTH2_CONF"] = env.dovecot_conf()
    # The source offers both mechanisms (mailferry picks OAUTHBEARER), the
    # target XOAUTH2 only.
    os.environ["MF_DOVECOT_OAUTH2_MECHS_TARGET"] = "xoauth2"
    with Pipeline("oauth", users=8, redis=False, kafka=False,
                  deadline=160) as p:
        for n in range(1, 9):
            p.append(n, "oauth %d" % n)
            p.append(n, "second %d" % n, body="more\r\n")
        g = ["--source-oauth-provider", "google",
             "--source-oauth-service-account-file", env.sa_file,
             "--target-oauth-provider", "google",
             "--target-oauth-service-account-file", env.sa_file,
             "--ca-file", env.ca_file]

        def migrate(users, extra=(), expect=0, csv=None):
            path = csv or p.path("oauth-%s.csv" % "-".join(map(str, users)))
            if not csv:
                with open(path, "w") as f:
                    f.write("EmailAddress,UserName\n")
                    for n in users:
                        f.write("%s,%s\n" % (user(n)[0], user(n)[0]))
            r = p.mf("migrate", "--direct", path, "--source", p.source_url(),
                     "--target", p.target_url(), "--concurrency", "2",
                     "--report-dir", p.path("report"),
                     *extra, expect=expect)
            out = r.stdout + r.stderr
            for s in env.secrets():
                assert s not in out, "a secret or key in migrate's output"
            return out

        # Minted tokens on both sides copy everything.
        before = len(env.mints())
        out = migrate([1, 2], g)
        check(p.compare(1)["equal"] and p.compare(2)["equal"],
              "google tokens on both sides: the comparer finds them equal")
        subs = sorted(e["sub"] for e in env.mints()[before:])
        check(subs == sorted([user(1)[0], user(2)[0]] * 2),
              "one token per mailbox and side (cached for reconnections)")
        # verify logs in the same way (the options migrate --direct
        # reads) and finds both mailboxes equal, bodies compared too.
        before = len(env.mints())
        r = p.mf("verify", p.path("oauth-1-2.csv"), "--source",
                 p.source_url(), "--target", p.target_url(), "--deep",
                 "--json", *g, expect=None)
        out = r.stdout + r.stderr
        subs = sorted(e["sub"] for e in env.mints()[before:])
        check(r.returncode == 0 and out.count('"verified equal"') == 2 and
              subs == sorted([user(1)[0], user(2)[0]] * 2),
              "verify with minted tokens on both sides: both mailboxes "
              "verified equal, one token per mailbox and side (exit %d) %s"
              % (r.returncode, out[-300:]))
        for s in env.secrets() + env.issued():
            assert s not in out, "a secret or token in verify's output"
        # plan logs in with minted tokens too (source and target).
        with open(p.path("plan.csv"), "w") as f:
            f.write("EmailAddress,UserName\n%s,%s\n" % (user(1)[0],
                                                      user(1)[0]))
        before = len(env.mints())
        r = p.mf("plan", p.path("plan.csv"), "--source", p.source_url(),
                 "--target", p.target_url(), "--json", *g)
        subs = [e["sub"] for e in env.mints()[before:]]
        check('"messages"' in r.stdout and subs == [user(1)[0]] * 2 and
              not any(t in r.stdout + r.stderr for t in env.issued()),
              "plan logs in with minted tokens on both sides (one per "
              "side), no token in its output")
        # endpoint test: the token's audience, scopes and expiry, never
        # the token; then the OAuth2 login itself, on both sides.
        r = p.mf("endpoint", "test", "--source", p.source_url(), "--target",
                 p.target_url(), "--user", user(1)[0], *g)
        out = r.stdout + r.stderr
        check("oauth.token" in out and "audience %s" % oauthenv.SA_EMAIL
              in out and "scopes https://mail.google.com/" in out and
              "expires 20" in out and out.count("login.oauth") == 2
              and "eyJ" not in out and "result: ok" in out and
              not any(t in out for t in env.issued()),
              "endpoint test shows the token's audience, scopes and expiry "
              "and logs in, never the token")
        r = p.mf("endpoint", "test", "--source", p.source_url(), "--user",
                 user(4)[0], *g, expect=1)
        check("OAUTH_SASL_REFUSED" in r.stdout,
              "endpoint test: a refused token fails the login step")
        # refuse_first: the first token of user03 is refused at login:
        # one fresh token, one retry, the mailbox completes.
        before = len(env.mints())
        out = migrate([3], g)
        n3 = [e for e in env.mints()[before:] if e["sub"] == user(3)[0]]
        check(p.compare(3)["equal"] and len(n3) == 3,
              "a refused cached token is renewed once (3 mints: source "
              "twice, target once) and the mailbox completes")
        # refuse_always (endpoint test above minted 2 already): exactly
        # two tokens, then the server's own words.
        before = len(env.mints())
        out = migrate([4], g, expect=1)
        lines = mailbox_lines(out)
        n4 = [e for e in env.mints()[before:] if e["sub"] == user(4)[0]]
        check("OAUTH_SASL_REFUSED" in lines[user(4)[0]][1] and
              "status invalid_token" in lines[user(4)[0]][1] and
              len(n4) == 2,
              "a token never accepted: OAUTH_SASL_REFUSED with the server's "
              "JSON, after one renewal only (%s)" % lines[user(4)[0]][1])
        # A wrong service-account key: Google's words, one request.
        before = len(env.events())
        wrong = [a if a != env.sa_file else env.wrong_sa_file for a in g]
        out = migrate([5], wrong, expect=1)
        check("OAUTH_DENIED" in mailbox_lines(out)[user(5)[0]][1] and
              len(env.events()) - before == 1,
              "wrong key: OAUTH_DENIED, one request to the endpoint")
        # A token file with user07's token for user06: Dovecot refuses it.
        import json as _j
        import urllib.request as _u
        import ssl as _s
        import urllib.parse as _up
        # Mint one directly at the endpoint (the test's own client).
        with open(env.sa_file) as f:
            sa = _j.load(f)
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding
        import time as _t
        key = serialization.load_pem_private_key(
            sa["private_key"].encode(), None)
        now = int(_t.time())
        h = oauthenv.b64u(_j.dumps({"alg": "RS256", "typ": "JWT"}).encode())
        c = oauthenv.b64u(_j.dumps({
            "iss": sa["client_email"], "sub": user(7)[0],
            "scope": "https://mail.google.com/", "aud": env.google_url,
            "iat": now, "exp": now + 600}).encode())
        sig = key.sign((h + "." + c).encode(), padding.PKCS1v15(),
                       hashes.SHA256())
        form = _up.urlencode({"grant_type": "urn:ietf:params:oauth:"
                              "grant-type:jwt-bearer", "assertion":
                              h + "." + c + "." + oauthenv.b64u(sig)})
        ctx = _s.create_default_context(cafile=env.ca_file)
        with _u.urlopen(env.google_url, form.encode(), context=ctx) as resp:
            tok = _j.load(resp)["access_token"]
        tf = p.path("tokens")
        with open(tf, "w") as f:
            f.write("%s %s\n" % (user(6)[0], tok))
        os.chmod(tf, 0o600)
        out = migrate([6], ["--source-oauth-token-file", tf,
                            "--target-oauth-token-file", tf], expect=1)
        line = mailbox_lines(out)[user(6)[0]][1]
        check("OAUTH_SASL_REFUSED" in line and tok not in out,
              "a token for another mailbox: OAUTH_SASL_REFUSED (%s)" % line)
        # An expired JWT in a token file: refused before connecting.
        exp = tok.split(".")
        claims = _j.loads(oauthenv.unb64u(exp[1]))
        claims["exp"] = now - 10
        stale = exp[0] + "." + oauthenv.b64u(_j.dumps(claims).encode()) + \
            "." + exp[2]
        with open(tf, "w") as f:
            f.write("%s %s\n" % (user(8)[0], stale))
        out = migrate([8], ["--source-oauth-token-file", tf,
                            "--target-oauth-token-file", tf], expect=1)
        check("OAUTH_EXPIRED" in mailbox_lines(out)[user(8)[0]][1],
              "an expired token-file token: OAUTH_EXPIRED")
        # Which SASL mechanism each server saw.
        with open(p.dov["SOURCE_LOG"], errors="replace") as f:
            src_log = f.read()
        with open(p.dov["TARGET_LOG"], errors="replace") as f:
            tgt_log = f.read()
        check("method=OAUTHBEARER" in src_log and "method=XOAUTH2" in tgt_log
              and "method=OAUTHBEARER" not in tgt_log,
              "OAUTHBEARER where offered, XOAUTH2 otherwise")
        # Dovecot's logs hold no token either.
        for role in ("SOURCE", "TARGET"):
            with open(p.dov[role + "_LOG"], errors="replace") as f:
                text = f.read()
            check(tok not in text and all(s not in text for s in
                                          env.secrets()),
                  "no token or secret in the %s Dovecot log" % role.lower())


def case_expiry(d):
    """Tokens that expire are not used: a token of 3 s is renewed after
    it ran out, and kept while it lasts. Google's per mailbox; Entra's
    app token, which serves every mailbox, is renewed for the mailbox
    that comes after it expired (mailboxes one after another, as one
    worker slot takes them), at the same time in another thread."""
    import threading
    env = oauthenv.OAuthEnv(os.path.join(d, "short"), lifetime=3)
    try:
        entra = dict(tenant=oauthenv.TENANT, client_id=oauthenv.CLIENT_ID,
                     token_url=env.entra_url, ca_file=env.ca_file,
                     client_secret_file=env.secret_file)
        er = []
        t = threading.Thread(target=lambda: er.extend(mint(
            env, "entra", entra, ["a@example.test", "sleep:1",
                                  "b@example.test", "sleep:3",
                                  "c@example.test", "d@example.test"])))
        t.start()
        g = dict(service_account_file=env.sa_file, ca_file=env.ca_file)
        r = mint(env, "google", g, ["u1@example.test", "sleep:1",
                                    "u1@example.test", "sleep:3",
                                    "u1@example.test"])
        t.join()
        check("minted=1 same=1" in r[1]["line"],
              "a token still valid comes from the cache")
        check("minted=2 same=0" in r[2]["line"],
              "an expired token is renewed at the next use")
        check([x["kind"] for x in er] == ["ok"] * 4 and
              "minted=1 same=1" in er[1]["line"] and
              "minted=2 same=0" in er[2]["line"] and
              "minted=2 same=1" in er[3]["line"],
              "entra: the app token serves the next mailbox while valid; "
              "the first mailbox after it expired gets a renewed one, "
              "which serves the ones after it")
    finally:
        env.stop()


def main():
    case = sys.argv[1] if len(sys.argv) > 1 else "mint"
    with oauthenv.test_dir("mf-oauth.") as d, oauthenv.OAuthEnv(
            d, revoked=["revoked@example.test"],
            refuse_first=["user03@example.test"],
            refuse_always=["user04@example.test"]) as env:
        {"mint": case_mint, "dovecot": case_dovecot}[case](env)
        if case == "mint":
            case_expiry(d)
    log("passed: %s" % case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
