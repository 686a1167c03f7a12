#!/usr/bin/env bash
# No production file over 800 lines (issue 15, "Done when"): the C and Lua
# of core/ and the programs' sources. Usage: file_size.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: file_size.sh SOURCE_DIR}
max=800
cd "$src"
over=$(find core/src core/include coordinator worker -type f \
            \( -name '*.c' -o -name '*.h' -o -name '*.h.in' -o -name '*.lua' \) \
            -exec wc -l {} + | awk -v max=$max '$2 != "total" && $1 > max')
if [ -n "$over" ]; then
    echo "FAIL: production files over $max lines (split them by what they do):"
    echo "$over"
    exit 1
fi
echo "ok: no production file over $max lines"
