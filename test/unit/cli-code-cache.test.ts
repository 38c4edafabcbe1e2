import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const roost = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'roost.js');

function cli(cacheHome: string, ...args: string[]) {
  return spawnSync(process.execPath, [roost, ...args], { encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: cacheHome } });
}

test('the CLI keeps V8\'s code cache of its bundle in the user\'s cache directory, and shrugs off a bad one', (t) => {
  const cacheHome = fs.mkdtempSync(path.join(os.tmpdir(), 'roost-cache-'));
  const dir = path.join(cacheHome, 'roost');
  // Another install's cache (another checkout) stays.
  fs.mkdirSync(dir);
  const foreign = path.join(dir, 'cli-00000000-v20.0.0-1-1.v8cache');
  fs.writeFileSync(foreign, 'x');
  const first = cli(cacheHome, '--help');
  t.is(first.status, 0);
  t.regex(first.stdout, /^Usage: {2}roost \[OPTIONS\] COMMAND/);
  const files = fs.readdirSync(dir).filter((name) => name !== path.basename(foreign));
  t.is(files.length, 1);
  t.regex(files[0]!, /^cli-[0-9a-f]{8}-v\d+\.\d+\.\d+-\d+-\d+\.v8cache$/);
  const cacheFile = path.join(dir, files[0]!);
  t.is(fs.statSync(cacheFile).mode & 0o777, 0o600);
  t.true(fs.statSync(cacheFile).size > 10_000);
  const written = fs.statSync(cacheFile).mtimeMs;

  // Used, not written again, and the same answer.
  const second = cli(cacheHome, '--help');
  t.is(second.stdout, first.stdout);
  t.is(fs.statSync(cacheFile).mtimeMs, written);

  // A cache V8 refuses (another build, a truncated file) is replaced; the call works all the same.
  fs.writeFileSync(cacheFile, 'not a code cache');
  const third = cli(cacheHome, 'nosuchcommand');
  t.is(third.status, 125);
  t.is(third.stderr.split('\n')[0], "roost: 'nosuchcommand' is not a roost command");
  t.true(fs.statSync(cacheFile).size > 10_000);
  t.deepEqual(fs.readdirSync(dir).sort(), [path.basename(cacheFile), path.basename(foreign)].sort());

  // No usable cache directory: no cache, no error.
  const blocked = path.join(cacheHome, 'file');
  fs.writeFileSync(blocked, '');
  const fourth = cli(blocked, '--help');
  t.is(fourth.status, 0);
  t.is(fourth.stderr, '');
  fs.rmSync(cacheHome, { recursive: true, force: true });
});
