#!/usr/bin/env bash
# Quick start, step 1 of 2, for a fresh Debian 12 machine: installs what Roost needs (sudo once, for the
# distribution's packages), builds Roost, makes a busybox image offline from the host's busybox-static
# and runs `roost run --rm busybox echo hello` end to end, rootless.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: Roost needs Node.js 20 or newer (Debian 12's nodejs package is 18): install it from nodejs.org or NodeSource, then run this again" >&2
  exit 1
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "setup: the distribution's packages and device modes need root once, and sudo is not installed: run this script as root (it then runs the container as an unprivileged user), or install sudo" >&2
    exit 1
  fi
  sudo_cmd=(sudo)
fi
say "system packages (crun, runc, uidmap, passt, busybox-static, ...) and device modes"
"${sudo_cmd[@]}" "$repo/scripts/prepare-host.sh" "$( [ "$(id -u)" -eq 0 ] && echo "" || id -un )"

say "npm packages and build"
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build >/dev/null

run_as=()
if [ "$(id -u)" -eq 0 ]; then
  # Root proves nothing about a rootless engine: do the end-to-end run as the unprivileged test user.
  user=${ROOST_TEST_USER:-roosttest}
  "$repo/scripts/prepare-host.sh" "$user" >/dev/null
  uid=$(id -u "$user"); mkdir -p "/run/user/$uid" && chown "$user:" "/run/user/$uid" && chmod 700 "/run/user/$uid"
  chmod -R a+rX "$repo"
  run_as=("$repo/scripts/user-session.sh" "$user" env -i HOME="$(getent passwd "$user" | cut -d: -f6)" PATH="$PATH" XDG_RUNTIME_DIR="/run/user/$uid")
  say "running as the unprivileged user $user"
fi

say "busybox image, made offline from $(command -v busybox || echo /bin/busybox)"
archive=$(mktemp --suffix=.tar)
trap 'rm -f "$archive"' EXIT
"$repo/scripts/make-busybox-image.sh" "$archive" >/dev/null
chmod 644 "$archive"
"${run_as[@]}" node -- "$repo/bin/roost.js" load -i "$archive"

say "roost run --rm busybox echo hello"
"${run_as[@]}" node -- "$repo/bin/roost.js" run --rm busybox echo hello
say "done: put $repo/bin on your PATH to type 'roost' (e.g. ln -s $repo/bin/roost.js ~/.local/bin/roost)"
