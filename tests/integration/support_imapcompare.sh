#!/usr/bin/env bash
# The independent comparer must be trustworthy before it judges the engine:
# a mailbox compared with itself is EQUAL; against an empty target every
# folder is reported missing; against a target holding one message less,
# or one message with other flags, exactly that difference is reported.
set -euo pipefail
. "$MF_TEST_RUN_DIR/dovecot.env"
support="$MF_SOURCE_DIR/tests/support"
user=user40@example.test pw=pw-user40
src="127.0.0.1:$SOURCE_IMAP_PORT" tgt="127.0.0.1:$TARGET_IMAP_PORT"
fail() { echo "FAIL: $*"; exit 1; }

/usr/bin/python3 "$support/dovecot/gen_corpus.py" --server source --first-user 40 --users 1 \
    --profile small --clean --manifest "$MF_TEST_RUN_DIR/imapcompare-manifest.json" >/dev/null

out=$(/usr/bin/python3 "$support/imapcompare.py" --source "$src" --target "$src" \
    --user "$user" --password "$pw" --special-use --subscriptions) || fail "self-compare: $out"
[[ "$out" =~ ([0-9]+)\ folders,\ ([0-9]+)\ messages:\ EQUAL ]] && [ "${BASH_REMATCH[1]}" -ge 8 ] && [ "${BASH_REMATCH[2]}" -ge 40 ] || fail "self-compare: $out"

set +e
out=$(/usr/bin/python3 "$support/imapcompare.py" --source "$src" --target "$tgt" \
    --user "$user" --password "$pw" --special-use --json); rc=$?
set -e
[ "$rc" = 1 ] || fail "empty target: exit $rc: $out"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
assert not d["equal"], d
# INBOX exists on the target (empty), so its messages are missing; the
# other folders are missing as folders.
assert any("missing on target as" in p for p in d["problems"]), d["problems"]
assert any(p.startswith("folder 'INBOX'") and "missing on target" in p
           for p in d["problems"]), d["problems"]
PY

# A copy of INBOX with one message deleted and one re-flagged must differ
# from INBOX by exactly those: 2 missing (the deleted one, the changed one
# as it was) and 1 extra (the changed one as it is).
/usr/bin/python3 - "$SOURCE_IMAP_PORT" "$user" "$pw" <<'PY'
import imaplib, sys
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
m = imaplib.IMAP4("127.0.0.1", port)
m.login(user, pw)
m.select("INBOX")
typ, data = m.uid("SEARCH", None, "ALL")
uids = data[0].split()
assert len(uids) >= 2, uids
# Copy INBOX to a scratch folder, then alter the copy: one message gone,
# one message with another flag.
m.create("CmpScratch")
m.uid("COPY", b",".join(uids).decode(), "CmpScratch")
m.select("CmpScratch")
typ, data = m.uid("SEARCH", None, "ALL")
s = data[0].split()
m.uid("STORE", s[0].decode(), "+FLAGS.SILENT", "(\\Deleted)")
m.expunge()
m.uid("STORE", s[1].decode(), "+FLAGS.SILENT", "($CmpChanged)")
m.logout()
PY
out=$(/usr/bin/python3 - "$support" "$SOURCE_IMAP_PORT" "$user" "$pw" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import imapcompare
side = imapcompare.Side("127.0.0.1:" + sys.argv[2], sys.argv[3], sys.argv[4], None, None)
a = sorted(m[:3] for m in side.messages("INBOX"))
b = sorted(m[:3] for m in side.messages("CmpScratch"))
from collections import Counter
missing = Counter(a) - Counter(b)
extra = Counter(b) - Counter(a)
print(sum(missing.values()), sum(extra.values()))
PY
)
[ "$out" = "2 1" ] || fail "want 2 missing (deleted + changed) and 1 extra (changed), got $out"
echo ok
