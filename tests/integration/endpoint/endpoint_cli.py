#!/usr/bin/python3
"""Integration tests of `mailferry endpoint test` and `mailferry endpoint dns`
against the Dovecot pair fixture (dovecot.env) and the DNS fixture (dns.env).

    endpoint_cli.py good|failures|probe|dns

Each mode runs the real binary ($MF_BUILD_DIR/bin/mailferry), checks
exit codes, the verdict lines and the --json document (parsed with json),
and that no password ever shows up in the output.
"""
import json
import os
import subprocess
import sys
import tempfile

MAILFERRY = os.path.join(os.environ["MF_BUILD_DIR"], "bin", "mailferry")
sys.path.insert(0, os.path.join(os.environ["MF_SOURCE_DIR"], "tests",
                                "support"))
from itestlib import check, fixture_env, free_port, verdict  # noqa: E402

# Exit codes (docs/preflight.md).
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_ERROR = 0, 1, 2, 3
EXIT_CONNECT, EXIT_TLS, EXIT_AUTH = 4, 5, 6
EXIT_DNS_TTL = 4


SECRETS = []


def run(*args):
    p = subprocess.run([MAILFERRY, *args], capture_output=True, text=True,
                       timeout=120)
    out = p.stdout + p.stderr
    for s in SECRETS:
        check(s not in out, "no password in the output of %s" % " ".join(args[:3]))
    return p.returncode, p.stdout, p.stderr


def run_json(*args):
    rc, out, err = run(*args, "--json")
    try:
        doc = json.loads(out)
    except ValueError as e:
        check(False, "JSON parses (%s): %r %r" % (e, out[:300], err[:300]))
        return rc, None
    return rc, doc


class Dovecot:
    def __init__(self, tmp):
        self.env = fixture_env("dovecot")
        e = self.env
        self.imaps = "imaps://127.0.0.1:%s" % e["SOURCE_IMAPS_PORT"]
        self.imap = "imap://127.0.0.1:%s" % e["SOURCE_IMAP_PORT"]
        self.plain = "imap://127.0.0.1:%s/?tls=off" % e["SOURCE_IMAP_PORT"]
        self.target = "imap://127.0.0.1:%s" % e["TARGET_IMAP_PORT"]
        self.ca = e["CA_FILE"]
        self.other_ca = e["OTHER_CA_FILE"]
        self.admin = e["MASTER_USER"]
        self.max_userip = int(e["MAX_USERIP_CONNECTIONS"])
        self.admin_pw = self.secret_file(tmp, "admin.pw", e["MASTER_PASSWORD"])
        self.bad_pw = self.secret_file(tmp, "bad.pw", "not-the-password")
        SECRETS.append(e["MASTER_PASSWORD"])
        SECRETS.append("not-the-password")

    def user(self, n):
        return self.env["USER_FORMAT"] % n

    def user_pw(self, tmp, n):
        pw = self.env["PASSWORD_FORMAT"] % n
        SECRETS.append(pw)
        return self.secret_file(tmp, "user%02d.pw" % n, pw)

    @staticmethod
    def secret_file(tmp, name, value):
        path = os.path.join(tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(value + "\n")
        os.chmod(path, 0o600)
        return path


def steps(doc):
    return {s["name"]: s for s in doc["steps"]}


def mode_good(tmp):
    d = Dovecot(tmp)
    # imaps with the fixture's CA, admin impersonation and a user login,
    # target over STARTTLS.
    args = ["endpoint", "test", "--source", d.imaps, "--ca-file", d.ca,
            "--admin", d.admin, "--admin-password-file", d.admin_pw,
            "--as", d.user(31), "--user", d.user(32),
            "--password-file", d.user_pw(tmp, 32),
            "--target", d.target, "--target-admin", d.admin,
            "--target-admin-password-file", d.admin_pw]
    rc, out, _ = run(*args)
    check(rc == EXIT_OK, "imaps good endpoint exits 0 (got %d)" % rc)
    check("result: ok" in out, "text ends with result: ok")
    for line in ("[ ok ] tcp", "[ ok ] tls", "[ ok ] greeting",
                 "[ ok ] login.impersonate", "[ ok ] login.user",
                 "[ ok ] namespace", "[ ok ] separator", "[ ok ] starttls"):
        check(line in out, "verdict line %r" % line)
    check("*LITERAL+" in out and "*UIDPLUS" in out,
          "used capabilities are marked with *")
    rc, doc = run_json(*args)
    if doc is None:
        return
    check(rc == EXIT_OK and doc["ok"] is True and doc["exit_code"] == 0,
          "JSON ok true, exit_code 0")
    src, tgt = doc["source"], doc["target"]
    check(src["url"] == d.imaps + "" or src["url"].startswith("imaps://"),
          "JSON source url")
    check(src["error"] is None, "JSON source error null")
    check(src["tls"]["verified"] is True, "JSON tls.verified")
    check("CN=localhost" in src["tls"]["subject"], "JSON tls.subject")
    check("mailferry test ca" in src["tls"]["issuer"], "JSON tls.issuer")
    check("IP:127.0.0.1" in src["tls"]["subject_alt_names"], "JSON tls SAN")
    check(src["tls"]["days_left"] > 30 and
          src["tls"]["not_after"].endswith("Z"), "JSON tls expiry")
    check(src["tls"]["verify_result"] == "ok", "JSON tls.verify_result ok")
    check("mailferry source ready" in src["greeting"], "JSON greeting")
    check("AUTH=PLAIN" in src["capabilities_prelogin"],
          "JSON capabilities_prelogin")
    for cap in ("LITERAL+", "MULTIAPPEND", "UIDPLUS", "SPECIAL-USE",
                "NAMESPACE", "STATUS=SIZE", "CONDSTORE", "ID"):
        check(cap in src["capabilities"], "JSON capabilities has " + cap)
    used = {c["name"]: c for c in src["capabilities_mailferry"]}
    check(used["UIDPLUS"]["present"] is True and
          used["APPENDLIMIT"]["present"] is False and
          used["UIDPLUS"]["need"] == "recommended",
          "JSON capabilities_mailferry verdicts")
    check(src["namespace"] == {"personal_prefix": "", "personal_separator": ".",
                               "other_users": 0, "shared": 0},
          "JSON source namespace")
    check(src["separator"] == ".", "JSON source separator .")
    check(tgt["separator"] == "/" and
          tgt["namespace"]["personal_separator"] == "/",
          "JSON target separator /")
    check("starttls" in steps(tgt) and tgt["tls"]["verified"],
          "JSON target STARTTLS verified")
    check(src["probe"] is None and src["connection_limit"] is None,
          "JSON no probe asked: probe and connection_limit null")
    check(all(s["verdict"] in ("ok", "warn") for s in src["steps"]),
          "JSON every source step ok or warn")

    # STARTTLS on the source with a plain user login.
    rc, doc = run_json("endpoint", "test", "--source", d.imap, "--ca-file",
                       d.ca, "--user", d.user(33), "--password-file",
                       d.user_pw(tmp, 33))
    check(rc == EXIT_OK and doc and doc["ok"], "imap:// STARTTLS passes")
    if doc:
        st = steps(doc["source"])
        check(st["starttls"]["verdict"] == "ok" and
              st["tls"]["verdict"] == "ok", "STARTTLS then a verified TLS")

    # Plain text (lab servers): passes with a warning.
    rc, out, _ = run("endpoint", "test", "--source", d.plain, "--user",
                     d.user(33), "--password-file", d.user_pw(tmp, 33))
    check(rc == EXIT_OK, "?tls=off passes (got %d)" % rc)
    check("[warn] tls" in out and "plain text" in out,
          "?tls=off warns about plain text")
    rc, doc = run_json("endpoint", "test", "--source", d.plain, "--user",
                       d.user(33), "--password-file", d.user_pw(tmp, 33))
    check(doc is not None and doc["source"]["tls"] is None,
          "?tls=off JSON tls null")

    # --insecure accepts the untrusted certificate, with a warning.
    rc, out, err = run("endpoint", "test", "--source", d.imaps, "--ca-file",
                       d.other_ca, "--insecure", "--admin", d.admin,
                       "--admin-password-file", d.admin_pw, "--as", d.user(31))
    check(rc == EXIT_OK and "[warn] tls" in out and "NOT verified" in out and
          "--insecure" in err, "--insecure passes with warnings")

    # No credentials: connection checks only, logins skipped.
    rc, out, _ = run("endpoint", "test", "--source", d.imaps, "--ca-file",
                     d.ca)
    check(rc == EXIT_OK and "[skip] login" in out,
          "no credentials: login skipped, exit 0")


def mode_failures(tmp):
    d = Dovecot(tmp)
    # Wrong admin password: exit 6 with the server's words.
    args = ["endpoint", "test", "--source", d.imaps, "--ca-file", d.ca,
            "--admin", d.admin, "--admin-password-file", d.bad_pw,
            "--as", d.user(34)]
    rc, out, _ = run(*args)
    check(rc == EXIT_AUTH, "wrong admin password exits %d (got %d)"
          % (EXIT_AUTH, rc))
    check("[FAIL] login.impersonate" in out and "AUTHENTICATIONFAILED" in out,
          "wrong password: FAIL line with the server's AUTHENTICATIONFAILED")
    check("[skip] capabilities" in out, "later steps skipped")
    rc, doc = run_json(*args)
    check(doc is not None and rc == EXIT_AUTH and doc["ok"] is False and
          doc["exit_code"] == EXIT_AUTH and
          doc["source"]["error"]["code"] == "AUTH" and
          doc["source"]["error"]["number"] == 305, "wrong password JSON")

    # Wrong user password, plain login.
    rc, out, _ = run("endpoint", "test", "--source", d.imap, "--ca-file", d.ca,
                     "--user", d.user(34), "--password-file", d.bad_pw)
    check(rc == EXIT_AUTH and "[FAIL] login.user" in out,
          "wrong user password exits %d (got %d)" % (EXIT_AUTH, rc))

    # Impersonating an unknown user.
    rc, out, _ = run("endpoint", "test", "--source", d.imaps, "--ca-file", d.ca,
                     "--admin", d.admin, "--admin-password-file", d.admin_pw,
                     "--as", "nobody@example.test")
    check(rc == EXIT_AUTH and "AUTHORIZATIONFAILED" in out,
          "unknown impersonated user: exit %d, AUTHORIZATIONFAILED" % EXIT_AUTH)

    # A closed port.
    port = free_port()
    args = ["endpoint", "test", "--source", "imaps://127.0.0.1:%d" % port,
            "--ca-file", d.ca]
    rc, out, _ = run(*args)
    check(rc == EXIT_CONNECT, "closed port exits %d (got %d)"
          % (EXIT_CONNECT, rc))
    check("[FAIL] tcp" in out and "Connection refused" in out,
          "closed port: FAIL tcp, Connection refused")
    rc, doc = run_json(*args)
    check(doc is not None and doc["source"]["error"]["code"] == "CONNECT" and
          doc["source"]["tls"] is None and
          [s["name"] for s in doc["source"]["steps"]] == ["tcp"],
          "closed port JSON")

    # A name that does not resolve.
    rc, out, _ = run("endpoint", "test", "--source",
                     "imaps://no-such-host.invalid:993")
    check(rc == EXIT_CONNECT and "cannot resolve" in out,
          "unresolvable host exits %d" % EXIT_CONNECT)

    # An untrusted certificate (another CA), on both TLS forms.
    for url in (d.imaps, d.imap):
        args = ["endpoint", "test", "--source", url, "--ca-file", d.other_ca,
                "--admin", d.admin, "--admin-password-file", d.admin_pw,
                "--as", d.user(34)]
        rc, out, _ = run(*args)
        check(rc == EXIT_TLS, "untrusted certificate on %s exits %d (got %d)"
              % (url, EXIT_TLS, rc))
        check("[FAIL] tls" in out and "not trusted" in out and
              "--ca-file" in out, "untrusted certificate: clear FAIL line")
        rc, doc = run_json(*args)
        check(doc is not None and
              doc["source"]["error"]["code"] == "TLS_VERIFY" and
              doc["source"]["tls"]["verified"] is False and
              "CN=localhost" in doc["source"]["tls"]["subject"],
              "untrusted certificate JSON shows the certificate")

    # TLS to the plain port: the handshake fails.
    rc, out, _ = run("endpoint", "test", "--source",
                     "imaps://127.0.0.1:%s" % d.env["SOURCE_IMAP_PORT"],
                     "--ca-file", d.ca, "--timeout", "5")
    check(rc == EXIT_TLS and "handshake" in out,
          "imaps:// to a plain port: TLS failure, exit %d (got %d)"
          % (EXIT_TLS, rc))

    # Usage and setup errors.
    rc, _, err = run("endpoint", "test")
    check(rc == EXIT_USAGE and "--source" in err, "no --source: usage, 2")
    rc, _, err = run("endpoint", "test", "--source", "http://x")
    check(rc == EXIT_USAGE, "bad URL: usage, 2")
    rc, _, err = run("endpoint", "test", "--source", d.imaps, "--admin",
                     d.admin)
    check(rc == EXIT_USAGE, "--admin without a password file: usage, 2")
    rc, _, err = run("endpoint", "test", "--source", d.imaps, "--admin",
                     d.admin, "--admin-password-file",
                     os.path.join(tmp, "missing.pw"))
    check(rc == EXIT_ERROR, "unreadable password file: 3 (got %d)" % rc)
    rc, _, err = run("endpoint", "test", "--source", d.imaps,
                     "--admin-password", "inline")
    check(rc == EXIT_USAGE, "an inline password is refused")


def mode_probe(tmp):
    d = Dovecot(tmp)
    # Dovecot counts per user+IP; master logins count for the user.
    user = d.user(37)
    base = ["endpoint", "test", "--source", d.imaps, "--ca-file", d.ca,
            "--admin", d.admin, "--admin-password-file", d.admin_pw,
            "--as", user]
    rc, doc = run_json(*base, "--probe-connections", str(d.max_userip + 5))
    check(rc == EXIT_OK and doc is not None, "probe run exits 0")
    if doc:
        src = doc["source"]
        check(src["connection_limit"] == d.max_userip,
              "connection_limit %s == mail_max_userip_connections %d"
              % (src["connection_limit"], d.max_userip))
        check(src["probe"]["asked"] == d.max_userip + 5 and
              src["probe"]["opened"] == d.max_userip and
              src["probe"]["refused"] is True, "probe counts")
        check("LIMIT" in src["probe"]["refusal"] and
              "mail_max_userip_connections" in src["probe"]["refusal"],
              "the refusal has the server's words: %s" % src["probe"]["refusal"])
        check(steps(src)["probe"]["verdict"] == "ok", "probe step ok")
    # All closed again: the same user can log in at once, the limit times.
    rc, doc = run_json(*base, "--probe-connections", str(d.max_userip))
    check(rc == EXIT_OK and doc is not None and
          doc["source"]["probe"]["opened"] == d.max_userip and
          doc["source"]["probe"]["refused"] is False and
          doc["source"]["connection_limit"] is None,
          "after the probe every connection was closed (limit reached again, "
          "no refusal, connection_limit null)")
    rc, out, _ = run(*base, "--probe-connections", "3")
    check(rc == EXIT_OK and "all 3 concurrent connections" in out and
          "connection limit: >= 3" in out, "probe below the limit: text")


def mode_dns(tmp):
    e = fixture_env("dns")
    srv = e["DNS_SERVER"]
    low, high = e["LOW_TTL_DOMAIN"], e["HIGH_TTL_DOMAIN"]
    rc, out, _ = run("endpoint", "dns", low, "--server", srv)
    check(rc == EXIT_OK, "low TTL domain exits 0 (got %d)" % rc)
    check("mx1.%s" % low in out and "TTL    %s s  ok" % e["LOW_TTL"] in out,
          "low TTL: records with their TTL")
    rc, doc = run_json("endpoint", "dns", low, "--server", srv)
    if check(doc is not None, "low TTL JSON"):
        check(doc["ok"] is True and doc["exit_code"] == 0 and
              doc["rcode"] == "NOERROR" and doc["error"] is None and
              doc["max_ttl"] == int(e["LOW_TTL"]) and
              doc["ttl_advice"] == 3600, "low TTL JSON summary")
        want = [(int(p), x) for p, x in
                (r.split(" ") for r in e["LOW_TTL_MX"].split(","))]
        check([(m["preference"], m["exchange"]) for m in doc["mx"]] == want,
              "low TTL JSON MX records sorted by preference")
        check(all(m["ttl"] == int(e["LOW_TTL"]) and m["ttl_ok"]
                  for m in doc["mx"]), "low TTL JSON per-record TTL")

    rc, out, _ = run("endpoint", "dns", high, "--server", srv)
    check(rc == EXIT_DNS_TTL, "high TTL exits %d (got %d)"
          % (EXIT_DNS_TTL, rc))
    check("WARNING" in out and e["HIGH_TTL"] in out and "an hour" in out,
          "high TTL: a warning with the TTL and the advice")
    rc, doc = run_json("endpoint", "dns", high, "--server", srv)
    if check(doc is not None, "high TTL JSON"):
        check(doc["ok"] is False and doc["exit_code"] == EXIT_DNS_TTL and
              doc["max_ttl"] == int(e["HIGH_TTL"]) and
              doc["mx"][0]["ttl_ok"] is False and
              doc["mx"][0]["exchange"] == "mx." + high, "high TTL JSON")

    rc, out, _ = run("endpoint", "dns", e["UNKNOWN_DOMAIN"], "--server", srv)
    check(rc == EXIT_FAIL and "NXDOMAIN" in out, "unknown domain exits 1")
    rc, doc = run_json("endpoint", "dns", e["UNKNOWN_DOMAIN"], "--server",
                       srv)
    check(doc is not None and doc["rcode"] == "NXDOMAIN" and
          doc["mx"] == [] and doc["exit_code"] == 1, "unknown domain JSON")
    rc, out, _ = run("endpoint", "dns", e["NOMX_DOMAIN"], "--server", srv)
    check(rc == EXIT_FAIL and "no MX record" in out,
          "domain without MX exits 1")
    rc, out, _ = run("endpoint", "dns", low, "--server",
                     "127.0.0.1:%d" % free_port(), "--timeout", "2")
    check(rc == EXIT_FAIL and "FAILED" in out,
          "no DNS server there exits 1")
    rc, _, _ = run("endpoint", "dns", low, "--server", "dns.example.com")
    check(rc == EXIT_USAGE, "a server name (not an address) is a usage error")
    rc, _, _ = run("endpoint", "dns", "a..b", "--server", srv)
    check(rc == EXIT_USAGE, "an invalid domain is a usage error")


def main():
    modes = {"good": mode_good, "failures": mode_failures,
             "probe": mode_probe, "dns": mode_dns}
    if len(sys.argv) != 2 or sys.argv[1] not in modes:
        print("usage: endpoint_cli.py " + "|".join(modes), file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="mailferry-endpoint.") as tmp:
        modes[sys.argv[1]](tmp)
    return verdict()


if __name__ == "__main__":
    sys.exit(main())
