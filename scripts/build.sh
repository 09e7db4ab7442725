#!/usr/bin/env bash
# Configures (once) and builds hashmesh into build/ with Ninja; binaries land in build/bin/.
# Usage: scripts/build.sh [extra cmake -D options...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${HASHMESH_BUILD_DIR:-build}
if [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo} "$@"
fi
cmake --build "$build" -j"$(nproc)"
