#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit and integration) with ctest; then
# the same suite again under AddressSanitizer + UBSan (the "asan" preset in build-asan/), and each
# fuzz target briefly on that build (scripts/fuzz.sh). Arguments go to both ctest runs
# (e.g. -R Node). HASHMESH_TEST_SANITIZERS=0 runs only the first stage. See docs/testing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
stage() { echo "== test.sh: $1 ($SECONDS s so far)"; }

scripts/setup.sh
stage "build (${HASHMESH_BUILD_DIR:-build})"
scripts/build.sh
stage "ctest"
ctest --test-dir "${HASHMESH_BUILD_DIR:-build}" --output-on-failure -j"$(nproc)" "$@"
[ "${HASHMESH_TEST_SANITIZERS:-1}" = 0 ] && exit 0

stage "asan+ubsan build (build-asan)"
cmake --preset asan > /dev/null
cmake --build --preset asan -j"$(nproc)"
stage "asan+ubsan ctest"
ctest --preset asan -j"$(nproc)" "$@"
if [ -x scripts/fuzz.sh ]; then
  stage "fuzz targets, 30 s each (build-asan)"
  scripts/fuzz.sh --build-dir build-asan --seconds 30
fi
stage "done"
