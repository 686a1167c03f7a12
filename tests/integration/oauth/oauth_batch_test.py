#!/usr/bin/python3
"""OAuth2 through batches and workers (issue 12), against a private
Dovecot pair whose oauth2 passdb asks our token endpoint
(tests/support/oauth) about every token.

  batch  `batch create --dry-run` plans with minted tokens; the embedded
         `migrate` (no --direct: a batch, jobs and an in-process worker)
         copies with minted service-account tokens on both sides (the
         comparer agrees); then, each mailbox with its own clear code and
         a bounded number of requests: a wrong client secret
         (OAUTH_INVALID_CLIENT), an unreachable endpoint
         (OAUTH_TOKEN_ENDPOINT, retried up to --max-attempts only), a key
         the endpoint does not know
         (OAUTH_DENIED), a mailbox the endpoint refuses (OAUTH_DENIED), a
         token for another mailbox in a token file (OAUTH_SASL_REFUSED),
         a token the server never accepts (OAUTH_SASL_REFUSED after one
         renewal); an unusable key fails `batch create` before anything
         is stored (OAUTH_BAD_KEY).
  fleet  `batch create` + `serve` + a `mailferry-worker` process, tokens
         that live 25 s: the first pass copies everything; an incremental
         pass right after reuses the worker's cached tokens; once they
         expired, another pass renews them (no login is tried with an
         expired token) and copies the new mail; `batch verify` (in
         process and through the worker) logs in the same way and finds
         every mailbox equal; a token-file batch whose file is rotated
         between passes (its tokens expired) reads the new tokens at its
         next connections; then no token, client
         secret or private key is in Kafka, Redis, the reports, or any
         log or output (the secrets check of e2e.secrets, for OAuth2).
         While the first tokens age: `batch add` and `batch update` take
         rows without passwords on the OAuth2 sides, the added mailbox is
         copied with minted tokens; and tokens expire within one pass
         (batch oexp, one slot, a throttled copy): a mailbox whose tokens
         live 3 s loses its source connection after they expired and
         reconnects with renewed tokens (no login with an expired one); a
         mailbox whose cached tokens the server declares expired while
         mailferry still holds them valid loses its connection, each side
         gets one refusal, one fresh token and one retry, no more, and
         both mailboxes finish equal.
"""

import imaplib
import json
import os
import re
import subprocess
import sys
import time

SRC = os.environ.get("MF_SOURCE_DIR",
                     os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "support", "oauth"))
sys.path.insert(0, os.path.join(SRC, "tests", "support"))
import oauthenv  # noqa: E402
from pipeline import Pipeline, check, log, secrets_absent, user  # noqa: E402


LIFETIME = 25  # seconds a token of the fleet case lives
TF_USERS = [6, 7]  # the fleet case's token-file batch
ADDED = 8  # added to the fleet batch by `batch add`
SHORT, EARLY = 9, 10  # batch oexp: tokens of 3 s; expired at the server
SHORT_LIFE = 3
RATE = 100000  # batch oexp's --max-bytes-per-second


def google(env, side="both"):
    a = []
    for s in (("source", "target") if side == "both" else (side,)):
        a += ["--%s-oauth-provider" % s, "google",
              "--%s-oauth-service-account-file" % s, env.sa_file]
    return a + ["--ca-file", env.ca_file]


def write_csv(p, name, users):
    path = p.path(name)
    with open(path, "w") as f:
        f.write("EmailAddress,UserName\n")
        for n in users:
            f.write("%s,%s\n" % (user(n)[0], user(n)[0]))
    return path


def no_secret(env, text, what):
    secrets_absent(text, what, env.secrets() + env.issued())


def case_batch(p, env):
    for n in range(1, 9):
        p.append(n, "oauth batch %d" % n)
        p.append(n, "more %d" % n, folder="INBOX", body="more\r\n")

    def migrate(name, users, args, expect=0, csv=None):
        r = p.mf("migrate", csv or write_csv(p, name + ".csv", users),
                 "--source", p.source_url(), "--target", p.target_url(),
                 "--concurrency", "2", "--max-attempts", "2",
                 "--report-dir", p.path("report-" + name), *args,
                 expect=expect, timeout=150)
        out = r.stdout + r.stderr
        no_secret(env, out, "migrate's output (%s)" % name)
        return out

    # batch create --dry-run: plans with minted tokens, stores nothing.
    before = len(env.mints())
    r = p.mf("batch", "create", "dry", "--csv", write_csv(p, "dry.csv", [1]),
             "--source", p.source_url(), "--target", p.target_url(),
             "--dry-run", *google(env))
    out = r.stdout + r.stderr
    check("source logs in with OAuth2: google" in out and
          "service-account sealed" in out and "INBOX" in out,
          "batch create --dry-run shows the OAuth2 sides and plans")
    check(len(env.mints()) - before == 2,
          "the dry run minted one token per side for its mailbox")
    no_secret(env, out, "the dry run's output")

    # The embedded migrate: a batch, jobs, a worker in this process.
    before = len(env.mints())
    out = migrate("ok", [1, 2], google(env))
    check(p.compare(1)["equal"] and p.compare(2)["equal"],
          "embedded migrate with google tokens on both sides: the comparer "
          "finds both mailboxes equal")
    subs = sorted(e["sub"] for e in env.mints()[before:])
    check(subs == sorted([user(1)[0], user(2)[0]] * 2),
          "one token per mailbox and side, minted by the worker")

    # Errors, each its own code per mailbox, bounded requests.
    # A wrong Entra client secret: refused at the endpoint, for every
    # mailbox, one request per mailbox (the class fails the job: no
    # second attempt).
    before = len(env.events())
    entra = ["--source-oauth-provider", "entra", "--source-oauth-tenant",
             oauthenv.TENANT, "--source-oauth-client-id", oauthenv.CLIENT_ID,
             "--source-oauth-token-url", env.entra_url,
             "--source-oauth-client-secret-file", env.wrong_secret_file]
    out = migrate("wrongsecret", [3, 4], entra + google(env, "target"),
                  expect=1)
    check(out.count("OAUTH_INVALID_CLIENT") >= 2 and "AADSTS7000215" in out,
          "a wrong client secret: OAUTH_INVALID_CLIENT for each mailbox, "
          "with Entra's words")
    n = len(env.events()) - before
    check(n == 2, "one token request per mailbox, no retries (%d)" % n)
    # A token endpoint that does not answer: retryable, so retried, but
    # only up to --max-attempts (2 here), then the mailbox fails.
    down = [a if a != env.entra_url else "https://127.0.0.1:1/t"
            for a in entra]
    down[down.index(env.wrong_secret_file)] = env.secret_file
    out = migrate("down", [3], down + google(env, "target"), expect=1)
    line = [ln for ln in out.splitlines() if user(3)[0] in ln and
            "attempts" in ln]
    check("OAUTH_TOKEN_ENDPOINT" in out and line and
          line[0].rstrip().endswith("attempts 2"),
          "an unreachable token endpoint: OAUTH_TOKEN_ENDPOINT after "
          "exactly --max-attempts attempts (%s)" % (line and line[0]))
    # A service-account key the endpoint does not know: OAUTH_DENIED.
    before = len(env.events())
    wrong = ["--source-oauth-provider", "google",
             "--source-oauth-service-account-file", env.wrong_sa_file,
             *google(env, "target")]
    out = migrate("wrongkey", [5], wrong, expect=1)
    check("OAUTH_DENIED" in out and "Invalid JWT Signature" in out,
          "a wrong key: OAUTH_DENIED with Google's words")
    check(len(env.events()) - before == 1, "one request for it")
    # A mailbox the endpoint refuses a token for (delegation missing).
    out = migrate("revoked", [6], google(env), expect=1)
    check("OAUTH_DENIED" in out and "Invalid email" in out,
          "a mailbox without delegation: OAUTH_DENIED")
    # A token the server never accepts: one renewal, then refused.
    before = len(env.mints())
    out = migrate("refused", [7], google(env), expect=1)
    n7 = [e for e in env.mints()[before:] if e["sub"] == user(7)[0]]
    check("OAUTH_SASL_REFUSED" in out and "invalid_token" in out and
          len(n7) == 2,
          "a refused token is renewed once, then OAUTH_SASL_REFUSED with "
          "the server's JSON (2 mints, not a storm: %d)" % len(n7))
    # A token file holding another mailbox's token: Dovecot refuses it;
    # a token file cannot renew, so one login per attempt.
    tok = mint_for(env, user(1)[0])
    tf = p.path("tokens")
    with open(tf, "w") as f:
        f.write("%s %s\n" % (user(8)[0], tok))
    os.chmod(tf, 0o600)
    out = migrate("other", [8], ["--source-oauth-token-file", tf,
                                 "--target-oauth-token-file", tf], expect=1)
    check("OAUTH_SASL_REFUSED" in out and tok not in out,
          "a token for another mailbox: OAUTH_SASL_REFUSED")
    # An unusable key: batch create refuses before storing anything.
    r = p.mf("migrate", write_csv(p, "bad.csv", [1]), "--source",
             p.source_url(), "--target", p.target_url(),
             "--source-oauth-provider", "entra", "--source-oauth-tenant",
             oauthenv.TENANT, "--source-oauth-client-id", oauthenv.CLIENT_ID,
             "--source-oauth-certificate-file", env.bad_key_file,
             *google(env, "target"), expect=None)
    check(r.returncode != 0 and "OAUTH_BAD_KEY" in r.stderr and
          "garbage.pem" in r.stderr and "Created" not in r.stdout,
          "an unusable certificate key stops migrate before any job (%s)"
          % r.stderr.strip()[:200])
    # A relative token file path cannot mean the same file on workers.
    r = p.mf("migrate", write_csv(p, "rel.csv", [1]), "--source",
             p.source_url(), "--target", p.target_url(),
             "--source-oauth-token-file", "tokens", *google(env, "target"),
             expect=2)
    check("absolute path" in r.stderr, "a relative token file is refused")
    check(p.compare(1)["equal"] and p.compare(2)["equal"],
          "the failed runs changed nothing of the mailboxes copied before")
    counts = {n: target_messages(p, n) for n in range(3, 9)}
    check(not any(counts.values()),
          "nothing was copied for the mailboxes that failed: their targets "
          "hold no message (%s)" % counts)


def target_messages(p, n):
    """How many messages user n's target mailbox holds, every folder."""
    u, pw = user(n)
    c = imaplib.IMAP4("127.0.0.1", p.tgt_port)
    try:
        c.login(u, pw)
        total = 0
        for line in c.list()[1]:
            name = line.decode().rsplit(' "/" ', 1)[-1]
            if "\\Noselect" in line.decode():
                continue
            typ, data = c.select(name, readonly=True)
            total += int(data[0]) if typ == "OK" else 0
        return total
    finally:
        c.logout()


def mint_for(env, who):
    """A token for who, minted by the test itself at the endpoint."""
    import ssl
    import urllib.parse
    import urllib.request
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    with open(env.sa_file) as f:
        sa = json.load(f)
    key = serialization.load_pem_private_key(sa["private_key"].encode(), None)
    now = int(time.time())
    h = oauthenv.b64u(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    c = oauthenv.b64u(json.dumps({
        "iss": sa["client_email"], "sub": who,
        "scope": "https://mail.google.com/", "aud": env.google_url,
        "iat": now, "exp": now + 600}).encode())
    sig = key.sign((h + "." + c).encode(), padding.PKCS1v15(),
                   hashes.SHA256())
    form = urllib.parse.urlencode({
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": h + "." + c + "." + oauthenv.b64u(sig)})
    ctx = ssl.create_default_context(cafile=env.ca_file)
    with urllib.request.urlopen(env.google_url, form.encode(),
                                context=ctx) as resp:
        return json.load(resp)["access_token"]


def fill(p, n, count, size):
    """count messages of size bytes into user n's source INBOX, over one
    connection."""
    u, pw = user(n)
    c = imaplib.IMAP4("127.0.0.1", p.src_port)
    try:
        c.login(u, pw)
        line = ("x" * 76 + "\r\n").encode()
        body = line * (size // len(line))
        for i in range(count):
            msg = (("From: <e2e@example.test>\r\nTo: %s\r\nSubject: big "
                    "%d\r\nMessage-ID: <big-%d-%d@example.test>\r\n\r\n")
                   % (u, i, n, i)).encode() + body
            c.append("INBOX", None, None, msg)
    finally:
        c.logout()


def kick(p, n):
    """Drops user n's source connections (`doveadm kick`)."""
    r = subprocess.run(["doveadm", "-c", p.dov["SOURCE_CONF"], "kick",
                        user(n)[0]], capture_output=True, text=True,
                       timeout=30)
    check(r.returncode == 0 and user(n)[0] in r.stdout,
          "kicked %s's source connection" % user(n)[0])


def add_update(p, env):
    """`batch add` and `batch update` of an OAuth2 batch: rows without
    passwords (both sides log in with tokens) are taken, and the added
    mailbox is copied at once with tokens the worker mints."""
    before = len(env.mints())
    path = write_csv(p, "add.csv", [ADDED])
    r = p.mf("batch", "add", "ofleet", "--csv", path, *p.kafka_args())
    check("added 1 mailbox" in r.stdout,
          "batch add: an OAuth2 batch takes a row without passwords")
    p.wait_state("ofleet", "Synced", timeout=90)
    subs = [e["sub"] for e in env.mints()[before:]
            if e.get("sub") == user(ADDED)[0]]
    check(p.compare(ADDED)["equal"] and len(subs) == 2,
          "the added mailbox is copied with minted tokens (%d)" % len(subs))
    r = p.mf("batch", "update", "ofleet", "--csv", path, *p.kafka_args())
    check("new logins and passwords for 1 mailbox" in r.stdout,
          "batch update: an OAuth2 batch takes a row without passwords")


def within_pass(p, env):
    """Tokens that expire within one pass (see the top)."""
    short, early = user(SHORT)[0], user(EARLY)[0]
    start = len(env.events())

    def mints(who):
        return [e for e in env.events()[start:]
                if e.get("answer") == "token" and e.get("sub") == who]

    def refused(who):
        return [e for e in env.events()[start:]
                if e.get("introspect") == who and e["active"] != "true"]

    def copying(n):
        m = p.mailbox(p.status("oexp"), n)
        return m["state"] not in ("Synced", "Failed", "SyncedWithErrors")

    acted = {}
    p.create("oexp", write_csv(p, "exp.csv", [SHORT, EARLY]), *google(env),
             "--max-bytes-per-second", str(RATE))
    p.start("oexp")
    # One slot: the two mailboxes run one after the other, in either
    # order. Each is acted on while its throttled copy runs.
    for _ in range(2):
        who = p.wait(lambda: next(
            (w for w in (short, early)
             if len(mints(w)) == 2 and not acted.get(w)), None),
            60, "the next oexp mailbox to log in on both sides")
        acted[who] = True
        t = mints(who)[1]["t"]  # the later of its two tokens
        n = SHORT if who == short else EARLY
        if n == SHORT:
            # Past both tokens' expiry (and mailferry's early renewal).
            time.sleep(max(0, t + SHORT_LIFE + 0.5 - time.time()))
        else:
            time.sleep(max(0, t + 1 - time.time()))
            check(env.expire(early) == 2,
                  "the server declares %s's two cached tokens expired"
                  % early)
        check(copying(n), "%s is still being copied" % who)
        kick(p, n)
    st = p.wait_state("oexp", ["Synced", "SyncedWithErrors"], timeout=90)
    check(st["state"] == "Synced" and p.compare(SHORT)["equal"] and
          p.compare(EARLY)["equal"],
          "both mailboxes finish within the pass, equal")
    check(len(mints(short)) == 4 and not refused(short),
          "tokens that expired mid-mailbox: the reconnection renewed them "
          "before use (4 mints, %d, no refused login, %d)"
          % (len(mints(short)), len(refused(short))))
    logs = p.logs().decode(errors="replace")
    for w in (short, early):
        check(re.search(r"job\.done batch=oexp mailbox=%s \S+ attempt=1: "
                        r"synced" % re.escape(w), logs),
              "%s synced by its first job: the reconnection happened "
              "inside the job, within the pass" % w)
    why = [e["why"] for e in refused(early)]
    check(len(mints(early)) == 4 and why == ["expired at the server"] * 2,
          "cached tokens the server says expired: one refusal, one fresh "
          "token and one retry per side, no storm (%d mints, refusals %s)"
          % (len(mints(early)), why))


def case_fleet(p, env):
    users = [1, 2, 3, 4]
    fleet = {user(n)[0] for n in users}
    for n in users + TF_USERS + [ADDED]:
        for i in range(6):
            p.append(n, "fleet %d/%d" % (n, i))
    fill(p, SHORT, 35, 20000)  # 7 s at RATE
    fill(p, EARLY, 20, 20000)  # 4 s
    # A message in a folder after INBOX, so that the source is asked
    # again after the kick: a pass settles empty folders from STATUS
    # alone, and the kicked connection would never be used again.
    for n in (SHORT, EARLY):
        p.append(n, "after the kick %d" % n, folder="Archive")
    p.create("ofleet", write_csv(p, "fleet.csv", users), *google(env))
    # An Entra batch too, so that a client secret and a certificate are
    # sealed in Redis and Kafka (its app token has no mailbox: Dovecot
    # refuses it, which is fine here).
    p.create("oentra", write_csv(p, "entra.csv", [5]),
             "--source-oauth-provider", "entra", "--source-oauth-tenant",
             oauthenv.TENANT, "--source-oauth-client-id", oauthenv.CLIENT_ID,
             "--source-oauth-token-url", env.entra_url,
             "--source-oauth-client-secret-file", env.secret_file,
             "--target-oauth-provider", "entra", "--target-oauth-tenant",
             oauthenv.TENANT, "--target-oauth-client-id", oauthenv.CLIENT_ID,
             "--target-oauth-token-url", env.entra_url,
             "--target-oauth-certificate-file", env.cert_file,
             "--ca-file", env.ca_file, "--max-attempts", "1")
    # Token files, read by the worker at every new connection: rotated
    # between passes by "an outside refresher" (this test).
    tf = p.path("token-file")

    def write_tokens(users_):
        with open(tf + ".new", "w") as f:
            for n in users_:
                f.write("%s %s\n" % (user(n)[0], mint_for(env, user(n)[0])))
        os.chmod(tf + ".new", 0o600)
        os.replace(tf + ".new", tf)
    write_tokens(TF_USERS)
    p.create("otf", write_csv(p, "tf.csv", TF_USERS),
             "--source-oauth-token-file", tf, "--target-oauth-token-file", tf)
    p.serve("--log-level", "debug")
    w = p.worker("w1", slots=1, extra=["--log-level", "debug"])
    w.wait_assigned()
    p.start("ofleet")
    p.start("oentra")
    p.start("otf")
    p.wait_state("ofleet", "Synced", timeout=120)
    p.wait_state("otf", "Synced", timeout=120)
    st = p.wait_state("oentra", ["SyncedWithErrors"], timeout=120)
    m = json.dumps(p.mailbox(st, 5))
    check("OAUTH_SASL_REFUSED" in m,
          "an app token without a mailbox is refused by Dovecot, clearly")
    for n in users:
        check(p.compare(n)["equal"], "pass 1: %s equal" % user(n)[0])
    first = len(env.mints())
    subs = sorted(e["sub"] for e in env.mints() if e.get("sub") in fleet)
    check(subs == sorted([user(n)[0] for n in users] * 2),
          "pass 1: one token per mailbox and side, minted by the worker")
    # At once an incremental pass: the worker still holds the tokens it
    # minted (across jobs), so it mints fewer than one per mailbox and
    # side (only those close to expiry on a slow machine).
    def incremental(tag):
        for n in users:
            p.append(n, "%s %d" % (tag, n))
        p.op("sync", "ofleet")
        p.wait_state("ofleet", "Synced", timeout=120)
        for n in users:
            check(p.compare(n)["equal"], "%s: %s equal" % (tag, user(n)[0]))
    incremental("pass 2")
    t2 = time.time()  # every token was minted before this
    second = len(env.mints())
    cached = [e for e in env.mints()[first:second] if e.get("sub") in fleet]
    check(len(cached) < 2 * len(users),
          "pass 2: the worker reused its cached tokens (%d minted)"
          % len(cached))
    # While those tokens age: batch add and update, and tokens that
    # expire within one pass.
    within_pass(p, env)
    add_update(p, env)
    # Let every token expire, add mail, run another incremental pass.
    time.sleep(max(0, LIFETIME + 1 - (time.time() - t2)))
    incremental("pass 3")
    # The token file's tokens have expired too: the refresher writes new
    # ones and the next pass of that batch uses them.
    write_tokens(TF_USERS)
    for n in TF_USERS:
        p.append(n, "token file pass 2 %d" % n)
    p.op("sync", "otf")
    st = p.wait_state("otf", ["Synced", "SyncedWithErrors"], timeout=120)
    check(st["state"] == "Synced" and
          all(p.compare(n)["equal"] for n in TF_USERS),
          "a token file rotated between passes: the worker read the new "
          "tokens (the old ones had expired) and the pass completed")
    renewed = [e for e in env.mints()[second:] if e.get("sub") in fleet]
    check(len(renewed) == 2 * len(users),
          "pass 3: every expired token was renewed before use (%d)"
          % len(renewed))
    refused = [e for e in env.events() if e.get("why") == "token expired"]
    check(not refused, "no login was tried with an expired token")
    check(p.compare(ADDED)["equal"], "pass 3: the added mailbox equal")
    # batch verify logs in with the batch's OAuth2 settings too: in this
    # process, and through the worker (verify jobs).
    base = ["batch", "verify", "ofleet", "--redis", p.redis_url,
            "--master-key-file", p.key(), "--sample", "2"]
    r = p.mf(*base, "--json", expect=None)
    check(r.returncode == 0 and r.stdout.count('"verified equal"') == 5,
          "batch verify (in process) with minted tokens: every mailbox "
          "equal (exit %d) %s" % (r.returncode, r.stdout[-200:]))
    r = p.mf(*base, "--kafka", p.bootstrap, "--wait", "--timeout", "90s",
             "--json", expect=None, timeout=150)
    check(r.returncode == 0 and r.stdout.count('"verified equal"') == 5,
          "batch verify through the worker with minted tokens: every "
          "mailbox equal (exit %d) %s" % (r.returncode, r.stdout[-200:]))
    # Nothing secret anywhere: Kafka, Redis, reports, logs and output.
    secrets = env.secrets() + env.issued()
    check(len(env.issued()) >= 2 * len(users) * 2 + 2 * len(TF_USERS) + 1,
          "the endpoint issued the tokens checked for below")
    reports = b""
    for b in ("ofleet", "oentra"):
        for fmt in ("csv", "json", "html"):
            p.report(b, fmt)
            with open(p.path("report-%s.%s" % (b, fmt)), "rb") as f:
                reports += f.read()
    secrets_absent(reports, "the reports", secrets)
    dump = p.kafka_dump()
    check(dump.count(b"mailferry.jobs ") >= 9, "the Kafka dump holds the jobs")
    secrets_absent(dump, "any Kafka message", secrets)
    rc = p.redis_client()
    blob = rc.everything("*")
    rc.close()
    check(b"s_oauth_client_id" in blob and b"t_oauth_key" in blob,
          "Redis holds the OAuth2 settings and the sealed keys")
    secrets_absent(blob, "Redis (SCAN, values, DUMP)", secrets)
    secrets_absent(p.logs(), "the serve and worker logs and the CLI output",
                   secrets)
    for role in ("SOURCE", "TARGET"):
        with open(p.dov[role + "_LOG"], "rb") as f:
            secrets_absent(f.read(), "the %s Dovecot log" % role.lower(),
                           secrets)


def main():
    case = sys.argv[1]
    fleet = case == "fleet"
    with oauthenv.test_dir("mf-oauthb.") as d, oauthenv.OAuthEnv(
            d, lifetime=LIFETIME if fleet else 3600,
            revoked=[user(6)[0]] if case == "batch" else [],
            refuse_always=[user(7)[0]] if case == "batch" else [],
            lifetimes={user(SHORT)[0]: SHORT_LIFE} if fleet
            else {}) as env:
        os.environ["MF_DOVECOT_OAUTH2_CONF"] = env.dovecot_conf()
        with Pipeline("oauth-" + case, users=10, redis=fleet, kafka=fleet,
                      deadline=280) as p:
            {"batch": case_batch, "fleet": case_fleet}[case](p, env)
    log("passed: %s" % case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
