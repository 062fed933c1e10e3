#!/usr/bin/env bash
# Builds the Debian package weir_VERSION_ARCH.deb from an existing build tree with CPack
# (what goes in: cmake/weirPackage.cmake; installing and running it: docs/operations.md).
#   scripts/package.sh                    # build/ -> build/weir_0.1.0_amd64.deb
#   scripts/package.sh BUILD_DIR OUT_DIR  # the package in OUT_DIR
# The tree is configured again first (to see help2man or libsystemd installed since) and
# brought up to date (nothing to do after scripts/build.sh), as `ninja install` would.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-${BUILD_DIR:-$root/build}}" && pwd)
out=${2:-$build}
[[ -f "$build/CMakeCache.txt" ]] || { echo "package.sh: $build is not a build tree (run scripts/build.sh first)" >&2; exit 64; }
for tool in cpack dpkg-shlibdeps help2man; do
  command -v "$tool" >/dev/null || { echo "package.sh: $tool is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
cmake "$build" >/dev/null
cmake --build "$build" | { grep -vE '^\[[0-9]+/[0-9]+\] ' || true; } >&2  # stdout: only the package's path
mkdir -p "$out"
out=$(cd "$out" && pwd)
log=$out/cpack.log
if ! cpack --config "$build/CPackConfig.cmake" -B "$out" >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
rm -rf "$out/_CPack_Packages" "$log"
deb=$(ls -t "$out"/weir_*.deb | head -n 1)
echo "$deb"
