/**
 * One layer's pull progress in Docker's phases and order: Pulling fs layer, Waiting, Downloading, Verifying
 * Checksum, Download complete, Extracting, Pull complete. Roost downloads and unpacks a layer in one stream,
 * so unpacking starts with the download; its figures are held back until the download is complete, so
 * that a client (the docker CLI shows one status per layer) sees the phases move forward only.
 */

/** Docker's progress messages (the JSON lines of POST /images/create). */
export interface ProgressMessage {
  status: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
}
export type ProgressSink = (message: ProgressMessage) => void;

const human = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}kB` : `${n}B`);

/** Docker's bar, `[=====>     ] 1.2MB/3.4MB`; without a total just the amount, as Docker shows it. */
export function progressBar(current: number, total: number | undefined): string {
  if (!total) return human(current);
  const width = 50;
  const done = Math.min(width, Math.floor((current / total) * width));
  return `[${'='.repeat(Math.max(0, done - 1))}${done > 0 ? '>' : ''}${' '.repeat(width - done)}] ${human(current)}/${human(total)}`;
}

/** At most one progress message per layer and phase in this many milliseconds (the last one always goes). */
const THROTTLE_MS = 100;

export class LayerProgress {
  private downloadDone = false;
  private extracted = 0;
  private lastSent = -Infinity;

  /**
   * `size`: the blob's bytes (the download's total); `unpackedSize`: the uncompressed stream's bytes when
   * known before unpacking (an uncompressed layer), else Extracting shows a count without a total.
   */
  constructor(
    private readonly id: string,
    private readonly sink: ProgressSink,
    private readonly size: number,
    private readonly unpackedSize: number | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  private send(status: string, detail: ProgressMessage['progressDetail'] = {}, progress?: string): void {
    this.sink({ status, id: this.id, progressDetail: detail, ...(progress !== undefined ? { progress } : {}) });
  }

  private due(final: boolean): boolean {
    const now = this.now();
    if (!final && now - this.lastSent < THROTTLE_MS) return false;
    this.lastSent = now;
    return true;
  }

  pullingFsLayer(): void { this.send('Pulling fs layer'); }

  /** Queued behind other layers (more layers than are fetched at once). */
  waiting(): void { this.send('Waiting'); }

  /** `current` of the blob's bytes received. */
  downloading(current: number): void {
    if (this.downloadDone || !this.due(current >= this.size)) return;
    this.send('Downloading', { current, total: this.size }, progressBar(current, this.size));
  }

  /** Every byte is in; the digest is being checked. */
  downloaded(): void {
    if (this.downloadDone) return;
    this.send('Verifying Checksum');
  }

  /** The digest matched: Download complete, then the unpacking's figure so far when it unpacks. */
  verified(unpacking: boolean): void {
    this.downloadDone = true;
    this.send('Download complete');
    if (unpacking) this.sendExtracting(true);
  }

  /** `current` bytes of the uncompressed stream applied to the layer's snapshot. */
  extracting(current: number): void {
    this.extracted = current;
    if (this.downloadDone && this.due(false)) this.sendExtracting(false);
  }

  private sendExtracting(force: boolean): void {
    if (force) this.lastSent = this.now();
    const total = this.unpackedSize;
    this.send('Extracting', total ? { current: this.extracted, total } : { current: this.extracted }, progressBar(this.extracted, total));
  }

  /** The layer is stored and unpacked: its last Extracting figure (when it unpacked), then Pull complete. */
  complete(unpacked: boolean): void {
    if (unpacked) this.sendExtracting(true);
    this.send('Pull complete');
  }
}
