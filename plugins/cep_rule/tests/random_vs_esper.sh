#!/usr/bin/env bash
# Differential test: random statements and events (random_cases.py), expected
# output from the real Esper (tests/cep_conformance/generate.sh writes each
# case's expected.txt), then the engine through cep_rule_conformance_test.
#   plugins/cep_rule/tests/random_vs_esper.sh [SEED=1] [COUNT=300]
# Env: BUILD_DIR (default build) holding cep_rule_conformance_test;
# CEP_RANDOM_GENERATOR another generator with the same arguments (e.g.
# random_match_recognize.py). Cases Esper
# refuses are dropped; a failing case is kept in the printed directory to be
# studied (and, once understood, copied into tests/esper_cases).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
seed=${1:-1}
count=${2:-300}
build=${BUILD_DIR:-$root/build}
runner="$build/plugins/cep_rule/tests/cep_rule_conformance_test"
[[ -x "$runner" ]] || { echo "random_vs_esper.sh: build $runner first" >&2; exit 2; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/cep_random.XXXXXX")
python3 "${CEP_RANDOM_GENERATOR:-$here/random_cases.py}" "$seed" "$count" "$dir"
"$root/tests/cep_conformance/generate.sh" "$dir"/* >"$dir.harness.log" 2>&1 || true
for c in "$dir"/*/; do [[ -f "$c/expected.txt" ]] || rm -rf "$c"; done
echo "random_vs_esper: $(ls "$dir" | wc -l) cases accepted by Esper in $dir"
CEP_CONFORMANCE_CASES="$dir" "$runner" --gtest_brief=1
