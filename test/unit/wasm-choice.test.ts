import test from 'ava';
import { defaultTarScanner, hotPathChoices, MEASURED_TAR_SCANNER } from '../../src/wasm/choice.js';

const withEnv = <T>(value: string | undefined, fn: () => T): T => {
  const saved = process.env.ROOST_TAR_SCANNER;
  if (value === undefined) delete process.env.ROOST_TAR_SCANNER;
  else process.env.ROOST_TAR_SCANNER = value;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.ROOST_TAR_SCANNER;
    else process.env.ROOST_TAR_SCANNER = saved;
  }
};

test.serial('the tar parser is the measured one unless ROOST_TAR_SCANNER names another', (t) => {
  t.is(withEnv(undefined, defaultTarScanner), MEASURED_TAR_SCANNER);
  t.is(withEnv('typescript', defaultTarScanner), 'typescript');
  t.is(withEnv('wasm', defaultTarScanner), 'wasm'); // build/kernels.wasm is built before the tests
});

test.serial('a bad ROOST_TAR_SCANNER is a one-line invalid_argument error, and info still answers', (t) => {
  const err = t.throws(() => withEnv('zig', defaultTarScanner), { message: /ROOST_TAR_SCANNER must be one of tar-stream, wasm, typescript/ });
  t.is((err as { code?: string }).code, 'invalid_argument');
  const tarPath = withEnv('zig', hotPathChoices).find((c) => c.path.startsWith('tar scan'));
  t.regex(tarPath?.implementation ?? '', /ROOST_TAR_SCANNER must be/);
});

test.serial('roost info names an implementation for each hot path', (t) => {
  const choices = withEnv('wasm', hotPathChoices);
  t.deepEqual(choices.map((c) => c.path.split(' ')[0]), ['tar', 'checksums', 'container']);
  t.is(choices[0]!.implementation, 'wasm (ROOST_TAR_SCANNER)');
  for (const c of choices) t.true(c.implementation.length > 0 && c.reason.length > 0);
});
