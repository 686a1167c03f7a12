#!/usr/bin/python3
"""OAuth2 tokens minted by mailferry (issue 12) against our token endpoint
(tests/support/oauth/tokenserver.py) over HTTPS with a test CA.

  mint     the core (mint_tool over mailferry/oauth.h): Entra with a
           secret and with a certificate, Google per mailbox, the cache,
           fresh tokens, and each refusal with its own error code; no
           secret or key in any output.
"""

import os
import shutil
import subprocess
import sys
import tempfile

SRC = os.environ.get("MF_SOURCE_DIR",
                     os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BUILD = os.environ.get("MF_BUILD_DIR", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tests", "support", "oauth"))
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
    # Nobody listening.
    r = mint(env, "entra", dict(entra, client_secret_file=env.secret_file,
                                token_url="https://127.0.0.1:1/t"),
             ["a@example.test"])
    check(r[0]["code"] == "OAUTH_TOKEN_ENDPOINT", "no endpoint: retryable")


def main():
    case = sys.argv[1] if len(sys.argv) > 1 else "mint"
    d = tempfile.mkdtemp(prefix="mf-oauth.")
    env = None
    try:
        env = oauthenv.OAuthEnv(d, revoked=["revoked@example.test"])
        {"mint": case_mint}[case](env)
        log("passed: %s" % case)
        return 0
    finally:
        if env:
            env.stop()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
