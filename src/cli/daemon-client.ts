import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient } from '../api/client.js';
import { daemonLockHolder } from '../daemon/daemon-lock.js';
import { prepareRunDir, socketAnswers } from '../daemon/socket.js';
import { EngineError } from '../util/errors.js';
import { roostPaths } from '../util/paths.js';

/** Returns a client for the user's daemon, starting `roost daemon` in the background when needed. */
export async function connectDaemon(scriptPath: string): Promise<ApiClient> {
  const paths = roostPaths();
  if (await socketAnswers(paths.socket)) return new ApiClient(paths.socket);
  prepareRunDir(paths);
  const logFile = path.join(paths.runDir, 'daemon.log');
  // Loaded only here: most calls find the daemon answering.
  const { spawn } = await import('node:child_process');
  const logFd = fs.openSync(logFile, 'a', 0o600);
  // --detach: the outer process leaves once the engine answers (it would only wait for it, ~14 MB PSS).
  const child = spawn(process.execPath, ['--', scriptPath, 'daemon', '--detach'], { detached: true, stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  let exited = false;
  child.on('exit', () => { exited = true; });
  child.unref();
  for (let i = 0; i < 300; i++) {
    if (await socketAnswers(paths.socket)) return new ApiClient(paths.socket);
    // With --detach it exits once the socket answers: look once more before calling it a failure. It also
    // exits when another call's daemon, starting at the same moment, holds the engine's lock: wait for that one.
    if (exited) {
      if (await socketAnswers(paths.socket)) return new ApiClient(paths.socket);
      if (daemonLockHolder(paths.runDir) === undefined) break;
    }
    await sleep(i < 20 ? 10 : 50);
  }
  const tail = fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-1)[0] ?? '';
  throw new EngineError('unavailable', `the roost daemon did not start${tail ? `: ${tail.replace(/^roost: /, '')}` : ''}`, { hint: `see ${logFile}` });
}
