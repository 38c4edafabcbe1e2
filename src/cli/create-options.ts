import fs from 'node:fs';
import { parsePublish } from '../net/port-spec.js';
import { parseExtraHost } from '../net/dns-config.js';
import { invalid } from '../util/errors.js';
import { parseBytes, parseMountFlag } from './mount-flag.js';
import { parseKeyValueFlags } from './key-values.js';
import { parseRestartFlag } from '../engine/restart-policy.js';
import { parseDuration } from '../util/duration.js';
import type { HealthConfig } from '../image/types.js';

/** The --health-* flags as Docker's Config.Healthcheck; undefined when none is given. */
function healthcheckFromFlags(f: Record<string, unknown>): HealthConfig | undefined {
  const durations = { Interval: 'health-interval', Timeout: 'health-timeout', StartPeriod: 'health-start-period', StartInterval: 'health-start-interval' } as const;
  const given = f['health-cmd'] !== undefined || f['health-retries'] !== undefined || Object.values(durations).some((flag) => f[flag] !== undefined);
  if (f['no-healthcheck']) {
    if (given) throw invalid('--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!given) return undefined;
  const config: HealthConfig = { Test: f['health-cmd'] !== undefined ? ['CMD-SHELL', f['health-cmd'] as string] : [] };
  for (const [key, flag] of Object.entries(durations) as Array<[keyof typeof durations, string]>) {
    if (f[flag] === undefined) continue;
    const ns = parseDuration(f[flag] as string, flag);
    if (ns < 0) throw invalid(`--${flag} cannot be negative`);
    config[key] = ns;
  }
  if (f['health-retries'] !== undefined) {
    if ((f['health-retries'] as number) < 0) throw invalid('--health-retries cannot be negative');
    config.Retries = f['health-retries'] as number;
  }
  return config;
}

/** `--ulimit nofile=1024[:2048]`. */
function parseUlimit(spec: string): { Name: string; Soft: number; Hard: number } {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(spec);
  if (!m) throw invalid(`invalid ulimit argument: ${JSON.stringify(spec)} (expected name=soft[:hard])`);
  const soft = Number(m[2]);
  return { Name: m[1]!, Soft: soft, Hard: m[3] === undefined ? soft : Number(m[3]) };
}

/** `seccomp=FILE` is sent as the profile's text, as the docker CLI does: the engine may not see the file. */
function readSeccompFile(option: string): string {
  const m = /^seccomp[=:](.+)$/.exec(option);
  if (!m || ['unconfined', 'builtin', 'default'].includes(m[1]!) || m[1]!.trimStart().startsWith('{')) return option;
  try {
    return `seccomp=${fs.readFileSync(m[1]!, 'utf8')}`;
  } catch (err) {
    throw invalid(`opening seccomp profile (${m[1]}) failed: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}

function parseCpus(text: string): number {
  const cpus = Number(text);
  if (!Number.isFinite(cpus) || cpus <= 0) throw invalid(`invalid argument ${JSON.stringify(text)} for "--cpus" flag`);
  return Math.round(cpus * 1e9);
}
import type { FlagSpec, ParsedArgs } from './args.js';

/** cgroup resource flags, shared by create/run and update. */
export const resourceFlags: FlagSpec[] = [
  { name: 'memory', short: 'm', type: 'string', help: 'Memory limit (where the cgroup controller is delegated)' },
  { name: 'memory-swap', type: 'string', help: 'Swap limit (where the cgroup controller is delegated)' },
  { name: 'memory-reservation', type: 'string', help: 'Memory soft limit (where the cgroup controller is delegated)' },
  { name: 'cpus', type: 'string', help: 'Number of CPUs (where the cgroup controller is delegated)' },
  { name: 'cpu-shares', short: 'c', type: 'int', help: 'CPU shares (where the cgroup controller is delegated)' },
  { name: 'cpuset-cpus', type: 'string', help: 'CPUs in which to allow execution (where the cgroup controller is delegated)' },
  { name: 'pids-limit', type: 'int', help: 'Tune container pids limit (where the cgroup controller is delegated)' },
  { name: 'blkio-weight', type: 'int', help: 'Block IO weight (where the cgroup controller is delegated)' },
];

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
  { name: 'network', type: 'string', aliases: ['net'], help: 'Connect a container to a network (bridge, host, none, container:NAME or a network from network create)' },
  { name: 'network-alias', type: 'list', aliases: ['net-alias'], help: 'Add network-scoped alias for the container' },
  { name: 'ip', type: 'string', help: 'IPv4 address on a user-defined network (e.g., 10.89.1.10)' },
  { name: 'ip6', type: 'string', help: 'IPv6 address on an --ipv6 network (e.g., fd00:1::10)' },
  { name: 'add-host', type: 'list', help: 'Add a custom host-to-IP mapping (host:ip, or host:host-gateway for the host)' },
  { name: 'dns', type: 'list', help: 'Set custom DNS servers' },
  { name: 'dns-search', type: 'list', help: 'Set custom DNS search domains (. for none)' },
  { name: 'dns-option', type: 'list', aliases: ['dns-opt'], help: 'Set DNS options (e.g. ndots:2)' },
  { name: 'publish', short: 'p', type: 'list', help: "Publish a container's port(s) to the host" },
  { name: 'publish-all', short: 'P', type: 'bool', help: 'Publish all exposed ports to random ports' },
  { name: 'expose', type: 'list', help: 'Expose a port or a range of ports' },
  { name: 'pull', type: 'string', help: 'Pull image before running ("always", "missing", "never")' },
  { name: 'volume', short: 'v', type: 'list', help: 'Bind mount a volume (name:/path, /host:/path[:ro], or /path)' },
  { name: 'mount', type: 'list', help: 'Attach a filesystem mount to the container (type=bind|volume|tmpfs,...)' },
  { name: 'tmpfs', type: 'list', help: 'Mount a tmpfs directory (/path[:options])' },
  { name: 'volumes-from', type: 'list', help: 'Mount volumes from the specified container(s) (name[:ro|rw])' },
  { name: 'pid', type: 'string', help: 'PID namespace to use (host, container:NAME)' },
  { name: 'ipc', type: 'string', help: 'IPC mode to use (private, shareable, host, container:NAME)' },
  { name: 'uts', type: 'string', help: 'UTS namespace to use (host)' },
  { name: 'restart', type: 'string', help: 'Restart policy: no, on-failure[:max-retries], always, unless-stopped' },
  { name: 'userns', type: 'string', help: 'User namespace: host (default) or keep-id (your uid inside is you on the host)' },
  { name: 'cap-add', type: 'list', help: 'Add Linux capabilities (or ALL)' },
  { name: 'cap-drop', type: 'list', help: 'Drop Linux capabilities (or ALL)' },
  { name: 'privileged', type: 'bool', help: 'Give extended privileges (all capabilities the user namespace allows, no masked paths)' },
  { name: 'read-only', type: 'bool', help: "Mount the container's root filesystem as read only" },
  { name: 'security-opt', type: 'list', help: 'Security options (no-new-privileges, seccomp=unconfined|builtin|FILE; label/apparmor are accepted without effect)' },
  { name: 'group-add', type: 'list', help: 'Add additional groups to join' },
  { name: 'ulimit', type: 'list', help: 'Ulimit options (e.g. nofile=1024:2048)' },
  { name: 'shm-size', type: 'string', help: 'Size of /dev/shm (e.g. 64m)' },
  { name: 'sysctl', type: 'list', help: 'Namespaced kernel parameters (e.g. net.ipv4.ip_unprivileged_port_start=0)' },
  { name: 'device', type: 'list', help: 'Add a host device to the container (/dev/x[:/dev/y])' },
  { name: 'health-cmd', type: 'string', help: 'Command to run to check health' },
  { name: 'health-interval', type: 'string', help: 'Time between running the check (ms|s|m|h) (default 30s)' },
  { name: 'health-timeout', type: 'string', help: 'Maximum time to allow one check to run (ms|s|m|h) (default 30s)' },
  { name: 'health-retries', type: 'int', help: 'Consecutive failures needed to report unhealthy (default 3)' },
  { name: 'health-start-period', type: 'string', help: 'Start period for the container to initialize before counting retries (ms|s|m|h)' },
  { name: 'health-start-interval', type: 'string', help: 'Time between running the check during the start period (ms|s|m|h)' },
  { name: 'no-healthcheck', type: 'bool', help: 'Disable any container-specified HEALTHCHECK' },
  { name: 'health-on-failure', type: 'string', help: 'Action when the container turns unhealthy: none, kill, restart or stop (as podman)' },
  ...resourceFlags,
];

/** The resource fields of a HostConfig (Docker's names) from the resource flags that were given. */
export function resourcesFromFlags(f: Record<string, unknown>): Record<string, number | string | undefined> {
  return {
    Memory: f.memory === undefined ? undefined : parseBytes(f.memory as string),
    MemorySwap: f['memory-swap'] === undefined ? undefined : (f['memory-swap'] === '-1' ? -1 : parseBytes(f['memory-swap'] as string)),
    MemoryReservation: f['memory-reservation'] === undefined ? undefined : parseBytes(f['memory-reservation'] as string),
    NanoCpus: f.cpus === undefined ? undefined : parseCpus(f.cpus as string),
    CpuShares: f['cpu-shares'] as number | undefined,
    CpusetCpus: f['cpuset-cpus'] as string | undefined,
    PidsLimit: f['pids-limit'] as number | undefined,
    BlkioWeight: f['blkio-weight'] as number | undefined,
  };
}

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
    Labels: parseKeyValueFlags(f.label as string[] | undefined, 'label'),
    StopSignal: f['stop-signal'],
    StopTimeout: f['stop-timeout'],
    Healthcheck: healthcheckFromFlags(f),
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
      HealthOnFailure: f['health-on-failure'] as string | undefined,
      NetworkMode: network,
      PortBindings: published.bindings,
      PublishAllPorts: Boolean(f['publish-all']),
      // host=ip is taken too; the API gets Docker's host:ip form (the engine checks the addresses again).
      ExtraHosts: ((f['add-host'] as string[] | undefined) ?? []).map((spec) => { const { name, address } = parseExtraHost(spec); return `${name}:${address}`; }),
      Dns: (f.dns as string[] | undefined) ?? [],
      DnsSearch: (f['dns-search'] as string[] | undefined) ?? [],
      DnsOptions: (f['dns-option'] as string[] | undefined) ?? [],
      Binds: (f.volume as string[] | undefined) ?? [],
      Mounts: ((f.mount as string[] | undefined) ?? []).map(parseMountFlag),
      Tmpfs: Object.fromEntries(((f.tmpfs as string[] | undefined) ?? []).map((spec) => {
        const colon = spec.indexOf(':');
        return colon >= 0 ? [spec.slice(0, colon), spec.slice(colon + 1)] : [spec, ''];
      })),
      VolumesFrom: (f['volumes-from'] as string[] | undefined) ?? [],
      UsernsMode: (f.userns as string | undefined) ?? '',
      PidMode: (f.pid as string | undefined) ?? '',
      IpcMode: (f.ipc as string | undefined) ?? '',
      UTSMode: (f.uts as string | undefined) ?? '',
      RestartPolicy: f.restart === undefined ? { Name: 'no' } : parseRestartFlag(f.restart as string),
      CapAdd: (f['cap-add'] as string[] | undefined) ?? [],
      CapDrop: (f['cap-drop'] as string[] | undefined) ?? [],
      Privileged: Boolean(f.privileged),
      ReadonlyRootfs: Boolean(f['read-only']),
      SecurityOpt: ((f['security-opt'] as string[] | undefined) ?? []).map(readSeccompFile),
      GroupAdd: (f['group-add'] as string[] | undefined) ?? [],
      Ulimits: ((f.ulimit as string[] | undefined) ?? []).map(parseUlimit),
      ShmSize: f['shm-size'] === undefined ? undefined : parseBytes(f['shm-size'] as string),
      Sysctls: Object.fromEntries(((f.sysctl as string[] | undefined) ?? []).map((s) => {
        const eq = s.indexOf('=');
        if (eq <= 0) throw invalid(`invalid sysctl ${JSON.stringify(s)}: expected KEY=VALUE`);
        return [s.slice(0, eq), s.slice(eq + 1)];
      })),
      Devices: ((f.device as string[] | undefined) ?? []).map((d) => {
        const [host, container] = d.split(':');
        return { PathOnHost: host!, PathInContainer: container && container.startsWith('/') ? container : host!, CgroupPermissions: 'rwm' };
      }),
      ...resourcesFromFlags(f),
    },
  };
  if (f.pull !== undefined && !['always', 'missing', 'never'].includes(f.pull as string)) throw invalid(`invalid pull option: '${f.pull}': must be one of "always"|"missing"|"never"`);
  const aliases = (f['network-alias'] as string[] | undefined) ?? [];
  if (aliases.length || f.ip || f.ip6) {
    const ipam = { ...(f.ip ? { IPv4Address: f.ip as string } : {}), ...(f.ip6 ? { IPv6Address: f.ip6 as string } : {}) };
    body.NetworkingConfig = { EndpointsConfig: { [network]: { Aliases: aliases, ...(f.ip || f.ip6 ? { IPAMConfig: ipam } : {}) } } };
  }
  return { name: f.name as string | undefined, body };
}
