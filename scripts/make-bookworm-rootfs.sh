#!/usr/bin/env bash
# As root: a Debian bookworm minbase root filesystem as a tarball, for the pull/push benchmark (bench/run.js
# --only pull). Needs debootstrap and Debian's package mirror; done once, the tarball is reused.
# usage: make-bookworm-rootfs.sh [OUT.tar]   (default /var/cache/roost-bench/bookworm-minbase.tar)
set -euo pipefail
out=${1:-/var/cache/roost-bench/bookworm-minbase.tar}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
[ "$(id -u)" -eq 0 ] || { echo "make-bookworm-rootfs.sh: run as root (debootstrap needs it)" >&2; exit 2; }
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
debootstrap --variant=minbase bookworm "$dir/rootfs" "$mirror" >/dev/null
mkdir -p "$(dirname "$out")"
tar -C "$dir/rootfs" --numeric-owner -cf "$out.tmp" .
mv "$out.tmp" "$out"
chmod 644 "$out"
echo "$out: $(du -h "$out" | cut -f1)"
