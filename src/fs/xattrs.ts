/**
 * Extended attributes of files in layers: which ones a layer carries, reading a whole tree's at once and
 * writing many at once. Node has no xattr calls, so the attr package's tools do the work: one `getfattr -R`
 * per tree and one `setfattr --restore` per layer, never one process per file.
 */
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { EngineError, invalid } from '../util/errors.js';

/** An entry's extended attributes: name and raw value, in the order found. */
export type Xattrs = Array<[name: string, value: Buffer]>;

/**
 * Attributes that are storage bookkeeping, never content: overlayfs' own (whiteouts, opaque directories,
 * redirects, metacopy) and fuse-overlayfs'. They must not leak out of a snapshot into a layer, and a layer
 * must not plant them in a snapshot, where overlayfs would obey them.
 */
const STORAGE_XATTR = /^(user|trusted)\.(overlay|fuseoverlayfs)\./;

export function isLayerXattr(name: string): boolean {
  return name !== '' && !STORAGE_XATTR.test(name);
}

const CAPABILITY_XATTR = 'security.capability';
/** struct vfs_ns_cap_data: the revision byte, a revision 2 value's size (revision 3 adds the root uid). */
const VFS_CAP_REVISION_OFFSET = 3;
const VFS_CAP_REVISION_2 = 2;
const VFS_CAP_REVISION_3 = 3;
const VFS_CAP_V2_BYTES = 20;

/**
 * What a layer stores for an attribute. A revision 3 file capability names the root uid of the user namespace
 * it was set in, which means nothing in another one: it is stored as revision 2, as Docker does.
 */
export function layerXattrValue(name: string, value: Buffer): Buffer {
  if (name === CAPABILITY_XATTR && value.length > VFS_CAP_V2_BYTES && value[VFS_CAP_REVISION_OFFSET] === VFS_CAP_REVISION_3) {
    const v2 = Buffer.from(value.subarray(0, VFS_CAP_V2_BYTES));
    v2[VFS_CAP_REVISION_OFFSET] = VFS_CAP_REVISION_2;
    return v2;
  }
  return value;
}

/** getfattr's file names: octal escapes (`\012`) and `\\` for bytes it will not print. */
function unescapeName(text: string): string {
  return Buffer.from(text.replace(/\\(\\|[0-7]{3})/g, (_m, g: string) => (g === '\\' ? '\\' : String.fromCharCode(parseInt(g, 8)))), 'latin1').toString('utf8');
}

/** The reverse, for setfattr --restore: every byte outside printable ASCII, and `\` and `=`, as `\ooo`. */
function escapeName(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte > 0x20 && byte < 0x7f && byte !== 0x5c && byte !== 0x3d ? String.fromCharCode(byte) : `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return out;
}

const missingTools = (err: unknown) => new EngineError('unavailable', `cannot handle extended attributes: ${(err as Error).message}`, {
  hint: 'install the attr package (getfattr, setfattr)',
  cause: err,
});

/**
 * Every extended attribute under `dir` (and of `dir` itself) that the caller may read, by absolute path,
 * from one `getfattr -R` that never follows a symlink. Paths without attributes are absent.
 */
export function readTreeXattrs(dir: string): Promise<Map<string, Xattrs>> {
  return new Promise((resolve, reject) => {
    const args = ['-R', '-P', '-h', '--absolute-names', '-d', '-m', '-', '-e', 'hex', '--', dir];
    execFile('getfattr', args, { encoding: 'latin1', maxBuffer: 256 << 20 }, (err, stdout) => {
      // getfattr exits non-zero when a file vanished meanwhile (a running container); what it printed stands.
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return reject(missingTools(err));
      const found = new Map<string, Xattrs>();
      let current: Xattrs | undefined;
      for (const line of (stdout ?? '').split('\n')) {
        if (line.startsWith('# file: ')) {
          current = [];
          found.set(unescapeName(line.slice('# file: '.length)), current);
          continue;
        }
        const eq = line.indexOf('=0x');
        if (current === undefined || eq <= 0) continue;
        current.push([unescapeName(line.slice(0, eq)), Buffer.from(line.slice(eq + 3), 'hex')]);
      }
      for (const [file, xattrs] of found) if (xattrs.length === 0) found.delete(file);
      resolve(found);
    });
  });
}

/** An attribute the kernel would not let us set here (EPERM, ENOTSUP), e.g. trusted.* in a user namespace. */
export interface RefusedXattr {
  path: string;
  name: string;
  reason: string;
}

function setfattr(args: string[], input: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('setfattr', args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr += text; });
    child.on('error', (err) => reject(missingTools(err)));
    child.on('close', (code) => resolve({ code: code ?? 1, stderr }));
    child.stdin.on('error', () => { /* the close handler reports */ });
    child.stdin.end(input);
  });
}

/** What the kernel says when it will not set an attribute here (EPERM, ENOTSUP, EACCES): left out. */
const REFUSALS = ['Operation not permitted', 'Operation not supported', 'Permission denied'];
/** What it says about the attribute itself (EINVAL: e.g. a malformed capability; E2BIG, ERANGE): bad input. */
const BAD_VALUES = ['Invalid argument', 'Argument list too long', 'Numerical result out of range'];

/**
 * Sets the attributes on the files (absolute paths whose parents the caller checked; a final symlink is not
 * followed), with one `setfattr --restore`. When that fails, each attribute is set alone to tell refusals
 * the kernel makes on principle (returned) from real failures (thrown).
 */
export async function writeXattrs(entries: ReadonlyArray<{ path: string; xattrs: Xattrs }>): Promise<RefusedXattr[]> {
  const dump = (list: ReadonlyArray<{ path: string; xattrs: Xattrs }>) =>
    list.map((e) => `# file: ${escapeName(e.path)}\n${e.xattrs.map(([n, v]) => `${escapeName(n)}=0x${v.toString('hex')}\n`).join('')}\n`).join('');
  if (entries.length === 0) return [];
  const all = await setfattr(['-h', '--restore=-'], dump(entries));
  if (all.code === 0) return [];
  const refused: RefusedXattr[] = [];
  for (const entry of entries) {
    for (const xattr of entry.xattrs) {
      const one = await setfattr(['-h', '--restore=-'], dump([{ path: entry.path, xattrs: [xattr] }]));
      if (one.code === 0) continue;
      const detail = one.stderr.trim().split('\n').at(-1) ?? '';
      const reason = REFUSALS.find((r) => detail.endsWith(r));
      if (reason) {
        refused.push({ path: entry.path, name: xattr[0], reason });
        continue;
      }
      const what = `the extended attribute ${xattr[0]} of ${JSON.stringify(path.basename(entry.path))}`;
      const bad = BAD_VALUES.find((b) => detail.endsWith(b));
      if (bad) throw invalid(`the kernel refuses ${what}: ${bad}`);
      throw new EngineError('internal', `cannot set ${what}: ${detail || 'setfattr failed'}`);
    }
  }
  return refused;
}
