#!/usr/bin/env bash
# Installs every Debian package weir needs to build, test and run its local services.
# Idempotent: packages already present are skipped by apt-get.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libboost-dev libboost-program-options-dev libboost-filesystem-dev libboost-system-dev
  libtomlplusplus-dev nlohmann-json3-dev
  libreaderwriterqueue-dev libatomic-queue-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  librdkafka-dev libhiredis-dev libthrift-dev thrift-compiler
  libsystemd-dev help2man dpkg-dev
  redis-server redis-sentinel redis-tools
  clang libclang-rt-14-dev
  maven openjdk-17-jdk-headless curl netcat-openbsd
  kcat python3 time procps
  chromium chromium-driver python3-selenium
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
