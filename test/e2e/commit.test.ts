import anyTest, { type TestFn } from 'ava';
import { e2eUnavailable, RoostEnv } from '../helpers/roost-env.js';
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
