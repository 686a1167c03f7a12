#!/usr/bin/env bash
# `mailferry csv validate` as an admin runs it: exit codes, the
# FILE:LINE:COLUMN lines, the summary and the --json document.
set -euo pipefail
mf="$MF_BUILD_DIR/bin/mailferry"
samples="$MF_SOURCE_DIR/deploy/samples"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

out=$("$mf" csv validate "$samples/batch.csv") || fail "valid file rejected: $out"
[[ "$out" == *"4 rows, 4 mailboxes, 0 errors: valid"* ]] || fail "summary: $out"

set +e
out=$("$mf" csv validate "$samples/batch-with-errors.csv"); rc=$?
set -e
[ "$rc" = 1 ] || fail "invalid file: exit $rc, want 1"
for want in \
    "batch-with-errors.csv:1:4: error: unknown column" \
    "batch-with-errors.csv:3:1: error: invalid email address in EmailAddress" \
    "batch-with-errors.csv:4:1: error: duplicate EmailAddress in EmailAddress: \"alice@example.test\" is already on line 2" \
    "batch-with-errors.csv:5:2: error: required field is empty in UserName" \
    "batch-with-errors.csv:6:3: error: misplaced quote in Password" \
    "batch-with-errors.csv:7:0: error: wrong number of columns" \
    "6 rows, 1 mailboxes, 6 errors: INVALID"; do
    [[ "$out" == *"$want"* ]] || fail "missing \"$want\" in:
$out"
done
[[ "$out" != *"Dave\"Pass"* && "$out" != *"Bob-Pass"* ]] || fail "a password leaked: $out"

out=$("$mf" csv validate --allow-unknown-columns "$samples/batch-with-errors.csv" --json) && fail "--json: exit 0"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
assert d["valid"] is False and d["rows"] == 6 and d["mailboxes"] == 1, d
codes = [e["code"] for e in d["errors"]]
assert codes == ["CSV_BAD_ADDRESS", "CSV_DUPLICATE_ADDRESS", "CSV_EMPTY_FIELD",
                 "CSV_BAD_QUOTE", "CSV_COLUMN_COUNT"], codes
assert d["errors"][0] == {"line": 3, "column": 1, "column_name": "EmailAddress",
    "code": "CSV_BAD_ADDRESS", "number": 105, "message": "invalid email address",
    "detail": "\"bob@example\": the domain has no dot"}, d["errors"][0]
PY

set +e
"$mf" csv validate >/dev/null 2>&1; [ $? = 2 ] || fail "no file: want exit 2"
"$mf" csv validate a.csv --no-such-flag >/dev/null 2>&1; [ $? = 2 ] || fail "bad flag: want exit 2"
"$mf" csv validate "$tmp/missing.csv" >/dev/null 2>&1; [ $? = 3 ] || fail "missing file: want exit 3"
set -e

# A file over the row limit stops with a clear error, and a 50,000-row
# file (Exchange Online's limit) passes.
{
    echo "EmailAddress,UserName,Password"
    for i in $(seq 1 50001); do echo "u$i@example.test,u$i,p$i"; done
} >"$tmp/big.csv"
set +e
out=$("$mf" csv validate "$tmp/big.csv"); rc=$?
set -e
[ "$rc" = 1 ] && [[ "$out" == *":50002:0: error: too many rows"* ]] || fail "row limit: $out"
head -n 50001 "$tmp/big.csv" >"$tmp/max.csv"
out=$("$mf" csv validate "$tmp/max.csv") || fail "50000 rows rejected: $out"
echo "ok"
