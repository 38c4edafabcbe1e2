#!/usr/bin/env bash
# Runs the ava suite (TAP) and the native monitor's own tests, and ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
[ -f dist/cli/main.js ] && [ -x native/build/roost-monitor ] && [ -f build/kernels.wasm ] || npm run build >/dev/null
out=$(mktemp)
npx ava --tap 2>&1 | tee "$out"
ava_status=${PIPESTATUS[0]}
passed=$(grep -cE '^ok [0-9]+' "$out" | tr -d ' ')
skipped=$(grep -cE '^ok [0-9]+ .*# SKIP' "$out" | tr -d ' ')
failed=$(grep -cE '^not ok [0-9]+' "$out" | tr -d ' ')
passed=$((passed - skipped))
if [ "$ava_status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; echo "# ava exited with status $ava_status"; fi
rm -f "$out"
if [ "${ROOST_REQUIRE_E2E:-0}" = 1 ] && [ "$skipped" -gt 0 ]; then
  echo "# ROOST_REQUIRE_E2E=1: $skipped skipped test(s) count as failures"
  failed=$((failed + skipped)); skipped=0
fi
echo "$passed passed, $failed failed${skipped:+, $skipped skipped}" | sed 's/, 0 skipped$//'
[ "$failed" -eq 0 ]
