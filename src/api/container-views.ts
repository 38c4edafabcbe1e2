import type { ContainerRecord } from '../engine/container-types.js';
import type { ContainerService } from '../engine/containers.js';

function ago(iso: string): string {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 1) return 'Less than a second';
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return minutes === 1 ? 'About a minute' : `${minutes} minutes`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return hours === 1 ? 'About an hour' : `${hours} hours`;
  return `${Math.round(hours / 24)} days`;
}

function healthSuffix(status: string | undefined): string {
  if (!status) return '';
  return status === 'starting' ? ' (health: starting)' : ` (${status})`;
}

/** Docker's human status: "Up 3 seconds", "Exited (0) 2 minutes ago", "Created". */
export function humanStatus(record: ContainerRecord): string {
  const state = record.State;
  if (state.Running) return `Up ${ago(state.StartedAt)}${state.Paused ? ' (Paused)' : healthSuffix(state.Health?.Status)}`;
  if (state.Status === 'exited') return `Exited (${state.ExitCode}) ${ago(state.FinishedAt)} ago`;
  if (state.Status === 'removing') return 'Removal In Progress';
  if (state.Status === 'dead') return 'Dead';
  return 'Created';
}

function networkName(record: ContainerRecord): string {
  const mode = record.HostConfig.NetworkMode ?? 'default';
  return mode === 'default' ? 'bridge' : mode;
}

function portList(service: ContainerService, record: ContainerRecord) {
  const published = record.State.Running ? service.publishedPorts(record) : {};
  const ports: Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }> = [];
  const keys = new Set([...Object.keys(record.Config.ExposedPorts ?? {}), ...Object.keys(published)]);
  for (const key of keys) {
    const [port, type] = key.split('/');
    const bindings = published[key];
    if (bindings && bindings.length) for (const b of bindings) ports.push({ IP: b.HostIp, PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: type ?? 'tcp' });
    else ports.push({ PrivatePort: Number(port), Type: type ?? 'tcp' });
  }
  return ports;
}

export function containerSummary(service: ContainerService, record: ContainerRecord) {
  return {
    Id: record.Id,
    Names: [record.Name],
    Image: service.familiarImage(record),
    ImageID: record.Image,
    Command: [record.Path, ...record.Args].join(' '),
    Created: Math.floor(Date.parse(record.Created) / 1000),
    Ports: portList(service, record),
    Labels: record.Config.Labels ?? {},
    State: record.State.Status,
    Status: humanStatus(record),
    HostConfig: { NetworkMode: record.HostConfig.NetworkMode ?? 'default' },
    NetworkSettings: { Networks: networksView(service, record) },
    Mounts: mountsView(record),
  };
}

/** Docker's `Mounts` entries, without Roost's own bookkeeping fields. */
function mountsView(record: ContainerRecord) {
  return (record.Mounts ?? []).map((m) => ({
    Type: m.Type, ...(m.Name ? { Name: m.Name } : {}), Source: m.Source, Destination: m.Destination,
    ...(m.Driver ? { Driver: m.Driver } : {}), Mode: m.Mode, RW: m.RW, Propagation: m.Propagation,
  }));
}

/** NetworkSettings.Networks: the container's network with, on a user-defined one, its address there. */
function networksView(service: ContainerService, record: ContainerRecord) {
  const endpoints = service.networkEndpoints(record);
  // A user-defined network it was created on shows only while it is joined (network disconnect takes it out).
  const mode = networkName(record);
  const predefinedMode = ['bridge', 'host', 'none'].includes(mode) || mode.startsWith('container:');
  const names = [...new Set([...(predefinedMode ? [mode] : []), ...service.networkNames(record)])];
  return Object.fromEntries(names.map((name) => [name, { ...networkEndpoint(), ...(endpoints[name] ?? {}) }]));
}

function bridgeSettings(service: ContainerService, record: ContainerRecord) {
  const bridge = service.networkEndpoints(record).bridge;
  return bridge ? { IPAddress: bridge.IPAddress, IPPrefixLen: bridge.IPPrefixLen, Gateway: bridge.Gateway } : {};
}

function networkEndpoint() {
  return {
    IPAMConfig: null, Links: null, Aliases: null, NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '',
    IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, MacAddress: '', DriverOpts: null,
  };
}

export function containerInspect(service: ContainerService, record: ContainerRecord) {
  const published = record.State.Running ? service.publishedPorts(record) : {};
  const ports: Record<string, unknown> = {};
  for (const key of Object.keys(record.Config.ExposedPorts ?? {})) ports[key] = null;
  for (const [key, list] of Object.entries(published)) ports[key] = list;
  return {
    Id: record.Id,
    Created: record.Created,
    Path: record.Path,
    Args: record.Args,
    State: record.State,
    Image: record.Image,
    ResolvConfPath: '',
    HostnamePath: '',
    HostsPath: '',
    LogPath: record.LogPath,
    Name: record.Name,
    RestartCount: record.RestartCount,
    Driver: record.Driver,
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: {
      Binds: null, NetworkMode: 'default', PortBindings: {}, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      AutoRemove: false, LogConfig: { Type: 'k8s-file', Config: {} }, Dns: [], DnsOptions: [], DnsSearch: [], ExtraHosts: null,
      ...record.HostConfig,
    },
    GraphDriver: { Name: record.Driver, Data: null },
    Mounts: mountsView(record),
    Config: {
      Hostname: record.Config.Hostname ?? '', Domainname: '', User: record.Config.User ?? '',
      AttachStdin: Boolean(record.Config.AttachStdin), AttachStdout: Boolean(record.Config.AttachStdout), AttachStderr: Boolean(record.Config.AttachStderr),
      Tty: Boolean(record.Config.Tty), OpenStdin: Boolean(record.Config.OpenStdin), StdinOnce: Boolean(record.Config.StdinOnce),
      ...record.Config,
    },
    NetworkSettings: {
      Bridge: '', SandboxID: '', SandboxKey: '', HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0,
      Ports: ports, Gateway: '', IPAddress: '', IPPrefixLen: 0, MacAddress: '',
      // Docker's top-level fields describe the default bridge's endpoint.
      ...bridgeSettings(service, record),
      Networks: networksView(service, record),
    },
  };
}
