import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from '../command.js';

/**
 * `roost tui`: the terminal dashboard. Its code (Ink and React) is a bundle of its own, dist/tui/entry.js,
 * loaded only here so that every other command starts as fast as before.
 */
const tui: Command = {
  name: 'tui', synopsis: '[OPTIONS]', description: 'Open the terminal dashboard (a snapshot table when not on a terminal)',
  flags: [
    { name: 'readonly', type: 'bool', help: 'Look only: actions that change containers, images, volumes or networks are disabled' },
    { name: 'json', type: 'bool', help: 'Print a JSON snapshot of containers, images, volumes and networks, and exit' },
  ],
  maxArgs: 0,
  async run(ctx) {
    const entry = pathToFileURL(path.join(path.dirname(ctx.scriptPath), '..', 'dist', 'tui', 'entry.js')).href;
    const { runTui, EngineApi } = (await import(entry)) as typeof import('../../tui/run-tui.js');
    const { connectDaemon } = await import('../daemon-client.js');
    const api = new EngineApi(await ctx.client());
    return runTui({
      api,
      reconnect: async () => new EngineApi(await connectDaemon(ctx.scriptPath)),
      readonly: Boolean(ctx.args.flags.readonly),
      json: Boolean(ctx.args.flags.json),
    });
  },
};

export const tuiCommands: Command[] = [tui];
