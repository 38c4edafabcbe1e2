#!/usr/bin/env bash
# Builds a docker-archive of a busybox image from the host's busybox-static, offline.
# usage: scripts/make-busybox-image.sh OUTPUT.tar [NAME:TAG]
set -euo pipefail
out=${1:?usage: make-busybox-image.sh OUTPUT.tar [NAME:TAG]}
name=${2:-busybox:latest}
busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
  [ -x /bin/busybox ] && busybox=/bin/busybox
fi
[ -n "$busybox" ] || { echo "make-busybox-image: busybox is not installed (apt-get install busybox-static)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,etc,tmp,root,var/www,home,proc,sys,dev}
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nwww-data:x:33:33:www-data:/var/www:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\ndaemon:x:1:\nwww-data:x:33:\nnogroup:x:65534:\n' > "$root/etc/group"
# /etc/hosts first, as Debian's images have it: without the file glibc asks DNS before /etc/hosts, and a
# name the engine put in /etc/hosts would be looked up off the machine first.
printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
echo '<h1>hello from roost</h1>' > "$root/var/www/index.html"
mkdir -p "$work/archive"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2024-01-01 00:00:00' -C "$root" -cf "$work/layer.tar" .
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
mkdir -p "$work/archive/$diff_id"
mv "$work/layer.tar" "$work/archive/$diff_id/layer.tar"
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
cat > "$work/config.json" <<JSON
{"architecture":"$arch","os":"linux","created":"2024-01-01T00:00:00Z","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},"history":[{"created":"2024-01-01T00:00:00Z","created_by":"scripts/make-busybox-image.sh: busybox-static"}]}
JSON
config_id=$(sha256sum "$work/config.json" | cut -d' ' -f1)
mv "$work/config.json" "$work/archive/$config_id.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]\n' "$config_id" "$name" "$diff_id" > "$work/archive/manifest.json"
tar --sort=name --owner=0 --group=0 --numeric-owner -C "$work/archive" -cf "$out" .
echo "$out"
