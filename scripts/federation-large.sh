#!/usr/bin/env bash
# A larger federation on loopback: 24 hashmeshd nodes (by default) in a seeded random graph of
# degree 3-4, records published on random nodes, convergence checked, timings printed, all removed.
#
# Builds nothing: it runs build/bin/bench_fed_propagation, which starts the nodes from build/bin in
# a temporary directory and stops them. Usage (from the repository root, after a build):
#   scripts/federation-large.sh                 # 24 nodes, 200 records every 50 ms, seed 1
#   NODES=40 RECORDS=300 SEED=7 scripts/federation-large.sh
#   scripts/federation-large.sh --interval-ms 20   # extra flags go to the benchmark
# Exit status 0 only if every record reached every node and every node holds every feed at the
# same head. Figures and what they mean: docs/benchmarks.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${BUILD_DIR:-$root/build}/bin"
for program in bench_fed_propagation hashmeshd hashmesh-keys; do
  if [[ ! -x "$bin/$program" ]]; then
    echo "federation-large: $bin/$program is missing; build first: cmake --build build -j2" >&2
    exit 2
  fi
done

nodes="${NODES:-24}"
records="${RECORDS:-200}"
seed="${SEED:-1}"

# Everything the run creates lives under one directory of ours, removed however the run ends.
# The benchmark and its daemons stay in our process group, so Ctrl-C or a supervisor's group kill
# reaches them all. If only this script is signalled, the trap stops the benchmark and then exactly
# the daemons of this run: those whose pid is in a lock file under our directory.
work="$(mktemp -d "${TMPDIR:-/tmp}/hashmesh-large.XXXXXX")"
bench_pid=""
cleanup() {
  if [[ -n "$bench_pid" ]]; then kill -TERM "$bench_pid" 2>/dev/null || true; fi
  local lock pid
  for lock in "$work"/hashmesh-test-*/*/hashmeshd.lock; do
    [[ -f "$lock" ]] || continue
    pid="$(cat "$lock" 2>/dev/null || true)"
    if [[ -n "$pid" ]] && grep -qF "$work" "/proc/$pid/cmdline" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "federation-large: $nodes nodes, $records records, seed $seed, in $work"
started=$(date +%s)
TMPDIR="$work" "$bin/bench_fed_propagation" --nodes "$nodes" --records "$records" --seed "$seed" \
  --timeout 120 "$@" &
bench_pid=$!
status=0
wait "$bench_pid" || status=$?
bench_pid=""
echo "federation-large: $(( $(date +%s) - started )) s in all; exit status $status" \
  "($([[ $status -eq 0 ]] && echo converged || echo 'NOT converged, see above'))"
exit "$status"
