import test from 'ava';
import { alignedDelayMs, applyResult } from '../../src/engine/health.js';
import type { HealthState } from '../../src/engine/container-types.js';

test('probes of 2 s and longer end on the nearest whole second, so many containers\' probes start together; shorter ones stay exact', (t) => {
  t.is(alignedDelayMs(2000, 10_000_300), 1700, 'a probe due at .300 runs at the second');
  t.is(alignedDelayMs(2000, 10_000_700), 2300, 'one due at .700 runs at the next second');
  // A probe that started on a second and took a few ms is due again two seconds after that second: no drift.
  t.is(10_000_004 + alignedDelayMs(2000, 10_000_004), 10_002_000);
  t.is(alignedDelayMs(30_000, 1_234), 29_766);
  t.is(alignedDelayMs(200, 10_000_300), 200);
  t.is(alignedDelayMs(1999, 10_000_300), 1999);
});

test('Docker\'s rules: a pass is healthy, retries failures in a row are unhealthy, start-period failures do not count', (t) => {
  const health: HealthState = { Status: 'starting', FailingStreak: 0, Log: [] };
  applyResult(health, false, true, 2);
  t.deepEqual([health.Status, health.FailingStreak], ['starting', 0]);
  applyResult(health, false, false, 2);
  t.deepEqual([health.Status, health.FailingStreak], ['starting', 1]);
  applyResult(health, false, false, 2);
  t.deepEqual([health.Status, health.FailingStreak], ['unhealthy', 2]);
  applyResult(health, true, false, 2);
  t.deepEqual([health.Status, health.FailingStreak], ['healthy', 0]);
});
