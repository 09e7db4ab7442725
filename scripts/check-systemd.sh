#!/usr/bin/env bash
# Checks systemd/hashmeshd.service: `systemd-analyze verify` on a copy whose ExecStart points at
# the built daemon, and the offline security exposure score, which must stay at 2.0 or lower.
# Usage: scripts/check-systemd.sh [BIN_DIR]   (default: build/bin). Exit 77: systemd-analyze absent.
set -euo pipefail

src_dir=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=$(cd "${1:-$src_dir/build/bin}" && pwd)
max_exposure=2.0
unit=hashmeshd.service

if ! command -v systemd-analyze >/dev/null; then
  echo "check-systemd: systemd-analyze not found (Debian package systemd); skipping" >&2
  exit 77
fi
if [ ! -x "$bin_dir/hashmeshd" ]; then
  echo "check-systemd: $bin_dir/hashmeshd is not built" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# verify resolves ExecStart, so it must name a binary that exists here.
sed "s|/usr/bin/hashmeshd|$bin_dir/hashmeshd|" "$src_dir/systemd/$unit" >"$tmp/$unit"

status=0
if ! out=$(cd "$tmp" && systemd-analyze verify "./$unit" 2>&1); then
  echo "check-systemd: systemd-analyze verify failed:" >&2
  status=1
fi
if [ -n "$out" ]; then
  # Warnings do not fail verify's exit code; for our own unit they are mistakes all the same.
  echo "$out" >&2
  status=1
fi

report=$(cd "$tmp" && systemd-analyze security --offline=yes "./$unit" 2>&1 || true)
score=$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -z "$score" ]; then
  echo "check-systemd: no exposure score in the output of systemd-analyze security:" >&2
  echo "$report" >&2
  exit 1
fi
if awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s > m) }'; then
  echo "check-systemd: exposure $score is above $max_exposure; what is still open:" >&2
  printf '%s\n' "$report" | grep '✗' >&2 || true
  status=1
else
  echo "check-systemd: verify clean, exposure $score (at most $max_exposure)"
fi
exit $status
