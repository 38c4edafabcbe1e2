import { spawn } from 'node:child_process';
import type dgram from 'node:dgram';
import type net from 'node:net';
import { unavailable } from '../util/errors.js';

/**
 * Node cannot enter another network namespace itself, but a socket stays in the namespace it was made in.
 * So a short-lived helper (this same Node binary, started through `nsenter --net`) binds the sockets in the
 * namespace and hands them over on its IPC channel; the daemon serves them and the helper exits.
 */
const helper = `
const dgram = require('node:dgram');
const net = require('node:net');
const port = Number(process.argv[1]);
const fail = (err) => process.send({ error: String(err && err.message || err) }, () => process.exit(1));
const udp = dgram.createSocket('udp4');
udp.once('error', fail);
udp.bind({ port, address: '0.0.0.0' }, () => {
  const tcp = net.createServer();
  tcp.once('error', fail);
  tcp.listen({ port, host: '0.0.0.0' }, () => {
    process.send({ kind: 'udp' }, udp, () => process.send({ kind: 'tcp' }, tcp, () => process.exit(0)));
  });
});
`;

/** UDP and TCP sockets bound to 0.0.0.0:`port` inside the network namespace bound at `nsFile`. */
export function socketsInNetns(nsFile: string, port: number): Promise<{ udp: dgram.Socket; tcp: net.Server }> {
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', [`--net=${nsFile}`, '--', process.execPath, '-e', helper, String(port)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    let udp: dgram.Socket | undefined;
    let tcp: net.Server | undefined;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        udp?.close();
        tcp?.close();
        child.kill('SIGKILL');
        reject(unavailable(`cannot open the DNS sockets in the networks' namespace: ${err.message}`));
      } else resolve({ udp: udp!, tcp: tcp! });
    };
    const timer = setTimeout(() => finish(new Error('the helper did not answer within 10 s')), 10_000);
    child.stderr!.on('data', (chunk) => { stderr += chunk; });
    child.on('message', (message: { kind?: string; error?: string }, handle: unknown) => {
      if (message.error) return finish(new Error(message.error));
      if (message.kind === 'udp') udp = handle as dgram.Socket;
      if (message.kind === 'tcp') tcp = handle as net.Server;
      if (udp && tcp) finish();
    });
    child.on('error', (err) => finish(err));
    // 'close', not 'exit': it waits for the IPC channel, so no handle is still on its way.
    child.on('close', (code) => {
      if (!(udp && tcp)) finish(new Error(stderr.trim().split('\n').at(-1) || `the helper exited with status ${code}`));
    });
  });
}
