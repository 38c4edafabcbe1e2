import fs from 'node:fs';
import path from 'node:path';
import type { Command } from '../command.js';
import { notFound } from '../../util/errors.js';
import { renderServiceUnit, serviceName, userUnitDir } from '../service-unit.js';
import { reloadUserManager, systemctlUser } from '../user-manager.js';

/** What the user runs in a session whose systemd manager answers, when this process cannot reach it. */
function fallback(reason: string, commands: string[]): string {
  return `${reason}; run in your login session:\n${commands.map((c) => `  ${c}\n`).join('')}`;
}

const install: Command = {
  name: 'system service install', synopsis: '[OPTIONS]',
  description: 'Write a systemd user unit that runs the daemon at login, and enable it',
  flags: [{ name: 'now', type: 'bool', help: 'Start the service now as well' }],
  maxArgs: 0,
  async run(ctx) {
    const unitFile = path.join(userUnitDir(), serviceName);
    fs.mkdirSync(path.dirname(unitFile), { recursive: true });
    const existed = fs.existsSync(unitFile);
    const { writeFileAtomic } = await import('../../fs/atomic.js');
    await writeFileAtomic(unitFile, renderServiceUnit({ nodePath: process.execPath, scriptPath: ctx.scriptPath }));
    fs.chmodSync(unitFile, 0o644);
    process.stdout.write(`${existed ? 'Updated' : 'Wrote'} ${unitFile}\n`);
    const now = ctx.args.flags.now === true;
    const enable = ['enable', ...(now ? ['--now'] : []), serviceName];
    const manager = await reloadUserManager();
    if ('reason' in manager) {
      process.stdout.write(fallback(manager.reason, ['systemctl --user daemon-reload', `systemctl --user ${enable.join(' ')}`]));
      return 0;
    }
    await systemctlUser(manager, enable);
    process.stdout.write(`Enabled ${serviceName}: the daemon starts at login${now ? ', and runs now' : ''}; \`loginctl enable-linger\` starts it at boot\n`);
    return 0;
  },
};

const uninstall: Command = {
  name: 'system service uninstall', synopsis: '',
  description: 'Stop and disable the systemd user unit and remove it (containers keep running)',
  flags: [],
  maxArgs: 0,
  async run() {
    const unitDir = userUnitDir();
    const unitFile = path.join(unitDir, serviceName);
    if (!fs.existsSync(unitFile)) throw notFound(`${serviceName} is not installed: there is no ${unitFile}`);
    const manager = await reloadUserManager();
    if (!('reason' in manager)) await systemctlUser(manager, ['disable', '--now', serviceName]);
    fs.rmSync(unitFile);
    // Without a manager to ask, undo `enable` by hand: it is this one link.
    fs.rmSync(path.join(unitDir, 'default.target.wants', serviceName), { force: true });
    process.stdout.write(`Removed ${unitFile}\n`);
    if ('reason' in manager) {
      process.stdout.write(fallback(manager.reason, [`systemctl --user stop ${serviceName}`, 'systemctl --user daemon-reload']));
      return 0;
    }
    await systemctlUser(manager, ['daemon-reload']);
    process.stdout.write(`Stopped and disabled ${serviceName}\n`);
    return 0;
  },
};

export const serviceCommands: Command[] = [install, uninstall];
