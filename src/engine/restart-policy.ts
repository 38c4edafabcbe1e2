import { invalid } from '../util/errors.js';

export interface RestartPolicy {
  Name: string;
  MaximumRetryCount?: number;
}

/** Checks a restart policy as Docker does; `--rm` cannot go with one. */
export function checkRestartPolicy(policy: RestartPolicy | undefined, autoRemove: boolean): void {
  const name = policy?.Name ?? '';
  if (!['', 'no', 'always', 'unless-stopped', 'on-failure'].includes(name)) throw invalid(`invalid restart policy ${JSON.stringify(name)}`);
  if ((policy?.MaximumRetryCount ?? 0) < 0) throw invalid('maximum retry count cannot be negative');
  if (name !== 'on-failure' && (policy?.MaximumRetryCount ?? 0) > 0) throw invalid(`maximum retry count cannot be used with restart policy '${name}'`);
  if (autoRemove && name !== '' && name !== 'no') throw invalid('conflicting options: cannot specify both --restart and --rm');
}

/** Whether a container that just exited is started again (Docker's rules). */
export function shouldRestart(policy: RestartPolicy | undefined, exitCode: number, restartCount: number, manuallyStopped: boolean): boolean {
  if (manuallyStopped) return false;
  switch (policy?.Name) {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure': {
      const max = policy.MaximumRetryCount ?? 0;
      return exitCode !== 0 && (max === 0 || restartCount < max);
    }
    default:
      return false;
  }
}

/** Whether the engine starts the container when it starts (always; unless-stopped unless stopped by hand). */
export function startsWithEngine(policy: RestartPolicy | undefined, manuallyStopped: boolean): boolean {
  return policy?.Name === 'always' || (policy?.Name === 'unless-stopped' && !manuallyStopped);
}

/** Docker's back-off: 100 ms doubling up to a minute; a run of 10 s or more starts over. */
export function restartDelayMs(previousDelayMs: number, ranForMs: number): number {
  if (ranForMs >= 10_000 || previousDelayMs === 0) return 100;
  return Math.min(previousDelayMs * 2, 60_000);
}

/** `--restart no|always|unless-stopped|on-failure[:N]`. */
export function parseRestartFlag(text: string): RestartPolicy {
  const [name, count] = text.split(':') as [string, string | undefined];
  if (count !== undefined && !/^\d+$/.test(count)) throw invalid(`invalid restart policy ${JSON.stringify(text)}: maximum retry count must be a number`);
  const policy: RestartPolicy = { Name: name, MaximumRetryCount: count === undefined ? 0 : Number(count) };
  checkRestartPolicy(policy, false);
  return policy;
}
