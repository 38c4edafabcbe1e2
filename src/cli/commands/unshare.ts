import fs from 'node:fs';
import path from 'node:path';
import { unavailable } from '../../util/errors.js';
import { roostPaths } from '../../util/paths.js';
import type { Command } from '../command.js';

/**
 * `roost unshare [COMMAND...]`: a shell (or COMMAND) inside the engine's user and mount namespaces, as
 * their root, where files of volumes and containers show their container owners and can be chowned or
 * removed (as podman unshare).
 */
const unshare: Command = {
  name: 'unshare', synopsis: '[COMMAND [ARG...]]', description: "Run a command in Roost's user namespace (fix ownership of volume files)",
  flags: [], stopAtPositional: true,
  async run(ctx) {
    // The daemon makes the namespaces; connecting starts it when needed.
    (await ctx.client()).close();
    const paths = roostPaths();
    let pid: string;
    try {
      pid = fs.readFileSync(path.join(paths.runDir, 'pause.pid'), 'utf8').trim();
    } catch {
      throw unavailable('the engine\'s namespaces are not there', 'run `roost info` to start the daemon');
    }
    const command = ctx.args.positionals.length ? ctx.args.positionals : [process.env.SHELL || '/bin/sh'];
    const { spawn } = await import('node:child_process');
    const child = spawn('nsenter', ['--target', pid, '--user', '--mount', '--preserve-credentials', '--', ...command], {
      stdio: 'inherit',
      env: { ...process.env, ROOST_UNSHARED: '1', ROOST_DATA_DIR: paths.dataDir },
    });
    return new Promise((resolve) => {
      child.on('error', (err) => {
        process.stderr.write(`roost: cannot run nsenter: ${err.message}\n`);
        resolve(125);
      });
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
  },
};

export const unshareCommands: Command[] = [unshare];
