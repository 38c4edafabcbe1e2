import { EngineError } from '../util/errors.js';

/**
 * What the tar scanners (kernel: assembly/tar-scan.ts, twin: tar-scan-js.ts) emit per entry. Names are
 * normalised (no leading '/', no '.', '..' resolved, never above the layer root; '' is the root directory);
 * hard-link targets likewise; symlink targets verbatim.
 */
export interface TarEntryRecord {
  /** '0' file (also for '\0' and '7'), '1' hard link, '2' symlink, '3' char device, '4' block device, '5' directory, '6' fifo */
  type: string;
  name: string;
  linkname: string;
  /** Permission bits and setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Whole seconds since the epoch (pax may make it negative) and the nanoseconds a pax mtime adds. */
  mtime: number;
  mtimeNs: number;
  size: number;
  devmajor: number;
  devminor: number;
  /** Stream offset of the first payload byte, and of the entry's first (extension or own) header. */
  offset: number;
  header: number;
  /** SCHILY.xattr.* pax records, in order, name without the prefix. */
  xattrs: Array<[string, Buffer]>;
}

/** Error codes shared by kernel and twin (the kernel returns them negated). */
export const TAR_ERRORS: Record<number, string> = {
  1: 'header checksum mismatch',
  2: 'malformed numeric header field',
  3: 'negative number in a header field',
  4: 'number in a header field too large',
  5: 'unsupported entry type',
  6: 'archive ends inside an entry',
  7: 'malformed pax extended header',
  8: 'name or link target contains a NUL byte',
  9: 'name escapes the layer (..)',
  10: 'hard link target is empty or escapes the layer',
  11: 'name is empty or longer than 4095 bytes',
  12: 'extension headers too large, too many, or not followed by an entry',
};

/** A rejected archive: `scanCode` is the shared error code, `offset` the stream offset of the header at fault. */
export class TarScanError extends EngineError {
  /** `detail`, when given, names the entry (e.g. `layer entry "../x" escapes the target directory`). */
  constructor(readonly scanCode: number, readonly offset: number, detail?: string) {
    super('invalid_argument', detail
      ? `${detail} (tar header at byte ${offset})`
      : `layer is not a valid tar archive: ${TAR_ERRORS[scanCode] ?? `error ${scanCode}`} (header at byte ${offset})`);
  }
}

/** Error codes whose message names the entry (the twin words them; the kernel borrows the twin's words). */
export const NAMED_ERRORS: ReadonlySet<number> = new Set([8, 9, 10, 11]);

/** One scanner engine: kernel or twin. `scan` may be called with successive chunks; see TarScanner. */
export interface TarScanEngine {
  readonly name: string;
  reset(): void;
  /**
   * Scans `input` (stream offset `base` at its first byte): returns the entries whose headers lie wholly inside it.
   * `consumed` is then how far it got (the rest must be passed again with more bytes); `final` says no more come.
   */
  scan(input: Uint8Array, base: number, final: boolean): { records: TarEntryRecord[]; consumed: number; ended: boolean };
}

export const RECORD_TYPES = '0123456';
