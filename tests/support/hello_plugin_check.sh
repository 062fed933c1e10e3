#!/usr/bin/env bash
# Builds sdk/examples/hello_plugin against the weir SDK installed under PREFIX, as an
# author outside this tree would (find_package(weir)), and runs it in a pipeline with
# the given weir binary. Used by the install and package tests.
#   hello_plugin_check.sh SOURCE_DIR PREFIX WEIR WORK_DIR
set -euo pipefail
source_dir=$1 prefix=$2 weir=$3 work=$4
cmake -S "$source_dir/sdk/examples/hello_plugin" -B "$work/hello" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/hello" >/dev/null
test -f "$work/hello/weir_hello.so"
# The plugin's include path must be the installed one, never the source tree.
if grep -q -- "-I$source_dir/sdk/include" "$work/hello/build.ninja"; then echo "example used the source tree SDK" >&2; exit 1; fi
if ! grep -q -- "-isystem $prefix/include\|-I$prefix/include" "$work/hello/build.ninja"; then
  echo "example did not use the SDK under $prefix" >&2
  exit 1
fi
cat >"$work/p.toml" <<TOML
[nodes.gen]
plugin = "generator"
count = 2
payload_bytes = 0
fields = false
[nodes.hi]
plugin = "hello"
greeting = "hej"
inputs = ["gen"]
[nodes.out]
plugin = "stdout_sink"
inputs = ["hi.out"]
TOML
out=$(WEIR_PLUGIN_PATH="$work/hello" "$weir" run "$work/p.toml" 2>/dev/null)
expected='{"_key":"k0","greeting":"hej"}
{"_key":"k1","greeting":"hej"}'
if [[ "$out" != "$expected" ]]; then echo "unexpected output: $out" >&2; exit 1; fi
echo "example plugin built against $prefix and ran"
