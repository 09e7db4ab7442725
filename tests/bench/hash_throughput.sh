#!/usr/bin/env bash
# Times whole `hashmesh hash` runs (process start, decoding, PDQ, MD5, SHA-256, JSON output) over
# the eight 1600x1004 dih JPEGs, single-threaded and on all cores, and reports images/s.
#
# Usage: tests/bench/hash_throughput.sh [BUILD_DIR] [RUNS]
#   BUILD_DIR  build tree holding bin/hashmesh (default: build)
#   RUNS       timed runs per thread count, after one warm-up run (default: 20)
#   HASHMESH_TESTDATA  test data directory (default: ../shared/testdata next to the repository)
# Prints the best and the median wall time, and the least CPU time; the best is the run least
# disturbed by other load.
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

# "wall_ms cpu_ms" of one run with $1 threads (cpu = user + sys, of all threads). On a shared
# machine the CPU time shows what the run costs even when other load stretches the wall time.
time_run() {
  local TIMEFORMAT='%R %U %S' t
  t=$({ time "$bin" hash --threads "$1" --json "${images[@]}" > /dev/null; } 2>&1)
  awk '{ printf "%.1f %.1f\n", $1 * 1000, ($2 + $3) * 1000 }' <<< "$t"
}

echo "hashmesh hash: $count images (1600x1004 JPEG), $runs runs each, $cores cores"
for threads in 1 0; do
  time_run "$threads" > /dev/null  # warm-up: page cache, dynamic loader
  results=()
  for ((i = 0; i < runs; ++i)); do results+=("$(time_run "$threads")"); done
  label=$([[ $threads == 0 ]] && echo "all ($cores)" || echo "$threads")
  printf '%s\n' "${results[@]}" | sort -n | awk -v n="$count" -v label="$label" '
    { wall[NR] = $1; cpu[NR] = $2 }
    END {
      median = (NR % 2) ? wall[(NR + 1) / 2] : (wall[NR / 2] + wall[NR / 2 + 1]) / 2
      mincpu = cpu[1]
      for (i = 2; i <= NR; ++i) if (cpu[i] < mincpu) mincpu = cpu[i]
      printf "threads %-8s wall best %6.1f ms = %6.1f images/s, median %6.1f ms = %6.1f images/s;" \
             " cpu best %6.1f ms = %6.1f images/s per core\n",
             label, wall[1], n * 1000 / wall[1], median, n * 1000 / median, mincpu, n * 1000 / mincpu
    }'
done
