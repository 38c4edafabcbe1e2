// The copy driver's keep-id rootfs: every stored (image) id becomes the engine id the mapping gives it,
// with setuid bits and file capabilities kept through the chown.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { shiftOwners } from '../../src/fs/shift-owners.js';
import { keepIdMappings } from '../../src/runtime/oci-spec.js';

const asRoot = process.geteuid?.() === 0;

if (asRoot) test('owners move through the mapping; setuid bits and capabilities survive the chown', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roost-shift-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.writeFileSync(path.join(dir, 'bin', 'su'), 'x');
  fs.chmodSync(path.join(dir, 'bin', 'su'), 0o4755);
  fs.writeFileSync(path.join(dir, 'bin', 'ping'), 'x');
  execFileSync('setcap', ['cap_net_raw+ep', path.join(dir, 'bin', 'ping')]);
  fs.writeFileSync(path.join(dir, 'www'), 'x');
  fs.chownSync(path.join(dir, 'www'), 33, 34);
  fs.writeFileSync(path.join(dir, 'mine'), 'x');
  fs.chownSync(path.join(dir, 'mine'), 1000, 100);
  fs.symlinkSync('www', path.join(dir, 'link'));
  await shiftOwners(dir, { uidMappings: keepIdMappings(1000, 65537), gidMappings: keepIdMappings(100, 65537) });
  const owner = (p: string) => { const st = fs.lstatSync(path.join(dir, p)); return `${st.uid}:${st.gid}`; };
  t.deepEqual(['', 'bin', 'bin/su', 'www', 'mine', 'link'].map(owner), ['1:1', '1:1', '1:1', '34:35', '0:0', '1:1']);
  t.is(fs.statSync(path.join(dir, 'bin', 'su')).mode & 0o7777, 0o4755);
  t.regex(execFileSync('getcap', [path.join(dir, 'bin', 'ping')], { encoding: 'utf8' }), /cap_net_raw[=+]ep/);
});
if (!asRoot) test('shiftOwners needs root to chown (skipped)', (t) => { t.log('not root'); t.pass(); });
