import os from 'node:os';
import path from 'node:path';

export const serviceName = 'roost.service';

/** Where the user's systemd manager looks for units the user wrote: $XDG_CONFIG_HOME/systemd/user. */
export function userUnitDir(env: NodeJS.ProcessEnv = process.env): string {
  const configHome = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : path.join(env.HOME ?? os.homedir(), '.config');
  return path.join(configHome, 'systemd', 'user');
}

/**
 * One word of a unit file's command line (or, with inCommand false, an Environment= assignment): quoted when it
 * holds blanks or quotes; % doubled (specifiers), and $ on a command line (variable expansion).
 */
export function systemdWord(word: string, inCommand = true): string {
  const escaped = inCommand ? word.replace(/%/g, '%%').replace(/\$/g, '$$$$') : word.replace(/%/g, '%%');
  return /[\s"'\\;]/.test(escaped) || escaped === '' ? `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : escaped;
}

/** The storage and config locations the installing CLI uses, so the service's daemon finds the same images and containers. */
const pinnedVariables = ['XDG_DATA_HOME', 'XDG_CONFIG_HOME', 'ROOST_STORAGE_DRIVER', 'ROOST_RUNTIME'];

/**
 * The user unit that runs `roost daemon` (this install's node and script). Delegate=yes gives the daemon a
 * cgroup subtree for pause and resource limits; KillMode=process stops only the daemon, since containers
 * outlive it (their monitors stay); Restart=on-failure brings it back, and with it the containers whose
 * restart policy is always or unless-stopped.
 */
export function renderServiceUnit(opts: { nodePath: string; scriptPath: string; env?: NodeJS.ProcessEnv }): string {
  const env = opts.env ?? process.env;
  const environment = pinnedVariables.filter((name) => env[name] !== undefined && env[name] !== '')
    .map((name) => `Environment=${systemdWord(`${name}=${env[name]}`, false)}`);
  return [
    '# Written by `roost system service install`; `roost system service uninstall` removes it.',
    '[Unit]',
    'Description=Roost rootless container engine',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${[opts.nodePath, '--', opts.scriptPath, 'daemon'].map((word) => systemdWord(word)).join(' ')}`,
    ...environment,
    '# A cgroup subtree of its own, for pause and resource limits.',
    'Delegate=yes',
    '# Containers outlive the daemon: stopping the service ends the daemon only.',
    'KillMode=process',
    'Restart=on-failure',
    'RestartSec=2',
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n');
}
