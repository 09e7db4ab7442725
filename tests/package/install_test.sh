#!/usr/bin/env bash
# Builds the Debian package (scripts/package.sh, lintian clean), installs it with dpkg into a
# scratch root (maintainer scripts run outside a chroot against DPKG_ROOT, as dpkg's
# --force-script-chrootless does), and checks what an operator gets: the binaries run, the unit
# passes `systemd-analyze verify`, the sysusers and tmpfiles snippets made the user and /etc/hashmesh,
# nothing was enabled or started, and a purge removes the package but keeps /var/lib/hashmesh unless
# HASHMESH_PURGE_DATA=yes. Exit 77 (skipped) without root or without the packaging tools.
# Usage: tests/package/install_test.sh [OUT_DIR]
set -euo pipefail
src_dir=$(cd "$(dirname "$0")/../.." && pwd)
out_dir=${1:-$src_dir/build/package}

skip() { echo "package install test: skipped: $*" >&2; exit 77; }
fail() { echo "package install test: FAILED: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || skip "dpkg --root needs root to set owners"
for tool in dpkg-buildpackage dh help2man lintian systemd-sysusers systemd-tmpfiles systemd-analyze; do
  command -v "$tool" >/dev/null || skip "$tool not found (scripts/setup.sh installs it)"
done

# HASHMESH_DEB=FILE checks a package already built instead of building one.
if [ -n "${HASHMESH_DEB:-}" ]; then
  deb=$HASHMESH_DEB
else
  "$src_dir/scripts/package.sh" "$out_dir"
  deb=$(ls "$out_dir"/hashmesh_*.deb)
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/etc"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
# The scratch root holds no libc or libssl: their dependencies are the host's.
dpkg_root=(dpkg --root="$root" --force-script-chrootless --force-depends --log=/dev/null)

"${dpkg_root[@]}" --install "$deb" || fail "dpkg --install"
"${dpkg_root[@]}" --status hashmesh | grep -q '^Status: install ok installed' || fail "not installed"

for bin in hashmeshd hashmesh hashmesh-keys; do
  [ -x "$root/usr/bin/$bin" ] || fail "/usr/bin/$bin missing"
  [ -f "$root/usr/share/man/man$([ $bin = hashmeshd ] && echo 8 || echo 1)/$bin.$([ $bin = hashmeshd ] && echo 8 || echo 1).gz" ] \
    || fail "man page of $bin missing"
done
version=$("$root/usr/bin/hashmeshd" --version)
expected=$(dpkg-deb --field "$deb" Version)
[ "$version" = "hashmeshd $expected" ] || fail "hashmeshd --version said '$version', package is $expected"
"$root/usr/bin/hashmesh-keys" --version >/dev/null || fail "hashmesh-keys --version"

unit="$root/lib/systemd/system/hashmeshd.service"
[ -f "$unit" ] || fail "unit not installed at /lib/systemd/system"
grep -q '^ExecStart=/usr/bin/hashmeshd --config /etc/hashmesh/hashmeshd.toml$' "$unit" \
  || fail "unit's ExecStart does not name /usr/bin/hashmeshd"
# verify resolves ExecStart on this host, so check a copy that names the installed binary.
check=$(mktemp -d)
sed "s|/usr/bin/hashmeshd|$root/usr/bin/hashmeshd|" "$unit" >"$check/hashmeshd.service"
out=$(cd "$check" && systemd-analyze verify ./hashmeshd.service 2>&1) || fail "systemd-analyze verify: $out"
rm -rf "$check"
[ -z "$out" ] || fail "systemd-analyze verify warned: $out"

grep -q '^hashmesh:' "$root/etc/passwd" || fail "postinst did not create the hashmesh user (sysusers)"
# Owners by number: names would be looked up in the host's /etc/group, not the scratch root's.
gid=$(awk -F: '$1 == "hashmesh" { print $3 }' "$root/etc/group")
[ "$(stat -c '%a %u:%g' "$root/etc/hashmesh")" = "750 0:$gid" ] \
  || fail "/etc/hashmesh is $(stat -c '%a %u:%g' "$root/etc/hashmesh"), not 750 root:hashmesh (0:$gid)"
[ -f "$root/etc/hashmesh/hashmeshd.toml" ] || fail "config not installed"
grep -qx /etc/hashmesh/hashmeshd.toml "$root/var/lib/dpkg/info/hashmesh.conffiles" \
  || fail "hashmeshd.toml is not a conffile"
# No node without keys: the unit is neither enabled nor started on install.
[ ! -e "$root/etc/systemd/system/multi-user.target.wants/hashmeshd.service" ] || fail "unit enabled"
[ ! -e "$root/var/lib/hashmesh/keys" ] || fail "keys were made on install"

mkdir -p "$root/var/lib/hashmesh/keys" && echo member >"$root/var/lib/hashmesh/keys/marker"
"${dpkg_root[@]}" --purge hashmesh || fail "dpkg --purge"
[ ! -e "$root/usr/bin/hashmeshd" ] || fail "purge left /usr/bin/hashmeshd"
[ ! -e "$root/etc/hashmesh/hashmeshd.toml" ] || fail "purge left the conffile"
[ -f "$root/var/lib/hashmesh/keys/marker" ] || fail "purge removed /var/lib/hashmesh without being asked"

"${dpkg_root[@]}" --install "$deb" >/dev/null || fail "second dpkg --install"
HASHMESH_PURGE_DATA=yes "${dpkg_root[@]}" --purge hashmesh || fail "dpkg --purge (data)"
[ ! -e "$root/var/lib/hashmesh" ] || fail "HASHMESH_PURGE_DATA=yes left /var/lib/hashmesh"

echo "package install test: $(basename "$deb") built, lintian clean, installed, verified, purged"
