import type http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { muxFrame } from './http-util.js';
import type { AttachSession } from '../engine/containers.js';

/**
 * The client side of attach / exec start. With `Upgrade: tcp` the connection is hijacked (101), else a
 * plain 200 stream; TTY output is raw bytes, non-TTY output is multiplexed in Docker's 8-byte frames.
 */
export class HijackedStream {
  readonly output: Duplex;
  /** The response, when the client did not ask to upgrade (then output is written through it). */
  private readonly res?: http.ServerResponse;
  private ended = false;

  constructor(
    readonly tty: boolean,
    headers: Record<string, string>,
    req: http.IncomingMessage,
    res: http.ServerResponse | undefined,
    upgrade: { socket: net.Socket; head: Buffer } | undefined,
    readonly onStdin: (data: Buffer) => void,
    readonly onStdinEnd: () => void,
  ) {
    const contentType = tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream';
    if (upgrade) {
      const socket = upgrade.socket;
      const lines = ['HTTP/1.1 101 UPGRADED', `Content-Type: ${contentType}`, 'Connection: Upgrade', 'Upgrade: tcp',
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''];
      socket.write(lines.join('\r\n'));
      socket.setNoDelay(true);
      if (upgrade.head.length) onStdin(upgrade.head);
      socket.on('data', (chunk: Buffer) => onStdin(chunk));
      socket.resume();
      socket.on('end', () => onStdinEnd());
      socket.on('error', () => {});
      this.output = socket;
    } else {
      res!.writeHead(200, { 'Content-Type': contentType, ...headers });
      res!.flushHeaders();
      req.on('data', (chunk: Buffer) => onStdin(chunk));
      req.on('end', () => onStdinEnd());
      this.output = res!.socket as net.Socket;
      res!.socket?.setNoDelay(true);
      this.res = res;
    }
  }

  write(stream: 1 | 2, data: Buffer): void {
    if (this.ended || this.output.destroyed) return;
    const payload = this.tty ? data : muxFrame(stream, data);
    if (this.res) this.res.write(payload);
    else this.output.write(payload);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.res) this.res.end();
    else this.output.end();
  }

  session(wantsStdout: boolean, wantsStderr: boolean): AttachSession {
    return {
      wantsStdout,
      wantsStderr,
      onOutput: (stream, data) => this.write(stream, data),
      onEnd: () => this.end(),
    };
  }

  onClose(listener: () => void): void {
    this.output.on('close', listener);
  }
}
