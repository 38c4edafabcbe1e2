import os from 'node:os';
import { invalid } from '../util/errors.js';

/**
 * Seccomp profiles in Docker's JSON format (the format of `--security-opt seccomp=FILE`, of Docker's and
 * podman's default profiles, and of Roost's own in seccomp-default.ts), and their compilation into the
 * OCI runtime spec's `linux.seccomp` for one container: rules are kept or dropped by the container's
 * capabilities, the host's architecture and its kernel version, as Docker does.
 */

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface SeccompFilter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

export interface SeccompRule {
  name?: string;
  names?: string[];
  action: string;
  errnoRet?: number;
  args?: SeccompArg[] | null;
  includes?: SeccompFilter;
  excludes?: SeccompFilter;
  comment?: string;
}

export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: Array<{ architecture: string; subArchitectures?: string[] | null }> | null;
  syscalls?: SeccompRule[] | null;
}

/** `linux.seccomp` of an OCI runtime spec. */
export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  syscalls: Array<{ names: string[]; action: string; errnoRet?: number; args?: SeccompArg[] }>;
}

const actions = ['SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY'];
const operators = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'];

/** Node's name for the CPU → [Go's name (used in `includes.arches`), libseccomp's name]. */
const hostArches: Record<string, [string, string]> = {
  x64: ['amd64', 'SCMP_ARCH_X86_64'],
  ia32: ['386', 'SCMP_ARCH_X86'],
  arm64: ['arm64', 'SCMP_ARCH_AARCH64'],
  arm: ['arm', 'SCMP_ARCH_ARM'],
  ppc64: ['ppc64le', 'SCMP_ARCH_PPC64LE'],
  s390x: ['s390x', 'SCMP_ARCH_S390X'],
  riscv64: ['riscv64', 'SCMP_ARCH_RISCV64'],
};

export interface SeccompHost {
  /** Node's `process.arch`. */
  arch: string;
  /** `uname -r`. */
  kernel: string;
}

export const thisHost = (): SeccompHost => ({ arch: process.arch, kernel: os.release() });

/** Parses and checks a profile; `source` names it in errors (a file name, or "seccomp profile"). */
export function parseSeccompProfile(text: string, source: string): SeccompProfile {
  let profile: unknown;
  try {
    profile = JSON.parse(text);
  } catch (err) {
    throw invalid(`${source} is not valid JSON: ${(err as Error).message}`);
  }
  const fail = (what: string) => invalid(`${source}: ${what}`);
  if (!profile || typeof profile !== 'object' || Array.isArray(profile)) throw fail('a seccomp profile is a JSON object');
  const p = profile as SeccompProfile;
  if (typeof p.defaultAction !== 'string' || !actions.includes(p.defaultAction)) throw fail(`unknown defaultAction ${JSON.stringify(p.defaultAction)}`);
  if (p.architectures !== undefined && p.architectures !== null && (!Array.isArray(p.architectures) || p.archMap)) {
    throw fail('use either "architectures" (a list) or "archMap", not both');
  }
  if (p.syscalls !== undefined && p.syscalls !== null && !Array.isArray(p.syscalls)) throw fail('"syscalls" must be a list');
  (p.syscalls ?? []).forEach((rule, i) => {
    const where = `syscalls[${i}]`;
    if (!rule || typeof rule !== 'object') throw fail(`${where} is not an object`);
    const names = rule.names ?? (rule.name ? [rule.name] : []);
    if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== 'string' || !/^[a-z_0-9]+$/.test(n))) throw fail(`${where} needs "names", a list of syscall names`);
    if (!actions.includes(rule.action)) throw fail(`${where} has an unknown action ${JSON.stringify(rule.action)}`);
    for (const arg of rule.args ?? []) {
      if (!Number.isInteger(arg.index) || arg.index < 0 || arg.index > 5) throw fail(`${where} has an argument index outside 0..5`);
      if (typeof arg.value !== 'number' || !operators.includes(arg.op)) throw fail(`${where} has an argument with a bad value or op ${JSON.stringify(arg.op)}`);
    }
  });
  return p;
}

function kernelAtLeast(kernel: string, wanted: string): boolean {
  const have = kernel.split(/[.-]/).map((n) => parseInt(n, 10) || 0);
  const want = wanted.split('.').map((n) => parseInt(n, 10) || 0);
  for (let i = 0; i < want.length; i++) {
    if ((have[i] ?? 0) !== want[i]) return (have[i] ?? 0) > want[i]!;
  }
  return true;
}

function applies(rule: SeccompRule, caps: Set<string>, goArch: string, kernel: string): boolean {
  const inc = rule.includes ?? {};
  const exc = rule.excludes ?? {};
  if (inc.caps?.length && !inc.caps.every((c) => caps.has(c))) return false;
  if (inc.arches?.length && !inc.arches.includes(goArch)) return false;
  if (inc.minKernel && !kernelAtLeast(kernel, inc.minKernel)) return false;
  if (exc.caps?.some((c) => caps.has(c))) return false;
  if (exc.arches?.includes(goArch)) return false;
  return true;
}

/** The profile as the runtime takes it for a container with these (bounding) capabilities. */
export function compileSeccomp(profile: SeccompProfile, capabilities: string[], host: SeccompHost = thisHost()): OciSeccomp {
  const [goArch, scmpArch] = hostArches[host.arch] ?? [host.arch, `SCMP_ARCH_${host.arch.toUpperCase()}`];
  const caps = new Set(capabilities);
  let architectures: string[];
  if (profile.archMap?.length) {
    const entry = profile.archMap.find((a) => a.architecture === scmpArch);
    architectures = entry ? [entry.architecture, ...(entry.subArchitectures ?? [])] : [];
  } else {
    architectures = profile.architectures ?? [];
  }
  const syscalls = (profile.syscalls ?? [])
    .filter((rule) => applies(rule, caps, goArch, host.kernel))
    .map((rule) => ({
      names: rule.names ?? [rule.name!],
      action: rule.action,
      ...(rule.errnoRet !== undefined ? { errnoRet: rule.errnoRet } : {}),
      ...(rule.args?.length ? { args: rule.args.map((a) => ({ index: a.index, value: a.value, valueTwo: a.valueTwo ?? 0, op: a.op })) } : {}),
    }));
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    architectures,
    syscalls,
  };
}

/**
 * What a compiled profile does with one call of `name` whose arguments are `args` (missing ones are 0):
 * the action and errno of the first matching rule, as libseccomp resolves rules of different priority
 * only when they conflict; used to compare profiles and in tests.
 */
export function seccompVerdict(compiled: OciSeccomp, name: string, args: number[] = []): { action: string; errno?: number } {
  const matches = (rule: OciSeccomp['syscalls'][number]) => (rule.args ?? []).every((a) => {
    const v = args[a.index] ?? 0;
    switch (a.op) {
      case 'SCMP_CMP_NE': return v !== a.value;
      case 'SCMP_CMP_LT': return v < a.value;
      case 'SCMP_CMP_LE': return v <= a.value;
      case 'SCMP_CMP_EQ': return v === a.value;
      case 'SCMP_CMP_GE': return v >= a.value;
      case 'SCMP_CMP_GT': return v > a.value;
      case 'SCMP_CMP_MASKED_EQ': return (Number(BigInt(v) & BigInt(a.value))) === (a.valueTwo ?? 0);
      default: return false;
    }
  });
  const rules = compiled.syscalls.filter((r) => r.names.includes(name) && matches(r));
  const allow = rules.find((r) => r.action === 'SCMP_ACT_ALLOW');
  const rule = allow ?? rules[0];
  if (!rule) return { action: compiled.defaultAction, errno: compiled.defaultErrnoRet };
  return rule.action === 'SCMP_ACT_ERRNO' ? { action: rule.action, errno: rule.errnoRet ?? 1 } : { action: rule.action };
}
