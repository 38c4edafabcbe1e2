import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { archivePath, extractInto, rewriteTar, tarHostPath } from '../engine/container-files.js';
import type { Engine } from '../engine/engine.js';
import type { AttachSession } from '../engine/containers.js';
import type { ContainerDefaults, HistoryEntry } from '../image/types.js';
import { parseHealthcheck } from '../image/changes.js';
import { resolveUser } from '../runtime/user.js';
import { EngineError, invalid } from '../util/errors.js';
import { keyValuePairs, parseDockerfile, substitute, type Instruction } from './dockerfile.js';
import { BuildCache, treeChecksum } from './build-cache.js';

/**
 * Builds an image from a Dockerfile and a context directory, the way Docker's classic builder does: each
 * RUN runs in a container of the engine (same runtime, namespaces and user) and its changes become a
 * layer; COPY/ADD extract files from the context (or another stage) into a container's root and commit
 * it; every other instruction only changes the config and adds a history entry. Stages are built in order;
 * `--target` stops at one. No cache yet: every build runs every step.
 */

export interface BuildOptions {
  dockerfile: string;
  /** Name of the Dockerfile inside the context, for messages. */
  dockerfileName: string;
  tags: string[];
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  target?: string;
  pull?: boolean;
  /** Run every step even when the cache has its result (the result is still recorded). */
  noCache?: boolean;
}

export type BuildOutput = (text: string) => void;

interface Stage {
  name?: string;
  index: number;
  imageId: string;
  config: ContainerDefaults;
  /** History entries of config-only steps since the last layer. */
  pending: HistoryEntry[];
  args: Record<string, string>;
}

const nop = (text: string): HistoryEntry => ({ created: new Date().toISOString(), created_by: `/bin/sh -c #(nop)  ${text}`, empty_layer: true });

export class Builder {
  /** Images made on the way (one per layer step and stage end); those the cache does not keep go at the end. */
  private readonly intermediate = new Set<string>();
  private noCache = false;

  constructor(private readonly engine: Engine, private readonly contextDir: string, private readonly out: BuildOutput) {}

  async build(opts: BuildOptions): Promise<string> {
    let result: string | undefined;
    this.noCache = Boolean(opts.noCache);
    try {
      result = await this.buildStages(opts);
      return result;
    } finally {
      // What the steps left behind goes, unless the cache keeps it (layers stay while the result uses them).
      const cached = await this.engine.buildCache.imageIds();
      for (const id of this.intermediate) {
        if (id === result || cached.has(id)) continue;
        try {
          const image = this.engine.images.resolve(id);
          if (image.names.length === 0) await this.engine.images.remove(id, { force: false, inUse: (x) => this.engine.containers.imageInUse(x) });
        } catch { /* gone, or in use */ }
      }
    }
  }

  private async buildStages(opts: BuildOptions): Promise<string> {
    const instructions = parseDockerfile(opts.dockerfile, opts.dockerfileName);
    const where = (ins: Instruction) => `${opts.dockerfileName}:${ins.line}: `;
    const globalArgs: Record<string, string> = {};
    const stages: Stage[] = [];
    let stage: Stage | undefined;
    const total = instructions.length;
    for (const [i, ins] of instructions.entries()) {
      this.out(`Step ${i + 1}/${total} : ${ins.original}\n`);
      if (ins.keyword === 'FROM') {
        if (stage && opts.target && stage.name === opts.target) break;
        if (stage) stages.push(await this.finishStage(stage));
        stage = await this.from(ins, substitute(ins.args, globalArgs, where(ins)), stages, opts, globalArgs);
        continue;
      }
      if (!stage) {
        // ARG before the first FROM: usable in FROM lines only.
        const [name, value] = splitArg(ins.args);
        globalArgs[name] = opts.buildArgs[name] ?? value ?? '';
        continue;
      }
      await this.step(stage, ins, where(ins), opts, stages);
      this.out(` ---> ${stage.pending.length ? 'config' : stage.imageId.slice(7, 19)}\n`);
    }
    if (!stage) throw invalid(`${opts.dockerfileName}: no FROM instruction`);
    if (opts.target && stage.name !== opts.target && !stages.some((s) => s.name === opts.target)) throw invalid(`target stage ${JSON.stringify(opts.target)} could not be found`);
    const final = opts.target ? (stage.name === opts.target ? stage : stages.find((s) => s.name === opts.target)!) : stage;
    if (Object.keys(opts.labels).length) final.config = { ...final.config, Labels: { ...final.config.Labels, ...opts.labels } };
    const imageId = await this.configImage(final);
    for (const tag of opts.tags) await this.engine.images.tag(imageId, tag);
    return imageId;
  }

  private async finishStage(stage: Stage): Promise<Stage> {
    if (stage.pending.length === 0) return stage;
    return { ...stage, imageId: await this.configImage(stage), pending: [] };
  }

  /** The stage's image with its config-only steps applied; cached too, so that a rebuild gives the same ID. */
  private async configImage(stage: Stage): Promise<string> {
    const key = BuildCache.key(['CONFIG', stage.imageId, stage.config, stage.pending.map((h) => h.created_by)]);
    const cached = this.noCache ? undefined : await this.engine.buildCache.get(key);
    if (cached && this.tryResolve(cached)) return cached;
    const image = await this.engine.images.deriveConfig(stage.imageId, stage.config, stage.pending);
    this.intermediate.add(image.id);
    await this.engine.buildCache.set(key, image.id);
    return image.id;
  }

  private async from(ins: Instruction, text: string, stages: Stage[], opts: BuildOptions, globalArgs: Record<string, string>): Promise<Stage> {
    const m = /^(\S+)(?:\s+[Aa][Ss]\s+(\S+))?$/.exec(text.trim());
    if (!m) throw invalid(`${opts.dockerfileName}:${ins.line}: FROM needs an image, optionally followed by AS name`);
    const [, base, name] = m as unknown as [string, string, string | undefined];
    const previous = stages.find((s) => s.name === base.toLowerCase());
    let imageId: string;
    if (previous) imageId = previous.imageId;
    else if (base === 'scratch') {
      imageId = (await this.engine.images.scratch()).id;
      this.intermediate.add(imageId);
    }
    else {
      let found = opts.pull ? undefined : this.tryResolve(base);
      if (!found) {
        this.out(`Pulling ${base}\n`);
        found = await this.engine.puller.pull(base, {});
      }
      imageId = found.id;
    }
    const image = this.engine.images.resolve(imageId);
    return { name: name?.toLowerCase(), index: stages.length, imageId, config: { ...(image.config.config ?? {}) }, pending: [], args: { ...globalArgs } };
  }

  private tryResolve(name: string) {
    try { return this.engine.images.resolve(name); } catch { return undefined; }
  }

  /** The variables an instruction's text may use: the stage's ARGs, then its ENV. */
  private vars(stage: Stage): Record<string, string> {
    const env = Object.fromEntries((stage.config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    return { ...stage.args, ...env };
  }

  private async step(stage: Stage, ins: Instruction, where: string, opts: BuildOptions, stages: Stage[]): Promise<void> {
    const expand = (text: string) => substitute(text, this.vars(stage), where);
    const c = stage.config;
    switch (ins.keyword) {
      case 'RUN': return this.run(stage, ins, where);
      case 'COPY': case 'ADD': return this.copy(stage, ins, where, stages);
      case 'ARG': {
        const [name, value] = splitArg(ins.args);
        stage.args[name] = opts.buildArgs[name] ?? (value !== undefined ? expand(value) : stage.args[name] ?? '');
        stage.pending.push(nop(`ARG ${ins.args}`));
        return;
      }
      case 'ENV': {
        const env = [...(c.Env ?? [])];
        for (const [key, value] of keyValuePairs(ins.args, where)) {
          const expanded = substitute(value, this.vars(stage), where);
          const at = env.findIndex((e) => e.startsWith(`${key}=`));
          if (at >= 0) env[at] = `${key}=${expanded}`; else env.push(`${key}=${expanded}`);
          stage.config = { ...stage.config, Env: env };
        }
        break;
      }
      case 'LABEL': stage.config = { ...c, Labels: { ...(c.Labels ?? {}), ...Object.fromEntries(keyValuePairs(ins.args, where).map(([k, v]) => [expand(k), expand(v)])) } }; break;
      case 'MAINTAINER': stage.config = { ...c }; break;
      case 'EXPOSE': {
        const ports = { ...(c.ExposedPorts ?? {}) };
        for (const port of expand(ins.args).split(/\s+/)) {
          if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/.test(port)) throw invalid(`${where}invalid EXPOSE port ${JSON.stringify(port)}`);
          ports[port.includes('/') ? port : `${port}/tcp`] = {};
        }
        stage.config = { ...c, ExposedPorts: ports };
        break;
      }
      case 'VOLUME': {
        const volumes = { ...(c.Volumes ?? {}) };
        for (const v of ins.json ?? expand(ins.args).split(/\s+/)) volumes[v] = {};
        stage.config = { ...c, Volumes: volumes };
        break;
      }
      case 'USER': stage.config = { ...c, User: expand(ins.args) }; break;
      case 'WORKDIR': {
        const dir = expand(ins.args);
        stage.config = { ...c, WorkingDir: path.posix.resolve(c.WorkingDir || '/', dir) };
        break;
      }
      case 'CMD': stage.config = { ...c, Cmd: this.command(ins, c) }; break;
      case 'ENTRYPOINT': stage.config = { ...c, Entrypoint: ins.args === '' ? null : this.command(ins, c) }; break;
      case 'SHELL':
        if (!ins.json?.length) throw invalid(`${where}SHELL requires the arguments to be in JSON form`);
        stage.config = { ...c, Shell: ins.json };
        break;
      case 'STOPSIGNAL': stage.config = { ...c, StopSignal: expand(ins.args) }; break;
      case 'HEALTHCHECK': stage.config = { ...c, Healthcheck: parseHealthcheck(ins.args) }; break;
      case 'ONBUILD': throw invalid(`${where}ONBUILD is not supported yet`);
      default: throw invalid(`${where}unknown instruction: ${ins.keyword}`);
    }
    stage.pending.push(nop(ins.original));
  }

  private command(ins: Instruction, c: ContainerDefaults): string[] {
    return ins.json ?? [...(c.Shell?.length ? c.Shell : ['/bin/sh', '-c']), ins.args];
  }

  /**
   * RUN --mount: type=cache (a directory kept per user and id between builds), tmpfs, and bind (from the
   * context, read-only unless rw). Secrets and ssh are refused until they are supported.
   */
  private runMounts(ins: Instruction, where: string): { binds: string[]; tmpfs: Record<string, string> } {
    const binds: string[] = [];
    const tmpfs: Record<string, string> = {};
    for (const spec of (ins.flags.mount ?? '').split('\n').filter(Boolean)) {
      const opts = Object.fromEntries(spec.split(',').map((kv) => { const eq = kv.indexOf('='); return eq < 0 ? [kv, 'true'] : [kv.slice(0, eq), kv.slice(eq + 1)]; }));
      const target = opts.target ?? opts.dst ?? opts.destination;
      if (!target || !target.startsWith('/')) throw invalid(`${where}RUN --mount needs an absolute target=`);
      const type = opts.type ?? 'bind';
      if (type === 'cache') {
        const id = (opts.id ?? target).replace(/[^A-Za-z0-9_.-]/g, '_');
        const dir = path.join(this.engine.options.dataDir, 'build-cache', id);
        fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
        binds.push(`${dir}:${target}`);
      } else if (type === 'tmpfs') {
        tmpfs[target] = opts.size ? `size=${opts.size}` : '';
      } else if (type === 'bind') {
        const source = path.posix.normalize(`/${opts.source ?? opts.src ?? '.'}`);
        if (opts.from) throw invalid(`${where}RUN --mount=type=bind,from= is not supported yet`);
        binds.push(`${path.join(this.contextDir, source)}:${target}:${opts.rw === 'true' || opts.readwrite === 'true' ? 'rw' : 'ro'}`);
      } else {
        throw invalid(`${where}RUN --mount=type=${type} is not supported yet (cache, tmpfs and bind are)`);
      }
    }
    return { binds, tmpfs };
  }

  /** A container of the stage's current image, with the build's environment; removed by the caller. */
  private async container(stage: Stage, cmd: string[], mounts: { binds: string[]; tmpfs: Record<string, string> } = { binds: [], tmpfs: {} }, network = 'default') {
    const buildEnv = Object.entries(stage.args).filter(([k]) => !(stage.config.Env ?? []).some((e) => e.startsWith(`${k}=`))).map(([k, v]) => `${k}=${v}`);
    return this.engine.containers.create({
      config: {
        Image: stage.imageId, Cmd: cmd, Entrypoint: [], Env: [...(stage.config.Env ?? []), ...buildEnv],
        WorkingDir: stage.config.WorkingDir, User: stage.config.User, Labels: {},
      },
      hostConfig: { NetworkMode: network, Binds: mounts.binds, Tmpfs: mounts.tmpfs },
    });
  }

  /** The cached result of a layer step, taken over when there is one (and its image still exists). */
  private async fromCache(stage: Stage, key: string): Promise<boolean> {
    if (this.noCache) return false;
    const id = await this.engine.buildCache.get(key);
    if (!id || !this.tryResolve(id)) return false;
    this.out(' ---> Using cache\n');
    stage.imageId = id;
    stage.pending = [];
    return true;
  }

  private stepKey(stage: Stage, ...parts: unknown[]): string {
    return BuildCache.key([stage.imageId, stage.config, stage.pending.map((h) => h.created_by), stage.args, ...parts]);
  }

  private async commitLayer(stage: Stage, containerId: string, createdBy: string): Promise<void> {
    const { changesDir, driver } = this.engine.containers.changesOf(containerId);
    const image = await this.engine.images.commit({
      imageId: stage.imageId, changesDir, driver, containerConfig: stage.config, createdBy, changes: [], historyBefore: stage.pending,
    });
    stage.imageId = image.id;
    stage.pending = [];
    this.intermediate.add(image.id);
  }

  private async run(stage: Stage, ins: Instruction, where: string): Promise<void> {
    const cmd = this.command(ins, stage.config);
    const key = this.stepKey(stage, 'RUN', cmd, ins.flags);
    if (await this.fromCache(stage, key)) return;
    const network = ins.flags.network ?? 'default';
    if (!['default', 'none', 'host'].includes(network)) throw invalid(`${where}RUN --network=${network}: use default, none or host`);
    if (ins.flags.security) throw invalid(`${where}RUN --security is not supported`);
    const record = await this.container(stage, cmd, this.runMounts(ins, where), network);
    try {
      const session: AttachSession = { wantsStdout: true, wantsStderr: true, onOutput: (_s, data) => this.out(data.toString('utf8')), onEnd: () => {} };
      const attached = this.engine.containers.attach(record.Id, session);
      const exited = this.engine.containers.waitLater(record.Id, 'next-exit');
      this.out(` ---> Running in ${record.Id.slice(0, 12)}\n`);
      await this.engine.containers.start(record.Id);
      const code = await exited;
      attached.detach();
      if (code !== 0) {
        throw new EngineError('invalid_argument', `${where}The command '${cmd.join(' ')}' returned a non-zero code: ${code}`, { exitCode: 1 });
      }
      await this.commitLayer(stage, record.Id, ins.json ? ins.json.join(' ') : `${cmd.join(' ')}`);
      await this.engine.buildCache.set(key, stage.imageId);
    } finally {
      await this.engine.containers.remove(record.Id, { force: true, volumes: true }).catch(() => {});
    }
  }

  private async copy(stage: Stage, ins: Instruction, where: string, stages: Stage[]): Promise<void> {
    const parts = (ins.json ?? ins.args.split(/\s+/)).map((p) => substitute(p, this.vars(stage), where));
    if (parts.length < 2) throw invalid(`${where}${ins.keyword} requires at least two arguments: source and destination`);
    const dest = parts.at(-1)!;
    const sources = parts.slice(0, -1);
    const destAbs = path.posix.resolve(stage.config.WorkingDir || '/', dest);
    const intoDir = dest.endsWith('/') || sources.length > 1;
    const from = ins.flags.from;
    // The key: the sources' content (a stage's or image's ID for --from), never their times.
    let sourceKey: unknown;
    let fromImage: string | undefined;
    if (from) {
      const source = stages.find((s) => s.name === from.toLowerCase() || String(s.index) === from);
      fromImage = source ? source.imageId : (this.tryResolve(from) ?? (await this.engine.puller.pull(from, {}))).id;
      sourceKey = fromImage;
    } else {
      for (const pattern of sources) if (/^[a-z]+:\/\//.test(pattern)) throw invalid(`${where}${ins.keyword} from a URL is not supported yet`);
      sourceKey = treeChecksum(this.contextDir, sources.flatMap((p) => this.contextMatches(p, where)));
    }
    const key = this.stepKey(stage, ins.keyword, parts, ins.flags, sourceKey);
    if (await this.fromCache(stage, key)) return;
    const record = await this.container(stage, ['true']);
    try {
      const { rootfs } = await this.engine.containers.filesystemOf(record.Id);
      const owner = ins.flags.chown ? resolveUser(rootfs, substitute(ins.flags.chown, this.vars(stage), where)) : { uid: 0, gid: 0 };
      const mode = ins.flags.chmod ? parseInt(ins.flags.chmod, 8) : undefined;
      if (ins.flags.chmod && (!/^[0-7]{3,4}$/.test(ins.flags.chmod))) throw invalid(`${where}invalid --chmod ${JSON.stringify(ins.flags.chmod)}`);
      const put = async (tar: Readable, rename: (name: string) => string) => {
        const rewritten = rewriteTar(tar, (h) => ({ ...h, name: rename(h.name), uid: owner.uid, gid: owner.gid, uname: '', gname: '', ...(mode !== undefined && h.type !== 'directory' ? { mode } : {}) }));
        await extractInto({ rootfs, name: record.Id }, '/', rewritten, { noOverwriteDirNonDir: false });
      };
      const target = (srcIsDir: boolean, base: string) => (srcIsDir ? destAbs : intoDir ? path.posix.join(destAbs, base) : destAbs).replace(/^\/+/, '');
      if (from) {
        const helper = await this.engine.containers.create({ config: { Image: fromImage!, Cmd: ['true'], Entrypoint: [] }, hostConfig: {} });
        try {
          const fsOf = await this.engine.containers.filesystemOf(helper.Id);
          for (const src of sources) {
            const { stat, stream } = archivePath({ rootfs: fsOf.rootfs, name: from }, src);
            const isDir = (stat.mode & 0x80000000) !== 0;
            const base = path.posix.basename(src);
            await put(stream, (name) => {
              const rest = name === base ? '' : name.slice(base.length + 1);
              const root = target(isDir, base);
              return rest ? `${root}/${rest}` : root;
            });
          }
        } finally {
          await this.engine.containers.remove(helper.Id, { force: true, volumes: true }).catch(() => {});
        }
      } else {
        for (const pattern of sources) {
          const matches = this.contextMatches(pattern, where);
          for (const rel of matches) {
            const abs = path.join(this.contextDir, rel);
            const isDir = fs.lstatSync(abs).isDirectory();
            const base = path.basename(rel);
            const root = target(isDir, base) || '.';
            // A directory's content goes into the destination; a file is the destination (or goes into it).
            await put(isDir ? tarHostPath(abs, undefined, root) : tarHostPath(path.dirname(abs), base, root), (name) => name);
          }
        }
      }
      await this.commitLayer(stage, record.Id, `/bin/sh -c #(nop) ${ins.keyword} ${ins.args}`);
      await this.engine.buildCache.set(key, stage.imageId);
    } finally {
      await this.engine.containers.remove(record.Id, { force: true, volumes: true }).catch(() => {});
    }
  }

  /** Context paths a COPY source names: a path, or a glob (*, ?) in its last part; never outside the context. */
  private contextMatches(pattern: string, where: string): string[] {
    if (path.posix.normalize(pattern).split('/')[0] === '..') throw invalid(`${where}forbidden path outside the build context: ${pattern}`);
    const clean = path.posix.normalize(`/${pattern}`).slice(1);
    const dir = path.posix.dirname(clean);
    const base = path.posix.basename(clean);
    if (clean === '' || clean === '.') return ['.'];
    if (!/[*?[]/.test(base)) {
      if (!fs.existsSync(path.join(this.contextDir, clean))) throw invalid(`${where}COPY failed: file not found in build context: ${pattern}`);
      return [clean];
    }
    const re = new RegExp(`^${base.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
    let names: string[] = [];
    try { names = fs.readdirSync(path.join(this.contextDir, dir)); } catch { /* none */ }
    const found = names.filter((n) => re.test(n)).sort().map((n) => (dir === '.' ? n : `${dir}/${n}`));
    if (found.length === 0) throw invalid(`${where}COPY failed: no source files were specified by ${pattern}`);
    return found;
  }
}

function splitArg(text: string): [string, string | undefined] {
  const eq = text.indexOf('=');
  return eq < 0 ? [text.trim(), undefined] : [text.slice(0, eq).trim(), text.slice(eq + 1).replace(/^"(.*)"$/, '$1')];
}
