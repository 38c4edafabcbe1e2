import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ContainerCgroups, findV1Delegation } from '../../src/rootless/cgroup-delegation.js';
import { oomKills, requestedResources, sharesToWeight, v1LimitWrites, v2LimitWrites } from '../../src/rootless/cgroup-limits.js';

const files = (writes: Array<{ file: string; value: string }>) => Object.fromEntries(writes.map((w) => [w.file, w.value]));

test('cgroup v2 files: Docker\'s memory, swap, cpu, cpuset, pids and blkio fields', (t) => {
  t.deepEqual(files(v2LimitWrites({ Memory: 64 << 20, NanoCpus: 500_000_000, PidsLimit: 100, CpusetCpus: '0', CpuShares: 512, BlkioWeight: 500 })), {
    'memory.max': String(64 << 20),
    'memory.swap.max': String(64 << 20), // Docker: unset --memory-swap allows as much swap as memory
    'cpu.max': '50000 100000',
    'cpu.weight': String(sharesToWeight(512)),
    'cpuset.cpus': '0',
    'pids.max': '100',
    'io.weight': 'default 4950',
  });
  t.is(files(v2LimitWrites({ Memory: 100, MemorySwap: 300 }))['memory.swap.max'], '200', '--memory-swap is memory plus swap');
  t.is(files(v2LimitWrites({ Memory: 100, MemorySwap: -1 }))['memory.swap.max'], 'max');
  t.is(files(v2LimitWrites({ CpuQuota: 20_000, CpuPeriod: 50_000 }))['cpu.max'], '20000 50000');
  t.is(files(v2LimitWrites({ PidsLimit: -1 }))['pids.max'], 'max', 'update --pids-limit -1 lifts the limit');
  t.deepEqual(v2LimitWrites({}), []);
  t.is(sharesToWeight(1024), 39, 'runc\'s conversion: the default 1024 shares');
});

test('cgroup v1 files: memory+swap together, CFS quota and period', (t) => {
  t.deepEqual(files(v1LimitWrites({ Memory: 100, MemorySwap: 300, MemoryReservation: 50, NanoCpus: 1_500_000_000, PidsLimit: 7 })), {
    'memory.limit_in_bytes': '100',
    'memory.memsw.limit_in_bytes': '300',
    'memory.soft_limit_in_bytes': '50',
    'cpu.cfs_period_us': '100000',
    'cpu.cfs_quota_us': '150000',
    'pids.max': '7',
  });
  t.is(files(v1LimitWrites({ Memory: 100 }))['memory.memsw.limit_in_bytes'], '200');
});

test('requested fields and the OOM counter', (t) => {
  t.deepEqual(requestedResources({ Memory: 1, PidsLimit: -1, CpusetCpus: '', NanoCpus: 0, CpuShares: 2 }), ['Memory', 'CpuShares']);
  t.is(oomKills('low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n'), 1);
  t.is(oomKills('oom_kill_disable 0\nunder_oom 0\noom_kill 0\n'), 0);
});

test('v1 delegation: the hierarchies in which this process\'s own cgroup is writable', (t) => {
  const mounts = [
    'cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0',
    'cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,relatime,cpu,cpuacct 0 0',
    'cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0',
    'cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0',
  ].join('\n');
  const cgroups = '4:memory:/user/me\n2:cpu,cpuacct:/user/me\n8:pids:/\n0::/x\n';
  const found = findV1Delegation(mounts, cgroups, (dir) => dir.endsWith('/user/me'));
  t.deepEqual([...found], [['memory', '/sys/fs/cgroup/memory/user/me'], ['cpu', '/sys/fs/cgroup/cpu,cpuacct/user/me']]);
});

function fakeTree(t: { teardown(fn: () => void): void }) {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cgroups-'));
  t.teardown(() => fs.rmSync(base, { recursive: true, force: true }));
  const v2 = path.join(base, 'unified');
  const memory = path.join(base, 'memory');
  const cpuset = path.join(base, 'cpuset');
  for (const dir of [v2, memory, cpuset]) fs.mkdirSync(dir);
  fs.writeFileSync(path.join(cpuset, 'cpuset.cpus'), '0-1\n');
  fs.writeFileSync(path.join(cpuset, 'cpuset.mems'), '0\n');
  return { v2, memory, cpuset };
}

test('a container\'s cgroups: limits written where each controller is delegated, the rest reported with the reason', async (t) => {
  const tree = fakeTree(t);
  const cgroups = new ContainerCgroups({ dir: tree.v2 }, { v2: new Set(['pids']), v1: new Map([['memory', tree.memory], ['cpuset', tree.cpuset]]) });
  const id = 'abcdef0123456789';
  await cgroups.create(id, { Memory: 64 << 20, PidsLimit: 20, CpusetCpus: '1', NanoCpus: 1e9 });
  const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, 'roost-abcdef012345', file), 'utf8');
  t.is(read(tree.v2, 'pids.max'), '20');
  t.false(fs.existsSync(path.join(tree.v2, 'roost-abcdef012345', 'memory.max')), 'memory is v1 here, not written on v2');
  t.is(read(tree.memory, 'memory.limit_in_bytes'), String(64 << 20));
  t.is(read(tree.cpuset, 'cpuset.mems'), '0', 'a v1 cpuset gets its parent\'s memory nodes');
  t.is(read(tree.cpuset, 'cpuset.cpus'), '1');
  const unapplied = cgroups.unapplied(requestedResources({ Memory: 1 << 30, NanoCpus: 1e9, PidsLimit: 5 }));
  t.deepEqual(unapplied?.fields, ['NanoCpus']);
  t.regex(unapplied!.reason, /the cpu controller is not delegated to /);
  t.regex(unapplied!.remedy, /Delegate=cpu/);
  t.is(cgroups.unapplied(['Memory', 'PidsLimit']), undefined);
  await cgroups.writeLimits(id, { PidsLimit: 40 });
  t.is(read(tree.v2, 'pids.max'), '40', 'update writes into the running container\'s cgroup');
  fs.writeFileSync(path.join(tree.memory, 'roost-abcdef012345', 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
  t.true(await cgroups.oomKilled(id));
});

test('controllers a hybrid host keeps on v1, none of them delegated: the remedy names v1 and the unified hierarchy', (t) => {
  const cgroups = new ContainerCgroups({ dir: '/sys/fs/cgroup/unified/user.slice' }, { v2: new Set(), v1: new Map(), onV1: new Set(['memory', 'pids', 'cpu']) });
  const unapplied = cgroups.unapplied(['Memory', 'NanoCpus']);
  t.is(unapplied?.reason, 'the memory, cpu controllers are on cgroup v1 here, where no cgroup is yours');
  t.regex(unapplied!.remedy, /systemd\.unified_cgroup_hierarchy=1 .*cgcreate -a USER -t USER -g memory,cpu:/);
});

test('without a delegated cgroup, nothing is created and every limit is reported with the remedy', async (t) => {
  const cgroups = new ContainerCgroups({ reason: 'this host has no cgroup v2 hierarchy', remedy: 'boot with systemd.unified_cgroup_hierarchy=1' });
  await cgroups.create('0123456789abcdef', { Memory: 64 << 20 });
  t.false(await cgroups.oomKilled('0123456789abcdef'));
  t.deepEqual(cgroups.unapplied(['Memory', 'PidsLimit']), { fields: ['Memory', 'PidsLimit'], reason: 'this host has no cgroup v2 hierarchy', remedy: 'boot with systemd.unified_cgroup_hierarchy=1' });
});
