#!/usr/bin/env bash
# Regenerates tests/cep_conformance/cases/*/expected.txt with the real Esper (see README.md).
#   generate.sh            rewrite every case's expected.txt
#   generate.sh --check    run every case into a temp dir and diff against the committed
#                          expected.txt; exit 1 on any difference or failure
#   generate.sh [--check] CASE_DIR...   only those cases
# The harness (Esper jars + compiled classes) is cached in ${WEIR_CACHE:-$HOME/.cache/weir}/esper/,
# keyed by the hash of harness/pom.xml and the harness sources. Needs java 17+, javac and mvn
# (the first run downloads Esper from Maven Central).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
harness="$here/harness"
cache="${WEIR_CACHE:-$HOME/.cache/weir}/esper"

check=0
cases=()
for a in "$@"; do
  case "$a" in
    --check) check=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    -*) echo "generate.sh: unknown option $a" >&2; exit 2 ;;
    *) cases+=("$(cd "$a" && pwd)") ;;
  esac
done
if ((${#cases[@]} == 0)); then
  for d in "$here"/cases/*/; do cases+=("${d%/}"); done
fi

# ---- build (cached) -------------------------------------------------------------------------
pom_hash=$(sha256sum "$harness/pom.xml" | cut -c1-16)
src_hash=$( (cd "$harness" && find src -name '*.java' | LC_ALL=C sort | xargs cat; cat pom.xml) | sha256sum | cut -c1-16)
lib="$cache/lib-$pom_hash"
classes="$cache/classes-$src_hash"
mkdir -p "$cache"
if [[ ! -f "$lib/.complete" ]]; then
  echo "generate.sh: fetching Esper and its dependencies into $lib" >&2
  rm -rf "$lib"
  mkdir -p "$lib"
  if ! (cd "$harness" && mvn -q -B -Dstyle.color=never dependency:copy-dependencies \
          -DoutputDirectory="$lib" -DincludeScope=runtime) >"$cache/mvn.log" 2>&1; then
    cat "$cache/mvn.log" >&2
    echo "generate.sh: mvn dependency:copy-dependencies failed" >&2
    exit 1
  fi
  touch "$lib/.complete"
fi
if [[ ! -f "$classes/.complete" ]]; then
  echo "generate.sh: compiling the harness into $classes" >&2
  rm -rf "$classes"
  mkdir -p "$classes"
  javac -J-XX:TieredStopAtLevel=1 --release 17 -encoding UTF-8 -cp "$lib/*" -d "$classes" \
    $(find "$harness/src/main/java" -name '*.java')
  touch "$classes/.complete"
fi

# Modest on a shared 2-core machine: serial GC, C1 only, few JIT threads.
java_run=(java -XX:+UseSerialGC -XX:CICompilerCount=2 -XX:TieredStopAtLevel=1 -Xmx512m -Xss4m
          -cp "$classes:$lib/*" weir.cepconf.Harness)

# ---- run ------------------------------------------------------------------------------------
if ((check == 0)); then
  # Write each case's expected.txt in place: OUT_ROOT is the cases' parent dir per case.
  rc=0
  # Group by parent directory (normally all cases share cases/).
  declare -A byparent=()
  for c in "${cases[@]}"; do byparent["$(dirname "$c")"]+="$c"$'\n'; done
  for p in "${!byparent[@]}"; do
    mapfile -t list < <(printf '%s' "${byparent[$p]}")
    "${java_run[@]}" "$p" "${list[@]}" || rc=1
  done
  if ((rc == 0)); then echo "generate.sh: regenerated ${#cases[@]} case(s)"; fi
  exit $rc
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cep_conformance.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
rc=0
"${java_run[@]}" "$tmp" "${cases[@]}" || rc=1
pass=0 fail=0
for c in "${cases[@]}"; do
  n=$(basename "$c")
  if [[ ! -f "$tmp/$n/expected.txt" ]]; then
    echo "FAIL $n: harness produced no output" >&2; fail=$((fail + 1)); continue
  fi
  if [[ ! -f "$c/expected.txt" ]]; then
    echo "FAIL $n: no committed expected.txt" >&2; fail=$((fail + 1)); continue
  fi
  if diff -u "$c/expected.txt" "$tmp/$n/expected.txt" >"$tmp/$n.diff"; then
    pass=$((pass + 1))
  else
    echo "FAIL $n: expected.txt differs from Esper's output:" >&2
    cat "$tmp/$n.diff" >&2
    fail=$((fail + 1))
  fi
done
echo "cep_conformance: $pass passed, $fail failed"
((fail == 0 && rc == 0))
