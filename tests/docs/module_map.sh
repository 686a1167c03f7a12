#!/usr/bin/env bash
# docs/design.md's module map stays true: every core/src/<module>/<file>.c
# has its line in the map, and every file the map names exists.
# Usage: module_map.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: module_map.sh SOURCE_DIR}
doc="$src/docs/design.md"

# The map's table: "| **`mod/`** | | ..." starts a module (a `file.c` in
# its description counts as that module's line), "| | `file.c` | ..." is
# one file's line. Prints mod/file.c, one a line.
mapped=$(awk '
    /^### Module map/ { on = 1; next }
    on && /^#/ { exit }
    on && /^\| \*\*`[a-z0-9_]+\/`\*\* \|/ {
        mod = $0; sub(/^\| \*\*`/, "", mod); sub(/\/`.*/, "", mod)
        rest = $0
        while (match(rest, /`[a-z0-9_]+\.c`/)) {
            print mod "/" substr(rest, RSTART + 1, RLENGTH - 2)
            rest = substr(rest, RSTART + RLENGTH)
        }
        next
    }
    on && mod != "" && /^\| \| `[a-z0-9_]+\.c` \|/ {
        f = $0; sub(/^\| \| `/, "", f); sub(/`.*/, "", f)
        print mod "/" f
    }' "$doc" | sort -u)
[ -n "$mapped" ] || { echo "FAIL: no module map found in $doc"; exit 1; }

actual=$(cd "$src/core/src" && find . -name '*.c' | sed 's|^\./||' | sort)

missing=$(comm -23 <(echo "$actual") <(echo "$mapped"))
stale=$(comm -13 <(echo "$actual") <(echo "$mapped"))
rc=0
if [ -n "$missing" ]; then
    echo "FAIL: core/src files without a line in docs/design.md's module map:"
    echo "$missing" | sed 's/^/  /'
    rc=1
fi
if [ -n "$stale" ]; then
    echo "FAIL: docs/design.md's module map names files that do not exist:"
    echo "$stale" | sed 's/^/  /'
    rc=1
fi
[ "$rc" = 0 ] && echo "ok: $(echo "$actual" | wc -l) files, each in the module map"
exit $rc
