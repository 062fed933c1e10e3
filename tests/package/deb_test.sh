#!/usr/bin/env bash
# The Debian package, unpacked into a clean directory root instead of installed:
#  1. scripts/package.sh builds weir_VERSION_ARCH.deb from this build tree;
#  2. its control data: dependencies from dpkg-shlibdeps, the maintainer scripts;
#  3. its files: host, tools, every stock plugin built here, SDK, pipelines, rules, unit, man pages;
#  4. `dpkg -x` into ROOT, then from there: `weir plugins` finds ROOT/usr/lib/weir/plugins with
#     no WEIR_PLUGIN_PATH (the host looks in ../lib/weir/plugins beside itself), `weir validate`
#     passes on every installed pipeline (their rule paths are relative to the pipeline file),
#     and the SDK example builds against ROOT/usr (CMAKE_PREFIX_PATH) and runs;
#  5. `systemd-analyze verify` on weir@.service, its `weir` commands pointed at ROOT/usr/bin
#     (skipped, saying so, without systemd-analyze).
#   deb_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 source=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
check() {  # check WHAT COMMAND...: runs COMMAND, prints ok/FAILED
  local what=$1
  shift
  if "$@" >"$work/check.out" 2>&1; then echo "ok: $what"; else echo "FAILED: $what"; cat "$work/check.out"; failures=$((failures + 1)); fi
}

deb=$("$source/scripts/package.sh" "$build" "$work/out")
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
check "the package is weir_${version}_$(dpkg --print-architecture).deb" test "$(basename "$deb")" = "weir_${version}_$(dpkg --print-architecture).deb"

depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for lib in libc6 libstdc++6 librdkafka1 libtomlplusplus3 libboost-program-options adduser; do
  check "depends on $lib" grep -q "$lib" <<<"$depends"
done
# The client libraries of the plugins built here are dependencies too: dpkg-shlibdeps saw the plugins.
[[ -f "$build/plugins/weir_redis_sink.so" ]] && check "depends on libhiredis (redis_sink)" grep -q libhiredis <<<"$depends"
[[ -f "$build/plugins/weir_hbase_sink.so" ]] && check "depends on libthrift (hbase_sink)" grep -q libthrift <<<"$depends"
dpkg-deb -e "$deb" "$work/control"
for script in postinst prerm postrm; do check "maintainer script $script is valid sh" sh -n "$work/control/$script"; done
check "postinst creates the weir user" grep -q "adduser --system --group" "$work/control/postinst"

root=$work/root
dpkg -x "$deb" "$root"
for f in usr/bin/weir usr/include/weir/abi.h usr/include/weir/sdk.hpp usr/lib/cmake/weir/weirConfig.cmake \
    usr/share/weir/pipelines/smartcar.toml usr/share/weir/pipelines/smartcar-loggen.toml usr/share/weir/rules/overspeed.epl \
    usr/lib/systemd/system/weir@.service usr/share/man/man1/weir.1.gz usr/share/doc/weir/operations.md; do
  check "has /$f" test -f "$root/$f"
done
# Every tool and plugin this tree built and installs is in the package, with its man page.
for tool in weir-hbase weir-overspeed weir-loggen weir-rules; do
  [[ -x "$build/$tool" ]] || continue
  check "has /usr/bin/$tool" test -x "$root/usr/bin/$tool"
  check "has the man page of $tool" sh -c "gzip -dc '$root/usr/share/man/man1/$tool.1.gz' | grep -q '^\.TH'"
done
built=$(cd "$build/plugins" && ls weir_*.so)
for so in $built; do check "has /usr/lib/weir/plugins/$so" test -f "$root/usr/lib/weir/plugins/$so"; done
check "the man page of weir covers weir run" sh -c "gzip -dc '$root/usr/share/man/man1/weir.1.gz' | grep -q 'run options'"

# From ROOT, with no hint where the plugins are.
env -u WEIR_PLUGIN_PATH "$root/usr/bin/weir" plugins >"$work/plugins.txt"
listed=$(grep -c '^  file: ' "$work/plugins.txt" || true)
check "weir plugins lists the $(wc -w <<<"$built") packaged plugins (listed $listed)" test "$listed" -eq "$(wc -w <<<"$built")"
check "every plugin listed comes from ROOT/usr/lib/weir/plugins" \
  sh -c "! grep '^  file: ' '$work/plugins.txt' | grep -v '  file: $root/usr/lib/weir/plugins/weir_'"
for pipeline in "$root"/usr/share/weir/pipelines/*.toml; do
  check "weir validate $(basename "$pipeline")" env -u WEIR_PLUGIN_PATH "$root/usr/bin/weir" validate "$pipeline"
done
check "the SDK example builds against the packaged SDK and runs" \
  "$source/tests/support/hello_plugin_check.sh" "$source" "$root/usr" "$root/usr/bin/weir" "$work"

if command -v systemd-analyze >/dev/null; then
  # An instance of the template, its commands at ROOT (systemd would find /usr/bin/weir).
  mkdir "$work/units"
  sed "s|^\(Exec[A-Za-z]*=\)weir |\1$root/usr/bin/weir |" "$root/usr/lib/systemd/system/weir@.service" >"$work/units/weir@check.service"
  check "the unit's commands were relocated" grep -q "^ExecStart=$root/usr/bin/weir run" "$work/units/weir@check.service"
  # verify exits 0 on unknown keys and bad values (it only warns): any output is a failure.
  check "systemd-analyze verify weir@.service says nothing" \
    sh -c "out=\$(systemd-analyze verify --man=no '$work/units/weir@check.service' 2>&1) && test -z \"\$out\" || { echo \"\$out\"; false; }"
else
  echo "skipped: systemd-analyze verify (no systemd-analyze here; Debian's systemd package has it)"
fi

echo "package: $failures check(s) failed"
exit $((failures > 0))
