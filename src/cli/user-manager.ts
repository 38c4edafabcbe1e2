import { unavailable } from '../util/errors.js';
import { findExecutable } from '../util/find-executable.js';

/** The user's systemd manager through `systemctl --user`, or why it cannot be reached from here. */
export type UserManager = { systemctl: string } | { reason: string };

const firstLine = (text: string) => text.trim().split('\n')[0] ?? '';

/** Reloads the manager's units; its answer is also how we learn whether one answers at all. */
export async function reloadUserManager(): Promise<UserManager> {
  const systemctl = findExecutable('systemctl');
  if (!systemctl) return { reason: 'systemctl is not installed' };
  const { spawnSync } = await import('node:child_process');
  const result = spawnSync(systemctl, ['--user', 'daemon-reload'], { encoding: 'utf8', timeout: 15_000 });
  if (result.status === 0) return { systemctl };
  return { reason: `systemctl --user found no user manager: ${firstLine(result.stderr ?? '') || result.error?.message || `exit status ${result.status}`}` };
}

/** Runs `systemctl --user ARGS`; a failure is a one-line error naming the command and what systemctl said. */
export async function systemctlUser(manager: { systemctl: string }, args: string[]): Promise<void> {
  const { spawnSync } = await import('node:child_process');
  const result = spawnSync(manager.systemctl, ['--user', ...args], { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) {
    throw unavailable(`systemctl --user ${args.join(' ')} failed: ${firstLine(result.stderr ?? '') || result.error?.message || `exit status ${result.status}`}`,
      'systemctl --user status roost.service and journalctl --user -u roost.service say more');
  }
}
