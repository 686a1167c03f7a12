#!/usr/bin/env bash
# Header tiers (STYLE.md, issue 15): a core/src module includes only its
# own headers from core/src (its <module>_int.h and the like, `mf__`
# internals) and other modules' public headers under
# core/include/mailferry/. The known exceptions below are headers still
# shared from inside core/src (the IMAP session and the store interface,
# verify borrowing the engine's run internals) until they move to
# core/include/mailferry/ or their users move; the list may only shrink.
# Usage: header_tiers.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: header_tiers.sh SOURCE_DIR}
known="verify migrate/leases.h
verify migrate/migrate_int.h"
cd "$src/core/src"
bad=$(grep -rHo '#include "[a-z0-9_]*/[a-z0-9_]*\.h"' --include='*.c' --include='*.h' . |
      grep -v '#include "mailferry/' |
      sed -E 's|^\./([^/]+)/[^:]*:#include "(([^/]+)/[^"]+)"$|\1 \2 \3|' |
      awk '$1 != $3 {print $1, $2}' | sort -u |
      grep -vxF "$known" || true)
if [ -n "$bad" ]; then
    echo "FAIL: modules that include another module's header from core/src"
    echo "(include its public mailferry/ header instead):"
    echo "$bad" | sed 's/^/  /'
    exit 1
fi
echo "ok: no module includes another's core/src header beyond the known:"
echo "$known" | sed 's/^/  /'
