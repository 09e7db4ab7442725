#!/usr/bin/env bash
# The main job: installs what is missing, builds, and starts one hashmesh node in ./hashmesh-data
# (keys, trust store, LMDB data and sockets are created there on first start). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cat <<'MSG'

hashmeshd is starting in ./hashmesh-data. In another terminal, from this directory:
  build/bin/hashmesh status
  build/bin/hashmesh submit --type pdq --value d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22 --label terrorism/glorification
  build/bin/hashmesh match --type pdq --value d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b23
  build/bin/hashmesh hash ../shared/testdata/pdq/images/dih/bridge-1-original.jpg
Stop the node with Ctrl-C.

MSG
exec build/bin/hashmeshd "$@"
