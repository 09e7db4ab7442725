#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz one after the other, one process each, each for a fixed
# time, and exits non-zero if any of them crashed (or hit the timeout or memory limit). See
# docs/fuzzing.md.
#
# Usage: scripts/fuzz.sh [--build-dir DIR] [--seconds N] [TARGET...]
#   --build-dir DIR  a tree configured with clang and -DHASHMESH_BUILD_FUZZ=ON (default build-asan,
#                    the "asan" preset's). Targets missing there are built first; nothing else is.
#   --seconds N      per target (default 60)
#   TARGET...        default: every target
# Each target runs on DIR/fuzz-corpus/TARGET, filled from the checked-in seeds and regressions
# (tests/fuzz/corpus, tests/fuzz/regressions) which are never written to; it keeps what the
# fuzzer found between runs. Crash inputs go to DIR/fuzz-artifacts/TARGET/, logs to DIR/fuzz-logs/.
# Extra libFuzzer flags: FUZZ_FLAGS="-max_len=100000" scripts/fuzz.sh ...
set -euo pipefail

all_targets=(fuzz_peer_frame fuzz_record fuzz_http_request fuzz_config fuzz_image)
build=build-asan
build_given=0
seconds=60
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build=$2; build_given=1; shift 2 ;;
    --build-dir=*) build=${1#*=}; build_given=1; shift ;;
    --seconds) seconds=$2; shift 2 ;;
    --seconds=*) seconds=${1#*=}; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    fuzz_*) targets+=("$1"); shift ;;
    *) echo "fuzz.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
# A --build-dir is relative to where we were called from; then everything is from the source tree.
build=$(realpath -m -- "$build")
[ "$build_given" = 1 ] || build=$(realpath -m -- "$(dirname "$0")/../build-asan")
cd "$(dirname "$0")/.."
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: --seconds needs a number" >&2; exit 2 ;; esac
for t in "${targets[@]}"; do
  [ -d "tests/fuzz/corpus/$t" ] || { echo "fuzz.sh: no target '$t'" >&2; exit 2; }
done

if ! grep -q '^HASHMESH_BUILD_FUZZ:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  echo "fuzz.sh: $build is not configured with -DHASHMESH_BUILD_FUZZ=ON (clang); e.g." >&2
  echo "  cmake --preset asan   or   CC=clang CXX=clang++ cmake -S . -B $build -G Ninja" \
       "-DHASHMESH_SANITIZE=address,undefined -DHASHMESH_BUILD_FUZZ=ON" >&2
  exit 2
fi
missing=()
for t in "${targets[@]}"; do [ -x "$build/bin/$t" ] || missing+=("$t"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fuzz.sh: building ${missing[*]}"
  for t in "${missing[@]}"; do cmake --build "$build" --target "$t"; done
fi

# Leaks are reported as crashes too; UBSan findings stop the run (the build makes them fatal).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
summary=()
for t in "${targets[@]}"; do
  corpus="$build/fuzz-corpus/$t"
  artifacts="$build/fuzz-artifacts/$t"
  log="$build/fuzz-logs/$t.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  # A working copy: the fuzzer adds to it, the checked-in seeds stay as they are.
  cp -n "tests/fuzz/corpus/$t"/* "tests/fuzz/regressions/$t"/* "$corpus"/ 2>/dev/null || true
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  echo "== $t: $seconds s (log $log)"
  set +e
  # The outer timeout only catches a fuzzer stuck outside any input (libFuzzer's own -timeout
  # catches slow inputs).
  timeout --kill-after=10 $((seconds + 120)) "$build/bin/$t" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" ${FUZZ_FLAGS:-} \
    "$corpus" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  if [ "$rc" -eq 0 ]; then
    result="ok"
  else
    failed=1
    result="CRASHED (exit $rc)"
    echo "---- last lines of $log:"
    grep -v '^#[0-9]' "$log" | tail -40
    echo "---- crash inputs in $artifacts:"
    ls -l "$artifacts"
  fi
  line=$(printf '%-18s %12s execs %8s exec/s  cov %6s  %s' "$t" "${execs:-?}" "${rate:-?}" \
         "${cov:-?}" "$result")
  echo "$line"
  summary+=("$line")
done

echo "== fuzz summary ($seconds s per target, $build)"
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
  echo "fuzz.sh: a target crashed; reproduce with $build/bin/TARGET FILE (docs/fuzzing.md)" >&2
  exit 1
fi
