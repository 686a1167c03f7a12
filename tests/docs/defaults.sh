#!/usr/bin/env bash
# A default is defined once, in core, and the help prints it from there
# (issue 15, "Defaults"); this check holds the docs to what the help
# prints: `serve --scan-interval` (MF_SERVICE_DEFAULT_SCAN_S) and
# `--max-attempts` (MF_BATCH_DEFAULT_ATTEMPTS per pass,
# MF_MIGRATE_DEFAULT_ATTEMPTS per mailbox with --direct).
# Usage: defaults.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=${1:?usage: defaults.sh SOURCE_DIR BUILD_DIR} build=${2:?}
mf="$build/bin/mailferry"
fail() { echo "FAIL: $*"; exit 1; }
# needs FILE TEXT: FILE holds TEXT (fixed string)
needs() { grep -qF -- "$2" "$src/$1" || fail "$1 does not say \"$2\" (the help prints it)"; }

scan=$("$mf" serve --help | sed -n 's/.*--scan-interval VALUE .*(\([0-9]*\)s)$/\1/p')
[ -n "$scan" ] || fail "mailferry serve --help prints no --scan-interval default"
needs docs/batches.md "\`--scan-interval\` ($scan s)"

line=$("$mf" migrate --help | grep -- '--max-attempts VALUE') ||
    fail "mailferry migrate --help has no --max-attempts"
pass=$(sed -n 's/.*(default \([0-9]*\) per pass;.*/\1/p' <<<"$line")
direct=$(sed -n 's/.*per mailbox: \([0-9]*\))$/\1/p' <<<"$line")
[ -n "$pass" ] && [ -n "$direct" ] ||
    fail "mailferry migrate --help: cannot read the --max-attempts defaults: $line"
needs docs/batches.md "\`--max-attempts N\` (default $pass, per pass)"
needs README.md "($pass per pass; $direct per mailbox with \`--direct\`"
echo "ok: --scan-interval ${scan}s, --max-attempts $pass per pass and $direct with --direct, as the help prints"
