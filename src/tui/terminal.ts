/**
 * The terminal around the dashboard: the alternate screen and a hidden cursor while it runs, and both put
 * back on every way out (quit, Ctrl-C, SIGTERM/SIGHUP, a crash). The clipboard goes through OSC 52, which
 * terminals honour over SSH (tmux passes it on when `set-clipboard` is on, wrapped for passthrough).
 */
const enterAlt = '\x1b[?1049h\x1b[H\x1b[2J\x1b[?25l';
const leaveAlt = '\x1b[?25h\x1b[?1049l';

export class TerminalScreen {
  private active = false;
  private readonly onExit = () => this.leave();

  constructor(private readonly out: NodeJS.WriteStream) {}

  enter(): void {
    if (this.active) return;
    this.active = true;
    this.out.write(enterAlt);
    process.on('exit', this.onExit);
  }

  leave(): void {
    if (!this.active) return;
    this.active = false;
    this.out.write(leaveAlt);
    process.off('exit', this.onExit);
  }

  copy(text: string): void {
    const osc = `\x1b]52;c;${Buffer.from(text).toString('base64')}\x07`;
    this.out.write(process.env.TMUX ? `\x1bPtmux;\x1b${osc}\x1b\\` : osc);
  }
}
