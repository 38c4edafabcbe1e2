import test from 'ava';
import { sampleUsage, ticksToNs } from '../../src/engine/container-procs.js';

test('CPU figures are whole nanoseconds, as Docker\'s clients decode them (uint64)', (t) => {
  t.is(ticksToNs(6_625_235), 66_252_350_000_000, 'ticks / 100 * 1e9 gave 66252350000000.01 here');
  for (const ticks of [1, 3, 7, 123_456_789, 9_999_999]) t.true(Number.isInteger(ticksToNs(ticks)), String(ticks));
  const sample = sampleUsage(process.pid);
  t.true(Number.isInteger(sample.systemCpuNs) && Number.isInteger(sample.cpuTotalNs));
});
