import fs from 'node:fs';
import net from 'node:net';
import { unavailable } from '../util/errors.js';
import type { RoostPaths } from '../util/paths.js';

// Kept apart from run-daemon.ts: every CLI call needs these, and nothing heavier should load with them.

/** Makes $XDG_RUNTIME_DIR/roost (0700) and refuses one owned by someone else. */
export function prepareRunDir(paths: RoostPaths): void {
  fs.mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
  const stat = fs.statSync(paths.runDir);
  if (stat.uid !== process.getuid!()) throw unavailable(`${paths.runDir} belongs to another user`, 'set XDG_RUNTIME_DIR to a directory of your own');
  fs.chmodSync(paths.runDir, 0o700);
}

export function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.createConnection(socketPath);
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}
