#!/usr/bin/env bash
# Runs the ava suite (TAP) and the native monitor's own tests, and ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
[ -f dist/cli.cjs ] && [ -f dist/daemon/entry.js ] && [ -x native/build/roost-monitor ] && [ -x native/build/roost-mounter ] && [ -f build/kernels.wasm ] || npm run build >/dev/null
out=$(mktemp)
# ava's own reporter lists every test: ✔ passed, ✘ failed, - [skip] skipped.
npx ava 2>&1 | tee "$out"
ava_status=${PIPESTATUS[0]}
passed=$(grep -cE '^\s+✔ ' "$out")
failed=$(grep -cE '^\s+✘ ' "$out")
skipped=$(grep -cE '^\s+- \[skip\] ' "$out")
if [ "$ava_status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; echo "# ava exited with status $ava_status"; fi
rm -f "$out"
if [ "${ROOST_REQUIRE_E2E:-0}" = 1 ] && [ "$skipped" -gt 0 ]; then
  echo "# ROOST_REQUIRE_E2E=1: $skipped skipped test(s) count as failures"
  failed=$((failed + skipped)); skipped=0
fi
if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"; else echo "$passed passed, $failed failed"; fi
[ "$failed" -eq 0 ]
