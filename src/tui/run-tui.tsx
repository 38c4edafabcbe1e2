/**
 * `roost tui`: the dashboard's entry (bundled on its own as dist/tui/entry.js, loaded only by this
 * command). Without a terminal it prints a snapshot and exits.
 */
import { render, type Instance } from 'ink';
import { asEngineError } from '../util/errors.js';
import { App } from './components/app.js';
import { Controller, type TuiHost } from './controller.js';
import type { EngineApi } from './engine-api.js';
import { snapshot } from './snapshot.js';
import { initialState } from './state.js';
import { Store } from './store.js';
import { TerminalScreen } from './terminal.js';

export { EngineApi } from './engine-api.js';

export interface TuiOptions {
  api: EngineApi;
  reconnect(): Promise<EngineApi>;
  readonly: boolean;
  json: boolean;
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
}

export async function runTui(opts: TuiOptions): Promise<number> {
  const stdin = opts.stdin ?? process.stdin;
  const stdout = opts.stdout ?? process.stdout;
  if (opts.json || !stdout.isTTY || !stdin.isTTY) {
    stdout.write(await snapshot(opts.api, { json: opts.json, columns: stdout.columns || 120 }));
    return 0;
  }
  const mono = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '';
  const store = new Store(initialState({ columns: stdout.columns || 80, rows: stdout.rows || 24, readonly: opts.readonly, mono }));
  const screen = new TerminalScreen(stdout);
  let ink: Instance | undefined;
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => { finish = resolve; });

  const draw = () => {
    ink = render(<App controller={controller} />, { stdin, stdout, exitOnCtrlC: false, patchConsole: true, maxFps: 30 });
  };
  const close = (code: number) => {
    controller.stop();
    ink?.unmount();
    ink = undefined;
    screen.leave();
    finish(code);
  };
  const host: TuiHost = {
    quit: () => close(0),
    copy: (text) => screen.copy(text),
    async suspend(run) {
      ink?.unmount();
      ink = undefined;
      screen.leave();
      stdin.pause();
      try {
        await run();
      } finally {
        screen.enter();
        draw();
      }
    },
    io: { stdin, stdout },
  };
  const controller = new Controller(store, opts.api, host, { reconnect: opts.reconnect });

  const onSignal = (signal: NodeJS.Signals) => close(signal === 'SIGHUP' ? 129 : 143);
  const onCrash = (err: unknown) => {
    close(1);
    process.stderr.write(`roost tui: ${asEngineError(err).message}\n`);
    process.exit(1);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);

  screen.enter();
  draw();
  controller.start();
  const code = await done;
  process.off('SIGTERM', onSignal);
  process.off('SIGHUP', onSignal);
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);
  return code;
}
