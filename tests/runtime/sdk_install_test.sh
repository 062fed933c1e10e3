#!/usr/bin/env bash
# Installs the SDK from this build tree into a temporary prefix, builds the
# example plugin against it with a fresh CMake project, and runs it in a pipeline.
set -euo pipefail
build_dir=$1 source_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
"$source_dir/tests/support/hello_plugin_check.sh" "$source_dir" "$work/prefix" "$work/prefix/bin/weir" "$work"
