import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { runCommand } from '../util/exec.js';
import { unavailable } from '../util/errors.js';
import { findExecutable, findSystemExecutable } from '../util/find-executable.js';
import { startSlirp } from './slirp-uplink.js';
import { intToIp, ipToInt, parseSubnet } from './user-networks.js';

/**
 * The default network as one bridge with one way out, as Docker's `bridge` is: every container's namespace
 * gets a veth pair to `roost0`, a bridge in the networks' namespace (the one user-defined networks live in),
 * and that namespace has the single slirp4netns uplink, with forwarding on and what leaves through it
 * masqueraded (nftables). One slirp4netns for all containers instead of one each (~0.3 MiB PSS per
 * container here), and containers on it reach each other by address, as on Docker's bridge.
 * The user-defined networks' containers go out through the same uplink (their default route is their
 * network's gateway), except those of an --internal network. Nothing is forwarded between two bridges:
 * only within one, and between a bridge and the uplink.
 */
export const bridgeName = 'roost0';
export const bridgeSubnet = '10.88.0.0/16';
export const bridgeGateway = '10.88.0.1';
const { base, prefix, size } = parseSubnet(bridgeSubnet);
const mtu = '65520';

/** A user-defined network's bridge, as the rules of the networks' namespace need it. */
export interface RoutedBridge {
  bridge: string;
  /** No way out (`--internal`): forwarded within the bridge only. */
  internal: boolean;
}

const quoted = (names: string[]) => `{ ${names.map((n) => `"${n}"`).join(', ')} }`;

/**
 * The nftables ruleset of the networks' namespace: forwarding within each bridge, between a bridge with a
 * way out and the uplink, and nothing else (the policy drops it, so a bridge the rules do not name yet is
 * cut off, not open); what leaves through the uplink is masqueraded.
 */
export function bridgeRuleset(networks: RoutedBridge[]): string {
  const bridges = [bridgeName, ...networks.map((n) => n.bridge)];
  const outbound = [bridgeName, ...networks.filter((n) => !n.internal).map((n) => n.bridge)];
  return [
    'table ip roost-bridge',
    'delete table ip roost-bridge',
    'table ip roost-bridge {',
    '  chain forward {',
    '    type filter hook forward priority 0; policy drop;',
    // Within a bridge (seen here where the kernel passes bridged traffic to netfilter).
    ...bridges.map((b) => `    iifname "${b}" oifname "${b}" accept`),
    `    iifname ${quoted(outbound)} oifname "tap0" accept`,
    `    iifname "tap0" oifname ${quoted(outbound)} accept`,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority 100; policy accept;',
    '    oifname "tap0" masquerade',
    '  }',
    '}',
    '',
  ].join('\n');
}

export class SharedBridge {
  private ready: Promise<void> | undefined;
  private readonly inUse = new Set<number>();
  private next = base + 2;
  private readonly pidFile: string;
  /** The ruleset the namespace has, as last applied. */
  private applied: string | undefined;

  /**
   * `holder`: the networks' namespace file; `ensureHolder` makes it when missing. `runDir` holds the
   * uplink's pid file and log. `networks`: the user-defined networks' bridges as they are now.
   */
  constructor(private readonly holder: string, private readonly runDir: string, private readonly ensureHolder: () => Promise<void>,
    private readonly networks: () => RoutedBridge[] = () => []) {
    this.pidFile = path.join(runDir, 'bridge-uplink.pid');
  }

  /** Why the shared bridge cannot be used on this host (then each container gets its own uplink). */
  static unavailableReason(): string | undefined {
    if (!findSystemExecutable('nft')) return 'nft is not installed (sudo apt-get install nftables)';
    if (!findExecutable('slirp4netns')) return 'slirp4netns is not installed';
    return undefined;
  }

  /**
   * Makes (or finds, after a daemon restart) the bridge, its uplink and its rules, once per engine; starts
   * the uplink again if it has gone since (killed, or crashed): the bridge's containers get their way out
   * back with the next container that starts; and brings the rules up to date with the networks (one
   * created since is forwarded from its first container on).
   */
  async ensure(): Promise<void> {
    this.ready ??= this.setUp().catch((err: Error) => {
      this.ready = undefined;
      throw unavailable(`cannot set up the default network's bridge: ${err.message}`);
    });
    await this.ready;
    if (!this.uplinkAlive()) await this.startUplink();
    await this.applyRules();
  }

  private async applyRules(): Promise<void> {
    const rules = bridgeRuleset(this.networks());
    if (rules === this.applied) return;
    await this.inHolder(findSystemExecutable('nft')!, ['-f', '-'], rules);
    this.applied = rules;
  }

  private async startUplink(): Promise<number> {
    await this.endOrphanUplinks();
    return startSlirp(this.holder, this.pidFile, path.join(this.runDir, 'bridge-uplink.log'));
  }

  /**
   * A daemon killed while it started the bridge's uplink leaves a slirp4netns without a pid file; it holds
   * the namespace's tap0, so a new one could not start. Any slirp4netns of this user naming this namespace
   * is ended first (its tap0 goes with it).
   */
  private async endOrphanUplinks(): Promise<void> {
    const uid = process.getuid?.();
    let ended = false;
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      try {
        if (fs.statSync(`/proc/${entry}`).uid !== uid) continue;
        const args = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
        if (!args[0]?.endsWith('slirp4netns') || !args.includes(this.holder)) continue;
        process.kill(Number(entry), 'SIGKILL');
        ended = true;
      } catch { /* gone meanwhile, or not ours */ }
    }
    if (ended) await new Promise((resolve) => setTimeout(resolve, 100));
  }

  private inHolder(command: string, args: string[], input?: string): Promise<string> {
    return runCommand('nsenter', [`--net=${this.holder}`, '--', command, ...args], input === undefined ? {} : { input });
  }

  private uplinkAlive(): boolean {
    try {
      const pid = Number(fs.readFileSync(this.pidFile, 'utf8').trim());
      return pid > 0 && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(this.holder);
    } catch {
      return false;
    }
  }

  private async setUp(): Promise<void> {
    await this.ensureHolder();
    if (!this.uplinkAlive()) await this.startUplink();
    await this.inHolder('ip', ['link', 'add', bridgeName, 'type', 'bridge']).catch(() => {});
    // A fixed address: a bridge takes the lowest of its ports' otherwise, and would change as containers come and go.
    await this.inHolder('ip', ['-batch', '-'], [
      `link set ${bridgeName} address 02:52:4f:4f:53:54`,
      `addr replace ${bridgeGateway}/${prefix} dev ${bridgeName}`,
      `link set ${bridgeName} mtu ${mtu} up`,
      '',
    ].join('\n'));
    // The rules first: forwarding is never on without them.
    this.applied = undefined;
    await this.applyRules();
    await this.inHolder('sh', ['-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
  }

  /** Marks an address as taken (a running container's, found again after a daemon restart). */
  adopt(ip: string): void {
    this.inUse.add(ipToInt(ip));
  }

  release(ip: string): void {
    this.inUse.delete(ipToInt(ip));
  }

  private allocate(): string {
    // After the gateway (base + 1), up to the last before the broadcast address.
    const first = base + 2;
    const last = base + size - 2;
    for (let i = 0; i <= last - first; i++) {
      const candidate = this.next > last ? first : this.next;
      this.next = candidate + 1;
      if (!this.inUse.has(candidate)) {
        this.inUse.add(candidate);
        return intToIp(candidate);
      }
    }
    throw unavailable(`no free address left on the default network (${bridgeSubnet})`);
  }

  /** Puts the namespace on the bridge: eth0 with the next free address, the default route through the gateway. */
  async attach(nsFile: string): Promise<string> {
    await this.ensure();
    const ip = this.allocate();
    const peer = `rd${randomBytes(5).toString('hex')}`;
    try {
      await runCommand('nsenter', [`--net=${nsFile}`, '--', 'ip', '-batch', '-'], {
        input: [
          `link add eth0 mtu ${mtu} type veth peer name ${peer} mtu ${mtu} netns ${this.holder}`,
          `addr add ${ip}/${prefix} dev eth0`,
          'link set eth0 up',
          'link set lo up',
          `route add default via ${bridgeGateway}`,
          '',
        ].join('\n'),
      });
      await this.inHolder('ip', ['link', 'set', peer, 'master', bridgeName, 'up']);
    } catch (err) {
      this.release(ip);
      // The peer goes with the namespace's end when that is deleted; a half-made pair must not stay.
      await this.inHolder('ip', ['link', 'del', peer]).catch(() => {});
      throw unavailable(`cannot attach the container to the default network: ${(err as Error).message}`);
    }
    return ip;
  }
}
