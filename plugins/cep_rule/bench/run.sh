#!/usr/bin/env bash
# Runs the over-speed rule (rules/overspeed.epl) on the same generated smart-car events
# (CARS cars, one event per car per second, SECONDS seconds, event time) in weir's engine
# (cep_bench) and in Esper 8.9 (EsperBench.java), then prints events/s, peak RSS and the
# ratios weir/Esper. Both count the flagged rows; the counts must agree.
#
#   plugins/cep_rule/bench/run.sh [SECONDS=300] [CARS=10000] [RULE=rules/overspeed.epl]
#   RULE=plugins/cep_rule/bench/hard_braking.epl PROFILE=braking plugins/cep_rule/bench/run.sh
#                                  # the hard-braking pattern, on events with hard brakings
#   RUNS=5 plugins/cep_rule/bench/run.sh   # five alternated rounds, then the medians
#
# RULE (third argument or env): another rule over the same events, e.g.
# plugins/cep_rule/bench/context_bycar.epl (the same rule in a keyed context, one partition per car).
#
# Env: BUILD_DIR (default: build) holding cep_bench (configure with -DWEIR_BUILD_BENCH=ON,
# then `ninja -C $BUILD_DIR cep_bench`); JAVA_OPTS for the JVM (default: none, the JVM's own
# defaults); WEIR_CACHE as for tests/cep_conformance/generate.sh, whose cached Esper jars
# this reuses (the first run fetches them through generate.sh).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
seconds=${1:-300}
cars=${2:-10000}
rule=$(cd "$root" && realpath "${3:-${RULE:-rules/overspeed.epl}}")
build=${BUILD_DIR:-$root/build}
bench="$build/plugins/cep_rule/bench/cep_bench"
if [[ ! -x "$bench" ]]; then
  echo "run.sh: $bench is not built: ninja -C $build cep_bench (configured with -DWEIR_BUILD_BENCH=ON)" >&2
  exit 2
fi

# Esper's jars: the conformance harness's cache (same pom.xml hash as generate.sh).
cache="${WEIR_CACHE:-$HOME/.cache/weir}/esper"
lib="$cache/lib-$(sha256sum "$root/tests/cep_conformance/harness/pom.xml" | cut -c1-16)"
if [[ ! -f "$lib/.complete" ]]; then
  echo "run.sh: fetching Esper through tests/cep_conformance/generate.sh --check" >&2
  "$root/tests/cep_conformance/generate.sh" --check >/dev/null
fi
classes="$cache/bench-$(sha256sum "$here/EsperBench.java" | cut -c1-16)"
if [[ ! -f "$classes/.complete" ]]; then
  mkdir -p "$classes"
  javac --release 17 -encoding UTF-8 -cp "$lib/*" -d "$classes" "$here/EsperBench.java"
  touch "$classes/.complete"
fi

profile=${PROFILE:-overspeed}
echo "# $(nproc) CPUs: $(lscpu | sed -n 's/^Model name: *//p'); $(free -g | awk '/^Mem:/ {print $2}') GiB RAM; $(java -version 2>&1 | head -1)"
echo "# $cars cars x $seconds s = $((cars * seconds)) events ($profile); rule ${rule#"$root"/}; JAVA_OPTS='${JAVA_OPTS:-}'"
# RUNS=N (default 1): N rounds of weir then Esper, each printed, then the median
# of each engine's events/s and their ratio (both engines' speed varies from
# run to run on a shared VM; the median of alternated runs is the figure to quote).
runs=${RUNS:-1}
get() { sed -n "s/.*[ ]$2=\([0-9.]*\).*/\1/p" <<<"$1"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
weir_rates="" esper_rates=""
for ((run = 1; run <= runs; run++)); do
  weir=$("$bench" "$rule" "$seconds" "$cars" "$profile")
  echo "$weir"
  # shellcheck disable=SC2086
  esper=$(java ${JAVA_OPTS:-} -cp "$classes:$lib/*" EsperBench "$rule" "$seconds" "$cars" "$profile")
  echo "$esper"
  awk -v we="$(get "$weir" events_per_s)" -v ee="$(get "$esper" events_per_s)" \
      -v wm="$(get "$weir" peak_rss_mb)" -v em="$(get "$esper" peak_rss_mb)" \
      'BEGIN { printf "ratio weir/esper: events/s %.1fx, peak RSS %.3f (1/%.1f)\n", we / ee, wm / em, em / wm }'
  if [[ "$(get "$weir" flagged_rows)" != "$(get "$esper" flagged_rows)" ]]; then
    echo "run.sh: the flagged row counts differ: the two engines disagree" >&2
    exit 1
  fi
  weir_rates+="$(get "$weir" events_per_s)"$'\n' esper_rates+="$(get "$esper" events_per_s)"$'\n'
done
if ((runs > 1)); then
  wm=$(median <<<"${weir_rates%$'\n'}") em=$(median <<<"${esper_rates%$'\n'}")
  awk -v w="$wm" -v e="$em" -v n="$runs" \
      'BEGIN { printf "median of %d runs: weir %.0f events/s, Esper %.0f events/s, ratio %.1fx\n", n, w, e, w / e }'
fi
