import fs from 'node:fs';
import { parsePublish } from '../net/port-spec.js';
import { invalid } from '../util/errors.js';
import { parseMountFlag } from './mount-flag.js';
import type { FlagSpec, ParsedArgs } from './args.js';

/** Flags shared by `create` and `run`. */
export const createFlags: FlagSpec[] = [
  { name: 'interactive', short: 'i', type: 'bool', help: 'Keep STDIN open even if not attached' },
  { name: 'tty', short: 't', type: 'bool', help: 'Allocate a pseudo-TTY' },
  { name: 'name', type: 'string', help: 'Assign a name to the container' },
  { name: 'env', short: 'e', type: 'list', help: 'Set environment variables' },
  { name: 'env-file', type: 'list', help: 'Read in a file of environment variables' },
  { name: 'workdir', short: 'w', type: 'string', help: 'Working directory inside the container' },
  { name: 'user', short: 'u', type: 'string', help: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  { name: 'entrypoint', type: 'string', help: 'Overwrite the default ENTRYPOINT of the image' },
  { name: 'hostname', short: 'h', type: 'string', help: 'Container host name' },
  { name: 'init', type: 'bool', help: 'Run an init inside the container that forwards signals and reaps processes' },
  { name: 'label', short: 'l', type: 'list', help: 'Set meta data on a container' },
  { name: 'stop-signal', type: 'string', help: 'Signal to stop the container' },
  { name: 'stop-timeout', type: 'int', help: 'Timeout (in seconds) to stop a container' },
  { name: 'rm', type: 'bool', help: 'Automatically remove the container when it exits' },
  { name: 'network', type: 'string', aliases: ['net'], help: 'Connect a container to a network (bridge, host, none)' },
  { name: 'publish', short: 'p', type: 'list', help: "Publish a container's port(s) to the host" },
  { name: 'publish-all', short: 'P', type: 'bool', help: 'Publish all exposed ports to random ports' },
  { name: 'expose', type: 'list', help: 'Expose a port or a range of ports' },
  { name: 'pull', type: 'string', help: 'Pull image before running ("always", "missing", "never")' },
  { name: 'volume', short: 'v', type: 'list', help: 'Bind mount a volume (name:/path, /host:/path[:ro], or /path)' },
  { name: 'mount', type: 'list', help: 'Attach a filesystem mount to the container (type=bind|volume|tmpfs,...)' },
  { name: 'tmpfs', type: 'list', help: 'Mount a tmpfs directory (/path[:options])' },
  { name: 'volumes-from', type: 'list', help: 'Mount volumes from the specified container(s) (name[:ro|rw])' },
  { name: 'userns', type: 'string', help: 'User namespace: host (default) or keep-id (your uid inside is you on the host)' },
];

/** Reads a Docker env file: KEY=VALUE lines, `#` comments, a bare KEY takes the value from our env. */
export function readEnvFile(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw invalid(`open ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
  }
  const entries: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const key = eq >= 0 ? line.slice(0, eq) : line.trimEnd();
    if (key === '' || /\s/.test(key)) throw invalid(`invalid env file ${file}: line ${index + 1}: variable '${key}' contains whitespaces`);
    if (eq >= 0) entries.push(line);
    else if (process.env[key] !== undefined) entries.push(`${key}=${process.env[key]}`);
  });
  return entries;
}

function envFromFlags(values: string[]): string[] {
  return values.map((value) => {
    if (value.includes('=')) return value;
    if (value === '') throw invalid('invalid environment variable: empty name');
    return process.env[value] !== undefined ? `${value}=${process.env[value]}` : value;
  }).filter((value) => value.includes('='));
}

function labelsFromFlags(values: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    labels[eq >= 0 ? value.slice(0, eq) : value] = eq >= 0 ? value.slice(eq + 1) : '';
  }
  return labels;
}

/** Builds the body of POST /containers/create from the flags, the image and the command. */
export function buildCreateBody(args: ParsedArgs): { name?: string; body: Record<string, unknown> } {
  const [image, ...command] = args.positionals;
  if (!image) throw invalid('"create" requires at least 1 argument: an image');
  const f = args.flags;
  const env = [...((f['env-file'] as string[] | undefined) ?? []).flatMap(readEnvFile), ...envFromFlags((f.env as string[] | undefined) ?? [])];
  const published = parsePublish((f.publish as string[] | undefined) ?? []);
  const exposed: Record<string, object> = { ...published.exposed };
  for (const spec of (f.expose as string[] | undefined) ?? []) {
    for (const key of Object.keys(parsePublish([spec]).exposed)) exposed[key] = {};
  }
  const network = (f.network as string | undefined) ?? 'default';
  const interactive = Boolean(f.interactive);
  const body: Record<string, unknown> = {
    Image: image,
    Cmd: command.length ? command : undefined,
    Entrypoint: f.entrypoint === undefined ? undefined : (f.entrypoint as string) === '' ? [] : [f.entrypoint as string],
    Env: env,
    WorkingDir: f.workdir,
    User: f.user,
    Hostname: f.hostname,
    Labels: labelsFromFlags((f.label as string[] | undefined) ?? []),
    StopSignal: f['stop-signal'],
    StopTimeout: f['stop-timeout'],
    Tty: Boolean(f.tty),
    OpenStdin: interactive,
    StdinOnce: interactive,
    AttachStdin: interactive,
    AttachStdout: true,
    AttachStderr: true,
    ExposedPorts: exposed,
    HostConfig: {
      AutoRemove: Boolean(f.rm),
      Init: f.init === undefined ? null : Boolean(f.init),
      NetworkMode: network,
      PortBindings: published.bindings,
      PublishAllPorts: Boolean(f['publish-all']),
      Binds: (f.volume as string[] | undefined) ?? [],
      Mounts: ((f.mount as string[] | undefined) ?? []).map(parseMountFlag),
      Tmpfs: Object.fromEntries(((f.tmpfs as string[] | undefined) ?? []).map((spec) => {
        const colon = spec.indexOf(':');
        return colon >= 0 ? [spec.slice(0, colon), spec.slice(colon + 1)] : [spec, ''];
      })),
      VolumesFrom: (f['volumes-from'] as string[] | undefined) ?? [],
      UsernsMode: (f.userns as string | undefined) ?? '',
    },
  };
  if (f.pull !== undefined && !['always', 'missing', 'never'].includes(f.pull as string)) throw invalid(`invalid pull option: '${f.pull}': must be one of "always"|"missing"|"never"`);
  return { name: f.name as string | undefined, body };
}
