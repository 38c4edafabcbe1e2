#!/usr/bin/env node
// Roost benchmark harness: Roost side by side with podman, in one run.
//
//   npm run bench [-- --quick] [-- --only NAME[,NAME]] [-- --network default|none] [-- --no-podman] [-- --shared-daemon]
//
// Plain Node ESM, no build step, no dependencies. Run it as the unprivileged user the engines run as.
// See bench/README.md for what each benchmark measures and how podman is invoked.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(BENCH_DIR, '..');
const ROOST_JS = path.join(REPO, 'bin', 'roost.js');
const MAKE_BUSYBOX = path.join(REPO, 'scripts', 'make-busybox-image.sh');

// Image names private to the benchmark, so that nothing of the user's is touched and everything can be removed.
const IMAGE = 'roost-bench-busybox:latest';
const IMAGE_SHORT = 'roost-bench-busybox';
const BIG_IMAGE = 'roost-bench-big:latest';
const BIG_LAYER_BYTES = 200 * 1024 * 1024; // ~210 MB of incompressible data in the second layer
const BIG_FILE_BYTES = 4 * 1024 * 1024;
const COMMIT_IMAGE = 'roost-bench-commit:latest';
const IO_WRITE_MIB = 256; // volume-io: dd bs=1M count=IO_WRITE_MIB conv=fsync
const IO_FILES = 5000; // volume-io: small files created
const COMMIT_FILES = 20000; // commit: files the container writes before it is committed

const BENCHMARKS = [
  { key: 'run', aliases: ['1', 'run-rm'], title: 'run --rm busybox true' },
  { key: 'docker-run', aliases: ['2', 'docker'], title: 'docker CLI run --rm busybox true' },
  { key: 'idle', aliases: ['3', 'run-d', 'detached'], title: 'run -d busybox sleep 600' },
  { key: 'load', aliases: ['4'], title: 'load ~200 MB docker-archive' },
  { key: 'volume-io', aliases: ['5', 'volume', 'io'], title: 'write 256 MiB + create 5,000 files in a volume / bind mount vs the host' },
  { key: 'commit', aliases: ['6'], title: 'commit a container that changed 20,000 files' },
  { key: 'pull', aliases: ['7', 'push', 'registry'], title: 'pull and push a Debian bookworm minbase image through a loopback docker-registry' },
  { key: 'pull-layers', aliases: ['9', 'parallel'], title: 'pull of an image with 8 layers of 20 MB: the parallel pipeline against one layer at a time' },
  { key: 'stats', aliases: ['8', 'health'], title: 'stats --no-stream of 20 running containers; the engine\'s idle CPU with 20 health-checked containers' },
  { key: 'build', aliases: ['11', 'buildah'], title: 'build: cached rebuild and context transfer vs buildah; two independent stages in parallel vs one after another' },
  { key: 'net', aliases: ['12', 'network', 'iperf'], title: 'network: iperf3 through a published port and between containers vs host loopback; ab to httpd; network helpers\' memory' },
  { key: 'kernels', aliases: ['10', 'wasm'], title: 'WebAssembly kernels vs their twins (no engine, no podman)' },
];
const STATS_CONTAINERS = 20;
const KERNELS_JS = path.join(REPO, 'dist', 'bench', 'kernels.mjs');
const BOOKWORM_TAR = process.env.ROOST_BENCH_BOOKWORM ?? '/var/cache/roost-bench/bookworm-minbase.tar';

// ---------------------------------------------------------------------------------------------- options

function usage() {
  return `usage: node bench/run.js [--quick] [--only NAME[,NAME...]] [--network default|none] [--no-podman] [--shared-daemon] [--json FILE]

  --quick            fewer iterations (run 5, docker-run 3, idle 5 containers, load 1, volume-io 3, commit 1, pull 1,
                     stats 3 and a 10 s CPU window instead of 30 s, build 3, net 3 rounds)
  --only NAME        run only these benchmarks: ${BENCHMARKS.map((b) => b.key).join(', ')} (repeatable or comma-separated)
  --network MODE     default: each engine's default rootless network (slirp4netns for both here);
                     none: --network=none on both sides
  --no-podman        Roost's figures only (no podman, no buildah)
  --shared-daemon    use the user's own Roost daemon and store ($XDG_RUNTIME_DIR/roost/roost.sock) instead of
                     the default: a daemon of this checkout and a store of its own for this run (under
                     $XDG_RUNTIME_DIR/roost-bench-PID and $XDG_DATA_HOME/roost-bench-PID-data, removed at the end)
  --json FILE        where to write the results (default bench/results/latest.json)
`;
}

function parseOptions(argv) {
  const opts = { quick: false, isolated: true, only: new Set(), network: 'default', podman: true, json: path.join(BENCH_DIR, 'results', 'latest.json') };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) { value = arg.slice(eq + 1); arg = arg.slice(0, eq); }
    const next = () => {
      if (value !== undefined) return value;
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--quick') opts.quick = true;
    else if (arg === '--only') {
      for (const name of next().split(',').map((s) => s.trim()).filter(Boolean)) {
        const b = BENCHMARKS.find((x) => x.key === name || x.aliases.includes(name));
        if (!b) throw new Error(`unknown benchmark "${name}" (known: ${BENCHMARKS.map((x) => x.key).join(', ')})`);
        opts.only.add(b.key);
      }
    } else if (arg === '--network') {
      opts.network = next();
      if (!['default', 'none'].includes(opts.network)) throw new Error('--network takes "default" or "none"');
    } else if (arg === '--no-podman') opts.podman = false;
    else if (arg === '--isolated') opts.isolated = true;
    else if (arg === '--shared-daemon') opts.isolated = false;
    else if (arg === '--json') opts.json = path.resolve(next());
    else if (arg === '--help' || arg === '-h') { process.stdout.write(usage()); process.exit(0); }
    else throw new Error(`unknown argument: ${arg}\n${usage()}`);
  }
  opts.iterations = opts.quick
    ? { run: 5, 'docker-run': 3, idle: 5, load: 1, 'volume-io': 3, commit: 1, pull: 1, stats: 3, 'pull-layers': 1, build: 3, net: 3 }
    : { run: 20, 'docker-run': 10, idle: 20, load: 3, 'volume-io': 9, commit: 3, pull: 3, stats: 9, 'pull-layers': 3, build: 7, net: 7 };
  return opts;
}

// ---------------------------------------------------------------------------------------------- processes

const children = new Set();

/**
 * Runs a command to completion. Resolves { code, stdout, stderr, ns } (ns: wall time as a bigint, from
 * process.hrtime.bigint() taken just before spawn and at exit); never rejects except on spawn errors.
 */
function exec(cmd, args, { env = process.env, timeoutMs = 180_000, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    let child;
    try {
      child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      reject(err);
      return;
    }
    children.add(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (c) => { stdout += c; });
    child.stderr.setEncoding('utf8').on('data', (c) => { stderr += c; });
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); children.delete(child); reject(err); });
    child.on('close', (code, signal) => {
      const ns = process.hrtime.bigint() - started;
      clearTimeout(timer);
      children.delete(child);
      resolve({ code: timedOut ? 124 : code ?? 128, signal, stdout, stderr, ns, timedOut });
    });
  });
}

function describe(cmd, args) {
  return [cmd === process.execPath ? 'node' : cmd, ...args].map((a) => (/[\s'"]/.test(a) ? JSON.stringify(a) : a)).join(' ');
}

class CommandError extends Error {
  constructor(cmd, args, result) {
    const lines = (result.stderr.trim() || result.stdout.trim()).split('\n').map((l) => l.trim()).filter(Boolean);
    // A Node crash ends in a stack and "Node.js vX": its first Error line says more than the tail.
    const errorLine = lines.find((l) => /^(\w*Error|roost:|Error:|error:)/.test(l));
    const tail = errorLine ?? lines.slice(-3).join(' | ');
    super(`\`${describe(cmd, args)}\` ${result.timedOut ? 'timed out' : `exited ${result.code}`}${tail ? `: ${tail}` : ''}`);
    this.result = result;
  }
}

/** Like exec, but throws a CommandError unless the command exits 0. */
async function check(cmd, args, options) {
  const result = await exec(cmd, args, options);
  if (result.code !== 0) throw new CommandError(cmd, args, result);
  return result;
}

const nsToMs = (ns) => Number(ns) / 1e6;

// ---------------------------------------------------------------------------------------------- engines

class Engine {
  constructor(name, cmd, globalArgs, runArgs, env, { rmArgs = [], attribution } = {}) {
    this.name = name;
    this.cmd = cmd;
    this.globalArgs = globalArgs; // before the subcommand (podman's storage / runtime flags)
    this.runArgs = runArgs; // after `run` (network)
    this.env = env;
    this.rmArgs = rmArgs; // after `rm -f`
    this.attributionOf = attribution;
  }
  /** Which processes are this engine's, for userMemory(): { roots, markers }. */
  async attribution(containerIds) {
    return this.attributionOf ? this.attributionOf(this, containerIds) : { roots: [], markers: [] };
  }
  argv(args) { return [...this.globalArgs, ...args]; }
  exec(args, options = {}) { return exec(this.cmd, this.argv(args), { env: this.env, ...options }); }
  check(args, options = {}) { return check(this.cmd, this.argv(args), { env: this.env, ...options }); }
  display(args) { return describe(this.cmd, this.argv(args)); }
  /** Container ids (full) of every container whose image is one of the benchmark's images. */
  async benchContainers() {
    const r = await this.check(['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Image}}']);
    return r.stdout.split('\n').map((l) => l.trim().split(/\s+/)).filter((p) => p.length >= 2 && isBenchImage(p[1])).map((p) => p[0]);
  }
  async hasImage(ref) {
    const r = await this.exec(['image', 'inspect', ref]);
    return r.code === 0;
  }
}

function isBenchImage(ref) {
  const name = ref.replace(/^(docker\.io\/library\/|localhost\/)/, '').replace(/:latest$/, '');
  return name === IMAGE_SHORT || name === 'roost-bench-big' || name === 'roost-bench-commit' || name === 'roost-bench-iperf3';
}

// ---------------------------------------------------------------------------------------------- cleanup

const cleanups = []; // LIFO: { label, fn }
/** Set on SIGINT/SIGTERM/SIGHUP: benchmarks start nothing new (no container, no daemon) once it is set. */
let interrupted = false;
function checkInterrupted() {
  if (interrupted) throw new Error('interrupted');
}
function onCleanup(label, fn) {
  const entry = { label, fn };
  cleanups.push(entry);
  return () => { const i = cleanups.indexOf(entry); if (i >= 0) cleanups.splice(i, 1); };
}
let cleaning;
async function runCleanups() {
  cleaning ??= (async () => {
    while (cleanups.length) {
      const { label, fn } = cleanups.pop();
      try {
        await fn();
      } catch (err) {
        warn(`cleanup (${label}) failed: ${err.message}`);
      }
    }
  })();
  return cleaning;
}

const warnings = [];
function warn(message) {
  warnings.push(message);
  process.stderr.write(`bench: warning: ${message}\n`);
}
function log(message) {
  process.stderr.write(`bench: ${message}\n`);
}

// ---------------------------------------------------------------------------------------------- statistics

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return undefined;
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  const p90 = sorted[Math.min(n - 1, Math.ceil(0.9 * n) - 1)];
  const mean = sorted.reduce((s, x) => s + x, 0) / n;
  return { n, median, p90, mean, min: sorted[0], max: sorted[n - 1] };
}

// ---------------------------------------------------------------------------------------------- memory

function readSubIdRanges(file, user, uid) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').map((l) => l.split(':'))
      .filter((p) => p.length === 3 && (p[0] === user || p[0] === String(uid)))
      .map((p) => [Number(p[1]), Number(p[1]) + Number(p[2])]);
  } catch {
    return [];
  }
}

/**
 * Memory of the processes of this user (its uid and its subordinate uids, so container processes count),
 * except this harness: Pss from /proc/PID/smaps_rollup where readable, else VmRSS from /proc/PID/status.
 *
 * `kb` sums all of them. `engineKb` sums those of the engine under test, per `attribution`: a process is the
 * engine's when its pid is one of `roots` (e.g. the daemon's and the pause process's pid files), or its
 * command line names one of `markers` (the engine's run / storage directories, a container's netns path:
 * that catches conmon, pasta, slirp4netns, which daemonize away from their parent), or when one of its
 * same-user ancestors is the engine's. Other activity of the same user while the figure is taken (another
 * test suite with daemons of its own, say) then does not count as the engine's.
 */
function userMemory(attribution = { roots: [], markers: [] }) {
  const uid = process.getuid();
  const ranges = readSubIdRanges('/etc/subuid', os.userInfo().username, uid);
  const ours = (u) => u === uid || ranges.some(([lo, hi]) => u >= lo && u < hi);
  const all = new Map(); // pid -> { ppid, ours, cmdline }
  const procs = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    let status;
    try {
      status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      continue;
    }
    const field = (name) => status.match(new RegExp(`^${name}:\\s*(.*)$`, 'm'))?.[1];
    const realUid = Number(field('Uid')?.split(/\s+/)[0]);
    const ppid = Number(field('PPid'));
    const mine = ours(realUid);
    let cmdline = '';
    if (mine) {
      try { cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' '); } catch { /* gone */ }
    }
    all.set(pid, { ppid, ours: mine, cmdline });
    if (!mine || pid === process.pid) continue;
    const rssKb = Number(field('VmRSS')?.split(/\s+/)[0] ?? NaN);
    if (!Number.isFinite(rssKb)) continue; // kernel thread or zombie
    let pssKb;
    try {
      const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      const m = rollup.match(/^Pss:\s+(\d+) kB/m);
      if (m) pssKb = Number(m[1]);
    } catch { /* not readable: fall back to VmRSS */ }
    procs.push({ pid, ppid, comm: field('Name') ?? '?', cmdline: cmdline.slice(0, 200), rssKb, pssKb, kb: pssKb ?? rssKb });
  }
  const roots = new Set(attribution.roots.filter(Boolean));
  const markers = attribution.markers.filter(Boolean);
  const memo = new Map();
  const isEngine = (pid, depth = 0) => {
    if (memo.has(pid)) return memo.get(pid);
    const info = all.get(pid);
    let result = false;
    if (info?.ours && pid !== process.pid && depth < 1000) {
      result = roots.has(pid) || markers.some((m) => info.cmdline.includes(m)) || isEngine(info.ppid, depth + 1);
    }
    memo.set(pid, result);
    return result;
  };
  for (const p of procs) p.engine = isEngine(p.pid);
  const sum = (list, key) => list.reduce((s, x) => s + x[key], 0);
  const engine = procs.filter((p) => p.engine);
  return {
    kb: sum(procs, 'kb'),
    rssKb: sum(procs, 'rssKb'),
    engineKb: sum(engine, 'kb'),
    engineRssKb: sum(engine, 'rssKb'),
    fallbacks: procs.filter((p) => p.pssKb === undefined).length,
    procs,
  };
}

function readPid(file) {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** What changed between two userMemory() snapshots, by process name. */
function memoryDelta(before, after, filter = (p) => p.engine) {
  const beforePids = new Map(before.procs.filter(filter).map((p) => [p.pid, p]));
  const afterProcs = after.procs.filter(filter);
  const afterPids = new Set(afterProcs.map((p) => p.pid));
  const byComm = {};
  for (const p of afterProcs) {
    const old = beforePids.get(p.pid);
    const key = old ? `${p.comm} (existing)` : p.comm;
    byComm[key] ??= { count: 0, kb: 0 };
    if (!old) byComm[key].count++;
    byComm[key].kb += p.kb - (old?.kb ?? 0);
  }
  for (const p of beforePids.values()) {
    if (afterPids.has(p.pid)) continue;
    const key = `${p.comm} (exited)`;
    byComm[key] ??= { count: 0, kb: 0 };
    byComm[key].count--;
    byComm[key].kb -= p.kb;
  }
  for (const [k, v] of Object.entries(byComm)) if (v.count === 0 && Math.abs(v.kb) < 64) delete byComm[k];
  return byComm;
}

function memAvailableKb() {
  const m = fs.readFileSync('/proc/meminfo', 'utf8').match(/^MemAvailable:\s+(\d+) kB/m);
  return m ? Number(m[1]) : NaN;
}

// ---------------------------------------------------------------------------------------------- images

async function sha256File(file) {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk);
  return hash.digest('hex');
}

const TAR_FLAGS = ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=2024-01-01 00:00:00'];

/**
 * A docker-archive at `out`: `baseArchive` (the busybox image) plus one layer of what `fill` puts in a fresh
 * root directory, with the config's diff_ids, history and manifest to match, tagged `repoTag`. Returns its size.
 */
async function archiveWithLayer(baseArchive, workDir, name, out, repoTag, createdBy, fill) {
  const dir = path.join(workDir, `${name}-archive`);
  const rootfs = path.join(workDir, `${name}-rootfs`);
  fs.mkdirSync(dir, { recursive: true });
  fs.mkdirSync(rootfs, { recursive: true });
  try {
    await fill(rootfs);
    await check('tar', ['-xf', baseArchive, '-C', dir]);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    const baseConfigFile = manifest[0].Config;
    const config = JSON.parse(fs.readFileSync(path.join(dir, baseConfigFile), 'utf8'));
    const layerTmp = path.join(dir, 'layer.tar');
    await check('tar', [...TAR_FLAGS, '-C', rootfs, '-cf', layerTmp, '.']);
    fs.rmSync(rootfs, { recursive: true, force: true });
    const diffId = await sha256File(layerTmp);
    fs.mkdirSync(path.join(dir, diffId));
    fs.renameSync(layerTmp, path.join(dir, diffId, 'layer.tar'));
    config.rootfs.diff_ids.push(`sha256:${diffId}`);
    config.history = [...(config.history ?? []), { created: '2024-01-01T00:00:00Z', created_by: `bench/run.js: ${createdBy}` }];
    const configText = JSON.stringify(config);
    const configId = crypto.createHash('sha256').update(configText).digest('hex');
    fs.writeFileSync(path.join(dir, `${configId}.json`), configText);
    fs.rmSync(path.join(dir, baseConfigFile));
    manifest[0] = { Config: `${configId}.json`, RepoTags: [repoTag], Layers: [...manifest[0].Layers, `${diffId}/layer.tar`] };
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    await check('tar', [...TAR_FLAGS, '-C', dir, '-cf', out, '.']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(rootfs, { recursive: true, force: true });
  }
  return fs.statSync(out).size;
}

/** The busybox image plus a layer holding BIG_LAYER_BYTES of random (incompressible) files in /bench-data. */
function makeBigArchive(baseArchive, workDir, out) {
  return archiveWithLayer(baseArchive, workDir, 'big', out, BIG_IMAGE, `${BIG_LAYER_BYTES} bytes of random data in /bench-data`, async (rootfs) => {
    fs.mkdirSync(path.join(rootfs, 'bench-data'));
    for (let i = 0, written = 0; written < BIG_LAYER_BYTES; i++) {
      const size = Math.min(BIG_FILE_BYTES, BIG_LAYER_BYTES - written);
      fs.writeFileSync(path.join(rootfs, 'bench-data', `blob-${String(i).padStart(3, '0')}.bin`), crypto.randomBytes(size));
      written += size;
    }
  });
}

async function duBytes(dir) {
  const r = await exec('du', ['-sb', dir], { timeoutMs: 120_000 });
  const n = Number(r.stdout.trim().split(/\s+/)[0]);
  return Number.isFinite(n) ? n : undefined;
}

// ---------------------------------------------------------------------------------------------- roost

/** Copies the built tree (bin, dist, build, native/build) into `dir`; returns the copy's bin/roost.js. */
async function snapshotTree(dir) {
  // What bin/roost.js loads (the CLI bundle) must be there: wait a little for a build in progress.
  const entry = () => path.join(REPO, 'dist', 'cli.cjs');
  for (let i = 0; i < 120 && !fs.existsSync(entry()); i++) {
    if (i === 0) log(`${path.relative(REPO, entry())} is missing: waiting up to 60 s for a build in progress`);
    await sleep(500);
  }
  if (!fs.existsSync(entry())) throw new Error('Roost is not built (dist/cli.cjs is missing): run npm run build');
  const dest = path.join(dir, 'roost-tree');
  for (const rel of ['package.json', 'bin', 'dist', 'build', path.join('native', 'build')]) {
    if (fs.existsSync(path.join(REPO, rel))) fs.cpSync(path.join(REPO, rel), path.join(dest, rel), { recursive: true });
  }
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(dest, 'node_modules'));
  return path.join(dest, 'bin', 'roost.js');
}

// ---------------------------------------------------------------------------------------------- podman

/** Answers whether a unix socket accepts a connection. */
function socketAnswers(file) {
  return new Promise((resolve) => {
    const s = net.connect(file);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/**
 * Finds a podman invocation that works for this user on this host. Podman gets storage of its own for the
 * benchmark (graph root under $XDG_DATA_HOME, run root under $XDG_RUNTIME_DIR) so that the user's podman
 * images and containers are not touched and a like-for-like storage driver can be chosen: native kernel
 * overlay first (what Roost uses), then fuse-overlayfs, then vfs. Then runtime / cgroup flags in order, as
 * crun 1.8 refuses hybrid cgroup hosts.
 */
async function setupPodman(ctx) {
  const version = await exec('podman', ['--version']).catch((err) => ({ code: -1, stderr: err.code === 'ENOENT' ? 'not installed' : err.message, stdout: '' }));
  if (version.code !== 0) return { available: false, reason: version.stderr.trim().split('\n').pop() || 'podman --version failed' };
  const dataHome = process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  const base = path.join(dataHome, `roost-bench-podman-${process.pid}`);
  const runBase = path.join(process.env.XDG_RUNTIME_DIR, `roost-bench-podman-${process.pid}`);
  const removeStorage = async (root, runroot) => {
    // Files in a rootless graph root belong to subordinate ids: remove them from inside podman's user namespace.
    await removeInPodmanNamespace([root, runroot]);
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(runroot, { recursive: true, force: true });
  };
  onCleanup('podman storage', async () => {
    // conmon runs `podman --root … --runroot … container cleanup` when a container exits, which may come after
    // `rm -f` returned and would create the storage directories again: wait for those processes first.
    await waitForProcessesNaming([base, runBase], 15_000);
    await removeInPodmanNamespace([base, runBase]);
    fs.rmSync(base, { recursive: true, force: true });
    fs.rmSync(runBase, { recursive: true, force: true });
  });
  const storages = [
    { label: 'overlay (native kernel overlayfs)', flags: ['--storage-driver=overlay'] },
    { label: 'overlay via fuse-overlayfs', flags: ['--storage-driver=overlay', '--storage-opt=overlay.mount_program=/usr/bin/fuse-overlayfs'] },
    { label: 'vfs', flags: ['--storage-driver=vfs'] },
  ];
  const runtimes = [
    { label: 'podman defaults', global: [], run: [] },
    { label: 'runc', global: ['--runtime=runc'], run: [] },
    { label: 'crun', global: ['--runtime=crun'], run: [] },
    { label: 'runc, cgroupfs', global: ['--runtime=runc', '--cgroup-manager=cgroupfs'], run: [] },
    { label: 'runc, cgroupfs, --cgroups=disabled', global: ['--runtime=runc', '--cgroup-manager=cgroupfs'], run: ['--cgroups=disabled'] },
    { label: 'crun, cgroupfs, --cgroups=disabled', global: ['--runtime=crun', '--cgroup-manager=cgroupfs'], run: ['--cgroups=disabled'] },
  ];
  // Like for like: try Roost's OCI runtime first.
  const same = runtimes.findIndex((r) => ctx.roostRuntime && r.global.includes(`--runtime=${ctx.roostRuntime}`));
  if (same > 0) runtimes.unshift(...runtimes.splice(same, 1));
  const netArgs = ctx.opts.network === 'none' ? ['--network=none'] : [];
  const failures = [];
  for (const [i, storage] of storages.entries()) {
    const root = path.join(base, `storage-${i}`);
    const runroot = path.join(runBase, `run-${i}`);
    const storageArgs = [`--root=${root}`, `--runroot=${runroot}`, ...storage.flags];
    const loader = new Engine('podman', 'podman', storageArgs, [], process.env);
    const load = await loader.exec(['load', '-q', '-i', ctx.busyboxArchive], { timeoutMs: 300_000 });
    if (load.code !== 0) {
      failures.push(`storage ${storage.label}: ${new CommandError('podman', loader.argv(['load', '-q', '-i', ctx.busyboxArchive]), load).message}`);
      await removeStorage(root, runroot);
      continue;
    }
    for (const runtime of runtimes) {
      const engine = new Engine('podman', 'podman', [...storageArgs, ...runtime.global], [...runtime.run, ...netArgs], process.env, {
        rmArgs: ['--time=0'], // podman 4's rm -f waits out the stop timeout; Docker's (and Roost's) rm -f kills at once
        attribution: podmanAttribution(root, runroot),
      });
      const probe = await engine.exec(['run', '--rm', ...engine.runArgs, IMAGE_SHORT, 'true'], { timeoutMs: 120_000 });
      if (probe.code === 0) {
        const info = await engine.exec(['info', '--format', '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}} {{.Host.CgroupsVersion}} {{.Store.GraphDriverName}}']);
        return {
          available: true,
          engine,
          version: version.stdout.trim(),
          storage: storage.label,
          runtime: runtime.label,
          info: info.stdout.trim(),
          root, runroot,
          network: ctx.opts.network === 'none' ? 'none' : 'default (slirp4netns on podman 4)',
          failures,
          invocation: `podman ${engine.globalArgs.join(' ')} run --rm ${engine.runArgs.join(' ')}${engine.runArgs.length ? ' ' : ''}${IMAGE_SHORT} true`,
        };
      }
      failures.push(`${storage.label} + ${runtime.label}: ${new CommandError('podman', engine.argv(['run', '--rm', ...engine.runArgs, IMAGE_SHORT, 'true']), probe).message}`);
    }
    await removeStorage(root, runroot);
  }
  const lastError = failures.at(-1)?.split(': ').slice(-1)[0] ?? 'unknown';
  return { available: false, reason: `no working podman invocation, ${failures.length} tried; last error: ${lastError}`, failures };
}

/** This user's processes whose command line names one of `marks`, as [{ pid, cmdline }]. */
function processesNaming(marks) {
  const found = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.statSync(`/proc/${entry}`).uid !== process.getuid()) continue;
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
      if (marks.some((m) => cmdline.includes(m))) found.push({ pid: Number(entry), cmdline });
    } catch { /* gone */ }
  }
  return found;
}

/** Waits (at most `ms`) until no process of this user names one of `marks` on its command line. */
async function waitForProcessesNaming(marks, ms) {
  for (const end = Date.now() + ms; Date.now() < end && processesNaming(marks).length; ) await sleep(200);
}

/**
 * Removes directories holding files of subordinate ids (a rootless graph root) from inside podman's user
 * namespace: by entering its pause process, which leaves the user's default podman store alone (`podman
 * unshare` would open, and create, that store); `podman unshare` only when there is no pause process.
 */
async function removeInPodmanNamespace(dirs) {
  const pause = podmanPausePid();
  const r = pause ? await exec('nsenter', ['-t', String(pause), '-U', '-m', '--', 'rm', '-rf', ...dirs], { timeoutMs: 300_000 }) : undefined;
  if (!r || r.code !== 0) await exec('podman', ['unshare', 'rm', '-rf', ...dirs], { timeoutMs: 300_000 });
}

/** Podman's processes: the pause process, conmon (its command line names the storage), slirp4netns (the netns). */
function podmanAttribution(root, runroot) {
  return async (engine, ids) => {
    const markers = [`${root}/`, `${runroot}/`];
    if (ids.length) {
      const r = await engine.exec(['inspect', '--format', '{{.NetworkSettings.SandboxKey}}', ...ids]);
      markers.push(...r.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('/')));
    }
    return { roots: [podmanPausePid()], markers };
  };
}

/** Starts `podman system service` on its own socket; returns { socket, stop }. */
async function startPodmanService(podman) {
  const socket = path.join(process.env.XDG_RUNTIME_DIR, 'podman-bench.sock');
  fs.rmSync(socket, { force: true });
  const args = podman.argv(['system', 'service', '--time=0', `unix://${socket}`]);
  const child = spawn('podman', args, { env: podman.env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c) => { stderr = (stderr + c).slice(-4000); });
  let exited = false;
  const exitedPromise = new Promise((resolve) => child.on('exit', () => { exited = true; resolve(); }));
  child.on('error', () => { exited = true; });
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      await Promise.race([exitedPromise, sleep(10_000)]);
      if (!exited) { child.kill('SIGKILL'); await Promise.race([exitedPromise, sleep(5_000)]); }
    }
    fs.rmSync(socket, { force: true });
  };
  const unregister = onCleanup('podman system service', stop);
  for (let i = 0; i < 200 && !exited; i++) {
    if (await socketAnswers(socket)) return { socket, stop: async () => { unregister(); await stop(); }, command: describe('podman', args) };
    await sleep(50);
  }
  unregister();
  await stop();
  throw new Error(`podman system service did not come up: ${stderr.trim().split('\n').slice(-2).join(' | ')}`);
}

/** Kills podman's rootless pause process if this run created it (it was not there when we started). */
function podmanPausePid() {
  try {
    const pid = Number(fs.readFileSync(path.join(process.env.XDG_RUNTIME_DIR, 'libpod', 'tmp', 'pause.pid'), 'utf8').trim());
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('catatonit') || cmdline.includes('pause') ? pid : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------- benchmarks

/** A benchmark's outcome for one engine: { figure, stats?, samples?, extra?, error? }. */
function sideError(err) {
  return { error: err.message ?? String(err) };
}

async function timedRun(engine, args, options) {
  const r = await engine.check(args, options);
  return nsToMs(r.ns);
}

async function benchRunRm(ctx, n) {
  const sides = ctx.sides();
  const out = {};
  const samples = new Map(sides.map((e) => [e.name, []]));
  const before = new Map();
  for (const e of sides) before.set(e.name, new Set(await e.benchContainers().catch(() => [])));
  const argsOf = (e) => ['run', '--rm', ...e.runArgs, IMAGE_SHORT, 'true'];
  const failed = new Map();
  for (const e of sides) {
    try { await timedRun(e, argsOf(e)); } catch (err) { failed.set(e.name, err); } // warm-up
  }
  for (let i = 0; i < n; i++) {
    for (const e of sides) { // alternate the engines so that drift on the host hits both alike
      if (failed.has(e.name)) continue;
      try { samples.get(e.name).push(await timedRun(e, argsOf(e))); } catch (err) { failed.set(e.name, err); }
    }
  }
  for (const e of sides) {
    if (failed.has(e.name)) { out[e.name] = sideError(failed.get(e.name)); continue; }
    const s = stats(samples.get(e.name));
    const leaked = (await e.benchContainers().catch(() => [])).filter((id) => !before.get(e.name).has(id));
    if (leaked.length) {
      warn(`${e.name}: ${leaked.length} container(s) left behind by \`run --rm\` (removing them)`);
      await e.exec(['rm', '-f', ...leaked]);
    }
    out[e.name] = { value: s.median, stats: s, samples: samples.get(e.name), command: e.display(argsOf(e)), leakedContainers: leaked.length };
  }
  return [
    { key: 'run', name: `run --rm busybox true, median of ${n}`, unit: 'ms', target: 0.7, sides: out },
    {
      key: 'run-p90', name: `run --rm busybox true, p90 of ${n}`, unit: 'ms', target: undefined,
      sides: Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.error ? v : { value: v.stats.p90 }])),
    },
  ];
}

/** CPU time (user + system, with reaped children) of a process, in clock ticks; 0 when it is gone. */
/** The pids of every process whose command name (/proc/PID/comm) is `comm`. */
function pidsNamed(comm) {
  const pids = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try { if (fs.readFileSync(`/proc/${name}/comm`, 'utf8').trim() === comm) pids.push(Number(name)); } catch { /* gone */ }
  }
  return pids;
}

/** The health-check agents running in containers (native/roost-probe, bound in at /dev/.roost-probe). */
function probeAgentPids() {
  return pidsNamed('.roost-probe');
}

/** A process's own CPU ticks and those of its waited-for children, apart. */
function splitTicks(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
  } catch {
    return { own: 0, children: 0 };
  }
}

function cpuTicks(pid) {
  const { own, children } = splitTicks(pid);
  return own + children;
}

/** Roost's own processes: the daemon (both sides of nsenter) and every container's monitor. */
function roostEnginePids(ctx) {
  const runDir = path.dirname(ctx.roostSocket);
  const daemon = readPid(path.join(runDir, 'daemon.pid'));
  const pids = new Set([daemon]);
  try { pids.add(Number(fs.readFileSync(`/proc/${daemon}/status`, 'utf8').match(/^PPid:\s*(\d+)/m)?.[1])); } catch { /* gone */ }
  for (const pid of pidsNamed('roost-monitor')) pids.add(pid);
  return [...pids].filter((p) => p > 1);
}

/** Stops Roost's daemon (the next command starts it again, with `ctx.roost.env` as it is then). */
async function stopRoostDaemon(ctx) {
  const runDir = path.dirname(ctx.roostSocket);
  const daemon = readPid(path.join(runDir, 'daemon.pid'));
  let outer;
  try { outer = Number(fs.readFileSync(`/proc/${daemon}/status`, 'utf8').match(/^PPid:\s*(\d+)/m)?.[1]); } catch { /* gone */ }
  for (const pid of [daemon, outer]) {
    try { if (pid > 1 && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('roost')) process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  for (let i = 0; i < 50 && (await socketAnswers(ctx.roostSocket)); i++) await sleep(100);
}

async function benchPullLayers(ctx, n) {
  const layers = 8;
  const layerBytes = 20 * 1000 * 1000;
  const row = {
    key: 'pull-layers', name: `pull of ${layers} layers of ${layerBytes / 1e6} MB (incompressible), parallel, median of ${n}`, unit: 'ms',
    target: 0.5, atMost: true, podmanNa: 'Roost against itself', sides: {},
  };
  if (!fs.existsSync('/usr/bin/docker-registry')) {
    row.sides.roost = { error: 'docker-registry is not installed' };
    return [row];
  }
  const registry = await startBenchRegistry(path.join(ctx.tmp, 'registry-layers'));
  const unregister = onCleanup('bench registry (layers)', () => registry.stop());
  const name = `${registry.host}/bench/layers:1`;
  const roost = ctx.roost;
  const made = [];
  try {
    log(`making an image of ${layers} layers of ${layerBytes / 1e6} MB and pushing it to ${registry.host}`);
    let base = IMAGE;
    for (let i = 0; i < layers; i++) {
      const container = `roost-bench-layer-${i}`;
      await roost.check(['run', '--name', container, '--network=none', base, 'sh', '-c', `head -c ${layerBytes} /dev/urandom > /layer${i}`], { timeoutMs: 120_000 });
      const image = i === layers - 1 ? name : `roost-bench-layers-${i}:latest`;
      await roost.check(['commit', container, image], { timeoutMs: 300_000 });
      await roost.check(['rm', container]);
      if (i < layers - 1) made.push(image);
      base = image;
    }
    await roost.check(['push', name], { timeoutMs: 600_000 });
    for (const image of [name, ...made.reverse()]) await roost.exec(['rmi', image]);
    const timed = async () => {
      const samples = [];
      for (let i = 0; i <= n; i++) {
        await roost.exec(['rmi', '-f', name]);
        const r = await roost.check(['pull', '-q', name], { timeoutMs: 600_000 });
        if (i > 0) samples.push(nsToMs(r.ns)); // the first is a warm-up
      }
      return samples;
    };
    const parallel = await timed();
    await stopRoostDaemon(ctx);
    roost.env.ROOST_PULL_LAYERS = '1';
    let serial;
    try {
      serial = await timed();
    } finally {
      delete roost.env.ROOST_PULL_LAYERS;
      await stopRoostDaemon(ctx);
      await roost.check(['version']);
    }
    const p = stats(parallel);
    const s = stats(serial);
    row.relativeTo = { label: 'one at a time', value: s.median };
    row.sides.roost = { value: p.median, stats: p, samples: parallel, serial: { stats: s, samples: serial } };
  } catch (err) {
    row.sides.roost = sideError(err);
  } finally {
    await roost.exec(['rmi', '-f', name]).catch(() => {});
    unregister();
    registry.stop();
  }
  return [row];
}

async function benchStats(ctx, n) {
  const count = STATS_CONTAINERS;
  const timing = { key: 'stats', name: `stats --no-stream of ${count} running containers, median of ${n}`, unit: 'ms', target: 0.5, sides: {} };
  for (const e of ctx.sides()) {
    const ids = [];
    const removeIds = async () => { if (ids.length) await e.exec(['rm', '-f', ...ids], { timeoutMs: 300_000 }); ids.length = 0; };
    const unregister = onCleanup(`${e.name} stats containers`, removeIds);
    try {
      for (let i = 0; i < count; i++) ids.push((await e.check(['run', '-d', ...e.runArgs, IMAGE_SHORT, 'sleep', '600'])).stdout.trim().split('\n').pop());
      const args = ['stats', '--no-stream', ...ids];
      await e.check(args); // warm-up
      const samples = [];
      for (let i = 0; i < n; i++) samples.push(await timedRun(e, args));
      const st = stats(samples);
      timing.sides[e.name] = { value: st.median, stats: st, samples, command: e.display(['stats', '--no-stream', `<${count} ids>`]) };
    } catch (err) {
      timing.sides[e.name] = sideError(err);
    } finally {
      await removeIds();
      unregister();
    }
  }
  // Roost alone: podman runs health checks from systemd timers, which a host without a user session lacks.
  const seconds = ctx.opts.quick ? 10 : 30;
  const idle = {
    key: 'health-cpu', name: `engine CPU with ${count} containers health-checked every 2 s (${seconds} s)`, unit: '%',
    relativeTo: { label: '1% of one core', value: 1 }, target: 1, atMost: true, podmanNa: 'Roost only (podman needs systemd timers for health checks)', sides: {},
  };
  const ids = [];
  const removeIds = async () => { if (ids.length) await ctx.roost.exec(['rm', '-f', ...ids], { timeoutMs: 300_000 }); ids.length = 0; };
  const unregister = onCleanup('roost health-checked containers', removeIds);
  try {
    for (let i = 0; i < count; i++) {
      ids.push((await ctx.roost.check(['run', '-d', ...ctx.roost.runArgs, '--health-cmd', 'true', '--health-interval', '2s', IMAGE_SHORT, 'sleep', '600'])).stdout.trim().split('\n').pop());
    }
    await sleep(5000);
    const hz = 100;
    // The engine's share: daemon and monitors (with their children, the runtime execs of probes without an
    // agent) and the agents' own time. The probe commands the agents fork are the containers' work, as
    // they are in Docker (which runs them in the container's cgroup): reported apart.
    const pids = roostEnginePids(ctx);
    const agents = probeAgentPids();
    const engineTicks = () => pids.reduce((sum, pid) => sum + cpuTicks(pid), 0) + agents.reduce((sum, pid) => sum + splitTicks(pid).own, 0);
    const commandTicks = () => agents.reduce((sum, pid) => sum + splitTicks(pid).children, 0);
    const t0 = engineTicks();
    const c0 = commandTicks();
    await sleep(seconds * 1000);
    const t1 = engineTicks();
    const c1 = commandTicks();
    const healthy = (await ctx.roost.check(['ps', '--filter', 'health=healthy', '-q'])).stdout.trim().split('\n').filter(Boolean).length;
    if (healthy !== count) warn(`roost: ${healthy} of ${count} health-checked containers were healthy at the end of the CPU window`);
    idle.sides.roost = { value: ((t1 - t0) / hz / seconds) * 100, seconds, processes: pids.length, agents: agents.length, probeCommandsPercent: ((c1 - c0) / hz / seconds) * 100, healthy };
  } catch (err) {
    idle.sides.roost = sideError(err);
  } finally {
    await removeIds();
    unregister();
  }
  return [timing, idle];
}

async function benchDockerRun(ctx, n) {
  const dockerVersion = await exec('docker', ['--version']).catch((err) => ({ code: -1, stderr: err.code === 'ENOENT' ? 'docker CLI not installed' : err.message, stdout: '' }));
  const row = { key: 'docker-run', name: `docker CLI run --rm busybox true, median of ${n}`, unit: 'ms', target: 0.25, sides: {} };
  if (dockerVersion.code !== 0) {
    const reason = `docker CLI: ${dockerVersion.stderr.trim() || 'unusable'}`;
    row.sides.roost = { error: reason };
    row.podmanNa = reason;
    return [row];
  }
  row.dockerVersion = dockerVersion.stdout.trim();
  const dockerConfig = path.join(ctx.tmp, 'docker-config');
  fs.mkdirSync(dockerConfig, { recursive: true });
  const dockerEnv = { ...process.env, DOCKER_CONFIG: dockerConfig };
  delete dockerEnv.DOCKER_HOST;
  delete dockerEnv.DOCKER_CONTEXT;
  // The Docker CLI does not start Roost's daemon as `roost` does: make sure it is up (it may have been stopped since).
  await ctx.roost.check(['version']);
  const targets = [{ name: 'roost', socket: ctx.roostSocket }];
  let service;
  if (ctx.podman?.available) {
    try {
      service = await startPodmanService(ctx.podman.engine);
      targets.push({ name: 'podman', socket: service.socket });
      row.podmanService = service.command;
    } catch (err) {
      row.podmanNa = err.message;
    }
  }
  const netArgs = ctx.opts.network === 'none' ? ['--network=none'] : [];
  const clis = targets.map((t) => new Engine(t.name, 'docker', ['-H', `unix://${t.socket}`], netArgs, dockerEnv));
  try {
    const samples = new Map(clis.map((c) => [c.name, []]));
    const failed = new Map();
    const args = ['run', '--rm', ...netArgs, IMAGE_SHORT, 'true'];
    const before = new Map();
    for (const c of clis) before.set(c.name, new Set(await c.benchContainers().catch(() => [])));
    for (const c of clis) {
      try { await timedRun(c, args); } catch (err) { failed.set(c.name, err); } // warm-up
    }
    for (let i = 0; i < n; i++) {
      for (const c of clis) {
        if (failed.has(c.name)) continue;
        try { samples.get(c.name).push(await timedRun(c, args)); } catch (err) { failed.set(c.name, err); }
      }
    }
    for (const c of clis) {
      if (failed.has(c.name)) { row.sides[c.name] = sideError(failed.get(c.name)); continue; }
      const leaked = (await c.benchContainers().catch(() => [])).filter((id) => !before.get(c.name).has(id));
      if (leaked.length) {
        warn(`${c.name} (via docker CLI): ${leaked.length} container(s) left behind by \`docker run --rm\` (removing them)`);
        await c.exec(['rm', '-f', ...leaked]);
      }
      const s = stats(samples.get(c.name));
      row.sides[c.name] = { value: s.median, stats: s, samples: samples.get(c.name), command: c.display(args), leakedContainers: leaked.length };
    }
  } finally {
    if (service) await service.stop();
  }
  return [row];
}

async function benchIdle(ctx, n) {
  const rows = [
    { key: 'idle-time', name: `${n} × run -d busybox sleep 600, total wall time`, unit: 'ms', target: 0.5, sides: {} },
    { key: 'idle-rss', name: 'host memory added per idle container (Pss)', unit: 'kB', target: 0.5, sides: {} },
  ];
  const settleMs = 2000;
  for (const e of ctx.sides()) { // one engine at a time: the memory of one engine's containers must not blur the other's
    const ids = [];
    const removeIds = async () => { if (ids.length) await e.exec(['rm', '-f', ...ids], { timeoutMs: 300_000 }); };
    const unregister = onCleanup(`${e.name} idle containers`, removeIds);
    const args = ['run', '-d', ...e.runArgs, IMAGE_SHORT, 'sleep', '600'];
    try {
      const warm = await e.check(args);
      await e.check(['rm', '-f', warm.stdout.trim().split('\n').pop()]);
      await sleep(settleMs);
      const mem0 = userMemory(await e.attribution([]));
      const avail0 = memAvailableKb();
      const started = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        const r = await e.check(args);
        ids.push(r.stdout.trim().split('\n').pop());
      }
      const wallMs = nsToMs(process.hrtime.bigint() - started);
      await sleep(settleMs);
      const attribution = await e.attribution(ids);
      const mem1 = userMemory(attribution);
      const avail1 = memAvailableKb();
      const running = (await e.check(['ps', '-q', '--no-trunc'])).stdout.split('\n').map((s) => s.trim());
      const notRunning = ids.filter((id) => !running.some((r) => r && (id.startsWith(r) || r.startsWith(id))));
      if (notRunning.length) warn(`${e.name}: ${notRunning.length} of ${n} detached containers are not running ${settleMs} ms after start`);
      const rmStarted = process.hrtime.bigint();
      await e.check(['rm', '-f', ...e.rmArgs, ...ids], { timeoutMs: 300_000 });
      const rmMs = nsToMs(process.hrtime.bigint() - rmStarted);
      ids.length = 0;
      await sleep(settleMs);
      const mem2 = userMemory(attribution);
      // Processes that appeared with the containers and are still there after `rm -f`: leaks.
      const pids0 = new Set(mem0.procs.map((p) => p.pid));
      const leftovers = mem2.procs.filter((p) => p.engine && !pids0.has(p.pid) && mem1.procs.some((q) => q.pid === p.pid));
      if (leftovers.length) warn(`${e.name}: ${leftovers.length} process(es) started with the containers outlived \`rm -f\`: ${leftovers.slice(0, 5).map((p) => `${p.pid} ${p.cmdline || p.comm}`).join('; ')}`);
      const perKb = (mem1.engineKb - mem0.engineKb) / n;
      const allPerKb = (mem1.kb - mem0.kb) / n;
      if (Math.abs(allPerKb - perKb) > Math.max(256, Math.abs(perKb) * 0.1)) {
        warn(`${e.name}: other processes of this user changed by ${fmtValue((mem1.kb - mem0.kb) - (mem1.engineKb - mem0.engineKb), 'kB')} during the memory measurement (not counted; all processes: ${fmtValue(allPerKb, 'kB')} per container)`);
      }
      rows[0].sides[e.name] = { value: wallMs, perContainerMs: wallMs / n, command: `${n} × ${e.display(args)}`, rmMs, notRunning: notRunning.length };
      rows[1].sides[e.name] = {
        value: perKb,
        totalKb: mem1.engineKb - mem0.engineKb,
        rssPerContainerKb: (mem1.engineRssKb - mem0.engineRssKb) / n,
        allProcessesPerContainerKb: allPerKb,
        allProcessesRssPerContainerKb: (mem1.rssKb - mem0.rssKb) / n,
        memAvailableDropPerContainerKb: (avail0 - avail1) / n,
        processesBefore: mem0.procs.length, processesAfter: mem1.procs.length, processesAfterRm: mem2.procs.length,
        vmRssFallbacks: mem1.fallbacks,
        attribution,
        byProcess: memoryDelta(mem0, mem1),
        otherProcessesByProcess: memoryDelta(mem0, mem1, (p) => !p.engine),
        leftoverProcessesAfterRm: leftovers.map((p) => ({ pid: p.pid, cmdline: p.cmdline || p.comm, kb: p.kb })),
      };
    } catch (err) {
      rows[0].sides[e.name] = sideError(err);
      rows[1].sides[e.name] = sideError(err);
      await removeIds();
      ids.length = 0;
    } finally {
      unregister();
    }
  }
  return rows;
}

async function benchLoad(ctx, n) {
  const row = { key: 'load', name: `load ~${Math.round(BIG_LAYER_BYTES / 1e6)} MB docker-archive, median of ${n}`, unit: 'ms', target: 1.0, sides: {} };
  const archive = path.join(ctx.tmp, 'big.tar');
  log(`making a docker-archive with a ${(BIG_LAYER_BYTES / 1e6).toFixed(0)} MB random layer`);
  const size = await makeBigArchive(ctx.busyboxArchive, ctx.tmp, archive);
  row.archiveBytes = size;
  const sides = ctx.sides();
  const failed = new Map();
  const samples = new Map(sides.map((e) => [e.name, []]));
  const hadImage = new Map();
  for (const e of sides) {
    hadImage.set(e.name, await e.hasImage(BIG_IMAGE));
    if (hadImage.get(e.name)) await e.exec(['rmi', '-f', BIG_IMAGE]); // a leftover of an interrupted run
  }
  const unregister = onCleanup('big images', async () => {
    for (const e of sides) await e.exec(['rmi', '-f', BIG_IMAGE]);
  });
  const roostDataDir = ctx.roostDataDir;
  const roostDiskBefore = await duBytes(roostDataDir);
  const once = async (e) => {
    const r = await e.check(['load', '-i', archive], { timeoutMs: 600_000 });
    if (!/Loaded image/i.test(r.stdout + r.stderr)) throw new Error(`${e.name} load printed no "Loaded image": ${r.stdout.trim().slice(-200)}`);
    await e.check(['rmi', BIG_IMAGE], { timeoutMs: 300_000 });
    if (await e.hasImage(BIG_IMAGE)) throw new Error(`${e.name} rmi ${BIG_IMAGE} left the image in place`);
    return nsToMs(r.ns);
  };
  try {
    for (const e of sides) {
      try { await once(e); } catch (err) { failed.set(e.name, err); } // warm-up
    }
    for (let i = 0; i < n; i++) {
      for (const e of sides) {
        if (failed.has(e.name)) continue;
        try { samples.get(e.name).push(await once(e)); } catch (err) { failed.set(e.name, err); }
      }
    }
  } finally {
    unregister();
    for (const e of sides) await e.exec(['rmi', '-f', BIG_IMAGE]).catch(() => {});
    fs.rmSync(archive, { force: true });
  }
  const roostDiskAfter = await duBytes(roostDataDir);
  for (const e of sides) {
    if (failed.has(e.name)) { row.sides[e.name] = sideError(failed.get(e.name)); continue; }
    const s = stats(samples.get(e.name));
    row.sides[e.name] = { value: s.median, stats: s, samples: samples.get(e.name), command: e.display(['load', '-i', '<archive>']), mbPerSecond: size / 1e6 / (s.median / 1000) };
  }
  if (row.sides.roost && roostDiskBefore !== undefined && roostDiskAfter !== undefined) {
    row.sides.roost.dataDirGrowthBytes = roostDiskAfter - roostDiskBefore;
    if (roostDiskAfter - roostDiskBefore > 20e6) warn(`roost: ${roostDataDir} grew by ${((roostDiskAfter - roostDiskBefore) / 1e6).toFixed(0)} MB over ${n + 1} load + rmi cycles (layers not reclaimed by rmi?)`);
  }
  return [row];
}

/**
 * volume-io's workload, run by busybox sh in the directory $1 (on the host, or the volume / bind mount in a
 * container): a sequential write with fsync, then IO_FILES small files created by a loop of shell builtins (no
 * fork per file). Busybox's date has no %N, so the durations are taken inside the same process tree by busybox
 * `ts %.s`, which stamps each marker line with the time (µs) it reads it: T0…T1 is the write, T2…T3 the
 * files. `sync` first, so that the previous iteration's dirty data is not flushed into this one's fsync.
 */
const IO_SCRIPT = [
  'cd "$1" || exit 2',
  'rm -rf bench-big bench-files',
  'sync',
  `{ echo T0; dd if=/dev/zero of=bench-big bs=1M count=${IO_WRITE_MIB} conv=fsync 2>/dev/null || echo FAIL dd; echo T1`,
  '  mkdir bench-files || echo FAIL mkdir; echo T2',
  `  i=0; while [ $i -lt ${IO_FILES} ]; do i=$((i+1)); echo x > bench-files/$i || { echo FAIL create $i; break; }; done; echo T3`,
  '  echo "SIZE $(wc -c < bench-big) COUNT $(ls bench-files | wc -l)"',
  '} 2>&1 | ts %.s',
  'rm -rf bench-big bench-files',
].join('\n');

/** Parses IO_SCRIPT's output: { writeMs, filesMs, mbPerSecond, filesPerSecond }; throws on a failure it reports. */
function parseIoOutput(stdout) {
  const t = {};
  const fails = [];
  let size;
  let count;
  for (const line of stdout.split('\n')) {
    const m = line.match(/^(\d+)\.(\d+) (.*)$/);
    if (!m) continue;
    const what = m[3].trim();
    if (/^T\d$/.test(what)) t[what] = BigInt(m[1]) * 1_000_000n + BigInt(m[2].padEnd(6, '0').slice(0, 6));
    else if (/^SIZE \d+ COUNT \d+$/.test(what)) [size, count] = what.match(/\d+/g).map(Number);
    else fails.push(what);
  }
  if (fails.length) throw new Error(`the workload failed: ${fails.slice(0, 3).join(' | ')}`);
  if (['T0', 'T1', 'T2', 'T3'].some((k) => t[k] === undefined)) throw new Error(`the workload printed no timestamps (is busybox ts there?): ${stdout.trim().slice(-200)}`);
  if (size !== IO_WRITE_MIB * 1024 * 1024) throw new Error(`the written file has ${size} bytes, not ${IO_WRITE_MIB * 1024 * 1024}`);
  if (count !== IO_FILES) throw new Error(`${count} files were created, not ${IO_FILES}`);
  const writeMs = Number(t.T1 - t.T0) / 1000;
  const filesMs = Number(t.T3 - t.T2) / 1000;
  return { writeMs, filesMs, mbPerSecond: size / 1e6 / (writeMs / 1000), filesPerSecond: IO_FILES / (filesMs / 1000) };
}

/** The host's busybox, as scripts/make-busybox-image.sh picks it for the image (same binary on both sides). */
function hostBusybox() {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    const file = path.join(dir, 'busybox');
    try { fs.accessSync(file, fs.constants.X_OK); return file; } catch { /* next */ }
  }
  return '/bin/busybox';
}

/** Removes a directory that containers wrote into; files of subordinate ids need a user namespace. */
async function removeWrittenDir(ctx, dir) {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
    return;
  } catch { /* files of a subordinate id: below */ }
  await ctx.roost.exec(['unshare', 'rm', '-rf', dir], { timeoutMs: 300_000 });
  if (fs.existsSync(dir) && ctx.podman?.available) await removeInPodmanNamespace([dir]);
  if (fs.existsSync(dir)) warn(`could not remove ${dir}`);
}

async function benchVolumeIo(ctx, n) {
  const dataHome = process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  // The host directory and the bind-mounted ones side by side, in the directory that holds the engines' stores.
  const ioBase = path.join(dataHome, `roost-bench-${process.pid}-io`);
  fs.mkdirSync(ioBase, { recursive: true, mode: 0o700 });
  const unregisterDir = onCleanup('volume-io directories', () => removeWrittenDir(ctx, ioBase));
  const volume = `roost-bench-vol-${process.pid}`;
  const busybox = hostBusybox();
  const hostDir = path.join(ioBase, 'host');
  fs.mkdirSync(hostDir);
  const targets = [{
    id: 'host', side: 'host', kind: 'host', dir: hostDir,
    command: describe(busybox, ['sh', '-c', '<script>', 'sh', hostDir]),
    run: () => check(busybox, ['sh', '-c', IO_SCRIPT, 'sh', hostDir], { timeoutMs: 300_000 }),
  }];
  const setupErrors = new Map();
  const volumeEngines = [];
  const unregisterVolumes = onCleanup('volume-io volumes', async () => {
    for (const e of volumeEngines) await e.exec(['volume', 'rm', '-f', volume]);
  });
  for (const e of ctx.sides()) {
    const bindDir = path.join(ioBase, `${e.name}-bind`);
    fs.mkdirSync(bindDir);
    let mountpoint;
    try {
      await e.check(['volume', 'create', volume]);
      volumeEngines.push(e);
      mountpoint = (await e.check(['volume', 'inspect', '--format', '{{.Mountpoint}}', volume])).stdout.trim();
    } catch (err) {
      setupErrors.set(e.name, err);
    }
    const runArgs = (spec) => ['run', '--rm', ...e.runArgs, '-v', spec, IMAGE_SHORT, 'sh', '-c', IO_SCRIPT, 'sh', '/bench'];
    for (const [kind, spec, dir] of [['volume', `${volume}:/bench`, mountpoint], ['bind', `${bindDir}:/bench`, bindDir]]) {
      targets.push({
        id: `${e.name}-${kind}`, side: e.name, kind, dir,
        command: e.display(runArgs(spec)).replace(JSON.stringify(IO_SCRIPT), '<script>'),
        run: () => e.check(runArgs(spec), { timeoutMs: 300_000 }),
        setupError: kind === 'volume' ? setupErrors.get(e.name) : undefined,
      });
    }
  }
  // The same filesystem everywhere, or the comparison with the host means little.
  const devOf = (dir) => { try { return fs.statSync(dir).dev; } catch { return undefined; } };
  const hostDev = devOf(hostDir);
  for (const t of targets) {
    t.dev = devOf(t.dir);
    if (t.dir && t.dev !== undefined && t.dev !== hostDev) warn(`volume-io: ${t.id} (${t.dir}) is not on the host directory's filesystem (${hostDir})`);
  }
  const samples = new Map(targets.map((t) => [t.id, []]));
  const failed = new Map(targets.filter((t) => t.setupError).map((t) => [t.id, t.setupError]));
  const [hostTarget, ...engineTargets] = targets;
  // The host runs between every two engine runs (H, t1, H, t2, H, …), and each engine run is compared with the
  // host runs just before and after it: other work on the host (test suites of the same user, say) comes and
  // goes within seconds, and hits an engine run and its neighbouring host runs alike.
  const runOne = async (t) => {
    const r = await t.run();
    return { ...parseIoOutput(r.stdout), wallMs: nsToMs(r.ns) };
  };
  try {
    let hostBefore = await runOne(hostTarget);
    for (let round = 0; round <= n; round++) { // round 0: the warm-up
      // Rotate the engines' order every round, so that none always follows another.
      const order = engineTargets.map((_, i) => engineTargets[(i + round) % engineTargets.length]);
      for (const t of order) {
        if (failed.has(t.id)) continue;
        let sample;
        try {
          sample = await runOne(t);
        } catch (err) {
          failed.set(t.id, err);
          continue;
        }
        const hostAfter = await runOne(hostTarget); // a failure of the host's run ends the benchmark
        if (round > 0) {
          if (samples.get(hostTarget.id).length === 0) samples.get(hostTarget.id).push(hostBefore);
          samples.get(hostTarget.id).push(hostAfter);
          sample.hostMbPerSecond = (hostBefore.mbPerSecond + hostAfter.mbPerSecond) / 2;
          sample.hostFilesPerSecond = (hostBefore.filesPerSecond + hostAfter.filesPerSecond) / 2;
          samples.get(t.id).push(sample);
        }
        hostBefore = hostAfter;
      }
    }
  } catch (err) {
    failed.set(hostTarget.id, err);
  } finally {
    unregisterVolumes();
    for (const e of volumeEngines) {
      const r = await e.exec(['volume', 'rm', '-f', volume], { timeoutMs: 300_000 });
      if (r.code !== 0) warn(`${e.name}: volume rm -f ${volume} failed: ${new CommandError(e.cmd, e.argv(['volume', 'rm', '-f', volume]), r).message}`);
    }
    unregisterDir();
    await removeWrittenDir(ctx, ioBase);
  }
  const sideOf = (t, metric) => {
    if (failed.has(t.id)) return sideError(failed.get(t.id));
    const list = samples.get(t.id);
    if (list.length === 0) return { error: failed.has(hostTarget.id) ? `the host baseline failed: ${failed.get(hostTarget.id).message}` : 'no samples' };
    const s = stats(list.map((x) => x[metric]));
    const side = {
      value: s.median, stats: s, samples: list.map((x) => x[metric]),
      durationsMs: list.map((x) => (metric === 'mbPerSecond' ? x.writeMs : x.filesMs)),
      commandWallMs: list.map((x) => x.wallMs),
      directory: t.dir, command: t.command,
    };
    if (t !== hostTarget) {
      const hostKey = metric === 'mbPerSecond' ? 'hostMbPerSecond' : 'hostFilesPerSecond';
      side.ratiosToHost = list.map((x) => x[metric] / x[hostKey]);
      side.ratioToBase = stats(side.ratiosToHost).median; // the median of the paired ratios
    }
    return side;
  };
  const rows = [];
  const metrics = [
    { metric: 'mbPerSecond', unit: 'MB/s', what: `write ${IO_WRITE_MIB} MiB (dd conv=fsync)`, key: 'write' },
    { metric: 'filesPerSecond', unit: 'files/s', what: `create ${IO_FILES.toLocaleString('en-US')} small files`, key: 'files' },
  ];
  for (const m of metrics) {
    const host = sideOf(targets[0], m.metric);
    // Interference (other work on the host) only slows a run down: say so when the baseline itself was unsteady.
    if (!host.error && host.stats.n > 1 && host.stats.max / host.stats.min > 1.3) {
      warn(`volume-io: the host baseline's ${m.unit} varied from ${fmtValue(host.stats.min, m.unit)} to ${fmtValue(host.stats.max, m.unit)} over its ${host.stats.n} runs: the host was busy, the figures are uncertain (every sample is in the JSON)`);
    }
    rows.push({ key: `volume-io-${m.key}-host`, name: `volume-io: ${m.what}, host directory (baseline), median of ${host.stats?.n ?? n}`, unit: m.unit, baseline: true, sides: { host } });
    for (const kind of ['volume', 'bind']) {
      const sides = {};
      for (const t of targets.filter((x) => x.kind === kind)) sides[t.side] = sideOf(t, m.metric);
      rows.push({
        key: `volume-io-${m.key}-${kind}`,
        name: `volume-io: ${m.what}, ${kind === 'volume' ? 'named volume' : 'bind mount'}, median of ${n}`,
        unit: m.unit, target: 0.95,
        relativeTo: { label: 'host', value: host.value, error: host.error },
        sides,
      });
    }
  }
  return rows;
}

async function benchCommit(ctx, n) {
  const row = { key: 'commit', name: `commit a container that changed ${COMMIT_FILES.toLocaleString('en-US')} files, median of ${n}`, unit: 'ms', target: 1.0, sides: {} };
  // The files go to a directory of the container's own file system (its overlay upper dir), not a volume.
  const fillScript = `mkdir -p /data && seq ${COMMIT_FILES} | while read i; do echo $i > /data/$i || exit 1; done`;
  const sides = ctx.sides();
  const leftovers = new Map(sides.map((e) => [e.name, new Set()])); // container names not yet removed
  const removeAll = async () => {
    for (const e of sides) {
      const names = [...leftovers.get(e.name)];
      if (names.length) await e.exec(['rm', '-f', ...e.rmArgs, ...names], { timeoutMs: 300_000 });
      leftovers.get(e.name).clear();
      await e.exec(['rmi', '-f', COMMIT_IMAGE]);
    }
  };
  const unregister = onCleanup('commit containers and images', removeAll);
  for (const e of sides) if (await e.hasImage(COMMIT_IMAGE)) await e.exec(['rmi', '-f', COMMIT_IMAGE]); // an interrupted run's
  const roostDiskBefore = await duBytes(ctx.roostDataDir);
  let serial = 0;
  const info = new Map(sides.map((e) => [e.name, {}]));
  const once = async (e, warmUp) => {
    const name = `roost-bench-commit-${process.pid}-${++serial}`;
    leftovers.get(e.name).add(name);
    const fill = await e.check(['run', '--name', name, ...e.runArgs, IMAGE_SHORT, 'sh', '-c', fillScript], { timeoutMs: 600_000 });
    const r = await e.check(['commit', name, COMMIT_IMAGE], { timeoutMs: 600_000 });
    const sample = { commitMs: nsToMs(r.ns), fillMs: nsToMs(fill.ns) };
    if (warmUp) {
      // The image must hold the container's changes.
      const v = await e.check(['run', '--rm', ...e.runArgs, COMMIT_IMAGE, 'sh', '-c', `ls /data | wc -l; cat /data/${COMMIT_FILES}`]);
      const [count, last] = v.stdout.trim().split('\n').map((l) => l.trim());
      if (Number(count) !== COMMIT_FILES || last !== String(COMMIT_FILES)) throw new Error(`${e.name}: the committed image has ${count} files in /data (want ${COMMIT_FILES}), /data/${COMMIT_FILES} holds ${JSON.stringify(last)}`);
      const size = await e.exec(['image', 'inspect', '--format', '{{.Size}}', COMMIT_IMAGE]);
      info.get(e.name).imageSize = Number(size.stdout.trim()) || size.stdout.trim();
      const layers = await e.exec(['image', 'inspect', '--format', '{{len .RootFS.Layers}}', COMMIT_IMAGE]);
      info.get(e.name).layers = Number(layers.stdout.trim()) || layers.stdout.trim();
    }
    await e.check(['rm', '-f', ...e.rmArgs, name], { timeoutMs: 300_000 });
    leftovers.get(e.name).delete(name);
    await e.check(['rmi', COMMIT_IMAGE], { timeoutMs: 300_000 });
    if (await e.hasImage(COMMIT_IMAGE)) throw new Error(`${e.name} rmi ${COMMIT_IMAGE} left the image in place`);
    return sample;
  };
  const failed = new Map();
  const samples = new Map(sides.map((e) => [e.name, []]));
  try {
    for (let i = 0; i <= n; i++) { // i = 0: the warm-up (and the check of the committed image)
      for (const e of sides) { // alternate the engines
        if (failed.has(e.name)) continue;
        try {
          const s = await once(e, i === 0);
          if (i > 0) samples.get(e.name).push(s);
        } catch (err) {
          failed.set(e.name, err);
        }
      }
    }
  } finally {
    unregister();
    try { await removeAll(); } catch (err) { warn(`cleanup (commit containers and images) failed: ${err.message}`); }
  }
  const roostDiskAfter = await duBytes(ctx.roostDataDir);
  for (const e of sides) {
    if (failed.has(e.name)) { row.sides[e.name] = sideError(failed.get(e.name)); continue; }
    const list = samples.get(e.name);
    const s = stats(list.map((x) => x.commitMs));
    row.sides[e.name] = {
      value: s.median, stats: s, samples: list.map((x) => x.commitMs), fillMs: list.map((x) => x.fillMs),
      command: e.display(['commit', 'CONTAINER', COMMIT_IMAGE]), ...info.get(e.name),
    };
  }
  if (row.sides.roost && !row.sides.roost.error && roostDiskBefore !== undefined && roostDiskAfter !== undefined) {
    row.sides.roost.dataDirGrowthBytes = roostDiskAfter - roostDiskBefore;
    if (roostDiskAfter - roostDiskBefore > 5e6) warn(`roost: ${ctx.roostDataDir} grew by ${((roostDiskAfter - roostDiskBefore) / 1e6).toFixed(1)} MB over ${n + 1} run + commit + rm + rmi cycles (layers or containers not reclaimed?)`);
  }
  return [row];
}

// ---------------------------------------------------------------------------------------------- net

const NET_IMAGE = 'roost-bench-iperf3:latest';
const NET_IMAGE_SHORT = 'roost-bench-iperf3';
const NET_IPERF_SECONDS = 3; // each timed iperf3 run
const NET_AB_REQUESTS = 1000;
const NET_AB_CONCURRENCY = 10;
const NET_IDLE_CONTAINERS = 20;
/** Process names of the rootless network stacks: the uplinks and the port forwarders. */
const NET_HELPERS = /^(slirp4netns|pasta|passt.*|rootlessport.*|roost-portfwd|rootlesskit|aardvark-dns|netavark)$/;

/** A free TCP port on 127.0.0.1 (asked of the kernel). */
function freeLoopbackPort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)); });
    server.on('error', reject);
  });
}

/**
 * A docker-archive of the busybox image plus a layer with the host's /usr/bin/iperf3 and the shared libraries
 * `ldd` lists for it (at the paths ldd names, the dynamic loader included), made offline.
 */
function makeIperfArchive(baseArchive, workDir, out) {
  const iperf = '/usr/bin/iperf3';
  return archiveWithLayer(baseArchive, workDir, 'iperf', out, NET_IMAGE, `${iperf} and its libraries from the host`, async (rootfs) => {
    const ldd = await check('ldd', [iperf]);
    const libs = [...ldd.stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1]);
    if (!libs.some((l) => l.includes('libiperf'))) throw new Error(`ldd ${iperf} lists no libiperf: ${ldd.stdout.trim()}`);
    for (const file of [iperf, ...libs]) {
      const dest = path.join(rootfs, file);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.copyFileSync(fs.realpathSync(file), dest);
      fs.chmodSync(dest, 0o755);
    }
  });
}

/** Parses `iperf3 -J` output: the receiver's bits per second, in Gbit/s. */
function parseIperf(stdout) {
  let j;
  try { j = JSON.parse(stdout.slice(stdout.indexOf('{'))); } catch { throw new Error(`iperf3 printed no JSON: ${stdout.trim().slice(-200)}`); }
  if (j.error) throw new Error(`iperf3: ${j.error}`);
  const bps = j.end?.sum_received?.bits_per_second;
  if (!(bps > 0)) throw new Error('iperf3 reported no received throughput');
  return bps / 1e9;
}

/** Runs an iperf3 client (a function returning exec's result) until the server answers (it may still be starting). */
async function iperfClient(run, what, { tries = 20 } = {}) {
  let last;
  for (let i = 0; i < tries; i++) {
    last = await run();
    if (last.code === 0) return parseIperf(last.stdout);
    await sleep(500);
  }
  let detail = (last.stdout.match(/"error":\s*"([^"]*)"/)?.[1]) ?? (last.stderr.trim() || last.stdout.trim()).split('\n').slice(-2).join(' | ');
  throw new Error(`${what}: iperf3 client failed ${tries} times: ${detail}`);
}

/**
 * net: issue 5's benchmarks. iperf3 from the host to a container through a published port
 * (-p 127.0.0.1:PORT:5201) and between two containers on a user-defined network (client reaching the server
 * by name), both against iperf3 on the host's loopback, measured in the same rounds; 1,000 short HTTP
 * requests (ab) through a published port to busybox httpd; and the memory (Pss) of the network helper
 * processes with 20 idle containers on the default network.
 */
async function benchNet(ctx, n) {
  const main = await netRounds(ctx, ctx.sides(), n, { c2c: true });
  const rows = Object.values(main);
  // Roost again with pasta as its uplink (the daemon restarted with ROOST_UPLINK=pasta), when it is not already
  // pasta: the rows that go through the uplink, against the same podman figures.
  const uplink = (ctx.roostUplink ?? '').split(/\s+/)[0]; // `roost info`: "slirp4netns (/usr/bin/slirp4netns); …"
  const pasta = (process.env.PATH ?? '').split(':').some((d) => d && fs.existsSync(path.join(d, 'pasta')));
  if (!pasta || uplink === 'pasta' || ctx.roost.env.ROOST_UPLINK || interrupted) return rows;
  log('net: Roost again with ROOST_UPLINK=pasta (daemon restarted)');
  let alt;
  await stopRoostDaemon(ctx);
  ctx.roost.env.ROOST_UPLINK = 'pasta';
  try {
    await ctx.roost.check(['version']);
    alt = await netRounds(ctx, [ctx.roost], n, { c2c: false });
  } catch (err) {
    alt = { pubHost: { key: 'net-publish', name: 'iperf3 host → container through a published port', unit: 'Gbit/s', sides: { roost: sideError(err) } } };
  } finally {
    delete ctx.roost.env.ROOST_UPLINK;
    await stopRoostDaemon(ctx);
    if (!interrupted) await ctx.roost.check(['version']); // a daemon started now would outlive the cleanup
  }
  for (const [k, row] of Object.entries(alt)) {
    if (k === 'c2c') continue;
    row.key = `${row.key}-pasta`;
    row.name = `Roost with ROOST_UPLINK=pasta: ${row.name}`;
    if (!row.baseline && main[k]?.sides.podman) row.sides.podman = main[k].sides.podman;
    rows.push(row);
  }
  return rows;
}

/** One pass of the net benchmark over `sides`; returns its rows by name (c2c only when `c2c`). */
async function netRounds(ctx, sides, n, { c2c: withC2c = true } = {}) {
  const secs = NET_IPERF_SECONDS;
  const rows = {
    host: { key: 'net-host', name: `iperf3 host loopback (server and client on the host), ${secs} s, median of ${n}`, unit: 'Gbit/s', baseline: true, sides: {} },
    pubHost: { key: 'net-publish', name: `iperf3 host → container through -p 127.0.0.1:PORT:5201, ${secs} s, median of ${n}`, unit: 'Gbit/s', target: 0.7, relativeTo: { label: 'host' }, sides: {} },
    pub: { key: 'net-publish-vs-podman', name: `iperf3 host → container through -p 127.0.0.1:PORT:5201, Roost vs podman, median of ${n}`, unit: 'Gbit/s', target: 1.3, higherIsBetter: true, sides: {} },
    c2c: { key: 'net-c2c', name: `iperf3 container → container on one user-defined network (by name), ${secs} s, median of ${n}`, unit: 'Gbit/s', target: 0.8, relativeTo: { label: 'host' }, sides: {} },
    ab: { key: 'net-ab', name: `ab -n ${NET_AB_REQUESTS} -c ${NET_AB_CONCURRENCY} to busybox httpd through a published port, median of ${n}`, unit: 'req/s', target: 1.0, higherIsBetter: true, sides: {} },
    mem: { key: 'net-mem', name: `network helpers' memory (Pss) with ${NET_IDLE_CONTAINERS} idle containers`, unit: 'kB', target: 1.0, sides: {} },
  };
  // Each engine's default network here (the container-to-container row names its own): without --network=none.
  const runArgs = (e) => e.runArgs.filter((a) => !a.startsWith('--network'));
  const tag = `roost-bench-net-${process.pid}`;
  const archive = path.join(ctx.tmp, 'iperf.tar');
  log('making the iperf3 image archive (busybox + the host\'s iperf3 and its libraries)');
  await makeIperfArchive(ctx.busyboxArchive, ctx.tmp, archive);
  // Everything this benchmark makes, per engine, for the cleanup (also on failure and Ctrl-C).
  const made = new Map(sides.map((e) => [e.name, { containers: new Set(), networks: new Set(), image: false }]));
  const removeAll = async () => {
    for (const e of sides) {
      const m = made.get(e.name);
      if (m.containers.size) await e.exec(['rm', '-f', ...e.rmArgs, ...m.containers], { timeoutMs: 300_000 });
      m.containers.clear();
      for (const net of m.networks) await e.exec(['network', 'rm', net], { timeoutMs: 120_000 });
      m.networks.clear();
      if (m.image) await e.exec(['rmi', '-f', NET_IMAGE], { timeoutMs: 120_000 });
      m.image = false;
    }
  };
  const unregister = onCleanup('net containers, networks and images', removeAll);
  const failed = new Map(); // `${engine}-${what}` -> Error
  const fail = (e, what, err) => { if (!failed.has(`${e.name}-${what}`)) failed.set(`${e.name}-${what}`, err); };
  const failedOf = (e, what) => failed.get(`${e.name}-${what}`) ?? failed.get(`${e.name}-all`);
  const runD = async (e, name, args) => {
    checkInterrupted();
    made.get(e.name).containers.add(name);
    await e.check(['run', '-d', '--name', name, ...args], { timeoutMs: 120_000 });
    return name;
  };
  let hostServer;
  let unregisterServer = () => {};
  try {
    for (const e of sides) {
      try {
        await e.check(['load', '-i', archive], { timeoutMs: 300_000 });
        made.get(e.name).image = true;
      } catch (err) { fail(e, 'pub', err); fail(e, 'c2c', err); }
    }
    // The host's iperf3 server (the baseline), on a free loopback port.
    const hostPort = await freeLoopbackPort();
    checkInterrupted();
    hostServer = spawn('/usr/bin/iperf3', ['-s', '-B', '127.0.0.1', '-p', String(hostPort)], { stdio: 'ignore' });
    children.add(hostServer);
    const server = hostServer;
    unregisterServer = onCleanup('host iperf3 server', () => { server.kill(); });
    const hostClient = (t) => exec('/usr/bin/iperf3', ['-c', '127.0.0.1', '-p', String(hostPort), '-t', String(t), '-J'], { timeoutMs: (t + 30) * 1000 });
    // Servers in containers: one per engine behind a published port, one on a user-defined network.
    const targets = []; // { id, engine, kind, run(t) }
    for (const e of sides) {
      if (failedOf(e, 'pub') && failedOf(e, 'c2c')) continue;
      const port = await freeLoopbackPort();
      try {
        await runD(e, `${tag}-pub`, [...runArgs(e), '-p', `127.0.0.1:${port}:5201`, NET_IMAGE_SHORT, 'iperf3', '-s']);
        targets.push({ id: `${e.name}-pub`, engine: e, kind: 'pub', port, run: (t) => exec('/usr/bin/iperf3', ['-c', '127.0.0.1', '-p', String(port), '-t', String(t), '-J'], { timeoutMs: (t + 30) * 1000 }) });
      } catch (err) { fail(e, 'pub', err); }
      if (!withC2c) continue;
      try {
        const network = `${tag}-net`;
        await e.check(['network', 'create', network], { timeoutMs: 120_000 });
        made.get(e.name).networks.add(network);
        const server = await runD(e, `${tag}-srv`, [...runArgs(e), '--network', network, NET_IMAGE_SHORT, 'iperf3', '-s']);
        targets.push({
          id: `${e.name}-c2c`, engine: e, kind: 'c2c',
          run: (t) => e.exec(['run', '--rm', ...runArgs(e), '--network', network, NET_IMAGE_SHORT, 'iperf3', '-c', server, '-t', String(t), '-J'], { timeoutMs: (t + 60) * 1000 }),
        });
      } catch (err) { fail(e, 'c2c', err); }
    }
    // Warm-up (1 s each, retried until the servers answer), then n rounds, the host in each round.
    await iperfClient(() => hostClient(1), 'host loopback');
    for (const t of targets) {
      try { await iperfClient(() => t.run(1), `${t.engine.name} ${t.kind}`); } catch (err) { fail(t.engine, t.kind, err); }
    }
    const samples = new Map([['host', []], ...targets.map((t) => [t.id, []])]);
    for (let round = 0; round < n; round++) {
      checkInterrupted();
      const host = await iperfClient(() => hostClient(secs), 'host loopback', { tries: 3 });
      samples.get('host').push(host);
      // Rotate the order each round, so that no side always follows another.
      const order = targets.map((_, i) => targets[(i + round) % targets.length]);
      for (const t of order) {
        if (failedOf(t.engine, t.kind)) continue;
        try { samples.get(t.id).push({ value: await iperfClient(() => t.run(secs), `${t.engine.name} ${t.kind}`, { tries: 3 }), host }); } catch (err) { fail(t.engine, t.kind, err); }
      }
    }
    const hs = stats(samples.get('host'));
    rows.host.sides.host = { value: hs.median, stats: hs, samples: samples.get('host'), command: `iperf3 -c 127.0.0.1 -p PORT -t ${secs} -J (server: iperf3 -s -B 127.0.0.1 on the host)` };
    rows.pubHost.relativeTo.value = hs.median;
    rows.c2c.relativeTo.value = hs.median;
    for (const e of sides) {
      for (const [kind, list] of [['pub', [rows.pubHost, rows.pub]], ['c2c', [rows.c2c]]]) {
        const err = failedOf(e, kind);
        const s = samples.get(`${e.name}-${kind}`) ?? [];
        for (const row of list) {
          if (err || s.length === 0) { row.sides[e.name] = sideError(err ?? new Error('no samples')); continue; }
          const st = stats(s.map((x) => x.value));
          const ratios = s.map((x) => x.value / x.host);
          row.sides[e.name] = {
            value: st.median, stats: st, samples: s.map((x) => x.value), hostSamples: s.map((x) => x.host),
            ...(row.relativeTo ? { ratiosToHost: ratios, ratioToBase: stats(ratios).median } : {}),
            command: kind === 'pub' ? `${e.display(['run', '-d', '-p', '127.0.0.1:PORT:5201', NET_IMAGE_SHORT, 'iperf3', '-s'])}; iperf3 -c 127.0.0.1 -p PORT -t ${secs} -J on the host`
              : `${e.display(['network', 'create', 'NET'])}; ${e.display(['run', '-d', '--name', 'SRV', '--network', 'NET', NET_IMAGE_SHORT, 'iperf3', '-s'])}; ${e.display(['run', '--rm', '--network', 'NET', NET_IMAGE_SHORT, 'iperf3', '-c', 'SRV', '-t', String(secs), '-J'])}`,
          };
        }
      }
    }
    // The iperf3 servers (and image) go before the next part.
    await removeAll();

    // ab: short HTTP requests (one connection each) to busybox httpd through a published port.
    const abTargets = [];
    for (const e of sides) {
      const port = await freeLoopbackPort();
      try {
        await runD(e, `${tag}-httpd`, [...runArgs(e), '-p', `127.0.0.1:${port}:80`, IMAGE_SHORT, 'httpd', '-f', '-p', '80', '-h', '/var/www']);
        abTargets.push({ engine: e, port, samples: [] });
      } catch (err) { rows.ab.sides[e.name] = sideError(err); }
    }
    const abOnce = async (port, requests) => {
    checkInterrupted();
      const args = ['-q', '-n', String(requests), '-c', String(NET_AB_CONCURRENCY), '-s', '10', `http://127.0.0.1:${port}/index.html`];
      const r = await check('ab', args, { timeoutMs: 300_000 });
      const rps = Number(r.stdout.match(/^Requests per second:\s+([\d.]+)/m)?.[1]);
      const failedReq = Number(r.stdout.match(/^Failed requests:\s+(\d+)/m)?.[1]);
      const non2xx = Number(r.stdout.match(/^Non-2xx responses:\s+(\d+)/m)?.[1] ?? 0);
      if (!(rps > 0) || failedReq !== 0 || non2xx !== 0) throw new Error(`ab: ${failedReq} failed, ${non2xx} non-2xx requests, ${rps} requests/s: ${r.stdout.trim().split('\n').slice(-3).join(' | ')}`);
      return rps;
    };
    for (const t of abTargets) { // warm-up, retried until httpd answers
      let err;
      for (let i = 0; i < 20; i++) {
        try { await abOnce(t.port, 50); err = undefined; break; } catch (e2) { err = e2; await sleep(500); }
      }
      if (err) t.error = err;
    }
    for (let round = 0; round < n; round++) {
      for (const t of round % 2 ? [...abTargets].reverse() : abTargets) {
        if (t.error) continue;
        try { t.samples.push(await abOnce(t.port, NET_AB_REQUESTS)); } catch (err) { t.error = err; }
      }
    }
    for (const t of abTargets) {
      if (t.error) { rows.ab.sides[t.engine.name] = sideError(t.error); continue; }
      const st = stats(t.samples);
      rows.ab.sides[t.engine.name] = { value: st.median, stats: st, samples: t.samples, command: `${t.engine.display(['run', '-d', '-p', '127.0.0.1:PORT:80', IMAGE_SHORT, 'httpd', '-f', '-p', '80', '-h', '/var/www'])}; ab -q -n ${NET_AB_REQUESTS} -c ${NET_AB_CONCURRENCY} http://127.0.0.1:PORT/index.html` };
    }
    await removeAll();

    // Memory of the network stack: NET_IDLE_CONTAINERS idle containers on the default network, one engine at a time.
    for (const e of sides) {
      try {
        const ids = [];
        for (let i = 0; i < NET_IDLE_CONTAINERS; i++) ids.push(await runD(e, `${tag}-idle-${i}`, [...runArgs(e), IMAGE_SHORT, 'sleep', '600']));
        await sleep(2000);
        const mem = userMemory(await e.attribution(ids));
        const helpers = mem.procs.filter((p) => p.engine && NET_HELPERS.test(p.comm));
        const byName = {};
        for (const p of helpers) { byName[p.comm] ??= { count: 0, kb: 0 }; byName[p.comm].count++; byName[p.comm].kb += p.kb; }
        const kb = helpers.reduce((s, p) => s + p.kb, 0);
        rows.mem.sides[e.name] = { value: kb, perContainerKb: kb / NET_IDLE_CONTAINERS, byProcess: byName, processes: helpers.map((p) => ({ pid: p.pid, comm: p.comm, kb: p.kb, pss: p.pssKb !== undefined, cmdline: p.cmdline })) };
        if (helpers.length === 0) rows.mem.sides[e.name] = { error: 'no network helper process found for the containers' };
      } catch (err) {
        rows.mem.sides[e.name] = sideError(err);
      }
      await removeAll();
    }
  } catch (err) {
    for (const row of Object.values(rows)) {
      const key = row.baseline ? 'host' : 'roost';
      row.sides[key] ??= sideError(err);
    }
  } finally {
    if (hostServer) { hostServer.kill(); children.delete(hostServer); }
    unregisterServer();
    unregister();
    try { await removeAll(); } catch (err) { warn(`cleanup (net containers, networks and images) failed: ${err.message}`); }
    fs.rmSync(archive, { force: true });
  }
  for (const row of [rows.pubHost, rows.c2c]) if (!(row.relativeTo.value > 0)) row.relativeTo.error = true;
  if (!withC2c) delete rows.c2c;
  return rows;
}

// ---------------------------------------------------------------------------------------------- build

/**
 * Finds a buildah invocation that works for this user: storage of its own under the run's temporary
 * directories (graph root under the run's tmp dir, run root under $XDG_RUNTIME_DIR), overlay first, then vfs;
 * the busybox archive pulled in as localhost/roost-bench-busybox:latest. Returns { available, engine, ... } or
 * { available: false, reason }.
 */
async function setupBuildah(ctx) {
  const version = await exec('buildah', ['--version']).catch((err) => ({ code: -1, stderr: err.code === 'ENOENT' ? 'not installed' : err.message, stdout: '' }));
  if (version.code !== 0) return { available: false, reason: version.stderr.trim().split('\n').pop() || 'buildah --version failed' };
  const failures = [];
  for (const [i, driver] of ['overlay', 'vfs'].entries()) {
    const root = path.join(ctx.tmp, `buildah-root-${i}`);
    const runroot = path.join(process.env.XDG_RUNTIME_DIR, `roost-bench-buildah-${process.pid}-${i}`);
    const engine = new Engine('buildah', 'buildah', [`--root=${root}`, `--runroot=${runroot}`, `--storage-driver=${driver}`], [], process.env);
    // Files of a rootless graph root belong to subordinate ids: remove them from inside buildah's user namespace.
    const remove = async () => {
      await engine.exec(['rm', '--all'], { timeoutMs: 120_000 });
      await exec('buildah', ['unshare', 'rm', '-rf', root, runroot], { timeoutMs: 300_000 });
      fs.rmSync(root, { recursive: true, force: true });
      fs.rmSync(runroot, { recursive: true, force: true });
    };
    const unregister = onCleanup(`buildah storage (${driver})`, remove);
    const pull = await engine.exec(['pull', '-q', `docker-archive:${ctx.busyboxArchive}`], { timeoutMs: 300_000 });
    if (pull.code === 0) return { available: true, engine, version: version.stdout.trim(), storage: driver, root, runroot, failures };
    failures.push(`storage ${driver}: ${new CommandError('buildah', engine.argv(['pull', '-q', `docker-archive:${ctx.busyboxArchive}`]), pull).message}`);
    unregister();
    await remove();
  }
  return { available: false, reason: failures.join('; '), failures };
}

/** A build context of `files` files of `bytes` bytes in all (random, so not compressible), under dir/deps, plus dir/app. */
function makeBuildContext(dir, files, bytes) {
  fs.mkdirSync(path.join(dir, 'deps'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'app'), { recursive: true });
  const appFiles = 10;
  const each = Math.floor(bytes / files);
  for (let i = 0; i < files; i++) {
    const where = i < appFiles ? path.join(dir, 'app', `f${i}.txt`) : path.join(dir, 'deps', String(Math.floor(i / 100)).padStart(2, '0'), `f${i}.bin`);
    fs.mkdirSync(path.dirname(where), { recursive: true });
    fs.writeFileSync(where, crypto.randomBytes(each));
  }
}

const BUILD_FILES = 2000;
const BUILD_BYTES = 40 * 1000 * 1000; // the context row's context
const BUILD_SMALL_BYTES = 2 * 1000 * 1000; // the rebuild and stages rows' context: 2,000 files of 1 kB, a source tree
const BUILD_IMAGE = 'roost-bench-build:latest';
const BUILD_SPIN = 1_500_000; // busybox sh loop iterations: ~1.5 s of one core here

async function benchBuild(ctx, n) {
  const sides = [ctx.roost, ...(ctx.buildah?.available ? [ctx.buildah.engine] : [])];
  const dir = path.join(ctx.tmp, 'build');
  const context = path.join(dir, 'context');
  const bigContext = path.join(dir, 'context-40mb');
  log(`build: writing contexts of ${BUILD_FILES} files, ${BUILD_SMALL_BYTES / 1e6} MB and ${BUILD_BYTES / 1e6} MB`);
  makeBuildContext(context, BUILD_FILES, BUILD_SMALL_BYTES);
  makeBuildContext(bigContext, BUILD_FILES, BUILD_BYTES);
  // In the context: roost build wants -f inside the context (a few hundred bytes more for COPY .).
  const dockerfile = (name, text, where = context) => { const f = path.join(where, name); fs.writeFileSync(f, text); return f; };
  const from = `FROM ${IMAGE}\n`;
  // 1. Five steps; the last COPY holds the file that changes between builds.
  const rebuildFile = dockerfile('Dockerfile.rebuild', `${from}ENV APP=/app\nCOPY deps/ /deps/\nRUN echo built > /stamp\nCOPY app/ /app/\n`);
  // 2. Two independent stages, each ~1.5 s of CPU, and a final stage that reads both.
  const spin = (out) => `RUN i=0; while [ $i -lt ${BUILD_SPIN} ]; do i=$((i+1)); done; echo $i > ${out}`;
  const stagesFile = dockerfile('Dockerfile.stages', `FROM ${IMAGE} AS a\n${spin('/a')}\nFROM ${IMAGE} AS b\n${spin('/b')}\n${from}COPY --from=a /a /a\nCOPY --from=b /b /b\n`);
  // 3. The whole context in one COPY.
  const copyFile = dockerfile('Dockerfile.copy', `${from}COPY . /ctx\n`, bigContext);
  const rmImages = async () => {
    await ctx.roost.exec(['rmi', '-f', BUILD_IMAGE]);
    await ctx.roost.exec(['builder', 'prune', '-f'], { timeoutMs: 300_000 });
  };
  const unregister = onCleanup('build images and cache', rmImages);
  const build = (e, file, extra = []) => e.check([...(e.name === 'buildah' ? ['bud', '--layers'] : ['build']), '-q', '-t', BUILD_IMAGE, '-f', file, ...extra, path.dirname(file)], { timeoutMs: 600_000 });
  const rows = [
    { key: 'build-rebuild', name: `build: cached rebuild, 5 steps, ${BUILD_FILES.toLocaleString('en-US')}-file ${BUILD_SMALL_BYTES / 1e6} MB context, one file changed in the last COPY, median of ${n}`, unit: 'ms', target: 0.5, other: 'buildah', sides: {} },
    { key: 'build-stages', name: `build: cold multi-stage build, two independent stages of ~1.5 s CPU, vs the stages built one after another (--target, --no-cache), median of ${n}`, unit: 'ms', target: 0.7, atMost: true, other: 'buildah', sides: {} },
    { key: 'build-context', name: `build: context transfer + checksum, ${BUILD_BYTES / 1e6} MB in ${BUILD_FILES.toLocaleString('en-US')} files (fully cached \`COPY . /ctx\`), median of ${n}`, unit: 'MB/s', target: undefined, other: 'buildah', sides: {} },
  ];
  const failed = new Map();
  const samples = new Map(sides.map((e) => [e.name, { rebuild: [], wall: [], sum: [], context: [] }]));
  const changed = path.join(context, 'app', 'f0.txt');
  try {
    // 1. Warm-up: a full build on each side, then rebuilds with one changed file, engines alternating.
    for (const e of sides) {
      try { await build(e, rebuildFile); } catch (err) { failed.set(e.name, err); }
    }
    for (let i = 0; i < n; i++) {
      for (const e of sides) {
        if (failed.has(e.name)) continue;
        const text = `changed ${e.name} ${i} ${process.hrtime.bigint()}\n`;
        fs.writeFileSync(changed, text);
        try {
          samples.get(e.name).rebuild.push(nsToMs((await build(e, rebuildFile)).ns));
          if (e === ctx.roost && i === n - 1) {
            // The rebuilt image must hold the change (a cache hit on stale content would be wrong). Not timed.
            const got = await ctx.roost.check(['run', '--rm', '--network=none', BUILD_IMAGE, 'cat', '/app/f0.txt']);
            if (got.stdout !== text) throw new Error(`the rebuilt image's /app/f0.txt holds ${JSON.stringify(got.stdout)}, want ${JSON.stringify(text)}`);
          }
        } catch (err) { failed.set(e.name, err); }
      }
    }
    // 2. Stages: the whole build, then each stage alone, all with --no-cache.
    for (let i = 0; i <= n; i++) { // i = 0: warm-up
      for (const e of sides) {
        if (failed.has(e.name)) continue;
        try {
          const wall = nsToMs((await build(e, stagesFile, ['--no-cache'])).ns);
          const a = nsToMs((await build(e, stagesFile, ['--no-cache', '--target', 'a'])).ns);
          const b = nsToMs((await build(e, stagesFile, ['--no-cache', '--target', 'b'])).ns);
          if (i > 0) { samples.get(e.name).wall.push(wall); samples.get(e.name).sum.push(a + b); }
        } catch (err) { failed.set(e.name, err); }
      }
    }
    // 3. Context: a fully cached build of COPY . (the context is sent and its files checksummed to find the hit).
    for (const e of sides) {
      if (failed.has(e.name)) continue;
      try { await build(e, copyFile); await build(e, copyFile); } catch (err) { failed.set(e.name, err); }
    }
    for (let i = 0; i < n; i++) {
      for (const e of sides) {
        if (failed.has(e.name)) continue;
        try { samples.get(e.name).context.push(BUILD_BYTES / 1e6 / (nsToMs((await build(e, copyFile)).ns) / 1000)); } catch (err) { failed.set(e.name, err); }
      }
    }
  } finally {
    unregister();
    try { await rmImages(); } catch (err) { warn(`cleanup (build images and cache) failed: ${err.message}`); }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  for (const e of sides) {
    if (failed.has(e.name)) { for (const row of rows) row.sides[e.name] = sideError(failed.get(e.name)); continue; }
    const s = samples.get(e.name);
    const rebuild = stats(s.rebuild);
    rows[0].sides[e.name] = { value: rebuild.median, stats: rebuild, samples: s.rebuild, command: e.display([...(e.name === 'buildah' ? ['bud', '--layers'] : ['build']), '-q', '-t', BUILD_IMAGE, '-f', 'Dockerfile.rebuild', 'CONTEXT']) };
    const wall = stats(s.wall);
    const sum = stats(s.sum);
    // Each run's own ratio (whole build / its two stages built alone just after it); the median of those.
    const ratios = stats(s.wall.map((w, i) => w / s.sum[i]));
    rows[1].sides[e.name] = { value: wall.median, stats: wall, samples: s.wall, sequentialSamples: s.sum, sequential: sum.median, ratioToBase: ratios.median, ratios: ratios };
    const context = stats(s.context);
    rows[2].sides[e.name] = { value: context.median, stats: context, samples: s.context };
  }
  if (rows[1].sides.roost && !rows[1].sides.roost.error) rows[1].relativeTo = { label: 'sequential', value: rows[1].sides.roost.sequential };
  else rows[1].relativeTo = { label: 'sequential', value: undefined, error: true };
  return rows;
}

// ---------------------------------------------------------------------------------------------- report

/** A docker-registry of the benchmark's own on a free loopback port. */
async function startBenchRegistry(dir) {
  const port = await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => { const { port: p } = server.address(); server.close(() => resolve(p)); });
    server.on('error', reject);
  });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.yml'), ['version: 0.1', 'log:', '  level: error', 'storage:', '  filesystem:', `    rootdirectory: ${path.join(dir, 'data')}`, 'http:', `  addr: 127.0.0.1:${port}`, ''].join('\n'));
  const child = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: 'ignore' });
  children.add(child);
  for (let i = 0; i < 200 && !(await socketAnswersTcp(port)); i++) await sleep(50);
  return { host: `127.0.0.1:${port}`, dataDir: path.join(dir, 'data'), stop: () => { child.kill(); children.delete(child); } };
}

function socketAnswersTcp(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

/** Peak VmRSS (kB) of a process while `work` runs, sampled every 20 ms. */
async function peakRss(pid, work) {
  let peak = 0;
  let running = true;
  const sampler = (async () => {
    while (running) {
      try { peak = Math.max(peak, Number(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s*(\d+)/m)?.[1] ?? 0)); } catch { /* gone */ }
      await sleep(20);
    }
  })();
  try { return { result: await work(), peakKb: peak }; } finally { running = false; await sampler; }
}

/**
 * pull: the issue's registry benchmark. A bookworm minbase root filesystem (scripts/make-bookworm-rootfs.sh,
 * one ~97 MB gzip layer, ~6,800 files, ~204 MB unpacked) is imported into Roost and pushed to a loopback
 * docker-registry; then, alternating, each engine removes the image and pulls it (cold: no layer kept), GNU
 * `tar xzf` unpacks the same layer blob (device nodes left out, which an unprivileged tar cannot make), and
 * each engine pushes it to a new, empty repository. The Roost daemon's peak RSS is sampled during its pulls.
 */
async function benchPull(ctx, n) {
  const rows = [
    { key: 'pull', name: `pull bookworm minbase (1 layer, ~97 MB gzip) from a loopback registry, median of ${n}`, unit: 'ms', target: 0.4, sides: {} },
    { key: 'pull-vs-tar', name: 'pull bookworm vs GNU tar xzf of the same layer', unit: 'ms', target: 1.0, atMost: true, sides: {}, podmanNa: 'compared with tar' },
    { key: 'pull-rss', name: 'Roost daemon peak RSS during the pull', unit: 'kB', target: 1.0, atMost: true, sides: {}, podmanNa: 'not measured', relativeTo: { label: '200 MB', value: 200 * 1000 } },
    { key: 'push', name: `push bookworm to an empty repository, median of ${n}`, unit: 'ms', target: 0.5, sides: {} },
  ];
  const missing = !fs.existsSync(BOOKWORM_TAR) ? `${BOOKWORM_TAR} is missing (as root: scripts/make-bookworm-rootfs.sh)` : !fs.existsSync('/usr/bin/docker-registry') ? 'docker-registry is not installed' : undefined;
  if (missing) {
    for (const row of rows) row.sides.roost = { error: missing };
    return rows;
  }
  const registry = await startBenchRegistry(path.join(ctx.tmp, 'registry'));
  const unregister = onCleanup('bench registry', () => registry.stop());
  const name = `${registry.host}/bench/bookworm:1`;
  const sides = ctx.sides();
  const pullArgs = (e) => (e.name === 'podman' ? ['pull', '-q', '--tls-verify=false', name] : ['pull', '-q', name]);
  const pushArgs = (e, host) => (e.name === 'podman' ? ['push', '-q', '--tls-verify=false', name, `${host}/bench/bookworm:1`] : ['push', '-q', `${host}/bench/bookworm:1`]);
  const samples = { pull: new Map(), push: new Map(), tar: [], rss: [] };
  const failed = new Map();
  try {
    log(`importing ${BOOKWORM_TAR} into Roost and pushing it to ${registry.host}`);
    await ctx.roost.check(['import', BOOKWORM_TAR, name], { timeoutMs: 300_000 });
    await ctx.roost.check(['push', name], { timeoutMs: 300_000 });
    await ctx.roost.check(['rmi', name]);
    const manifest = await new Promise((resolve, reject) => {
      const req = http.get(`http://${registry.host}/v2/bench/bookworm/manifests/1`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c) => { body += c; }).on('end', () => resolve(JSON.parse(body)));
      });
      req.on('error', reject);
    });
    const layer = manifest.layers[0].digest.slice(7);
    const blobFile = path.join(registry.dataDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', layer.slice(0, 2), layer, 'data');
    rows[0].layerBytes = fs.statSync(blobFile).size;
    for (const e of sides) { samples.pull.set(e.name, []); samples.push.set(e.name, []); }
    const daemonPid = () => readPid(path.join(ctx.roostSocket, '..', 'daemon.pid'));
    for (let i = 0; i <= n; i++) {
      for (const e of sides) {
        if (failed.has(e.name)) continue;
        try {
          await e.exec(['rmi', '-f', name]);
          if (e.name === 'roost') {
            const { result, peakKb } = await peakRss(daemonPid(), () => e.check(pullArgs(e), { timeoutMs: 600_000 }));
            if (i > 0) { samples.pull.get(e.name).push(nsToMs(result.ns)); samples.rss.push(peakKb); }
          } else {
            const r = await e.check(pullArgs(e), { timeoutMs: 600_000 });
            if (i > 0) samples.pull.get(e.name).push(nsToMs(r.ns));
          }
          // Each push goes to a registry of its own, started empty.
          const empty = await startBenchRegistry(path.join(ctx.tmp, `empty-${e.name}-${i}`));
          try {
            if (e.name === 'roost') await e.check(['tag', name, `${empty.host}/bench/bookworm:1`]);
            const r = await e.check(pushArgs(e, empty.host), { timeoutMs: 600_000 });
            if (i > 0) samples.push.get(e.name).push(nsToMs(r.ns));
            if (e.name === 'roost') await e.exec(['rmi', `${empty.host}/bench/bookworm:1`]);
          } finally {
            empty.stop();
            fs.rmSync(path.join(ctx.tmp, `empty-${e.name}-${i}`), { recursive: true, force: true });
          }
        } catch (err) { failed.set(e.name, err); }
      }
      const dir = path.join(ctx.tmp, `tar-${i}`);
      fs.mkdirSync(dir);
      const t = await exec('tar', ['xzf', blobFile, '-C', dir, '--no-same-owner', '--exclude=./dev/*'], { timeoutMs: 300_000 });
      if (i > 0) samples.tar.push(nsToMs(t.ns));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    for (const e of sides) await e.exec(['rmi', '-f', name]).catch(() => {});
    unregister();
    registry.stop();
  }
  for (const [row, kind] of [[rows[0], 'pull'], [rows[3], 'push']]) {
    for (const e of sides) {
      if (failed.has(e.name)) { row.sides[e.name] = sideError(failed.get(e.name)); continue; }
      const s = stats(samples[kind].get(e.name));
      row.sides[e.name] = { value: s.median, stats: s, samples: samples[kind].get(e.name), command: e.display(kind === 'pull' ? pullArgs(e) : pushArgs(e, '<empty registry>')) };
    }
  }
  const tar = stats(samples.tar);
  rows[1].relativeTo = { label: 'tar', value: tar.median };
  rows[1].sides.roost = rows[0].sides.roost;
  rows[1].tar = { stats: tar, samples: samples.tar };
  if (!failed.has('roost')) {
    const rss = stats(samples.rss);
    rows[2].sides.roost = { value: Math.max(...samples.rss), stats: rss, samples: samples.rss };
  } else rows[2].sides.roost = sideError(failed.get('roost'));
  return rows;
}

function fmtValue(v, unit) {
  if (v === undefined || Number.isNaN(v)) return 'n/a';
  if (unit === 'ms') return v >= 10_000 ? `${(v / 1000).toFixed(2)} s` : `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ms`;
  if (unit === 'kB') return Math.abs(v) >= 1024 ? `${(v / 1024).toFixed(2)} MiB` : `${v.toFixed(0)} kB`;
  if (unit === 'MB/s') return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} MB/s`;
  if (unit === 'files/s') return `${v.toFixed(0)} files/s`;
  if (unit === 'Gbit/s') return `${v >= 10 ? v.toFixed(1) : v.toFixed(2)} Gbit/s`;
  if (unit === 'req/s') return `${v.toFixed(0)} req/s`;
  if (unit === '%') return `${v.toFixed(2)}% of one core`;
  return String(v);
}

function shortError(msg) {
  return msg.length > 140 ? `${msg.slice(0, 137)}...` : msg;
}

/**
 * Fills a row's printed cells. Rows compare Roost with podman (ratio Roost/podman, target: at most), except
 * - `baseline` rows: a figure of no engine (volume-io's host directory), in the Roost column;
 * - rows with `relativeTo: { label, value }`: Roost's figure against that baseline (volume-io: the host), higher
 *   is better (target: at least); podman's figure is shown for information, with its own ratio to the baseline.
 */
function finishRow(row, podmanNa) {
  const r = row.baseline ? row.sides.host : row.sides.roost;
  const other = row.other ?? 'podman'; // the engine compared with: podman, or buildah for the build rows
  const p = row.sides[other];
  const named = (cell) => (other === 'podman' ? cell : `${other}: ${cell}`);
  if (row.baseline) {
    row.roostCell = r?.error ? `ERROR: ${shortError(r.error)}` : fmtValue(r?.value, row.unit);
    row.podmanCell = '—';
    row.ratioCell = '—';
    row.targetCell = '—';
    row.result = r?.error ? 'ERROR' : 'baseline';
    return row;
  }
  const base = row.relativeTo;
  const baseOk = base && base.value > 0;
  row.roostCell = r?.error ? `ERROR: ${shortError(r.error)}` : fmtValue(r?.value, row.unit);
  const na = row.podmanNa ?? podmanNa;
  if (p && !p.error) {
    row.podmanCell = named(fmtValue(p.value, row.unit));
    if (baseOk || p.ratioToBase !== undefined) row.podmanCell += ` (${(p.ratioToBase ?? p.value / base.value).toFixed(2)} × ${base.label})`;
  } else row.podmanCell = p?.error ? named(`ERROR: ${shortError(p.error)}`) : `${other}: n/a (${shortError(na ?? 'not measured')})`;
  if (base) {
    // A side's own ratio when it has one (volume-io: the median of its ratios to the adjacent host runs).
    if (r && !r.error && baseOk) row.ratio = r.ratioToBase ?? r.value / base.value;
    row.ratioCell = row.ratio === undefined ? `n/a (${base.label} ${base.error ? 'failed' : 'unmeasured'})` : `${row.ratio.toFixed(2)} × ${base.label}`;
    row.targetCell = row.target === undefined ? '—' : `${row.atMost ? '≤' : '≥'} ${row.target.toFixed(2)} × ${base.label}`;
  } else {
    if (r && !r.error && p && !p.error && p.value > 0) row.ratio = r.value / p.value;
    row.ratioCell = row.ratio === undefined ? 'n/a' : row.ratio.toFixed(2);
    row.targetCell = row.target === undefined ? '—' : `${row.higherIsBetter ? '≥' : '≤'} ${row.target.toFixed(2)}`;
  }
  if (r?.error) row.result = 'ERROR';
  else if (row.target === undefined) row.result = 'info';
  else if (row.ratio === undefined) row.result = 'n/a';
  else row.result = ((base && !row.atMost) || (!base && row.higherIsBetter) ? row.ratio >= row.target : row.ratio <= row.target) ? 'PASS' : 'FAIL';
  return row;
}

function markdownTable(rows) {
  const buildah = rows.some((r) => r.other === 'buildah');
  const head = ['Benchmark', 'Roost', buildah ? 'Podman (buildah)' : 'Podman', buildah ? 'Roost/Podman (buildah)' : 'Roost/Podman', 'Target', 'Result'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((h, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) lines.push(`| ${[r.name, r.roostCell, r.podmanCell, r.ratioCell, r.targetCell, r.result].map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------- kernels

/** Runs dist/bench/kernels.mjs (bench/kernels.ts, bundled): one JSON row per line on stdout. */
async function runKernels(opts) {
  if (!fs.existsSync(KERNELS_JS)) return { rows: [], error: `${path.relative(REPO, KERNELS_JS)} is missing: run \`npm run build\`` };
  const result = await exec(process.execPath, [KERNELS_JS, ...(opts.quick ? ['--quick'] : [])], { timeoutMs: 900_000 });
  const rows = result.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const error = result.code === 0 ? undefined : new CommandError(process.execPath, [KERNELS_JS], result).message;
  return { rows, error, log: result.stderr.trim().split('\n').filter(Boolean) };
}

function fmtKernel(row, impl) {
  const v = row.figures[impl];
  if (v === undefined) return 'n/a';
  const eps = row.entriesPerSecond?.[impl];
  return `${fmtValue(v, row.unit)}${eps ? ` (${Math.round(eps).toLocaleString('en')} entries/s)` : ''}`;
}

function kernelsMarkdown({ rows, error }) {
  const head = ['Kernel benchmark', 'WebAssembly kernel', 'TypeScript twin', 'Others', 'Kernel vs best other', 'Goal', 'Hot path'];
  const lines = [`## WebAssembly kernels vs their twins (one run)`, '', `| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) {
    const others = Object.keys(r.figures).filter((k) => k !== 'wasm' && k !== 'twin').map((k) => `${k}: ${fmtKernel(r, k)}`).join('; ') || '—';
    lines.push(`| ${[r.name, fmtKernel(r, 'wasm'), fmtKernel(r, 'twin'), others, `${r.ratio.toFixed(2)}× (best: ${r.best})`, '≥ 1.5×', `${r.hotPath ?? (r.ratio >= 1.5 ? 'kernel' : 'twin (kernel off)')}${r.hotPath && r.verdict ? `; ${r.verdict}` : ''}`].map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`);
  }
  if (error) lines.push('', `kernels: ERROR: ${error}`);
  return lines;
}

function finishKernelsOnly(opts, kernelsOut) {
  process.stdout.write(`${kernelsMarkdown(kernelsOut).join('\n')}\n`);
  const results = { date: new Date().toISOString(), host: { kernel: os.release(), cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version }, options: { quick: opts.quick, only: ['kernels'] }, kernels: kernelsOut };
  try {
    fs.mkdirSync(path.dirname(opts.json), { recursive: true });
    fs.writeFileSync(opts.json, `${JSON.stringify(results, null, 2)}\n`);
    log(`results written to ${path.relative(process.cwd(), opts.json) || opts.json}`);
  } catch (err) {
    warn(`could not write ${opts.json} (${err.code ?? err.message})`);
  }
  return kernelsOut.error ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------- main

async function main() {
  let opts;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${err.message}\n`);
    return 2;
  }
  // The kernels group runs in-process code only (no daemon, no podman): as any user, before the engines.
  let kernelsOut;
  if (opts.only.size === 0 || opts.only.has('kernels')) {
    log('benchmark kernels: WebAssembly kernels vs their twins');
    kernelsOut = await runKernels(opts);
    if (opts.only.size === 1) return finishKernelsOnly(opts, kernelsOut);
    opts.only.delete('kernels');
    // The engine benchmarks may still refuse to run (root, no XDG_RUNTIME_DIR): the kernels' table is out first.
    if (process.getuid() === 0 || !process.env.XDG_RUNTIME_DIR) process.stdout.write(`${kernelsMarkdown(kernelsOut).join('\n')}\n\n`);
  }
  if (process.getuid() === 0) {
    process.stderr.write('bench: run the benchmark as the unprivileged user the engines run as, e.g.\n'
      + "  su roosttest -c 'cd /work/main && XDG_RUNTIME_DIR=/run/user/$(id -u roosttest) npm run bench'\n");
    return 2;
  }
  if (!process.env.XDG_RUNTIME_DIR) {
    process.stderr.write('bench: XDG_RUNTIME_DIR is not set (a rootless engine needs it; e.g. XDG_RUNTIME_DIR=/run/user/$(id -u))\n');
    return 2;
  }
  for (const dev of ['/dev/net/tun', '/dev/fuse']) {
    try { fs.accessSync(dev, fs.constants.R_OK | fs.constants.W_OK); } catch { warn(`${dev} is not read-write for this user; as root: chmod 0666 ${dev} (distributions ship it so)`); }
  }
  const selected = BENCHMARKS.filter((b) => b.key !== 'kernels' && (opts.only.size === 0 || opts.only.has(b.key)));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'roost-bench-'));
  onCleanup('temporary files', () => fs.rmSync(tmp, { recursive: true, force: true }));
  const pauseBefore = podmanPausePid();
  // Podman's per-user state directories that any podman command creates even with --root/--runroot.
  const configHome = process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  const podmanStateDirs = [
    ...['containers', 'libpod', 'netns', 'crun'].map((d) => path.join(process.env.XDG_RUNTIME_DIR, d)),
    path.join(process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share'), 'containers'),
    path.join(configHome, 'cni'), path.join(configHome, 'containers'),
  ].filter((d) => !fs.existsSync(d));

  const roostEnv = { ...process.env };
  // The Roost under test. With a daemon of its own, a copy of this checkout's built files is run, so that a
  // rebuild of the tree while the benchmark runs (it replaces dist/) does not break it midway.
  let roostJs = ROOST_JS;
  if (opts.isolated) {
    try {
      roostJs = await snapshotTree(tmp);
    } catch (err) {
      process.stderr.write(`bench: ${err.message}\n`);
      await runCleanups();
      return 1;
    }
  }
  if (opts.isolated) {
    // A Roost of its own for this run: its own runtime dir (daemon, socket) and data dir (store), removed at the end.
    const runtimeDir = path.join(process.env.XDG_RUNTIME_DIR, `roost-bench-${process.pid}`);
    const dataHome = path.join(process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share'), `roost-bench-${process.pid}-data`);
    fs.mkdirSync(runtimeDir, { mode: 0o700 });
    Object.assign(roostEnv, { XDG_RUNTIME_DIR: runtimeDir, XDG_DATA_HOME: dataHome });
    delete roostEnv.ROOST_RUN_DIR;
    delete roostEnv.ROOST_DATA_DIR;
    onCleanup('isolated roost', async () => {
      const runDir = path.join(runtimeDir, 'roost');
      const ids = (await exec(process.execPath, [roostJs, 'ps', '-aq', '--no-trunc'], { env: roostEnv })).stdout.split('\n').filter(Boolean);
      if (ids.length) await exec(process.execPath, [roostJs, 'rm', '-f', ...ids], { env: roostEnv, timeoutMs: 300_000 });
      const daemon = readPid(path.join(runDir, 'daemon.pid'));
      let outer;
      try { outer = Number(fs.readFileSync(`/proc/${daemon}/status`, 'utf8').match(/^PPid:\s*(\d+)/m)?.[1]); } catch { /* gone */ }
      for (const pid of [outer, daemon]) {
        try { if (pid > 1 && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('roost')) process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
      }
      await sleep(500);
      // The daemon's pre-started spare namespaces (netpool/) keep their uplink (slirp4netns or pasta), which
      // daemonized away from the daemon: end those still naming this run's runtime dir, by pid.
      for (const p of processesNaming([`${runtimeDir}/`])) {
        if (/(^|\/)(slirp4netns|pasta|passt[^ ]*) /.test(p.cmdline)) { try { process.kill(p.pid, 'SIGTERM'); } catch { /* gone */ } }
      }
      const pause = readPid(path.join(runDir, 'pause.pid'));
      // Files owned by subordinate ids can only be removed from inside Roost's user namespace.
      if (pause) await exec('nsenter', ['-t', String(pause), '-U', '-m', '--', 'rm', '-rf', dataHome], { timeoutMs: 300_000 });
      try { if (pause && fs.readFileSync(`/proc/${pause}/cmdline`, 'utf8').startsWith('sleep')) process.kill(pause, 'SIGKILL'); } catch { /* gone */ }
      fs.rmSync(dataHome, { recursive: true, force: true });
      fs.rmSync(runtimeDir, { recursive: true, force: true });
    });
  }
  const roostRunDir = roostEnv.ROOST_RUN_DIR ?? path.join(roostEnv.XDG_RUNTIME_DIR, 'roost');
  const roostSocket = path.join(roostRunDir, 'roost.sock');
  const roostDataDir = roostEnv.ROOST_DATA_DIR ?? path.join(roostEnv.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share'), 'roost');
  const roost = new Engine('roost', process.execPath, [roostJs], opts.network === 'none' ? ['--network=none'] : [], roostEnv, {
    // Roost's processes: the daemon and the pause process (pid files in the run dir) and their descendants
    // (the in-namespace daemon, monitors, containers), and pasta, whose command line names the run dir.
    attribution: async () => {
      const daemon = readPid(path.join(roostRunDir, 'daemon.pid')); // the daemon inside the user namespace
      let outer; // and the one outside it, its parent
      try {
        const ppid = Number(fs.readFileSync(`/proc/${daemon}/status`, 'utf8').match(/^PPid:\s*(\d+)/m)?.[1]);
        if (fs.readFileSync(`/proc/${ppid}/cmdline`, 'utf8').includes('roost')) outer = ppid;
      } catch { /* not running */ }
      return {
        roots: [daemon, outer, readPid(path.join(roostRunDir, 'pause.pid'))],
        markers: [`${roostRunDir}/`, `${path.join(roostDataDir, 'containers')}/`],
      };
    },
  });
  if (!opts.isolated) {
    await roost.exec(['version']);
    const daemon = readPid(path.join(roostRunDir, 'daemon.pid'));
    let cmdline = '';
    try { cmdline = fs.readFileSync(`/proc/${daemon}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { /* unknown */ }
    if (!cmdline.includes(ROOST_JS)) warn(`roost: the daemon on ${roostSocket} is not this checkout's (${cmdline.trim() || 'pid unknown'}): its figures are not this tree's`);
  }
  const ctx = { opts, tmp, roost, roostSocket, roostDataDir, podman: undefined, sides: () => [roost, ...(ctx.podman?.available ? [ctx.podman.engine] : [])] };

  const rows = [];
  const results = {
    date: new Date().toISOString(),
    host: { kernel: os.release(), cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryBytes: os.totalmem(), node: process.version, user: os.userInfo().username },
    options: { quick: opts.quick, isolated: opts.isolated, only: [...opts.only], network: opts.network, iterations: opts.iterations },
    roost: {}, podman: {}, benchmarks: rows, warnings,
  };
  let exitCode = 0;
  try {
    log('making the busybox image archive');
    ctx.busyboxArchive = path.join(tmp, 'busybox.tar');
    await check('bash', [MAKE_BUSYBOX, ctx.busyboxArchive, IMAGE], { timeoutMs: 120_000 });

    // Roost: load the image (this also starts the user's daemon when it is not running).
    const roostHadImage = await roost.hasImage(IMAGE).catch(() => false);
    await roost.check(['load', '-i', ctx.busyboxArchive], { timeoutMs: 300_000 });
    if (!roostHadImage) onCleanup('roost busybox image', () => roost.exec(['rmi', '-f', IMAGE]));
    const roostVersion = await roost.exec(['version', '--format', '{{.Server.Version}}']);
    const roostInfo = await roost.exec(['info']);
    const infoLine = (label) => roostInfo.stdout.match(new RegExp(`^\\s*${label}:\\s*(.*)$`, 'm'))?.[1]?.trim();
    const uplink = roostInfo.stdout.match(/network uplink:\s*(.*)$/m)?.[1]?.trim();
    Object.assign(results.roost, {
      version: roostVersion.code === 0 ? roostVersion.stdout.trim() : undefined,
      storage: infoLine('Storage Driver'), runtime: infoLine('Runtime'),
      network: opts.network === 'none' ? 'none' : `default${uplink ? ` (${uplink})` : ''}`,
      invocation: roost.display(['run', '--rm', ...roost.runArgs, IMAGE_SHORT, 'true']),
      socket: roostSocket,
    });

    ctx.roostRuntime = results.roost.runtime?.split(/\s+/)[0];
    ctx.roostUplink = uplink;
    if (!opts.podman) ctx.podman = { available: false, reason: 'skipped (--no-podman)' };
    else if (selected.every((b) => b.key === 'build')) ctx.podman = { available: false, reason: 'not needed (build compares with buildah)' };
    else {
      log('finding a podman invocation that works here');
      ctx.podman = await setupPodman(ctx);
    }
    const { engine: _e, ...podmanSummary } = ctx.podman;
    Object.assign(results.podman, podmanSummary);
    if (ctx.podman.available) results.podman.invocation = ctx.podman.invocation;
    const podmanNa = ctx.podman.available ? undefined : ctx.podman.reason;
    const podmanRuntime = ctx.podman.info?.split(/\s+/)[0];
    if (ctx.podman.available && ctx.roostRuntime && podmanRuntime !== ctx.roostRuntime) {
      warn(`the OCI runtimes differ: Roost uses ${ctx.roostRuntime}, podman ${podmanRuntime} (no podman invocation with ${ctx.roostRuntime} worked)`);
    }

    if (selected.some((b) => b.key === 'build')) {
      if (!opts.podman) ctx.buildah = { available: false, reason: 'skipped (--no-podman)' };
      else {
        log('finding a buildah invocation that works here');
        ctx.buildah = await setupBuildah(ctx);
      }
      const { engine: _b, ...buildahSummary } = ctx.buildah;
      results.buildah = buildahSummary;
    }
    const runners = { run: benchRunRm, 'docker-run': benchDockerRun, idle: benchIdle, load: benchLoad, 'volume-io': benchVolumeIo, commit: benchCommit, pull: benchPull, stats: benchStats, build: benchBuild, 'pull-layers': benchPullLayers, net: benchNet };
    for (const b of selected) {
      if (interrupted) break;
      const n = opts.iterations[b.key];
      log(`benchmark ${b.key}: ${b.title} (${n} iterations after a warm-up)`);
      await roost.check(['version']); // Roost's daemon up (it starts on demand) before anything is timed
      const daemonBefore = readPid(path.join(roostRunDir, 'daemon.pid'));
      try {
        for (const row of await runners[b.key](ctx, n)) rows.push(finishRow(row, row.other === 'buildah' ? ctx.buildah?.reason : podmanNa));
      } catch (err) {
        rows.push(finishRow({ key: b.key, name: b.title, unit: 'ms', target: undefined, sides: { roost: sideError(err) } }, podmanNa));
      }
      const daemonAfter = readPid(path.join(roostRunDir, 'daemon.pid'));
      if (daemonAfter !== daemonBefore && !['pull-layers', 'net'].includes(b.key)) { // pull-layers and net restart it on purpose
        const logFile = path.join(roostRunDir, 'daemon.log');
        const tail = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' | ') : '';
        warn(`roost: the daemon changed during benchmark ${b.key} (pid ${daemonBefore} → ${daemonAfter}): it stopped or was killed and was started again; that benchmark's Roost figures include it${tail ? ` (daemon.log ends: ${tail})` : ''}`);
      }
    }
  } catch (err) {
    warn(`aborted: ${err.message}`);
    exitCode = 1;
  } finally {
    await runCleanups();
    const pauseAfter = podmanPausePid();
    if (pauseAfter && !pauseBefore) {
      // Podman was not in use by this user when the run started: end the rootless pause process (catatonit)
      // this run started, by its pid, and remove the per-user state directories podman created.
      try { process.kill(pauseAfter, 'SIGTERM'); } catch { /* gone */ }
      await sleep(200);
      for (const dir of podmanStateDirs) {
        try { fs.rmSync(dir, { recursive: true, force: true }); } catch (err) { warn(`could not remove ${dir}: ${err.code ?? err.message}`); }
      }
    } else if (!pauseAfter && ctx.buildah?.available) {
      // buildah (which keeps no pause process) creates the same per-user directories (~/.local/share/containers
      // for its blob-info cache, $XDG_RUNTIME_DIR/containers, …): remove those this run created while no podman
      // of this user is running.
      for (const dir of podmanStateDirs) {
        try { fs.rmSync(dir, { recursive: true, force: true }); } catch (err) { warn(`could not remove ${dir}: ${err.code ?? err.message}`); }
      }
    }
  }

  // Report.
  const p = results.podman;
  const notes = [];
  notes.push(`Roost ${results.roost.version ?? '?'}: \`${results.roost.invocation ?? '?'}\`; storage ${results.roost.storage ?? '?'}; runtime ${results.roost.runtime ?? '?'}; network ${results.roost.network ?? '?'}; ${opts.isolated ? 'a copy of this checkout\'s build taken at the start, with a daemon and store of its own for this run' : 'the user\'s daemon and store'} (socket ${roostSocket})`);
  if (p.available) {
    notes.push(`${p.version}: \`${p.invocation}\`; storage ${p.storage}; runtime ${p.runtime} (${p.info}); network ${p.network}`);
    notes.push('podman uses storage of its own for the benchmark (the --root/--runroot above), removed at the end.');
    for (const f of p.failures ?? []) notes.push(`podman invocation tried first, failed: ${f.length > 400 ? `${f.slice(0, 397)}...` : f}`);
  } else {
    notes.push(`podman: n/a (${p.reason})`);
    for (const f of p.failures ?? []) notes.push(`podman attempt failed: ${f}`);
  }
  if (results.buildah) {
    const bh = results.buildah;
    notes.push(bh.available
      ? `${bh.version}: \`${ctx.buildah.engine.display(['bud', '--layers', '-q', '-t', BUILD_IMAGE, '-f', 'DOCKERFILE', 'CONTEXT'])}\`; storage ${bh.storage} of its own for the run (removed at the end); the busybox image pulled from the same docker-archive`
      : `buildah: n/a (${bh.reason})`);
    if (rows.some((r) => r.key === 'build-rebuild')) notes.push(`build: contexts of ${BUILD_FILES} files of random data, ${BUILD_SMALL_BYTES / 1e6} MB for the rebuild and stages rows, ${BUILD_BYTES / 1e6} MB for the context row (10 files in app/, the rest in deps/); Dockerfile.rebuild is FROM, ENV, COPY deps/, RUN, COPY app/ and each timed rebuild follows a write of new content to app/f0.txt; the stages row times the whole build with --no-cache, then --target a and --target b with --no-cache, and its ratio is the median of each run's whole / (a + b) (the whole build also runs the final stage's two COPY --from, so it is counted against Roost); the context row is a fully cached build of \`COPY . /ctx\` (client start, context tar sent, every file checksummed for the cache key, cache hit), MB/s = ${BUILD_BYTES / 1e6} MB / wall time. Times are whole client commands (\`roost build -q\`, \`buildah bud --layers -q\`); buildah 1.28 builds stages one at a time (--jobs=1).`);
  }
  const docker = rows.find((r) => r.key === 'docker-run');
  if (docker?.dockerVersion) notes.push(`${docker.dockerVersion}, DOCKER_HOST unix://${roostSocket} vs ${docker.podmanService ? `\`${docker.podmanService}\`` : 'podman service n/a'}`);
  const health = rows.find((r) => r.key === 'health-cpu')?.sides.roost;
  if (health && !health.error) notes.push(`health-cpu: daemon, monitors and the ${health.agents} in-container probe agents' own time; the probe commands the agents ran (\`sh -c true\`, the containers' work, which Docker too runs in the container's cgroup) took another ${fmtValue(health.probeCommandsPercent, '%')}`);
  const idle = rows.find((r) => r.key === 'idle-rss');
  if (idle) {
    for (const [name, side] of Object.entries(idle.sides)) {
      if (side.error || !side.byProcess) continue;
      const parts = Object.entries(side.byProcess).sort((a, b) => Math.abs(b[1].kb) - Math.abs(a[1].kb)).slice(0, 6)
        .map(([comm, v]) => `${comm}${v.count ? ` ×${v.count}` : ''} ${fmtValue(v.kb, 'kB')}`);
      const time = rows.find((r) => r.key === 'idle-time')?.sides[name];
      notes.push(`${name} idle memory added, by process: ${parts.join(', ')}${time?.rmMs !== undefined ? `; \`rm -f\` of them took ${fmtValue(time.rmMs, 'ms')}` : ''}`);
    }
  }
  if (rows.some((r) => r.key.startsWith('volume-io-'))) {
    const hostRow = rows.find((r) => r.key === 'volume-io-write-host');
    notes.push(`volume-io: the workload (\`dd if=/dev/zero bs=1M count=${IO_WRITE_MIB} conv=fsync\`, then ${IO_FILES} × \`echo x > d/$i\` in a busybox sh loop) is timed inside the container (or on the host) by busybox \`ts %.s\` markers, so engine start-up is not counted; MB/s are 10^6 bytes/s. The host runs the same script with the same busybox binary (${hostRow?.sides.host?.command?.split(' ')[0] ?? 'busybox'}) in a directory next to the bind-mounted ones, before and after every container run; the "× host" ratio of a row is the median of each container run's ratio to the mean of the host runs just before and after it (so not exactly the quotient of the medians shown), podman's in its cell likewise, for information.`);
  }
  const commitRow = rows.find((r) => r.key === 'commit');
  if (commitRow) {
    for (const [name, side] of Object.entries(commitRow.sides)) {
      if (side.error) continue;
      const fill = side.fillMs?.length ? stats(side.fillMs).median : undefined;
      notes.push(`${name} commit: the image has ${side.layers ?? '?'} layers, ${typeof side.imageSize === 'number' ? `${(side.imageSize / 1e6).toFixed(1)} MB` : '? MB'} (checked: ${COMMIT_FILES} files in /data); the container's own run (creating the files, not timed) took ${fmtValue(fill, 'ms')} (median)${side.dataDirGrowthBytes !== undefined ? `; data dir growth over the cycles: ${(side.dataDirGrowthBytes / 1e6).toFixed(1)} MB` : ''}`);
    }
  }
  if (rows.some((r) => r.key.startsWith('net-'))) {
    notes.push(`net: iperf3 (the host's /usr/bin/iperf3, in a bench-only image ${NET_IMAGE} with its libraries, loaded from a docker-archive and removed at the end) \`-t ${NET_IPERF_SECONDS} -J\`, figure: end.sum_received.bits_per_second; the host's loopback run (server and client on the host) is taken in every round, and a row's "× host" is the median of each run's ratio to that round's host run. The user-defined network is made with \`network create\` on each side (podman's for information). ab: \`ab -q -n ${NET_AB_REQUESTS} -c ${NET_AB_CONCURRENCY}\` (a new connection per request) to \`busybox httpd -f -p 80\`, any failed or non-2xx request fails the row. Memory: Pss of the engine's processes named ${NET_HELPERS.source} after ${NET_IDLE_CONTAINERS} \`run -d … sleep 600\` on the default network, 2 s after the last start (includes a pre-started spare uplink where the engine keeps one).`);
    for (const row of rows.filter((r) => r.key.startsWith('net-mem'))) {
      for (const [name, side] of Object.entries(row.sides)) {
        if (side.error || !side.byProcess) continue;
        if (row.key === 'net-mem-pasta' && name !== 'roost') continue; // the same podman figures as net-mem
        notes.push(`${row.key === 'net-mem-pasta' ? `${name} (ROOST_UPLINK=pasta)` : name} network helpers: ${Object.entries(side.byProcess).map(([comm, v]) => `${comm} ×${v.count} ${fmtValue(v.kb, 'kB')}`).join(', ')}`);
      }
    }
  }
  if (idle) notes.push('memory: Pss from /proc/PID/smaps_rollup (VmRSS where unreadable) summed over the engine’s processes (its daemon / pause process and their descendants, and processes naming its run or storage directories or a container’s netns: conmon, pasta, slirp4netns, containers) among those of this user and its subordinate uids, after − before, / container count; kernel memory (page cache, mounts) is not included.');
  const iters = opts.quick ? 'quick mode' : 'full mode';
  const table = markdownTable(rows);
  const out = [`## Roost vs podman (${iters}, ${results.date})`, '', table, '', ...notes.map((n) => `- ${n}`)];
  if (kernelsOut) {
    out.push('', ...kernelsMarkdown(kernelsOut));
    results.kernels = kernelsOut;
  }
  if (warnings.length) out.push('', '**Warnings**', '', ...warnings.map((w) => `- ${w}`));
  process.stdout.write(`${out.join('\n')}\n`);

  results.markdown = table;
  try {
    fs.mkdirSync(path.dirname(opts.json), { recursive: true });
    fs.writeFileSync(opts.json, `${JSON.stringify(results, null, 2)}\n`);
    log(`results written to ${path.relative(process.cwd(), opts.json) || opts.json}`);
  } catch (err) {
    const fallback = path.join(os.tmpdir(), `roost-bench-latest-${process.getuid()}.json`);
    fs.writeFileSync(fallback, `${JSON.stringify(results, null, 2)}\n`);
    warn(`could not write ${opts.json} (${err.code ?? err.message}); results written to ${fallback} instead`);
  }
  if (rows.some((r) => r.result === 'ERROR')) exitCode = exitCode || 1;
  return exitCode;
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    process.stderr.write(`bench: ${signal}: cleaning up\n`);
    interrupted = true;
    for (const child of children) child.kill('SIGTERM');
    runCleanups().finally(() => process.exit(130));
  });
}

main().then((code) => { process.exitCode = code; }, async (err) => {
  process.stderr.write(`bench: ${err.stack ?? err}\n`);
  await runCleanups();
  process.exitCode = 1;
});
