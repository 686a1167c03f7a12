#!/usr/bin/env bash
# Header tiers (STYLE.md, issue 15): a core/src module includes only its
# own headers from core/src (its <module>_int.h and the like, `mf__`
# internals) and other modules' public headers under
# core/include/mailferry/, never another module's header by a relative
# path either. No exceptions: what modules share is public (the IMAP
# session and connection: mailferry/imap_session.h, imap_conn.h; the store
# interface: mailferry/store.h; both sides of a mailbox opened as the
# engine opens them, for verify: mf_migrate_sides in mailferry/migrate.h).
# Usage: header_tiers.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: header_tiers.sh SOURCE_DIR}
cd "$src/core/src"
bad=$(grep -rHo '#include "[a-z0-9_]*/[a-z0-9_]*\.h"' --include='*.c' --include='*.h' . |
      grep -v '#include "mailferry/' |
      sed -E 's|^\./([^/]+)/[^:]*:#include "(([^/]+)/[^"]+)"$|\1 \2 \3|' |
      awk '$1 != $3 {print $1, $2}' | sort -u || true)
up=$(grep -rHn '#include "\.\./' --include='*.c' --include='*.h' . || true)
if [ -n "$bad$up" ]; then
    echo "FAIL: modules that include another module's header from core/src"
    echo "(include its public mailferry/ header instead):"
    { [ -z "$bad" ] || echo "$bad"; [ -z "$up" ] || echo "$up"; } | sed 's/^/  /'
    exit 1
fi
echo "ok: no module includes another module's core/src header"
