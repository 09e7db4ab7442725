#!/usr/bin/env bash
# The main job: installs what is missing, builds, and starts a three-node hashmesh federation on
# loopback (scripts/federation-demo.sh): a signal published on one node is matched on another.
# Ctrl-C stops it. For a single node instead: build/bin/hashmeshd (runs from ./hashmesh-data).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec scripts/federation-demo.sh
