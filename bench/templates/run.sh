#!/usr/bin/env bash
# Rendering cost of the smart-car templates, the SDK's language against the two it
# replaced, in one run: template_bench.cpp built twice with the same flags (the
# old hbase_sink/redis_sink template sources taken from git at OLD_REV), then run
# alternately.
#   bench/templates/run.sh [OLD_REV] [RECORDS] [PAIRS]     (default 5010b62 2000000 3)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
old_rev=${1:-5010b62}
records=${2:-2000000}
pairs=${3:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/old"
for f in plugins/hbase_sink/src/row_template.hpp plugins/hbase_sink/src/row_template.cpp \
         plugins/redis_sink/command_template.hpp plugins/redis_sink/command_template.cpp; do
  git -C "$root" show "$old_rev:$f" >"$work/old/$(basename "$f")"
done
flags=(-std=c++20 -O2 -DNDEBUG -I"$root/sdk/include")  # the project's RelWithDebInfo optimisation
c++ "${flags[@]}" -DOLD_TEMPLATES -I"$work/old" "$root/bench/templates/template_bench.cpp" \
  "$work/old/row_template.cpp" "$work/old/command_template.cpp" -o "$work/old_bench"
c++ "${flags[@]}" -I"$root/plugins/redis_sink" "$root/bench/templates/template_bench.cpp" \
  "$root/plugins/redis_sink/command_template.cpp" -o "$work/new_bench"
for pair in $(seq "$pairs"); do
  echo "pair $pair: old (two languages, $old_rev): $("$work/old_bench" "$records")"
  echo "pair $pair: new (weir/template.hpp):       $("$work/new_bench" "$records")"
done
