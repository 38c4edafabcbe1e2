import test from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mounterBinary } from '../../src/fs/mounter.js';

// The helper speaks to the engine over a pipe; here it runs in a user and mount namespace of its own
// (unshare -rm), where the test user may mount, and the test reads that namespace's mountinfo.
test('roost-mounter mounts with mount(8)\'s flags and data, unmounts, and answers every request in order', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mounter-'));
  const child = spawn('unshare', ['--user', '--map-root-user', '--mount', mounterBinary()], { stdio: ['pipe', 'pipe', 'inherit'] });
  const answers: string[] = [];
  let waiting: (() => void) | undefined;
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    answers.push(...lines);
    waiting?.();
  });
  const ask = async (fields: string[]): Promise<string> => {
    child.stdin.write(`${fields.join('\0')}\n`);
    while (answers.length === 0) await new Promise<void>((resolve) => { waiting = resolve; });
    return answers.shift()!;
  };
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  try {
    // MS_NOSUID | MS_NODEV, the rest as the file system's data.
    t.is(await ask(['mount', 'tmpfs', 'roost-test', dir, '6', 'size=1m,mode=700']), '0');
    const line = fs.readFileSync(`/proc/${child.pid}/mountinfo`, 'utf8').split('\n').find((l) => l.split(' ')[4] === dir);
    t.truthy(line, 'the tmpfs is mounted in the helper\'s namespace');
    t.regex(line!, / rw,nosuid,nodev,/);
    t.regex(line!, / tmpfs roost-test rw,size=1024k,mode=700/);
    t.false(fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${dir} `), 'and only there');
    t.is(await ask(['umount', dir, '2']), '0');
    t.is(await ask(['umount', dir, '0']), '22 Invalid argument', 'not a mount point any more');
    t.is(await ask(['mount', 'no-such-fs', 'x', dir, '0', '']), '19 No such device');
    t.is(await ask(['mount', 'tmpfs', 'x', dir, 'six', '']), '22 Invalid argument', 'flags that are not a number');
    t.is(await ask(['remount', dir]), '22 Invalid argument', 'an unknown request');
    child.stdin.end();
    t.is(await exited, 0, 'it leaves when its input ends');
  } finally {
    child.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
