import fs from 'node:fs';
import path from 'node:path';
import anyTest, { type TestFn } from 'ava';
import tar from 'tar-stream';
import { e2eUnavailable, RoostEnv } from '../helpers/roost-env.js';
import { TarScanJs } from '../../src/wasm/tar-scan-js.js';
import { scanTar } from '../../src/wasm/tar-scanner.js';
import { archive } from '../helpers/tar-build.js';
import { findDelegation } from '../../src/rootless/cgroup-delegation.js';

const skip = e2eUnavailable();
const test = anyTest as TestFn<{ roost: RoostEnv }>;
const e2e = skip ? test.skip : test.serial;
if (skip) test('end-to-end: commit (skipped)', (t) => { t.log(skip); t.pass(); });

test.before(async (t) => {
  t.context.roost = new RoostEnv('commit');
  if (!skip) await t.context.roost.loadBusybox(t as never);
});
test.after.always(async (t) => { await t.context.roost?.destroy(); });

e2e('commit turns a container\'s changes (added, changed, deleted, opaque, hard links) into a new image', async (t) => {
  const { roost } = t.context;
  const made = await roost.roost(['run', '--name', 'work', 'busybox', 'sh', '-c',
    'echo added > /added; echo changed >> /etc/passwd; rm /etc/group; rm -rf /var/www && mkdir /var/www && echo fresh > /var/www/only; ln /added /linked; chown 33:33 /added']);
  t.is(made.exitCode, 0, made.stderr);
  const commit = await roost.roost(['commit', '-m', 'a message', '-a', 'Ann Author', '-c', 'CMD ["cat", "/added"]', '-c', 'ENV STAGE=two', 'work', 'snap:1']);
  t.regex(commit.stdout, /^sha256:[0-9a-f]{64}\n$/, commit.stderr);
  t.is((await roost.roost(['run', '--rm', 'snap:1'])).stdout, 'added\n', 'the --change CMD is the new default');
  const view = await roost.roost(['run', '--rm', 'snap:1', 'sh', '-c',
    'tail -1 /etc/passwd; ls /etc/group 2>&1 | grep -c "No such"; ls /var/www; stat -c "%h %u" /added; echo $STAGE']);
  t.is(view.stdout, 'changed\n1\nonly\n2 33\ntwo\n', view.stderr);
  const history = await roost.roost(['history', '--format', '{{.Comment}}|{{.CreatedBy}}', 'snap:1']);
  t.regex(history.stdout.split('\n')[0]!, /^a message\|sh -c echo added/);
  t.is((await roost.roost(['image', 'inspect', '-f', '{{.Author}} {{len .RootFS.Layers}}', 'snap:1'])).stdout, 'Ann Author 2\n');
  const bad = await roost.roost(['commit', '-c', 'RUN true', 'work', 'snap:2']);
  t.is(bad.exitCode, 125);
  t.regex(bad.stderr, /RUN is not supported/);
  const dockerCommit = await roost.docker(['commit', '-c', 'CMD ["cat", "/etc/passwd"]', 'work', 'snap:docker']);
  t.is(dockerCommit.exitCode, 0, dockerCommit.stderr);
  t.regex((await roost.docker(['run', '--rm', 'snap:docker'])).stdout, /changed\n$/);
  await roost.roost(['rm', 'work']);
  t.is((await roost.roost(['rmi', 'snap:1', 'snap:docker'])).exitCode, 0);
});

e2e('commit of a running container pauses it for the moment of the commit (Docker\'s default), --pause=false does not', async (t) => {
  const { roost } = t.context;
  if (!('dir' in findDelegation())) {
    t.falsy(process.env.ROOST_REQUIRE_E2E, 'the suite must run in a delegated cgroup (scripts/user-session.sh)');
    return;
  }
  await roost.roost(['run', '-d', '--name', 'busy', 'busybox', 'sh', '-c', 'echo state > /state; sleep 300']);
  const events = roost.spawnRoost(['events', '--filter', 'container=busy', '--format', '{{.Action}}', '--until', new Date(Date.now() + 4000).toISOString()]);
  await new Promise((r) => setTimeout(r, 300));
  t.is((await roost.roost(['commit', 'busy', 'snap:paused'])).exitCode, 0);
  t.is((await roost.roost(['commit', '--pause=false', 'busy', 'snap:live'])).exitCode, 0);
  t.is((await roost.roost(['inspect', '-f', '{{.State.Status}}', 'busy'])).stdout, 'running\n', 'running again after the commit');
  t.is((await roost.roost(['run', '--rm', 'snap:paused', 'cat', '/state'])).stdout, 'state\n');
  events.kill();
  t.deepEqual((await events).stdout.trim().split('\n'), ['pause', 'commit', 'unpause', 'commit']);
  await roost.roost(['rm', '-f', 'busy']);
});

/** The SCHILY.xattr records of every layer tar inside a saved image archive, as `entry name=hex value`. */
async function savedLayerXattrs(archive: string): Promise<string[]> {
  const found: string[] = [];
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => { extract.on('finish', resolve); extract.on('error', reject); });
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      if (header.name.startsWith('blobs/sha256/')) {
        try {
          for (const r of scanTar(new TarScanJs(), Buffer.concat(chunks))) for (const [n, v] of r.xattrs) found.push(`${r.name} ${n}=${v.toString('hex')}`);
        } catch { /* a config or manifest, not a layer */ }
      }
      next();
    });
  });
  fs.createReadStream(archive).pipe(extract);
  await done;
  return found.sort();
}

e2e('extended attributes and file capabilities survive commit, export, save and load; overlayfs\' own do not leak', async (t) => {
  const { roost } = t.context;
  const made = await roost.roost(['run', '--name', 'attrs', 'busybox', 'sh', '-c', 'mkdir /cap; cp /bin/busybox /cap/busybox; echo x > /xfile']);
  t.is(made.exitCode, 0, made.stderr);
  const id = (await roost.roost(['inspect', '-f', '{{.Id}}', 'attrs'])).stdout.trim();
  const upper = path.join(roost.env.XDG_DATA_HOME!, 'roost', 'containers', id, 'upper');
  // busybox has no setfattr: set them in the container's upper dir, as the engine's root (what a process
  // in the container would have done), plus an overlayfs attribute that must stay behind.
  for (const cmd of [
    ['setfattr', '-n', 'user.x', '-v', '1', `${upper}/xfile`],
    ['setfattr', '-n', 'user.overlay.origin', '-v', '0x00fb', `${upper}/xfile`],
    ['/usr/sbin/setcap', 'cap_net_raw+ep', `${upper}/cap/busybox`],
  ]) {
    const r = await roost.roost(['unshare', ...cmd]);
    t.is(r.exitCode, 0, `${cmd.join(' ')}: ${r.stderr}`);
  }
  t.is((await roost.roost(['commit', 'attrs', 'attrs:1'])).exitCode, 0);

  const expectedLayer = ['cap/busybox security.capability=0100000200200000000000000000000000000000', 'xfile user.x=31'];
  const seeInside = async (image: string) => {
    // As an unprivileged user, the file capability is what gives the process CAP_NET_RAW (bit 13).
    const caps = await roost.roost(['run', '--rm', '--user', '1000', image, '/cap/busybox', 'grep', 'CapEff', '/proc/self/status']);
    t.is(caps.stdout, 'CapEff:\t0000000000002000\n', `${image}: ${caps.stderr}`);
    const plain = await roost.roost(['run', '--rm', '--user', '1000', image, 'grep', 'CapEff', '/proc/self/status']);
    t.is(plain.stdout, 'CapEff:\t0000000000000000\n', 'without the file capability, none');
    const ctr = await roost.roost(['run', '-d', image, 'sleep', '60']);
    const rootfs = path.join(roost.env.XDG_DATA_HOME!, 'roost', 'containers', ctr.stdout.trim(), 'rootfs');
    const attrs = await roost.roost(['unshare', 'getfattr', '-d', '-m', '-', '-e', 'hex', `${rootfs}/xfile`]);
    t.regex(attrs.stdout, /^user\.x=0x31$/m, `${image}: ${attrs.stderr}`);
    t.notRegex(attrs.stdout, /overlay/);
    await roost.roost(['rm', '-f', ctr.stdout.trim()]);
  };
  await seeInside('attrs:1');

  const exported = path.join(roost.base, 'attrs-export.tar');
  t.is((await roost.roost(['export', '-o', exported, 'attrs'])).exitCode, 0);
  const exportedXattrs = scanTar(new TarScanJs(), fs.readFileSync(exported)).flatMap((r) => r.xattrs.map(([n, v]) => `${r.name} ${n}=${v.toString('hex')}`)).sort();
  t.deepEqual(exportedXattrs, expectedLayer, 'export stores them as PAX records');

  const saved = path.join(roost.base, 'attrs-save.tar');
  t.is((await roost.roost(['save', '-o', saved, 'attrs:1'])).exitCode, 0);
  t.deepEqual(await savedLayerXattrs(saved), expectedLayer, 'the saved layer holds SCHILY.xattr records, no overlayfs ones');
  await roost.roost(['rm', '-f', 'attrs']);
  t.is((await roost.roost(['rmi', 'attrs:1'])).exitCode, 0);
  const loaded = await roost.roost(['load', '-i', saved]);
  t.is(loaded.exitCode, 0, loaded.stderr);
  await seeInside('attrs:1');
  await roost.roost(['rmi', 'attrs:1']);

  // A layer with an attribute a user namespace may not set (trusted.*) still unpacks, with the others.
  const tarball = path.join(roost.base, 'trusted.tar');
  fs.writeFileSync(tarball, archive([{ name: 'f', data: 'x', pax: { 'SCHILY.xattr.trusted.t': '1', 'SCHILY.xattr.user.u': '2' } }]));
  const imported = await roost.roost(['import', tarball, 'attrs:trusted']);
  t.is(imported.exitCode, 0, imported.stderr);
  const ctr = (await roost.roost(['create', 'attrs:trusted', '/f'])).stdout.trim(); // create mounts the rootfs
  const rootfs = path.join(roost.env.XDG_DATA_HOME!, 'roost', 'containers', ctr, 'rootfs');
  const attrs = await roost.roost(['unshare', 'getfattr', '-d', '-m', '-', '-e', 'text', `${rootfs}/f`]);
  t.regex(attrs.stdout, /^user\.u="2"$/m, attrs.stderr);
  t.notRegex(attrs.stdout, /trusted/);
  await roost.roost(['rm', '-f', ctr]);
  await roost.roost(['rmi', 'attrs:trusted']);
});
