#!/usr/bin/env bash
# Header tiers (STYLE.md, issue 15): no core/src module includes another
# module's _int.h (`mf__` internals stay inside their module). One known
# exception is listed below until verify/ stops borrowing the engine's
# run internals; the list may only shrink.
# Usage: header_tiers.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: header_tiers.sh SOURCE_DIR}
known="verify migrate/migrate_int.h"
cd "$src/core/src"
bad=$(grep -rHo '#include "[a-z0-9_]*/[a-z0-9_]*_int\.h"' --include='*.c' --include='*.h' . |
      sed -E 's|^\./([^/]+)/[^:]*:#include "(([^/]+)/[^"]+)"$|\1 \2 \3|' |
      awk '$1 != $3 {print $1, $2}' | sort -u |
      grep -vxF "$known" || true)
if [ -n "$bad" ]; then
    echo "FAIL: modules that include another module's _int.h (module header):"
    echo "$bad" | sed 's/^/  /'
    exit 1
fi
echo "ok: no module includes another's _int.h (known: $known)"
