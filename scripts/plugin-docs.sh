#!/usr/bin/env bash
# Regenerates the ports/parameters tables in every plugin README from the
# plugin's own descriptor (`weir plugins --markdown NAME`), between the lines
# <!-- weir:tables:begin --> and <!-- weir:tables:end -->.
#   scripts/plugin-docs.sh [BUILD_DIR]          # rewrite
#   scripts/plugin-docs.sh --check [BUILD_DIR]  # exit 1 if any README is stale
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
check=false
[[ "${1:-}" == "--check" ]] && { check=true; shift; }
build=${1:-$root/build}
stale=0
for readme in "$root"/plugins/*/README.md; do
  name=$(basename "$(dirname "$readme")")
  grep -q '<!-- weir:tables:begin -->' "$readme" || continue
  # Plugins left out of this build (WEIR_SKIP_PLUGINS) are not checked.
  [[ -n "$(ls "$build"/plugins/weir_"$name".so 2>/dev/null)" ]] || continue
  tables=$("$build/weir" plugins --markdown "$name")
  new=$(python3 - "$readme" "$tables" <<'PY'
import sys
text = open(sys.argv[1]).read()
begin, end = "<!-- weir:tables:begin -->", "<!-- weir:tables:end -->"
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
sys.stdout.write(head + begin + "\n" + sys.argv[2].rstrip("\n") + "\n" + end + tail)
PY
)
  if [[ "$new" != "$(cat "$readme")" ]]; then
    if $check; then echo "stale tables in $readme (run scripts/plugin-docs.sh)"; stale=1; else printf '%s\n' "$new" >"$readme"; fi
  fi
done
exit $stale
