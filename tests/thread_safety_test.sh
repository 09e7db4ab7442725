#!/usr/bin/env bash
# Checks that clang's thread-safety analysis sees our annotations: a source that reads a
# GUARDED_BY member without its lock must be rejected, the same read under the lock accepted.
# Usage: tests/thread_safety_test.sh SOURCE_DIR [CXX]. Exits 77 (skipped) without clang++.
set -uo pipefail
src=${1:?source dir}
cxx=${2:-}
if [ -z "$cxx" ] || ! "$cxx" --version 2>/dev/null | grep -q clang; then
  cxx=$(command -v clang++ || true)
fi
if [ -z "$cxx" ]; then
  echo "SKIP: clang++ not found; the thread-safety analysis needs clang"
  exit 77
fi
dir="$src/tests/common/thread_safety"
flags=(-std=c++20 -fsyntax-only -I"$src" -Wthread-safety -Werror=thread-safety)

if ! out=$("$cxx" "${flags[@]}" "$dir/locked_read.cc" 2>&1); then
  echo "FAIL: $cxx rejects a read under the lock (locked_read.cc):"
  echo "$out"
  exit 1
fi
if out=$("$cxx" "${flags[@]}" "$dir/unlocked_read.cc" 2>&1); then
  echo "FAIL: $cxx accepts a read of a GUARDED_BY member without its lock (unlocked_read.cc)"
  exit 1
fi
if ! grep -q "requires holding mutex" <<<"$out"; then
  echo "FAIL: unlocked_read.cc was rejected, but not by the thread-safety analysis:"
  echo "$out"
  exit 1
fi
echo "PASS: $cxx rejects the unlocked read:"
echo "$out"
