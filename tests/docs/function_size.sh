#!/usr/bin/env bash
# The programs are wiring (issue 15, "Done when"): no function in
# coordinator/ or worker/ is over 80 lines; what would make one longer
# belongs in core. A function is counted as ctags counts it, from the
# line with its name at column 0 to its closing "}" at column 0 (the
# house style's clang-format puts both there).
# Usage: function_size.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: function_size.sh SOURCE_DIR}
max=80
cd "$src"
files=$(find coordinator worker -type f -name '*.c' | sort)
[ -n "$files" ] || { echo "FAIL: no C files in coordinator/ or worker/"; exit 1; }
# shellcheck disable=SC2086 # the file names have no blanks
report=$(awk -v max=$max '
    FNR == 1 { start = 0; body = 0 }
    !start && /^[A-Za-z_][A-Za-z0-9_]*\(/ {
        start = FNR; body = 0; name = $0; sub(/\(.*/, "", name)
    }
    start && !body && /;$/ { start = 0; next }     # a prototype
    start && !body && /\{$/ { body = 1; next }
    start && body && /^}/ {
        n++; len = FNR - start + 1
        if (len > max) printf "  %s:%d %s(): %d lines\n", FILENAME, start, name, len
        start = 0
    }
    END { printf "functions %d\n", n }' $files)
over=$(grep -v '^functions ' <<<"$report" || true)
counted=$(grep '^functions ' <<<"$report" | cut -d' ' -f2)
if [ "$counted" -lt 50 ]; then
    echo "FAIL: only $counted functions found: the scan no longer sees them"
    exit 1
fi
if [ -n "$over" ]; then
    echo "FAIL: functions over $max lines in coordinator/ or worker/ (move the logic to core):"
    echo "$over"
    exit 1
fi
echo "ok: $counted functions in coordinator/ and worker/, none over $max lines"
