#!/usr/bin/env bash
# Builds the Debian package (debian/) with dpkg-buildpackage from a copy of the tree, and checks it
# with lintian. The .deb, .buildinfo and .changes land in OUT_DIR (default build/package).
# Usage: scripts/package.sh [OUT_DIR]    Needs: dpkg-dev, debhelper, help2man, lintian
# (scripts/setup.sh installs them) and the build dependencies in debian/control.
set -euo pipefail
src_dir=$(cd "$(dirname "$0")/.." && pwd)
out_dir=$(mkdir -p "${1:-$src_dir/build/package}" && cd "${1:-$src_dir/build/package}" && pwd)

for tool in dpkg-buildpackage dh help2man lintian; do
  command -v "$tool" >/dev/null || { echo "package: $tool not found (run scripts/setup.sh)" >&2; exit 77; }
done

# dpkg-buildpackage writes its results next to the source tree and its build tree inside it, so
# build from a copy under OUT_DIR: the checkout stays clean. The copy is what git tracks (plus new
# files not ignored), or the whole tree without build directories outside git. A fixed path keeps
# ccache warm from one run to the next.
work="$out_dir/work"
rm -rf "$work" && mkdir -p "$work/hashmesh"
if git -C "$src_dir" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$src_dir" && git ls-files -z --cached --others --exclude-standard \
     | xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' \
     | tar --null -T - -cf -) | tar -xf - -C "$work/hashmesh"
else
  tar -C "$src_dir" --exclude='./build*' --exclude='./obj-*' -cf - . | tar -xf - -C "$work/hashmesh"
fi

(cd "$work/hashmesh" &&
 DEB_BUILD_OPTIONS="nocheck parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
   dpkg-buildpackage -b -us -uc --no-sign >"$work/build.log" 2>&1) || {
  echo "package: dpkg-buildpackage failed; the end of $work/build.log:" >&2
  tail -40 "$work/build.log" >&2
  exit 1
}
changes=$(ls "$work"/hashmesh_*.changes)
# Lintian must be clean: each override in debian/ says why it is there.
if ! lintian --fail-on error,warning --suppress-tags-from-file /dev/null "$changes" >"$work/lintian.log" 2>&1; then
  echo "package: lintian is not clean:" >&2
  cat "$work/lintian.log" >&2
  exit 1
fi
cat "$work/lintian.log"
rm -f "$out_dir"/hashmesh_*
mv "$work"/hashmesh_* "$out_dir"/
rm -rf "$work"
ls "$out_dir"/hashmesh_*.deb
