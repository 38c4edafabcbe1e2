import os from 'node:os';
import path from 'node:path';

/** Where Roost keeps its files, per user. */
export interface RoostPaths {
  /** $XDG_RUNTIME_DIR/roost: socket, pids, runtime state (tmpfs on a normal host). */
  runDir: string;
  socket: string;
  /** $XDG_DATA_HOME/roost: images, snapshots, containers. */
  dataDir: string;
}

export function roostPaths(env: NodeJS.ProcessEnv = process.env): RoostPaths {
  const uid = process.getuid?.() ?? 0;
  // ROOST_* overrides keep the daemon inside the user namespace on the same paths as the CLI outside it.
  const runtimeBase = env.XDG_RUNTIME_DIR && env.XDG_RUNTIME_DIR !== '' ? env.XDG_RUNTIME_DIR : path.join(os.tmpdir(), `roost-run-${uid}`);
  const runDir = env.ROOST_RUN_DIR ?? path.join(runtimeBase, 'roost');
  const dataHome = env.XDG_DATA_HOME && env.XDG_DATA_HOME !== '' ? env.XDG_DATA_HOME : path.join(env.HOME ?? os.homedir(), '.local', 'share');
  const dataDir = env.ROOST_DATA_DIR ?? path.join(dataHome, 'roost');
  return { runDir, socket: path.join(runDir, 'roost.sock'), dataDir };
}
