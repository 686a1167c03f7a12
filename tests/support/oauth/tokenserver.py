#!/usr/bin/python3
"""A token endpoint of ours for the OAuth2 tests: `tokenserver.py CONFIG`.

It speaks the two grants mailferry mints tokens with, as the providers
document them (form-encoded POST, JSON answers, RFC 6749 section 5.2 error
answers with the providers' own error texts):

  POST /<tenant>/oauth2/v2.0/token   Microsoft Entra ID client credentials
      (RFC 6749 section 4.4): client_id, scope, grant_type=
      client_credentials, and client_secret or a client assertion
      (RFC 7523 section 2.2: an RS256 JWT with x5t, aud = this URL,
      iss = sub = client_id), checked against the client's certificate.
  POST /token   Google's JWT bearer grant (RFC 7523 section 2.1): the
      assertion is an RS256 JWT from a service account (iss), checked with
      the account's public key; sub is the mailbox, scope must be
      https://mail.google.com/.
  POST /introspect   RFC 7662 token introspection for Dovecot's oauth2
      passdb (introspection_mode = post): {"active": ..., "email": ...}.

Access tokens are JWTs signed RS256 with the server's own key, with exp,
aud, scope or roles, and for Google the mailbox in "email". Every request
is appended to the log as one JSON line WITHOUT secrets, assertions or
tokens (what was asked, what was answered), so tests count mints.

CONFIG (JSON) holds: cert, key (TLS), port_file, log, lifetime (seconds),
signing_key (PEM), clients {client_id: {secret | certificate (PEM path)}},
service_accounts {client_email: public key PEM path}, revoked [mailbox]
(no token is minted for them), refuse_first [mailbox] (introspection
refuses the first token minted for each: a token revoked after it was
cached), refuse_always [mailbox] (minted, but never accepted),
lifetimes {mailbox: seconds} (optional: the lifetime of that mailbox's
tokens instead of lifetime), and tokens_out (optional: a file every
issued token is appended to, for the tests' no-token-anywhere checks).

  POST /test/expire   mailbox=M (tests only): every token issued so far
      for M counts as expired from now on (introspection refuses it, why
      "expired at the server"), as if the server's clock ran ahead of the
      client's or the provider cut the token's life short: the client's
      cache still holds it as valid.
Stops on SIGTERM.
"""

import base64
import hashlib
import http.server
import json
import os
import signal
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

ENTRA_SCOPE = "https://outlook.office365.com/.default"
GOOGLE_SCOPE = "https://mail.google.com/"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Refusal(Exception):
    def __init__(self, status, error, description):
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def verify_jwt(token, public_key, what, leeway=60):
    """RS256 signature and exp/nbf of a compact JWT; returns (header,
    claims)."""
    try:
        h, c, s = token.split(".")
        header, claims = json.loads(unb64url(h)), json.loads(unb64url(c))
    except (ValueError, TypeError):
        raise Refusal(400, "invalid_request", "%s is not a JWT" % what)
    if header.get("alg") != "RS256":
        raise Refusal(400, "invalid_request", "%s: alg must be RS256" % what)
    try:
        public_key.verify(unb64url(s), (h + "." + c).encode(),
                          padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise Refusal(401, "invalid_signature", "%s: bad signature" % what)
    now = time.time()
    if claims.get("exp", 0) < now - leeway or \
            claims.get("nbf", 0) > now + leeway:
        raise Refusal(400, "invalid_grant", "%s expired" % what)
    return header, claims


class Server:
    def __init__(self, cfg):
        self.cfg = cfg
        self.lock = threading.Lock()
        self.refused_once = set()
        self.issued = {}  # mailbox: set of jti (for /test/expire)
        self.expired = set()  # jti expired at the server
        with open(cfg["signing_key"], "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), None)
        self.clients = {}
        for cid, c in cfg.get("clients", {}).items():
            entry = {"secret": c.get("secret")}
            if c.get("certificate"):
                with open(c["certificate"], "rb") as f:
                    cert = x509.load_pem_x509_certificate(f.read())
                entry["cert_key"] = cert.public_key()
                entry["x5t"] = b64url(hashlib.sha1(
                    cert.public_bytes(serialization.Encoding.DER)).digest())
            self.clients[cid] = entry
        self.accounts = {}
        for email, path in cfg.get("service_accounts", {}).items():
            with open(path, "rb") as f:
                self.accounts[email] = serialization.load_pem_public_key(
                    f.read())

    def log(self, **kw):
        kw["t"] = round(time.time(), 3)
        with self.lock, open(self.cfg["log"], "a") as f:
            f.write(json.dumps(kw) + "\n")

    def issue(self, claims):
        now = int(time.time())
        who = claims.get("email", "")
        life = int(self.cfg.get("lifetimes", {}).get(
            who, self.cfg.get("lifetime", 3600)))
        claims.update(iat=now, nbf=now, exp=now + life, jti=str(uuid.uuid4()))
        with self.lock:
            self.issued.setdefault(who, set()).add(claims["jti"])
        h = b64url(json.dumps({"alg": "RS256", "typ": "JWT",
                               "kid": "fixture"}).encode())
        c = b64url(json.dumps(claims).encode())
        sig = self.key.sign((h + "." + c).encode(), padding.PKCS1v15(),
                            hashes.SHA256())
        token = h + "." + c + "." + b64url(sig)
        if self.cfg.get("tokens_out"):
            # Tests only: every token issued, so that they can check that
            # none shows up where it must not.
            with self.lock, open(self.cfg["tokens_out"], "a") as f:
                f.write(token + "\n")
        return {"token_type": "Bearer", "expires_in": life,
                "access_token": token}

    def entra(self, url, tenant, form):
        cid = form.get("client_id", "")
        client = self.clients.get(cid)
        if form.get("grant_type") != "client_credentials":
            raise Refusal(400, "unsupported_grant_type",
                          "AADSTS70003: grant type not supported")
        if client is None:
            raise Refusal(400, "unauthorized_client",
                          "AADSTS700016: Application with identifier '%s' "
                          "was not found in the directory '%s'."
                          % (cid, tenant))
        if form.get("scope") != ENTRA_SCOPE:
            raise Refusal(400, "invalid_scope",
                          "AADSTS70011: The provided value for the input "
                          "parameter 'scope' is not valid.")
        if "client_secret" in form:
            if form["client_secret"] != client.get("secret"):
                raise Refusal(401, "invalid_client",
                              "AADSTS7000215: Invalid client secret "
                              "provided.")
            how = "secret"
        elif form.get("client_assertion_type") == ASSERTION_TYPE:
            if "cert_key" not in client:
                raise Refusal(401, "invalid_client",
                              "AADSTS700027: no certificate registered")
            try:
                header, claims = verify_jwt(form.get("client_assertion", ""),
                                            client["cert_key"],
                                            "client assertion")
            except Refusal as r:
                raise Refusal(401, "invalid_client",
                              "AADSTS700027: Client assertion failed "
                              "signature validation (%s)." % r.description)
            if header.get("x5t") != client["x5t"]:
                raise Refusal(401, "invalid_client",
                              "AADSTS700027: The certificate with identifier "
                              "used to sign the client assertion is not "
                              "registered on application.")
            if claims.get("aud") != url or claims.get("iss") != cid or \
                    claims.get("sub") != cid or not claims.get("jti"):
                raise Refusal(401, "invalid_client",
                              "AADSTS700024: Client assertion audience, "
                              "issuer or subject is wrong.")
            how = "certificate"
        else:
            raise Refusal(401, "invalid_client",
                          "AADSTS7000218: The request body must contain "
                          "'client_assertion' or 'client_secret'.")
        self.log(grant="client_credentials", client_id=cid, auth=how,
                 answer="token")
        return self.issue({"aud": "https://outlook.office365.com",
                           "iss": "https://sts.windows.net/%s/" % tenant,
                           "appid": cid, "roles": ["IMAP.AccessAsApp"]})

    def google(self, url, form):
        if form.get("grant_type") != JWT_BEARER:
            raise Refusal(400, "unsupported_grant_type",
                          "Invalid grant_type: %s"
                          % form.get("grant_type", ""))
        token = form.get("assertion", "")
        try:
            iss = json.loads(unb64url(token.split(".")[1])).get("iss")
        except (ValueError, IndexError):
            raise Refusal(400, "invalid_grant", "Invalid JWT.")
        pub = self.accounts.get(iss)
        if pub is None:
            raise Refusal(401, "invalid_client",
                          "The OAuth client was not found.")
        try:
            _, claims = verify_jwt(token, pub, "assertion")
        except Refusal:
            raise Refusal(400, "invalid_grant", "Invalid JWT Signature.")
        if claims.get("aud") != url:
            raise Refusal(400, "invalid_grant",
                          "Invalid JWT: Token must be a short-lived token "
                          "and in a reasonable timeframe")
        if claims.get("scope") != GOOGLE_SCOPE:
            raise Refusal(400, "unauthorized_client",
                          "Client is unauthorized to retrieve access tokens "
                          "using this method, or client not authorized for "
                          "any of the scopes requested.")
        sub = claims.get("sub", "")
        if sub in self.cfg.get("revoked", []):
            raise Refusal(400, "invalid_grant", "Invalid email or User ID")
        self.log(grant="jwt-bearer", iss=iss, sub=sub, answer="token")
        return self.issue({"aud": iss, "email": sub, "scope": GOOGLE_SCOPE,
                           "sub": sub})

    def expire(self, form):
        who = form.get("mailbox", "")
        with self.lock:
            n = len(self.issued.get(who, ()))
            self.expired |= self.issued.get(who, set())
        self.log(expire=who, tokens=n)
        return {"expired": n}

    def introspect(self, form):
        token = form.get("token", "")
        who = ""
        try:
            try:  # whose token, for the log only (checked below)
                who = json.loads(unb64url(token.split(".")[1])).get(
                    "email", "")
            except (ValueError, IndexError, AttributeError):
                pass
            _, claims = verify_jwt(token, self.key.public_key(), "token", 0)
            who = claims.get("email")
            if claims.get("jti") in self.expired:
                raise Refusal(401, "expired", "expired at the server")
            if who in self.cfg.get("refuse_always", []):
                raise Refusal(401, "revoked", "revoked")
            with self.lock:
                first = who in self.cfg.get("refuse_first", []) and \
                    who not in self.refused_once
                if first:
                    self.refused_once.add(who)
                    self.refused_once.add(claims.get("jti"))
                elif claims.get("jti") in self.refused_once:
                    first = True
            if first:
                raise Refusal(401, "revoked", "revoked after caching")
            ans = {"active": "true", "email": claims.get("email", ""),
                   "scope": claims.get("scope", "")}
        except Refusal as r:
            ans = {"active": "false", "why": r.description}
        self.log(introspect=ans.get("email", who), active=ans["active"],
                 why=ans.get("why", ""))
        return ans


def handler_for(server):
    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            pass

        def answer(self, status, obj):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            if n > 65536:
                return self.answer(413, {"error": "invalid_request"})
            form = dict(urllib.parse.parse_qsl(
                self.rfile.read(n).decode(), keep_blank_values=True))
            path = urllib.parse.urlsplit(self.path).path
            host = self.headers.get("Host", "")
            url = "https://%s%s" % (host, path)
            try:
                if path == "/introspect":
                    return self.answer(200, server.introspect(form))
                if path == "/test/expire":
                    return self.answer(200, server.expire(form))
                parts = path.strip("/").split("/")
                if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0",
                                                     "token"]:
                    return self.answer(200, server.entra(url, parts[0], form))
                if path == "/token":
                    return self.answer(200, server.google(url, form))
                return self.answer(404, {"error": "not_found"})
            except Refusal as r:
                server.log(path=path, answer=r.error,
                           description=r.description)
                return self.answer(r.status, {
                    "error": r.error, "error_description": r.description,
                    "error_codes": [], "timestamp": time.strftime(
                        "%Y-%m-%d %H:%M:%SZ", time.gmtime())})
    return H


def main():
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    server = Server(cfg)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            handler_for(server))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cfg["cert"], cfg["key"])
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(
        target=httpd.shutdown).start())
    tmp = cfg["port_file"] + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % httpd.server_address[1])
    os.rename(tmp, cfg["port_file"])
    httpd.serve_forever()


if __name__ == "__main__":
    main()
