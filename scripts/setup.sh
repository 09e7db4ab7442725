#!/usr/bin/env bash
# Installs the Debian 12 packages hashmesh needs to build, test and run, when they are missing.
# clang, libclang-rt-14-dev (ASan/UBSan/TSan and libFuzzer runtimes) and llvm (llvm-symbolizer, for
# readable sanitizer reports) are for the sanitizer builds (CMakePresets.json, docs/testing.md).
# dpkg-dev, debhelper, help2man and lintian build and check the Debian package (scripts/package.sh).
# Uses sudo only when not root. Safe to run again: it installs nothing when all are present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost-dev libssl-dev openssl libsodium-dev liblmdb-dev lmdb-utils
  libprotobuf-dev protobuf-compiler libtomlplusplus-dev libcli11-dev
  libjpeg62-turbo-dev libpng-dev libsystemd-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev llvm
  python3 curl
  dpkg-dev debhelper help2man lintian
  prometheus systemd
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
