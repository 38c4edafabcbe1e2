import path from 'node:path';
import { invalid } from '../util/errors.js';
import { volumeNamePattern } from './volumes.js';

/** A container's mount as Docker's inspect shows it (`Mounts`), plus what Roost needs to set it up. */
export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  /** Volume name (volumes only; anonymous volumes get a random one at create). */
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** volume: do not copy the image's content into a new, empty volume. */
  noCopy?: boolean;
  /** bind from -v: a missing source directory is created (Docker's -v; --mount refuses). */
  createSource?: boolean;
  /** tmpfs mount options (size=, mode=). */
  tmpfsOptions?: string[];
  /** volume: driver options and labels for a volume this mount creates (--mount volume-opt, volume-label). */
  volumeOptions?: Record<string, string>;
  volumeLabels?: Record<string, string>;
}

/** Docker's `Mounts` entries of HostConfig (what --mount sends). */
export interface ApiMount {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  BindOptions?: { Propagation?: string; CreateMountpoint?: boolean };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; DriverConfig?: { Name?: string; Options?: Record<string, string> } };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

const propagations = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'];

function checkDestination(destination: string, spec: string): string {
  if (!path.isAbsolute(destination)) throw invalid(`invalid mount config for ${JSON.stringify(spec)}: the container path must be absolute`);
  const clean = path.posix.normalize(destination);
  if (clean === '/') throw invalid(`invalid mount config for ${JSON.stringify(spec)}: the container path cannot be /`);
  return clean.replace(/\/$/, '');
}

/** `-v`/Binds: `name:/dst[:opts]`, `/src:/dst[:opts]`, or `/dst` (an anonymous volume). */
export function parseBind(spec: string): MountPoint {
  const parts = spec.split(':');
  if (parts.length === 1) {
    return { Type: 'volume', Source: '', Destination: checkDestination(parts[0]!, spec), Driver: 'local', Mode: '', RW: true, Propagation: '' };
  }
  if (parts.length > 3) throw invalid(`invalid volume specification: ${JSON.stringify(spec)}`);
  const [source, destination, options = ''] = parts as [string, string, string?];
  let rw = true;
  let propagation = '';
  let noCopy = false;
  for (const option of options.split(',').filter(Boolean)) {
    if (option === 'ro') rw = false;
    else if (option === 'rw') rw = true;
    else if (option === 'z' || option === 'Z' || option === 'cached' || option === 'delegated' || option === 'consistent') continue;
    else if (propagations.includes(option)) propagation = option;
    else if (option === 'nocopy') noCopy = true;
    else throw invalid(`invalid mode: ${option} in volume specification ${JSON.stringify(spec)}`);
  }
  const dst = checkDestination(destination, spec);
  if (source.startsWith('/')) {
    return { Type: 'bind', Source: path.normalize(source), Destination: dst, Mode: options, RW: rw, Propagation: propagation || 'rprivate', createSource: true };
  }
  if (source.startsWith('.') || source.includes('/')) {
    throw invalid(`invalid volume specification: ${JSON.stringify(spec)}: a host path must be absolute`);
  }
  if (!volumeNamePattern.test(source)) throw invalid(`invalid volume name ${JSON.stringify(source)}: only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed`);
  return { Type: 'volume', Name: source, Source: '', Destination: dst, Driver: 'local', Mode: options, RW: rw, Propagation: '', noCopy };
}

/** HostConfig.Mounts (what `--mount` sends). */
export function parseApiMount(mount: ApiMount): MountPoint {
  const shown = JSON.stringify(mount);
  if (!mount.Target) throw invalid(`invalid mount config: target is required in ${shown}`);
  const destination = checkDestination(mount.Target, mount.Target);
  const rw = !mount.ReadOnly;
  switch (mount.Type) {
    case 'bind': {
      if (!mount.Source || !path.isAbsolute(mount.Source)) throw invalid(`invalid mount config for type "bind": the source must be an absolute path`);
      const propagation = mount.BindOptions?.Propagation ?? 'rprivate';
      if (!propagations.includes(propagation)) throw invalid(`invalid mount config: invalid propagation mode ${JSON.stringify(propagation)}`);
      return { Type: 'bind', Source: path.normalize(mount.Source), Destination: destination, Mode: '', RW: rw, Propagation: propagation, createSource: Boolean(mount.BindOptions?.CreateMountpoint) };
    }
    case 'volume': {
      if (mount.Source && !volumeNamePattern.test(mount.Source)) throw invalid(`invalid mount config: invalid volume name ${JSON.stringify(mount.Source)}`);
      const driver = mount.VolumeOptions?.DriverConfig?.Name;
      if (driver && driver !== 'local') throw invalid(`volume driver ${JSON.stringify(driver)} is not available (only local)`);
      return {
        Type: 'volume', Name: mount.Source || undefined, Source: '', Destination: destination, Driver: 'local', Mode: '', RW: rw, Propagation: '',
        noCopy: Boolean(mount.VolumeOptions?.NoCopy), volumeOptions: mount.VolumeOptions?.DriverConfig?.Options, volumeLabels: mount.VolumeOptions?.Labels,
      };
    }
    case 'tmpfs': {
      if (mount.Source) throw invalid('invalid mount config for type "tmpfs": source must be empty');
      const options: string[] = [];
      if (mount.TmpfsOptions?.SizeBytes) options.push(`size=${mount.TmpfsOptions.SizeBytes}`);
      if (mount.TmpfsOptions?.Mode) options.push(`mode=${mount.TmpfsOptions.Mode.toString(8)}`);
      return { Type: 'tmpfs', Source: '', Destination: destination, Mode: '', RW: rw, Propagation: '', tmpfsOptions: options };
    }
    default:
      throw invalid(`invalid mount config: mount type ${JSON.stringify(mount.Type ?? '')} is not supported (bind, volume, tmpfs)`);
  }
}

/** HostConfig.Tmpfs: `{"/path": "size=64m,mode=1777"}`. */
export function parseTmpfs(destination: string, options: string): MountPoint {
  const list = options.split(',').filter(Boolean);
  const rw = !list.includes('ro');
  return { Type: 'tmpfs', Source: '', Destination: checkDestination(destination, destination), Mode: options, RW: rw, Propagation: '', tmpfsOptions: list.filter((o) => o !== 'ro' && o !== 'rw') };
}

/** Refuses two mounts on one path, as Docker does. */
export function checkDuplicates(mounts: MountPoint[]): void {
  const seen = new Set<string>();
  for (const mount of mounts) {
    if (seen.has(mount.Destination)) throw invalid(`Duplicate mount point: ${mount.Destination}`);
    seen.add(mount.Destination);
  }
}
