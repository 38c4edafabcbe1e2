import type { ApiMount } from '../engine/mounts.js';
import { invalid } from '../util/errors.js';

/** `64m`, `1g`, `1024` → bytes, as Docker's --mount tmpfs-size and --shm-size take them. */
export function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([bkmg]?)b?$/i.exec(text.trim());
  if (!m) throw invalid(`invalid size: ${JSON.stringify(text)}`);
  const unit = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'b' | 'k' | 'm' | 'g'];
  return Math.round(Number(m[1]) * unit);
}

function boolValue(key: string, value: string | undefined, spec: string): boolean {
  if (value === undefined || value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw invalid(`invalid argument ${JSON.stringify(spec)} for "--mount" flag: invalid value for ${key}: ${value}`);
}

/** Docker's `--mount type=...,source=...,target=...` CSV into the API's Mount object. */
export function parseMountFlag(spec: string): ApiMount {
  const mount: ApiMount = {};
  const volumeOptions: Record<string, string> = {};
  const labels: Record<string, string> = {};
  for (const field of spec.split(',')) {
    const eq = field.indexOf('=');
    const key = (eq >= 0 ? field.slice(0, eq) : field).trim().toLowerCase();
    const value = eq >= 0 ? field.slice(eq + 1) : undefined;
    const need = () => {
      if (value === undefined || value === '') throw invalid(`invalid argument ${JSON.stringify(spec)} for "--mount" flag: ${key} needs a value`);
      return value;
    };
    switch (key) {
      case 'type': mount.Type = need(); break;
      case 'source': case 'src': mount.Source = need(); break;
      case 'target': case 'destination': case 'dst': mount.Target = need(); break;
      case 'readonly': case 'ro': mount.ReadOnly = boolValue(key, value, spec); break;
      case 'bind-propagation': mount.BindOptions = { ...mount.BindOptions, Propagation: need() }; break;
      case 'volume-nocopy': mount.VolumeOptions = { ...mount.VolumeOptions, NoCopy: boolValue(key, value, spec) }; break;
      case 'volume-driver': mount.VolumeOptions = { ...mount.VolumeOptions, DriverConfig: { ...mount.VolumeOptions?.DriverConfig, Name: need() } }; break;
      case 'volume-opt': {
        const [k, ...v] = need().split('=');
        volumeOptions[k!] = v.join('=');
        break;
      }
      case 'volume-label': {
        const [k, ...v] = need().split('=');
        labels[k!] = v.join('=');
        break;
      }
      case 'tmpfs-size': mount.TmpfsOptions = { ...mount.TmpfsOptions, SizeBytes: parseBytes(need()) }; break;
      case 'tmpfs-mode': {
        const mode = need();
        if (!/^[0-7]{3,4}$/.test(mode)) throw invalid(`invalid argument ${JSON.stringify(spec)} for "--mount" flag: tmpfs-mode must be octal`);
        mount.TmpfsOptions = { ...mount.TmpfsOptions, Mode: parseInt(mode, 8) };
        break;
      }
      case 'consistency': break;
      default:
        throw invalid(`invalid argument ${JSON.stringify(spec)} for "--mount" flag: unexpected key '${key}' in '${field}'`);
    }
  }
  if (Object.keys(volumeOptions).length) mount.VolumeOptions = { ...mount.VolumeOptions, DriverConfig: { ...mount.VolumeOptions?.DriverConfig, Options: volumeOptions } };
  if (Object.keys(labels).length) mount.VolumeOptions = { ...mount.VolumeOptions, Labels: labels };
  mount.Type ??= 'volume';
  return mount;
}
