import type net from 'node:net';
import { Demuxer } from '../api/client.js';

/**
 * Connects the terminal to a hijacked stream: stdin → container, container → stdout/stderr.
 * With a TTY the terminal goes raw (Ctrl-C reaches the container) and follows window resizes.
 */
export function pipeTerminal(socket: net.Socket, opts: { tty: boolean; stdin: boolean; onResize?: (rows: number, cols: number) => void }): { done: Promise<void>; restore(): void } {
  const stdin = process.stdin;
  const rawMode = opts.tty && opts.stdin && stdin.isTTY;
  if (rawMode) stdin.setRawMode(true);
  const restore = () => {
    if (rawMode && stdin.isTTY) stdin.setRawMode(false);
    if (opts.stdin) stdin.pause();
    process.stdout.off('resize', resize);
  };
  const resize = () => opts.onResize?.(process.stdout.rows, process.stdout.columns);
  if (opts.tty && process.stdout.isTTY) {
    process.stdout.on('resize', resize);
    resize();
  }
  if (opts.stdin) {
    stdin.on('data', (chunk: Buffer) => socket.write(chunk));
    stdin.on('end', () => socket.end());
    stdin.resume();
  }
  const demux = new Demuxer((stream, data) => (stream === 2 ? process.stderr : process.stdout).write(data));
  socket.on('data', (chunk: Buffer) => (opts.tty ? process.stdout.write(chunk) : demux.push(chunk)));
  const done = new Promise<void>((resolve) => {
    socket.on('end', () => resolve());
    socket.on('close', () => resolve());
    socket.on('error', () => resolve());
  });
  return { done, restore };
}

/** A bounded wait that never keeps the process alive by itself. */
export function graceDelay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
