import type { ApiClient } from '../api/client.js';
import type { FlagSpec, ParsedArgs } from './args.js';

export interface CommandContext {
  args: ParsedArgs;
  /** Connects to the daemon, starting it first when its socket does not answer. */
  client(): Promise<ApiClient>;
  /** bin/roost.js: what runs `roost` again (the dashboard's exec and attach, a restarted daemon). */
  scriptPath: string;
}

export interface Command {
  name: string;
  synopsis: string;
  description: string;
  flags: FlagSpec[];
  stopAtPositional?: boolean;
  minArgs?: number;
  maxArgs?: number;
  /** Resolves with the exit status. */
  run(ctx: CommandContext): Promise<number>;
}

export const formatFlag: FlagSpec = { name: 'format', type: 'string', help: "Format output using a custom template: 'table', 'json', or a Go template" };
