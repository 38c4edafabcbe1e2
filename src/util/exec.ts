import { execa } from 'execa';
import { EngineError } from './errors.js';

/** Runs a host command; a failure becomes an EngineError carrying its stderr, never a stack trace. */
export async function runCommand(file: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const result = await execa(file, args, { reject: false, input: opts.input, timeout: opts.timeoutMs ?? 60_000, stripFinalNewline: true });
  if (result.failed) {
    const detail = (result.stderr || result.stdout || result.shortMessage || '').toString().trim().split('\n').slice(-3).join(' ');
    throw new EngineError('internal', `${file} ${args[0] ?? ''} failed: ${detail}`);
  }
  return String(result.stdout);
}
