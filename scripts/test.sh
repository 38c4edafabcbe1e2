#!/usr/bin/env bash
# The whole test suite. As root (CI), it first prepares the host the way a distro host looks, then runs
# every test as an unprivileged user with subuid/subgid ranges, plus the checks that need a second user.
# As a normal user it runs the suite directly. The last line is always "N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
  exec bash "$repo/scripts/run-suite.sh"
fi

test_user=${ROOST_TEST_USER:-roosttest}
other_user=${ROOST_OTHER_USER:-roostother}
set -e
"$repo/scripts/prepare-host.sh" --test "$test_user" "$other_user"
cd "$repo"
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build >/dev/null
uid=$(id -u "$test_user")
home=$(getent passwd "$test_user" | cut -d: -f6)
# The checkout may sit where the test user cannot read: give the user a copy of its own.
work="$home/roost-under-test"
rm -rf "$work"
cp -a "$repo" "$work"
chown -R "$test_user:" "$work"
rt=/run/user/$uid
mkdir -p "$rt" && chown "$test_user:" "$rt" && chmod 700 "$rt"
as_test_user() {
  "$repo/scripts/user-session.sh" "$test_user" env -i HOME="$home" USER="$test_user" LOGNAME="$test_user" PATH="$PATH" \
    XDG_RUNTIME_DIR="$rt" ROOST_REQUIRE_E2E="${ROOST_REQUIRE_E2E:-1}" CI="${CI:-}" "$@"
}
set +e
out=$(mktemp)
as_test_user bash -c "cd '$work' && bash scripts/run-suite.sh" | tee "$out"
status=${PIPESTATUS[0]}

# Checks that need root to switch users, printed as TAP lines and counted below.
extra=$(mktemp)
{
  as_test_user node -- "$work/bin/roost.js" info >/dev/null 2>&1
  if [ -S "$rt/roost/roost.sock" ] && [ -d "$home/.local/share/roost" ] && runuser -u "$other_user" -- node "$repo/test/root/other-user-check.mjs" "$rt/roost/roost.sock" "$home/.local/share/roost" 2>&1 | sed 's/^/# /'; [ "${PIPESTATUS[0]}" -eq 0 ]; then
    echo "ok - a second user can neither connect to the socket nor read the store"
  else
    echo "not ok - a second user reached the socket or the store"
  fi
  for f in daemon.pid bridge-uplink.pid pause.pid; do [ -f "$rt/roost/$f" ] && kill -9 "$(cat "$rt/roost/$f")" 2>/dev/null; done
  # A daemon killed while it still started the bridge's uplink leaves it without a pid file.
  pkill -KILL -u "$test_user" -f "$rt/roost/networks-netns" 2>/dev/null
  archive=$(mktemp --suffix=.tar) && "$repo/scripts/make-busybox-image.sh" "$archive" >/dev/null && chmod 644 "$archive"
  "$repo/test/root/single-id-check.sh" "$other_user" "$work" "$archive"
  rm -f "$archive"
} | tee "$extra"

line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
passed=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
failed=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
[ -n "$passed" ] || { passed=0; failed=1; echo "# the suite printed no summary"; }
passed=$((passed + $(grep -c '^ok ' "$extra")))
failed=$((failed + $(grep -c '^not ok ' "$extra")))
rm -f "$out" "$extra"
echo "$passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
