import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { checkHost } from '../rootless/host-check.js';
import { findExecutable } from '../util/find-executable.js';
import { PauseProcess, pausePidFile, readMapping } from '../rootless/user-namespace.js';
import { EngineError, unavailable } from '../util/errors.js';
import { roostPaths } from '../util/paths.js';
import { acquireDaemonLock } from './daemon-lock.js';
import { prepareRunDir, socketAnswers } from './socket.js';

/**
 * V8 flags for the long-lived engine: a 1 MB young generation keeps its memory near what it uses. Measured
 * here (PSS after 100 `run --rm`): ~40 MB with it, ~68 MB with V8's defaults, at the same run latency.
 * V8's memory reducer gives back the garbage of a burst of work (20 `run -d`: +6.8 MB private memory)
 * once the engine is idle; by default it starts 8 s after the burst (memory was back ~10 s later),
 * with 300 ms ~3 s later. It only runs while the engine allocates little, so it costs no run latency.
 */
export const daemonNodeFlags = ['--max-semi-space-size=1', '--gc-memory-reducer-start-delay-ms=300'];

/**
 * `roost daemon`, outside the user namespace: find or create the pause process that holds the
 * namespaces, then run the engine inside them (nsenter) as the namespace's root. In the foreground (a
 * terminal, a systemd unit) it stays, passing signals on and exiting with the engine; with `detach` (the
 * CLI's auto-start) the engine gets a session of its own and this process leaves once its socket answers.
 */
export async function runDaemonOutside(scriptPath: string, opts: { detach?: boolean } = {}): Promise<number> {
  const paths = roostPaths();
  prepareRunDir(paths);
  if (await socketAnswers(paths.socket)) {
    let pid = '';
    try { pid = fs.readFileSync(`${paths.runDir}/daemon.pid`, 'utf8').trim(); } catch { /* unknown */ }
    throw new EngineError('conflict', `a roost daemon is already running for this user${pid ? ` (pid ${pid})` : ''} on ${paths.socket}`);
  }
  const nsenter = findExecutable('nsenter');
  if (!nsenter) throw unavailable('nsenter (util-linux) is not installed', 'sudo apt-get install util-linux');
  // Taken before the namespaces are found or made (two starters at once would make two), and handed to the
  // engine, which holds it while it runs.
  const lock = await acquireDaemonLock(paths.runDir);
  if ('heldBy' in lock) throw new EngineError('conflict', `a roost daemon is already running for this user (pid ${lock.heldBy})`);
  const pause = new PauseProcess(pausePidFile(paths.runDir));
  let pid = pause.findExisting();
  let mapping;
  try {
    if (pid === undefined) ({ pid, mapping } = await pause.create());
    else mapping = readMapping(pid);
  } catch (err) {
    lock.release();
    throw err;
  }
  // Device access and subuid ranges are judged as the real user, outside the namespace.
  const findings = checkHost();
  // --preserve-credentials: our own uid and gid are the namespace's root already (both mappings put them at 0),
  // and nsenter's setgroups() is refused where setgroups is denied (single-id mapping).
  const child = spawn(nsenter, ['--target', String(pid), '--user', '--mount', '--preserve-credentials', '--', process.execPath, ...daemonNodeFlags, '--', scriptPath, 'daemon', '--in-namespace'], {
    stdio: 'inherit',
    detached: Boolean(opts.detach),
    cwd: '/',
    env: {
      ...process.env,
      ROOST_RUN_DIR: paths.runDir,
      ROOST_DATA_DIR: paths.dataDir,
      ROOST_ID_MAPPING: JSON.stringify(mapping),
      ROOST_HOST_FINDINGS: JSON.stringify(findings),
      ROOST_OUTER_UID: String(process.getuid!()),
      ROOST_OUTER_GID: String(process.getgid!()),
      ROOST_DAEMON_LOCK_FROM: String(process.pid),
    },
  });
  const exited = new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  if (opts.detach) {
    for (;;) {
      const code = await Promise.race([exited, new Promise<undefined>((resolve) => setTimeout(resolve, 20))]);
      if (code !== undefined) return code;
      if (await socketAnswers(paths.socket)) {
        child.unref();
        return 0;
      }
    }
  }
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGTERM', forward);
  process.on('SIGINT', forward);
  return exited;
}

/** Inside the namespaces: open the engine and serve the API until a signal stops it. */
export async function runDaemonInside(): Promise<number> {
  const paths = roostPaths();
  const { Engine } = await import('../engine/engine.js');
  const { createApiServer, listenUnix } = await import('../api/server.js');
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  if (await socketAnswers(paths.socket)) throw new EngineError('conflict', `a roost daemon is already running on ${paths.socket}`);
  // Held until the engine stops: another one started at the same moment (two first CLI calls) stops here.
  const handedBy = Number(process.env.ROOST_DAEMON_LOCK_FROM) || undefined;
  delete process.env.ROOST_DAEMON_LOCK_FROM;
  const lock = await acquireDaemonLock(paths.runDir, { takeOverFrom: handedBy });
  if ('heldBy' in lock) throw new EngineError('conflict', `a roost daemon is already running for this user (pid ${lock.heldBy})`);
  let engine;
  try {
    engine = await Engine.open({
      dataDir: paths.dataDir,
      runDir: paths.runDir,
      mapping: JSON.parse(process.env.ROOST_ID_MAPPING ?? '{"kind":"single","uidMap":"","gidMap":""}'),
      hostFindings: JSON.parse(process.env.ROOST_HOST_FINDINGS ?? '[]'),
      snapshotter: process.env.ROOST_STORAGE_DRIVER,
    });
  } catch (err) {
    lock.release();
    throw err;
  }
  // One client's broken connection must never take the engine down for every other client.
  process.on('uncaughtException', (err) => log(`internal error (kept running): ${err.stack ?? err.message}`));
  process.on('unhandledRejection', (err) => log(`internal error (kept running): ${err instanceof Error ? err.stack ?? err.message : String(err)}`));
  const server = createApiServer(engine, log);
  await listenUnix(server, paths.socket);
  fs.writeFileSync(`${paths.runDir}/daemon.pid`, `${process.pid}\n`);
  log(`roost daemon listening on ${paths.socket} (storage ${engine.snapshotter.name}, runtime ${engine.runtime.name})`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  // Containers keep running under their monitors; only the API goes away.
  server.close();
  fs.rmSync(paths.socket, { force: true });
  await engine.close();
  lock.release();
  return 0;
}
