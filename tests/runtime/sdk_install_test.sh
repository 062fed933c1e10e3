#!/usr/bin/env bash
# Installs the SDK from this build tree into a temporary prefix, builds the
# example plugin against it with a fresh CMake project, and runs it in a pipeline.
set -euo pipefail
build_dir=$1 source_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cmake -S "$source_dir/sdk/examples/hello_plugin" -B "$work/hello" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/hello" >/dev/null
test -f "$work/hello/weir_hello.so"
# The plugin's include path must be the installed one, never the source tree.
if grep -q -- "-I$source_dir/sdk/include" "$work/hello/build.ninja"; then echo "example used the source tree SDK" >&2; exit 1; fi
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
out=$(WEIR_PLUGIN_PATH="$work/hello" "$work/prefix/bin/weir" run "$work/p.toml" 2>/dev/null)
expected='{"_key":"k0","greeting":"hej"}
{"_key":"k1","greeting":"hej"}'
if [[ "$out" != "$expected" ]]; then echo "unexpected output: $out" >&2; exit 1; fi
echo "installed SDK: example plugin built and ran"
