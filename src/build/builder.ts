import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { archivePath, extractInto, rewriteTar, tarHostPath } from '../engine/container-files.js';
import type { Engine } from '../engine/engine.js';
import type { AttachSession } from '../engine/containers.js';
import type { ContainerDefaults, HistoryEntry, ImageRecord } from '../image/types.js';
import { parseHealthcheck } from '../image/changes.js';
import { resolveUser } from '../runtime/user.js';
import { EngineError, invalid } from '../util/errors.js';
import { chompHeredoc, heredocMarkers, keyValuePairs, parseDockerfile, parseTrigger, substitute, type Heredoc, type Instruction } from './dockerfile.js';
import { archiveAt, decompressed, download, isUrl, localArchive, type Download } from './add-sources.js';
import { fetchGitSource, isGitSource, parseGitSource, type FetchedGit } from './git-source.js';
import { BuildCache } from './build-cache.js';
import type { BuildContext } from './build-context.js';
import { cachedLayer, keyComment, sameConfigImage, type LayerImage } from './cache-from.js';
import { runCommand, scriptDir } from './heredoc-command.js';
import { lockCaches } from './cache-sharing.js';
import { contextBindSources, missingPart, mountSources, removeStub, runMounts, type RunMounts } from './run-mounts.js';
import { checkPlatform, platformArgs } from './platform.js';
import { OrderedOutput } from './ordered-output.js';
import type { BuildMessage, StepEvent } from './step-events.js';
import { neededStages, planStages, stageRef, targetStage, type BuildPlan, type StagePlan } from './stage-plan.js';

/**
 * Builds an image from a Dockerfile and a context directory, the way Docker's classic builder does: each
 * RUN runs in a container of the engine (same runtime, namespaces and user) and its changes become a
 * layer; COPY/ADD extract files from the context (or another stage) into a container's root and commit
 * it; every other instruction only changes the config and adds a history entry. The stages the target needs
 * are built, independent ones at the same time (stage-plan.ts); each layer step is looked up in the build
 * cache first (build-cache.ts).
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
  /** `--secret id=x,src=file`: bytes by id, for RUN --mount=type=secret only. */
  secrets?: Record<string, Buffer>;
  /** `--platform`: only the host's own is accepted (there is no emulation). */
  platform?: string;
  /** `--cache-from`: local images whose layers a step may reuse when its key is theirs (cache-from.ts). */
  cacheFrom?: string[];
}

export type BuildOutput = (text: string) => void;
export type StepListener = (event: StepEvent) => void;

interface Stage {
  name?: string;
  index: number;
  imageId: string;
  config: ContainerDefaults;
  /** History entries of config-only steps since the last layer. */
  pending: HistoryEntry[];
  /** ARGs declared in this stage (a global ARG counts only once redeclared, as in Docker). */
  args: Record<string, string>;
  /** The ARGs before the first FROM and the automatic platform ARGs, which `ARG NAME` brings into the stage. */
  globals: Record<string, string>;
  /** This stage's share of the build output. */
  out: BuildOutput;
  /** Set when the current step was taken from the cache. */
  cached?: boolean;
}

/** One build: its plan, the stages' tasks (started at most once each) and the first failure. */
interface BuildRun {
  opts: BuildOptions;
  plan: BuildPlan;
  output: OrderedOutput<BuildMessage>;
  tasks: Map<number, Promise<Stage>>;
  globals: Record<string, string>;
  failed?: unknown;
  /** RUN containers running now: a failure elsewhere kills them rather than waiting for them to end. */
  running: Set<string>;
}

const nop = (text: string): HistoryEntry => ({ created: new Date().toISOString(), created_by: `/bin/sh -c #(nop)  ${text}`, empty_layer: true });

export class Builder {
  /** Images made on the way (one per layer step and stage end); those the cache does not keep go at the end. */
  private readonly intermediate = new Set<string>();
  private noCache = false;
  private secrets: Record<string, Buffer> = {};
  /** IDs of the --cache-from images found. */
  private cacheFrom: string[] = [];

  constructor(private readonly engine: Engine, private readonly context: BuildContext, private readonly out: BuildOutput, private readonly onStep?: StepListener) {}

  private show(message: BuildMessage): void {
    if ('text' in message) this.out(message.text);
    else this.onStep?.(message.step);
  }

  async build(opts: BuildOptions): Promise<string> {
    let result: string | undefined;
    this.noCache = Boolean(opts.noCache);
    this.secrets = opts.secrets ?? {};
    // As with Docker, a --cache-from image that is not here is skipped (the first build of a CI job has none).
    this.cacheFrom = [];
    for (const name of opts.cacheFrom ?? []) {
      const image = this.tryResolve(name);
      if (image) this.cacheFrom.push(image.id);
      else this.out(`--cache-from ${name}: no such local image, not used\n`);
    }
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
    const globals: Record<string, string> = platformArgs(checkPlatform(opts.platform, 'the build\'s --platform'));
    // ARGs before the first FROM: usable in FROM lines, and in a stage that redeclares them.
    for (const ins of instructions) {
      if (ins.keyword === 'FROM') break;
      const [name, value] = splitArg(ins.args);
      globals[name] = opts.buildArgs[name] ?? (value !== undefined ? substitute(value, globals, where(ins)) : globals[name] ?? '');
    }
    const plan = planStages(instructions, opts.dockerfileName, (ins) => substitute(ins.args, globals, where(ins)));
    const target = targetStage(plan, opts.target);
    const run: BuildRun = { opts, plan, output: new OrderedOutput((m) => this.show(m)), tasks: new Map(), globals, running: new Set() };
    for (const { ins, number } of plan.globals) {
      const step = { number, total: plan.total, text: ins.original };
      this.show({ step: { ...step, state: 'running' } });
      this.out(`Step ${number}/${plan.total} : ${ins.original}\n`);
      this.show({ step: { ...step, state: 'done', seconds: 0 } });
    }
    // Independent stages start together; each waits for the stages it reads when it needs them.
    for (const stage of neededStages(plan, target)) this.startStage(run, stage);
    try {
      const final = await this.startStage(run, target);
      if (Object.keys(opts.labels).length) final.config = { ...final.config, Labels: { ...final.config.Labels, ...opts.labels } };
      const imageId = await this.configImage(final);
      for (const tag of opts.tags) await this.engine.images.tag(imageId, tag);
      return imageId;
    } finally {
      // No stage may still be working when the build's leftovers are removed.
      await Promise.allSettled(run.tasks.values());
      run.output.flush();
      if (run.failed !== undefined) throw run.failed;
    }
  }

  /** The stage's task, started once; its failure stops the other stages at their next step. */
  private startStage(run: BuildRun, plan: StagePlan): Promise<Stage> {
    let task = run.tasks.get(plan.index);
    if (!task) {
      run.output.add(plan.index);
      task = this.buildStage(run, plan).catch((err: unknown) => {
        if (run.failed === undefined) {
          run.failed = err;
          for (const id of run.running) void this.engine.containers.kill(id).catch(() => { /* already ended */ });
        }
        throw err;
      });
      task.catch(() => { /* reported through run.failed */ });
      run.tasks.set(plan.index, task);
    }
    return task;
  }

  private async buildStage(run: BuildRun, plan: StagePlan): Promise<Stage> {
    const { opts } = run;
    const write = run.output.writer(plan.index);
    const out = (text: string) => write({ text });
    const where = (ins: Instruction) => `${opts.dockerfileName}:${ins.line}: `;
    // Each step is announced, then timed; the events travel with the text, so they keep its order.
    const timed = async (step: { ins: Instruction; number: number }, work: () => Promise<boolean>) => {
      const event = { number: step.number, total: run.plan.total, text: step.ins.original };
      const started = performance.now();
      write({ step: { ...event, state: 'running' } });
      out(`Step ${step.number}/${run.plan.total} : ${step.ins.original}\n`);
      const cached = await work();
      write({ step: { ...event, state: cached ? 'cached' : 'done', seconds: (performance.now() - started) / 1000 } });
    };
    try {
      let stage!: Stage;
      await timed(plan.from, async () => {
        stage = await this.from(run, plan, out);
        await this.onBuildTriggers(stage, plan.from.ins, where(plan.from.ins), run);
        return false;
      });
      for (const step of plan.steps) {
        if (run.failed !== undefined) throw run.failed;
        await timed(step, async () => {
          stage.cached = false;
          await this.step(stage, step.ins, where(step.ins), run);
          out(` ---> ${stage.pending.length ? 'config' : stage.imageId.slice(7, 19)}\n`);
          return stage.cached;
        });
      }
      // The target's config-only steps (and --label) go into the final image; other stages are finished here.
      return plan.index === targetStage(run.plan, opts.target).index ? stage : await this.finishStage(stage);
    } finally {
      run.output.done(plan.index);
    }
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
    if (!this.noCache) {
      const parent = this.engine.images.resolve(stage.imageId);
      const donor = this.cacheFrom.map((id) => this.tryResolve(id)).find((d) => d && sameConfigImage({ ...layerImage(d), config: d.config.config ?? {} }, layerImage(parent), stage.pending, stage.config));
      if (donor) {
        await this.engine.buildCache.set(key, donor.id);
        return donor.id;
      }
    }
    const image = await this.engine.images.deriveConfig(stage.imageId, stage.config, stage.pending);
    this.intermediate.add(image.id);
    await this.engine.buildCache.set(key, image.id);
    return image.id;
  }

  private async from(run: BuildRun, plan: StagePlan, out: BuildOutput): Promise<Stage> {
    const { opts } = run;
    const ins = plan.from.ins;
    if (ins.flags.platform !== undefined) checkPlatform(substitute(ins.flags.platform, run.globals, `${opts.dockerfileName}:${ins.line}: `), `${opts.dockerfileName}:${ins.line}: FROM --platform`);
    const previous = stageRef(run.plan, plan.base, plan.index, false);
    let imageId: string;
    if (previous) imageId = (await this.startStage(run, previous)).imageId;
    else if (plan.base === 'scratch') {
      imageId = (await this.engine.images.scratch()).id;
      this.intermediate.add(imageId);
    }
    else {
      let found = opts.pull ? undefined : this.tryResolve(plan.base);
      if (!found) {
        out(`Pulling ${plan.base}\n`);
        found = await this.engine.puller.pull(plan.base, {});
      }
      imageId = found.id;
    }
    const image = this.engine.images.resolve(imageId);
    return { name: plan.name, index: plan.index, imageId, config: { ...(image.config.config ?? {}) }, pending: [], args: {}, globals: { ...run.globals }, out };
  }

  /**
   * The base image's ONBUILD triggers run first, as if written right after FROM (errors point at the FROM
   * line); the new image does not inherit them.
   */
  private async onBuildTriggers(stage: Stage, ins: Instruction, where: string, run: BuildRun): Promise<void> {
    const triggers = stage.config.OnBuild ?? [];
    if (triggers.length === 0) return;
    stage.config = { ...stage.config, OnBuild: null };
    stage.out(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
    for (const text of triggers) {
      const trigger = parseTrigger(text, ins.line, run.opts.dockerfileName);
      stage.out(` ---> ONBUILD ${trigger.original}\n`);
      await this.step(stage, trigger, `${where}ONBUILD ${trigger.keyword}: `, run);
    }
  }

  private tryResolve(name: string) {
    try { return this.engine.images.resolve(name); } catch { return undefined; }
  }

  /** The variables an instruction's text may use: the stage's ARGs, then its ENV. */
  private vars(stage: Stage): Record<string, string> {
    const env = Object.fromEntries((stage.config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    return { ...stage.args, ...env };
  }

  private async step(stage: Stage, ins: Instruction, where: string, run: BuildRun): Promise<void> {
    const { opts } = run;
    const expand = (text: string) => substitute(text, this.vars(stage), where);
    const c = stage.config;
    switch (ins.keyword) {
      case 'RUN': return this.run(stage, ins, where, run);
      case 'COPY': case 'ADD': return this.copy(stage, ins, where, run);
      case 'ARG': {
        const [name, value] = splitArg(ins.args);
        stage.args[name] = opts.buildArgs[name] ?? (value !== undefined ? expand(value) : stage.args[name] ?? stage.globals[name] ?? '');
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
      case 'ONBUILD': {
        // Kept as written (expanded when it runs in the child build), as Docker records it.
        const trigger = parseTrigger(ins.args, ins.line, opts.dockerfileName);
        stage.config = { ...c, OnBuild: [...(c.OnBuild ?? []), trigger.original] };
        break;
      }
      default: throw invalid(`${where}unknown instruction: ${ins.keyword}`);
    }
    stage.pending.push(nop(ins.original));
  }

  private command(ins: Instruction, c: ContainerDefaults): string[] {
    return ins.json ?? [...(c.Shell?.length ? c.Shell : ['/bin/sh', '-c']), ins.args];
  }

  /** A container of the stage's current image, with the build's environment; removed by the caller. */
  private async container(stage: Stage, cmd: string[], mounts: Pick<RunMounts, 'binds' | 'tmpfs'> = { binds: [], tmpfs: {} }, network = 'default') {
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
    let id = await this.engine.buildCache.get(key);
    if (!id || !this.tryResolve(id)) {
      id = await this.fromCacheImages(stage, key);
      if (!id) return false;
      await this.engine.buildCache.set(key, id);
    }
    stage.out(' ---> Using cache\n');
    stage.cached = true;
    stage.imageId = id;
    stage.pending = [];
    return true;
  }

  /** The step's image made again from a --cache-from image that has its layer, if one has. */
  private async fromCacheImages(stage: Stage, key: string): Promise<string | undefined> {
    if (this.cacheFrom.length === 0) return undefined;
    const parent = this.engine.images.resolve(stage.imageId);
    for (const donorId of this.cacheFrom) {
      const donor = this.tryResolve(donorId);
      const history = donor && cachedLayer(layerImage(donor), layerImage(parent), stage.pending, key);
      if (!history) continue;
      const image = await this.engine.images.restoreLayer({ parentId: stage.imageId, donorId, defaults: stage.config, history });
      this.intermediate.add(image.id);
      return image.id;
    }
    return undefined;
  }

  private stepKey(stage: Stage, ...parts: unknown[]): string {
    return BuildCache.key([stage.imageId, stage.config, stage.pending.map((h) => h.created_by), stage.args, ...parts]);
  }

  /** The container's changes as the step's layer; its history entry carries the step's key for --cache-from. */
  private async commitLayer(stage: Stage, containerId: string, createdBy: string, key: string): Promise<void> {
    const { changesDir, driver } = this.engine.containers.changesOf(containerId);
    const image = await this.engine.images.commit({
      imageId: stage.imageId, changesDir, driver, containerConfig: stage.config, createdBy, changes: [], historyBefore: stage.pending, comment: keyComment(key),
    });
    stage.imageId = image.id;
    stage.pending = [];
    this.intermediate.add(image.id);
  }

  private async run(stage: Stage, ins: Instruction, where: string, build: BuildRun): Promise<void> {
    const { cmd, script } = runCommand(ins, stage.config.Shell?.length ? stage.config.Shell : ['/bin/sh', '-c']);
    const specs = (ins.flags.mount ?? '').split('\n').filter(Boolean);
    // Stages and images mounted with from= (bind or cache): their image IDs are part of the key, as COPY --from's are.
    const mountImages: Record<string, string> = {};
    for (const from of mountSources(specs)) mountImages[from] = await this.sourceImage(from, stage, build);
    // What a bind mount shows from the context is in the key, as BuildKit keys it (a missing source fails below).
    const contextMounts = contextBindSources(specs).map((source) => {
      const at = this.context.resolve(source, true);
      return [source, at === undefined ? '' : this.context.checksum([at])];
    });
    // Secrets are not part of the key: only the mount spec (ins.flags) is.
    const key = this.stepKey(stage, 'RUN', cmd, ins.flags, script, ...(Object.keys(mountImages).length ? [mountImages] : []), ...(contextMounts.length ? [{ contextMounts }] : []));
    if (await this.fromCache(stage, key)) return;
    const network = ins.flags.network ?? 'default';
    if (!['default', 'none', 'host'].includes(network)) throw invalid(`${where}RUN --network=${network}: use default, none or host`);
    if (ins.flags.security) throw invalid(`${where}RUN --security is not supported`);
    if (build.failed !== undefined) throw build.failed;
    const dataDir = this.engine.options.dataDir;
    fs.mkdirSync(path.join(dataDir, 'tmp'), { recursive: true });
    // Each source's root is a created container's, so rw writes land in that container and go with it.
    const helpers: string[] = [];
    const fromRoots: Record<string, string> = {};
    let mounts: RunMounts | undefined;
    let unlock: (() => void) | undefined;
    try {
      for (const [from, imageId] of Object.entries(mountImages)) {
        const helper = await this.engine.containers.create({ config: { Image: imageId, Cmd: ['true'], Entrypoint: [] }, hostConfig: {} });
        helpers.push(helper.Id);
        fromRoots[from] = (await this.engine.containers.filesystemOf(helper.Id)).rootfs;
      }
      mounts = runMounts({ specs, where, dataDir, contextSource: (source, writable) => this.context.materialize(source, writable), secrets: this.secrets, fromRoots, script: script && { dir: scriptDir, ...script } });
      unlock = mounts.locked.length ? await lockCaches(mounts.locked) : undefined;
      await this.runContainer(stage, ins, where, build, { cmd, key, network, mounts });
    } finally {
      unlock?.();
      mounts?.cleanup();
      for (const id of helpers) await this.engine.containers.remove(id, { force: true, volumes: true }).catch(() => {});
    }
  }

  /** The image a `from=` names: an earlier stage (by name or index, built first) or an image, pulled if missing. */
  private async sourceImage(from: string, stage: Stage, run: BuildRun): Promise<string> {
    const source = stageRef(run.plan, from, stage.index, true);
    return source ? (await this.startStage(run, source)).imageId : (this.tryResolve(from) ?? (await this.engine.puller.pull(from, {}))).id;
  }

  /** The RUN step's container: started with its mounts, its output shown, its changes committed and cached. */
  private async runContainer(stage: Stage, ins: Instruction, where: string, build: BuildRun, step: { cmd: string[]; key: string; network: string; mounts: RunMounts }): Promise<void> {
    const { cmd, key, network, mounts } = step;
    const record = await this.container(stage, cmd, mounts, network);
    try {
      // Mount points the runtime will create for file binds: noted now, removed from the layer after the run.
      const rootfs = mounts.stubs.length ? (await this.engine.containers.filesystemOf(record.Id)).rootfs : '';
      const stubs = mounts.stubs.map((target) => ({ target, top: missingPart(rootfs, target) })).filter((s) => s.top);
      const session: AttachSession = { wantsStdout: true, wantsStderr: true, onOutput: (_s, data) => stage.out(data.toString('utf8')), onEnd: () => {} };
      const attached = this.engine.containers.attach(record.Id, session);
      const exited = this.engine.containers.waitLater(record.Id, 'next-exit');
      stage.out(` ---> Running in ${record.Id.slice(0, 12)}\n`);
      build.running.add(record.Id);
      let code: number;
      try {
        await this.engine.containers.start(record.Id);
        code = await exited;
      } finally {
        build.running.delete(record.Id);
      }
      attached.detach();
      if (build.failed !== undefined) throw build.failed;
      if (code !== 0) {
        throw new EngineError('invalid_argument', `${where}The command '${cmd.join(' ')}' returned a non-zero code: ${code}`, { exitCode: 1 });
      }
      const { changesDir } = this.engine.containers.changesOf(record.Id);
      for (const stub of stubs) removeStub(changesDir, stub.top!, stub.target);
      await this.commitLayer(stage, record.Id, ins.json ? ins.json.join(' ') : `${cmd.join(' ')}`, key);
      await this.engine.buildCache.set(key, stage.imageId);
    } finally {
      await this.engine.containers.remove(record.Id, { force: true, volumes: true }).catch(() => {});
    }
  }

  private async copy(stage: Stage, ins: Instruction, where: string, run: BuildRun): Promise<void> {
    const isAdd = ins.keyword === 'ADD';
    const vars = this.vars(stage);
    // Heredoc sources (`COPY <<EOF /file`) are named by their marker; their bodies are expanded unless quoted.
    const docs = new Map<string, Heredoc>();
    heredocMarkers(ins.json ? '' : ins.args).forEach((m, i) => { if (ins.heredocs?.[i]) docs.set(m.marker, ins.heredocs[i]!); });
    const parts = (ins.json ?? ins.args.split(/\s+/)).map((p) => (docs.has(p) ? p : substitute(p, vars, where)));
    if (parts.length < 2) throw invalid(`${where}${ins.keyword} requires at least two arguments: source and destination`);
    const dest = parts.at(-1)!;
    const sources = parts.slice(0, -1);
    const destAbs = path.posix.resolve(stage.config.WorkingDir || '/', dest);
    const intoDir = dest.endsWith('/') || sources.length > 1;
    const from = ins.flags.from;
    const docText = (doc: Heredoc) => {
      const text = doc.expand ? substitute(doc.content, vars, where) : doc.content;
      return doc.chomp ? chompHeredoc(text) : text;
    };
    if (!isAdd && sources.some((s) => isUrl(s) || isGitSource(s))) throw invalid(`${where}COPY cannot copy from a URL: use ADD`);
    const isGit = (s: string) => isAdd && !docs.has(s) && isGitSource(s);
    if (ins.flags.checksum !== undefined && !sources.every((s) => isUrl(s) || isGit(s))) throw invalid(`${where}ADD --checksum needs http(s) URL or git sources`);
    const keepGitFlag = ins.flags['keep-git-dir'];
    if (keepGitFlag !== undefined && keepGitFlag !== 'true' && keepGitFlag !== 'false') throw invalid(`${where}ADD --keep-git-dir=${keepGitFlag}: use true or false`);
    const keepGitDir = keepGitFlag === 'true';
    if (keepGitDir && !sources.every(isGit)) throw invalid(`${where}ADD --keep-git-dir needs git sources`);
    // Heredoc bodies and downloads are staged in directories of their own (names may repeat), removed at the end.
    const scratchDirs: string[] = [];
    const newScratch = () => {
      fs.mkdirSync(path.join(this.engine.options.dataDir, 'tmp'), { recursive: true });
      scratchDirs.push(fs.mkdtempSync(path.join(this.engine.options.dataDir, 'tmp', 'build-add-')));
      return scratchDirs.at(-1)!;
    };
    try {
      // The key: the sources' content (a stage's or image's ID for --from, a download's digest), never their times.
      const downloads = new Map<string, Download>();
      const repositories = new Map<string, FetchedGit & { subdir: string }>();
      let sourceKey: unknown;
      let fromImage: string | undefined;
      if (from) {
        fromImage = await this.sourceImage(from, stage, run);
        sourceKey = fromImage;
      } else {
        for (const source of sources.filter(isGit)) {
          const git = parseGitSource(source, where);
          stage.out(`Fetching ${git.url}${git.ref ? ` ${git.ref}` : ''}\n`);
          repositories.set(source, { ...(await fetchGitSource(git, newScratch(), where, { keepGitDir, checksum: ins.flags.checksum })), subdir: git.subdir });
        }
        for (const url of sources.filter((s) => isUrl(s) && !isGit(s))) {
          stage.out(`Downloading ${url}\n`);
          downloads.set(url, await download(url, newScratch(), ins.flags.checksum, where));
        }
        const local = sources.filter((s) => !docs.has(s) && !isUrl(s) && !isGit(s));
        sourceKey = {
          tree: local.length ? this.context.checksum(local.flatMap((p) => this.contextMatches(p, where))) : '',
          docs: sources.filter((s) => docs.has(s)).map((s) => docText(docs.get(s)!)),
          urls: [...downloads.values()].map((d) => [d.name, d.digest, d.mtime?.getTime()]),
          ...(repositories.size ? { git: [...repositories.values()].map((r) => [r.commit, r.subdir]) } : {}),
        };
      }
      const key = this.stepKey(stage, ins.keyword, parts, ins.flags, sourceKey);
      if (await this.fromCache(stage, key)) return;
      const record = await this.container(stage, ['true']);
      try {
        const { rootfs } = await this.engine.containers.filesystemOf(record.Id);
        const chown = ins.flags.chown ? resolveUser(rootfs, substitute(ins.flags.chown, vars, where)) : undefined;
        const owner = chown ?? { uid: 0, gid: 0 };
        const mode = ins.flags.chmod ? parseInt(ins.flags.chmod, 8) : undefined;
        if (ins.flags.chmod && (!/^[0-7]{3,4}$/.test(ins.flags.chmod))) throw invalid(`${where}invalid --chmod ${JSON.stringify(ins.flags.chmod)}`);
        const root = { rootfs, name: record.Id };
        // With --chown, the directories the destination needs and the image lacks are the new owner's too, as
        // buildah and BuildKit make them (not root's, as the extraction below would).
        if (chown) makeMissingDirs(rootfs, intoDir ? destAbs : path.posix.dirname(destAbs), chown);
        const put = async (tar: Readable, rename: (name: string) => string) => {
          const rewritten = rewriteTar(tar, (h) => ({ ...h, name: rename(h.name), uid: owner.uid, gid: owner.gid, uname: '', gname: '', ...(mode !== undefined && h.type !== 'directory' ? { mode } : {}) }));
          await extractInto(root, '/', rewritten, { noOverwriteDirNonDir: false });
        };
        const target = (srcIsDir: boolean, base: string) => (srcIsDir ? destAbs : intoDir ? path.posix.join(destAbs, base) : destAbs).replace(/^\/+/, '');
        const putFile = (dir: string, name: string) => put(tarHostPath(dir, name, target(false, name)), (n) => n);
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
                const top = target(isDir, base);
                return rest ? `${top}/${rest}` : top;
              });
            }
          } finally {
            await this.engine.containers.remove(helper.Id, { force: true, volumes: true }).catch(() => {});
          }
        } else {
          for (const source of sources) {
            const doc = docs.get(source);
            if (doc) {
              const dir = newScratch();
              fs.writeFileSync(path.join(dir, doc.name), docText(doc), { mode: 0o644 });
              await putFile(dir, doc.name);
              continue;
            }
            const repository = repositories.get(source);
            if (repository) {
              // A repository is added as a directory: its content goes into the destination.
              await put(tarHostPath(repository.dir, undefined, target(true, '') || '.'), (name) => name);
              continue;
            }
            const fetched = downloads.get(source);
            if (fetched) {
              await putFile(path.dirname(fetched.file), fetched.name);
              continue;
            }
            for (const rel of this.contextMatches(source, where)) {
              const entry = this.context.entry(rel)!;
              const isDir = entry.type === 'directory';
              // ADD reads a local archive from a file of its own (written out only for ADD).
              const abs = isAdd && entry.type === 'file' ? this.context.materialize(rel)! : undefined;
              const compression = abs ? await localArchive(abs) : undefined;
              if (abs && compression) {
                const prefix = `${where}ADD ${rel}: `;
                await extractInto(root, '/', archiveAt(decompressed(abs, compression), destAbs, chown, prefix), { noOverwriteDirNonDir: false }).catch((err: unknown) => {
                  // Every failure of the archive names the line and the file, once.
                  const failure = err instanceof EngineError ? err : new EngineError('invalid_argument', String((err as Error)?.message ?? err));
                  throw failure.message.startsWith(where) ? failure : new EngineError(failure.code, `${prefix}${failure.message}`, { hint: failure.hint, cause: failure });
                });
                continue;
              }
              const base = path.posix.basename(rel);
              const top = target(isDir, base) || '.';
              // A directory's content goes into the destination; a file is the destination (or goes into it).
              await put(this.context.tar(rel, top), (name) => name);
            }
          }
        }
        await this.commitLayer(stage, record.Id, `/bin/sh -c #(nop) ${ins.keyword} ${ins.args}`, key);
        await this.engine.buildCache.set(key, stage.imageId);
      } finally {
        await this.engine.containers.remove(record.Id, { force: true, volumes: true }).catch(() => {});
      }
    } finally {
      for (const dir of scratchDirs) fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  /**
   * The context entries a COPY source names (their canonical names, '' for the root): a path, or a glob (*, ?)
   * in its last part; symlinks on the way are resolved inside the context, never outside it.
   */
  private contextMatches(pattern: string, where: string): string[] {
    if (path.posix.normalize(pattern).split('/')[0] === '..') throw invalid(`${where}forbidden path outside the build context: ${pattern}`);
    const clean = path.posix.normalize(`/${pattern}`).slice(1);
    const dir = path.posix.dirname(clean);
    const base = path.posix.basename(clean);
    if (clean === '' || clean === '.') return [''];
    if (!/[*?[]/.test(base)) {
      // A trailing slash (`COPY deps/ …`) names the directory a symlink points to, as on a filesystem.
      const found = this.context.resolve(clean, pattern.endsWith('/'));
      if (found === undefined) throw invalid(`${where}COPY failed: file not found in build context: ${pattern}`);
      return [found];
    }
    const re = new RegExp(`^${base.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
    const at = dir === '.' ? '' : this.context.resolve(dir, true);
    const names = at === undefined ? [] : this.context.list(at);
    const found = names.filter((n) => re.test(n)).map((n) => (at === '' ? n : `${at}/${n}`));
    if (found.length === 0) throw invalid(`${where}COPY failed: no source files were specified by ${pattern}`);
    return found;
  }
}

/**
 * Creates the missing directories of `dir` (absolute in the image) under `rootfs`, mode 0755, owned by `owner`.
 * Stops, creating nothing, at an existing component that is not a plain directory (a symlink is left to the
 * extraction code, which resolves it inside the root).
 */
function makeMissingDirs(rootfs: string, dir: string, owner: { uid: number; gid: number }): void {
  let at = rootfs;
  for (const part of dir.split('/').filter(Boolean)) {
    at = path.join(at, part);
    let stat: fs.Stats | undefined;
    try { stat = fs.lstatSync(at); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; }
    if (stat && !stat.isDirectory()) return;
    if (stat) continue;
    fs.mkdirSync(at, { mode: 0o755 });
    fs.chmodSync(at, 0o755); // not narrowed by the umask
    fs.lchownSync(at, owner.uid, owner.gid);
  }
}

function layerImage(image: ImageRecord): LayerImage {
  return { diffIds: image.config.rootfs.diff_ids, history: image.config.history ?? [] };
}

function splitArg(text: string): [string, string | undefined] {
  const eq = text.indexOf('=');
  return eq < 0 ? [text.trim(), undefined] : [text.slice(0, eq).trim(), text.slice(eq + 1).replace(/^"(.*)"$/, '$1')];
}
