#!/usr/bin/env bash
# As root: a user without subuid/subgid ranges, on a host where /dev/fuse is unusable, still runs
# containers, and `roost info` says what it falls back to and what would fix it.
# usage: single-id-check.sh USER REPO BUSYBOX_TAR ; prints TAP-style "ok"/"not ok" lines.
set -uo pipefail
user=$1 repo=$2 archive=$3
sed -i "/^$user:/d" /etc/subuid /etc/subgid
fuse_mode=$(stat -c %a /dev/fuse 2>/dev/null || echo "")
[ -n "$fuse_mode" ] && chmod 0600 /dev/fuse
uid=$(id -u "$user"); rt=/run/user/$uid
mkdir -p "$rt" && chown "$user:" "$rt" && chmod 700 "$rt"
as_user() { runuser -u "$user" -- env -i HOME="$(getent passwd "$user" | cut -d: -f6)" PATH="$PATH" XDG_RUNTIME_DIR="$rt" "$@"; }
info=$(as_user node -- "$repo/bin/roost.js" info 2>&1)
if grep -q 'ID mapping: single id' <<<"$info" && grep -q 'WARN subordinate ids: no range' <<<"$info" && grep -q 'fix: sudo usermod --add-subuids' <<<"$info" \
   && grep -q 'WARN /dev/fuse: not usable' <<<"$info" && grep -q 'fix: sudo chmod 0666 /dev/fuse' <<<"$info"; then
  echo "ok - roost info without subuid ranges and with /dev/fuse unusable names the fallbacks and the fixes"
else
  echo "not ok - roost info without subuid ranges and with /dev/fuse unusable"; sed 's/^/# /' <<<"$info"
fi
out=$(as_user node -- "$repo/bin/roost.js" load -i "$archive" 2>&1 && as_user node -- "$repo/bin/roost.js" run --rm busybox sh -c 'echo single-id $(id -u)' 2>&1)
if [ "$(tail -1 <<<"$out")" = "single-id 0" ]; then
  echo "ok - a user without subuid ranges runs a container with the single-id mapping"
else
  echo "not ok - a user without subuid ranges runs a container"; sed 's/^/# /' <<<"$out"
fi
[ -n "$fuse_mode" ] && chmod "$fuse_mode" /dev/fuse
for f in daemon.pid bridge-uplink.pid pause.pid; do [ -f "$rt/roost/$f" ] && kill -9 "$(cat "$rt/roost/$f")" 2>/dev/null; done
pkill -KILL -u "$user" -f "$rt/roost/networks-netns" 2>/dev/null
rm -rf "$rt/roost" "$(getent passwd "$user" | cut -d: -f6)/.local/share/roost"
exit 0
