#!/usr/bin/env bash
# Times whole `hashmesh hash` runs (process start, decoding, PDQ, MD5, SHA-256, JSON output) over
# the eight 1600x1004 dih JPEGs, single-threaded and on all cores, and reports images/s.
#
# Usage: tests/bench/hash_throughput.sh [BUILD_DIR] [RUNS]
#   BUILD_DIR  build tree holding bin/hashmesh (default: build)
#   RUNS       timed runs per thread count, after one warm-up run (default: 20)
#   HASHMESH_TESTDATA  test data directory (default: ../shared/testdata next to the repository)
# Prints the best and the median run; the best is the least disturbed by other load.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-build}"
runs="${2:-20}"
[[ "$build" = /* ]] || build="$repo/$build"
bin="$build/bin/hashmesh"
testdata="${HASHMESH_TESTDATA:-$repo/../shared/testdata}"
images=("$testdata"/pdq/images/dih/*.jpg)
reference="$testdata/pdq/hashes/pdq-cpp-reference-measured.csv"

if [[ ! -x "$bin" ]]; then
  echo "hash_throughput: $bin not found; build the hashmesh target first" >&2
  exit 2
fi
if [[ ! -f "${images[0]}" ]]; then
  echo "hash_throughput: no test images under $testdata/pdq/images/dih" >&2
  exit 2
fi
count=${#images[@]}
cores=$(nproc)

# One checked run: every file hashed, and each PDQ equal to the reference's.
out=$("$bin" hash --threads 1 --json "${images[@]}" | tr -d ' \n')
for img in "${images[@]}"; do
  want=$(grep "^dih/$(basename "$img")," "$reference" | cut -d, -f2)
  if [[ -z "$want" || "$out" != *"\"pdq\":\"$want\""* ]]; then
    echo "hash_throughput: wrong or missing PDQ for $img (want $want)" >&2
    exit 1
  fi
done

# Milliseconds of wall time of one run with $1 threads.
time_run() {
  local start end
  start=$EPOCHREALTIME
  "$bin" hash --threads "$1" --json "${images[@]}" > /dev/null
  end=$EPOCHREALTIME
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", (e - s) * 1000 }'
}

echo "hashmesh hash: $count images (1600x1004 JPEG), $runs runs each, $cores cores"
for threads in 1 0; do
  time_run "$threads" > /dev/null  # warm-up: page cache, dynamic loader
  times=()
  for ((i = 0; i < runs; ++i)); do times+=("$(time_run "$threads")"); done
  label=$([[ $threads == 0 ]] && echo "all ($cores)" || echo "$threads")
  printf '%s\n' "${times[@]}" | sort -n | awk -v n="$count" -v label="$label" '
    { t[NR] = $1 }
    END {
      best = t[1]; median = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
      printf "threads %-8s best %7.1f ms  %6.1f images/s   median %7.1f ms  %6.1f images/s\n",
             label, best, n * 1000 / best, median, n * 1000 / median
    }'
done
