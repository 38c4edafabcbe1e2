#!/usr/bin/env bash
# The whole test suite. As root (CI), it first prepares the host the way a distro host looks and then
# runs every test as an unprivileged user with subuid/subgid ranges; as a normal user it runs them directly.
# The last line is always "N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
test_user=${ROOST_TEST_USER:-roosttest}
other_user=${ROOST_OTHER_USER:-roostother}

summary() { echo "$1 passed, $2 failed${3:+, $3 skipped}"; }

if [ "$(id -u)" -eq 0 ]; then
  set -e
  "$repo/scripts/prepare-host.sh" "$test_user" "$other_user"
  cd "$repo"
  [ -d node_modules ] || npm ci --no-audit --no-fund
  npm run build >/dev/null
  uid=$(id -u "$test_user")
  home=$(getent passwd "$test_user" | cut -d: -f6)
  # The checkout may sit where the test user cannot read: give the user its own copy.
  rm -rf "$home/roost-under-test"
  cp -a "$repo" "$home/roost-under-test"
  chown -R "$test_user:" "$home/roost-under-test"
  rt=/run/user/$uid
  mkdir -p "$rt" && chown "$test_user:" "$rt" && chmod 700 "$rt"
  set +e
  runuser -u "$test_user" -- env -i HOME="$home" USER="$test_user" LOGNAME="$test_user" PATH="$PATH" \
    XDG_RUNTIME_DIR="$rt" ROOST_REQUIRE_E2E="${ROOST_REQUIRE_E2E:-1}" CI="${CI:-}" \
    bash -c "cd '$home/roost-under-test' && bash scripts/run-suite.sh" | tee /tmp/roost-suite.out
  status=${PIPESTATUS[0]}
  # Checks that need a second user: run them here, as root, against the test user's live daemon.
  extra_pass=0 extra_fail=0
  if runuser -u "$other_user" -- node "$repo/test/other-user-check.mjs" "$rt/roost/roost.sock" "$home/.local/share/roost"; then
    echo "ok - a second user can neither connect to the socket nor read the store"; extra_pass=1
  else
    echo "not ok - a second user reached the socket or the store"; extra_fail=1
  fi
  runuser -u "$test_user" -- env XDG_RUNTIME_DIR="$rt" HOME="$home" bash -c "cd '$home/roost-under-test' && node bin/roost.js rm -f \$(node bin/roost.js ps -aq) >/dev/null 2>&1; pkill -u $test_user -f 'roost.js daemon' || true" || true
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' /tmp/roost-suite.out | tail -1)
  passed=$(( $(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/') + extra_pass ))
  failed=$(( $(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/') + extra_fail ))
  skipped=$(echo "$line" | sed -nE 's/.*, ([0-9]+) skipped.*/\1/p')
  summary "$passed" "$failed" "$skipped"
  [ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
  exit $?
fi

exec bash "$repo/scripts/run-suite.sh"
