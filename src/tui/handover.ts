/**
 * Hands the terminal to a container (a shell, or attach) from inside the dashboard's own process, so that
 * exactly one reader owns the keyboard: a child `roost exec` would race the dashboard's stdin for keys.
 */
import type net from 'node:net';
import { Demuxer } from '../api/client.js';

export interface TerminalIo { stdin: NodeJS.ReadStream; stdout: NodeJS.WriteStream }

/** Raw keys to the socket, its output to the screen, until it closes; then every listener is removed. */
export async function pumpTerminal(socket: net.Socket, io: TerminalIo, opts: { tty: boolean; stdin: boolean; onResize?: (rows: number, columns: number) => void }): Promise<void> {
  const { stdin, stdout } = io;
  const onKey = (chunk: Buffer) => socket.write(chunk);
  const onResize = () => opts.onResize?.(stdout.rows, stdout.columns);
  const demux = new Demuxer((_stream, data) => stdout.write(data));
  const onOutput = (chunk: Buffer) => (opts.tty ? stdout.write(chunk) : demux.push(chunk));
  if (stdin.isTTY) stdin.setRawMode(true);
  if (opts.stdin) {
    stdin.on('data', onKey);
    stdin.resume();
  }
  stdout.on('resize', onResize);
  onResize();
  socket.on('data', onOutput);
  try {
    await new Promise<void>((resolve) => {
      socket.once('end', resolve);
      socket.once('close', resolve);
      socket.once('error', resolve);
    });
  } finally {
    stdin.off('data', onKey);
    stdin.pause();
    stdout.off('resize', onResize);
    socket.off('data', onOutput);
    socket.destroy();
  }
}
