"""Everything the OAuth2 tests need around tokenserver.py, in one private
directory: a test CA and the endpoint's TLS certificate, the endpoint's
signing key, an Entra app (client id, secret file, certificate file with
its key), a Google service account (its JSON key file), and wrong ones of
each for the error cases. `OAuthEnv(dir)` makes them and starts the
server; `stop()` ends it (TERM, then KILL), by its PID only.
"""

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
import datetime

# The server's own base64url (JWT segments), under the names the tests use.
from tokenserver import b64url as b64u, unb64url as unb64u  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
TENANT = "contoso-test"
CLIENT_ID = "00000000-aaaa-bbbb-cccc-000000000012"
SECRET = "entra-secret-Zq8~do-not-log"
SA_EMAIL = "mailferry@test-project.iam.gserviceaccount.com"


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _self_signed(key, cn):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.utcnow()
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .sign(key, hashes.SHA256()))


def _write(path, data, mode=0o600):
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    os.chmod(path, mode)
    return path


class OAuthEnv:
    def __init__(self, d, lifetime=3600, revoked=(), refuse_first=(),
                 refuse_always=(), lifetimes=None):
        self.dir = d
        os.makedirs(d, exist_ok=True)
        self._tls()
        p = lambda n: os.path.join(d, n)  # noqa: E731
        self.signing_key = _write(p("signing.key"), _pem(_key()))
        # Entra app: a secret and a certificate (key + cert in one PEM).
        self.secret_file = _write(p("client-secret"), SECRET + "\n")
        self.wrong_secret_file = _write(p("wrong-secret"), "not-it\n")
        ck = _key()
        cert = _self_signed(ck, "mailferry entra app")
        cpem = cert.public_bytes(serialization.Encoding.PEM)
        self.cert_pub = _write(p("app-cert.crt"), cpem)
        self.cert_file = _write(p("app-cert.pem"), _pem(ck) + cpem)
        other = _key()
        self.wrong_cert_file = _write(
            p("wrong-cert.pem"),
            _pem(other) + _self_signed(other, "other").public_bytes(
                serialization.Encoding.PEM))
        self.bad_key_file = _write(p("garbage.pem"),
                                   "-----BEGIN PRIVATE KEY-----\nnope\n")
        # Google service account: the JSON key Google issues.
        sk = _key()
        self.sa_pub = _write(p("sa.pub"), sk.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo))
        self.port = None
        self.sa_file = None
        self.wrong_sa_file = None
        self._sa_keys = (sk, _key())
        self.log = p("tokenserver.log")
        self.cfg = dict(cert=p("server.crt"), key=p("server.key"),
                        port_file=p("port"), log=self.log, lifetime=lifetime,
                        signing_key=self.signing_key,
                        clients={CLIENT_ID: dict(secret=SECRET,
                                                 certificate=self.cert_pub)},
                        service_accounts={SA_EMAIL: self.sa_pub},
                        revoked=list(revoked),
                        refuse_first=list(refuse_first),
                        refuse_always=list(refuse_always),
                        lifetimes=dict(lifetimes or {}),
                        tokens_out=p("issued-tokens"))
        _write(p("tokenserver.json"), json.dumps(self.cfg))
        out = open(p("tokenserver.out"), "w")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(HERE, "tokenserver.py"),
             p("tokenserver.json")], stdout=out, stderr=out,
            stdin=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.exists(self.cfg["port_file"]):
                break
            if self.proc.poll() is not None:
                raise RuntimeError("tokenserver died: " +
                                   open(p("tokenserver.out")).read())
            time.sleep(0.05)
        with open(self.cfg["port_file"]) as f:
            self.port = int(f.read())
        self.base = "https://localhost:%d" % self.port
        self.entra_url = "%s/%s/oauth2/v2.0/token" % (self.base, TENANT)
        self.google_url = "%s/token" % self.base
        self.introspect_url = "%s/introspect" % self.base
        self.sa_file = self._sa("sa.json", self._sa_keys[0])
        self.wrong_sa_file = self._sa("wrong-sa.json", self._sa_keys[1])

    def _sa(self, name, key):
        return _write(os.path.join(self.dir, name), json.dumps({
            "type": "service_account", "project_id": "test-project",
            "private_key_id": "0123456789abcdef", "private_key":
            _pem(key).decode(), "client_email": SA_EMAIL,
            "client_id": "1234567890", "token_uri": self.google_url}))

    def _tls(self):
        d = self.dir
        self.ca_file = os.path.join(d, "ca.crt")

        def ossl(*a):
            subprocess.run(["openssl"] + list(a), check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
              "-nodes"]
        ossl("req", "-x509", *ec, "-keyout", os.path.join(d, "ca.key"),
             "-out", self.ca_file, "-days", "30", "-subj",
             "/CN=mailferry oauth test ca", "-addext",
             "basicConstraints=critical,CA:TRUE", "-addext",
             "keyUsage=critical,keyCertSign,cRLSign")
        ext = os.path.join(d, "server.ext")
        _write(ext, "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
               "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        ossl("req", *ec, "-keyout", os.path.join(d, "server.key"), "-out",
             os.path.join(d, "server.csr"), "-subj", "/CN=localhost")
        ossl("x509", "-req", "-in", os.path.join(d, "server.csr"), "-CA",
             self.ca_file, "-CAkey", os.path.join(d, "ca.key"),
             "-CAcreateserial", "-days", "30", "-extfile", ext, "-out",
             os.path.join(d, "server.crt"))
        os.chmod(self.ca_file, 0o644)

    def dovecot_conf(self):
        """A dovecot-oauth2.conf.ext: Dovecot's oauth2 passdb asks our
        endpoint (RFC 7662 introspection, POST) whether a token is active
        and whose it is; the login name must equal its "email"."""
        path = os.path.join(self.dir, "dovecot-oauth2.conf.ext")
        _write(path, "introspection_mode = post\n"
               "introspection_url = %s\n"
               "force_introspection = yes\n"
               "username_attribute = email\n"
               "active_attribute = active\n"
               "active_value = true\n"
               "tls_ca_cert_file = %s\n" % (self.introspect_url, self.ca_file),
               0o644)
        return path

    def expire(self, mailbox):
        """The endpoint's /test/expire: every token issued so far for
        mailbox is refused from now on, while mailferry's cache still
        holds it as valid. Returns how many tokens that were."""
        import ssl
        import urllib.parse
        import urllib.request
        ctx = ssl.create_default_context(cafile=self.ca_file)
        form = urllib.parse.urlencode({"mailbox": mailbox}).encode()
        with urllib.request.urlopen(self.base + "/test/expire", form,
                                    context=ctx, timeout=10) as r:
            return json.load(r)["expired"]

    def events(self):
        try:
            with open(self.log) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def mints(self):
        return [e for e in self.events() if e.get("answer") == "token"]

    def secrets(self):
        """Strings that must never appear in any log or output."""
        out = [SECRET]
        for path in (self.cert_file, self.sa_file):
            with open(path) as f:
                text = f.read()
            # A line from the middle of each private key.
            lines = [line for line in text.splitlines()
                     if line and not line.startswith("-----")]
            out.append(lines[len(lines) // 2])
        return out

    def issued(self):
        """Every access token the endpoint issued so far."""
        try:
            with open(self.cfg["tokens_out"]) as f:
                return [t for t in f.read().split() if t]
        except FileNotFoundError:
            return []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@contextlib.contextmanager
def test_dir(prefix):
    """A new directory under $MF_TEST_RUN_DIR (the system's temporary
    directory without it) that Dovecot's auth process can read (the CA
    and the conf); removed, with all in it, afterwards."""
    run = os.environ.get("MF_TEST_RUN_DIR")
    if run:
        os.makedirs(run, exist_ok=True)
    d = tempfile.mkdtemp(prefix=prefix, dir=run)
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    # `oauthenv.py DIR`: makes the environment in DIR, starts the token
    # endpoint (it keeps running; stop it by OAUTH_PID) and prints shell
    # lines for scripts/demo --oauth.
    import sys
    e = OAuthEnv(sys.argv[1])
    print("OAUTH_PID=%d" % e.proc.pid)
    print("OAUTH_SA_FILE=%s" % e.sa_file)
    print("OAUTH_CA_FILE=%s" % e.ca_file)
    print("OAUTH_DOVECOT_CONF=%s" % e.dovecot_conf())
    print("OAUTH_LOG=%s" % e.log)
    print("OAUTH_URL=%s" % e.google_url)
