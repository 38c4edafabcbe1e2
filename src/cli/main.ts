import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { parseArgs, usage } from './args.js';
import type { Command } from './command.js';
import { asEngineError, EngineError, invalid } from '../util/errors.js';

// Built as one CommonJS file (dist/cli.cjs, the fastest for Node to load) whose __filename is set; under
// tsx it runs as an ES module. The daemon is a bundle of its own, loaded only by `roost daemon`.
const cliDir = typeof __filename === 'string' ? path.dirname(__filename) : path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist');
const scriptPath = path.resolve(cliDir, '..', 'bin', 'roost.js');
const daemonEntry = pathToFileURL(path.join(cliDir, 'daemon', 'entry.js')).href;
const daemonUsage = `Usage:  roost daemon [--detach]

Run this user's engine in the foreground (the CLI starts it in the background when its socket does not
answer). It serves the Docker Engine API on $XDG_RUNTIME_DIR/roost/roost.sock; SIGTERM or SIGINT stop it.

Options:
      --detach   Return once the socket answers, the engine left running in the background
`;

/** Docker's management-command spellings that map onto the flat commands. */
const aliases: Record<string, string> = {
  'container run': 'run', 'container create': 'create', 'container start': 'start', 'container stop': 'stop',
  'container restart': 'restart', 'container kill': 'kill', 'container rm': 'rm', 'container wait': 'wait',
  'container rename': 'rename', 'container port': 'port', 'container update': 'update', 'container ls': 'ps', 'container list': 'ps', 'container ps': 'ps', 'container logs': 'logs',
  'container exec': 'exec', 'container attach': 'attach', 'container inspect': 'inspect',
  'container cp': 'cp', 'container diff': 'diff', 'container export': 'export',
  'container top': 'top', 'container stats': 'stats', 'container pause': 'pause', 'container unpause': 'unpause',
  'image ls': 'images', 'image list': 'images', 'image load': 'load', 'image save': 'save', 'image import': 'import',
  'image tag': 'tag', 'image rm': 'rmi', 'image history': 'history', 'image pull': 'pull', 'image push': 'push', 'image build': 'build', 'builder build': 'build', 'system info': 'info',
  'volume list': 'volume ls', 'volume remove': 'volume rm', 'network list': 'network ls', 'network remove': 'network rm',
};

async function loadCommands(): Promise<Command[]> {
  const [{ containerCommands }, { imageCommands }, { systemCommands }, { volumeCommands }, { unshareCommands }, { monitoringCommands }, { fileCommands }, { registryCommands }, { buildCommands }, { networkCommands }, { tuiCommands }] = await Promise.all([
    import('./commands/containers.js'), import('./commands/images.js'), import('./commands/system.js'), import('./commands/volumes.js'),
    import('./commands/unshare.js'), import('./commands/monitoring.js'), import('./commands/files.js'), import('./commands/registry.js'),
    import('./commands/build.js'), import('./commands/networks.js'), import('./commands/tui.js'),
  ]);
  return [...containerCommands, ...imageCommands, ...systemCommands, ...volumeCommands, ...unshareCommands, ...monitoringCommands, ...fileCommands, ...registryCommands, ...buildCommands, ...networkCommands, ...tuiCommands];
}

function topUsage(commands: Command[]): string {
  const rows = commands.map((c) => `  ${c.name.padEnd(16)} ${c.description}`);
  return `Usage:  roost [OPTIONS] COMMAND\n\nA rootless, Docker-compatible container engine\n\nCommands:\n  daemon           Run the engine in the foreground\n${rows.join('\n')}\n\nGlobal options:\n  --debug          Show the cause of errors\n\nRun 'roost COMMAND --help' for more information on a command.\n`;
}

function printError(err: EngineError, debug: boolean): void {
  process.stderr.write(`roost: ${err.message}\n`);
  if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
  if (debug) {
    let cause = (err as Error).cause;
    while (cause) {
      process.stderr.write(`cause: ${cause instanceof Error ? cause.stack ?? cause.message : String(cause)}\n`);
      cause = cause instanceof Error ? cause.cause : undefined;
    }
  }
}

async function main(argv: string[]): Promise<number> {
  let debug = false;
  while (argv[0]?.startsWith('-')) {
    const flag = argv.shift()!;
    if (flag === '--debug' || flag === '-D') debug = true;
    else if (flag === '--help' || flag === '-h') argv.unshift('help');
    else if (flag === '--version' || flag === '-v') argv.unshift('version');
    else throw invalid(`unknown flag: ${flag}`, "See 'roost --help'.");
  }
  try {
    const name = argv[0];
    if (name === 'daemon') {
      if (argv.includes('--help') || argv.includes('-h')) {
        process.stdout.write(daemonUsage);
        return 0;
      }
      const unknown = argv.slice(1).find((a) => a !== '--detach' && a !== '--in-namespace');
      if (unknown !== undefined) throw invalid(`unknown ${unknown.startsWith('-') ? 'flag' : 'argument'} for roost daemon: ${unknown}`, "See 'roost daemon --help'.");
      const { runDaemonInside, runDaemonOutside } = (await import(daemonEntry)) as typeof import('../daemon/run-daemon.js');
      return argv.includes('--in-namespace') ? await runDaemonInside() : await runDaemonOutside(scriptPath, { detach: argv.includes('--detach') });
    }
    const commands = await loadCommands();
    if (name === undefined || name === 'help') {
      process.stdout.write(topUsage(commands));
      return 0;
    }
    // Command names run to three words (`system service install`); the longest that names one wins.
    const words = [3, 2].filter((n) => argv.length >= n).find((n) => {
      const joined = argv.slice(0, n).join(' ');
      return aliases[joined] !== undefined || commands.some((c) => c.name === joined);
    }) ?? 1;
    const joined = argv.slice(0, words).join(' ');
    const commandName = aliases[joined] ?? joined;
    const rest = argv.slice(words);
    const command = commands.find((c) => c.name === commandName);
    if (!command) {
      const group = argv.slice(0, 2).join(' ');
      const subcommands = commands.filter((c) => c.name.startsWith(`${group} `)).map((c) => c.name.slice(group.length + 1));
      if (subcommands.length) throw invalid(`"roost ${group}" requires a subcommand: ${subcommands.join(', ')}`, `See 'roost --help'.`);
      throw invalid(`'${group}' is not a roost command`, "See 'roost --help'.");
    }
    const args = parseArgs(rest, command.flags, { stopAtPositional: command.stopAtPositional, command: command.name });
    if (args.flags.help) {
      process.stdout.write(usage(command.name, command.synopsis, command.description, command.flags));
      return 0;
    }
    if (command.minArgs !== undefined && args.positionals.length < command.minArgs) {
      throw invalid(`"roost ${command.name}" requires at least ${command.minArgs} argument${command.minArgs === 1 ? '' : 's'}`, `See 'roost ${command.name} --help'.`);
    }
    if (command.maxArgs !== undefined && args.positionals.length > command.maxArgs) {
      throw invalid(`"roost ${command.name}" accepts ${command.maxArgs === 0 ? 'no arguments' : `at most ${command.maxArgs} argument${command.maxArgs === 1 ? '' : 's'}`}`, `See 'roost ${command.name} --help'.`);
    }
    let clientPromise: ReturnType<CommandContextClient> | undefined;
    const client = () => (clientPromise ??= import('./daemon-client.js').then((m) => m.connectDaemon(scriptPath)));
    try {
      return await command.run({ args, client, scriptPath });
    } finally {
      if (clientPromise) (await clientPromise.catch(() => undefined))?.close();
    }
  } catch (err) {
    const engineError = asEngineError(err);
    printError(engineError, debug);
    return engineError.exitCode;
  }
}

type CommandContextClient = () => Promise<import('../api/client.js').ApiClient>;

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`roost: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 125;
  },
);
