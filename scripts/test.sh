#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit and integration) with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ctest --test-dir "${HASHMESH_BUILD_DIR:-build}" --output-on-failure -j"$(nproc)" "$@"
