import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ClusterError } from '../errors';
import { parseKeys, type ClusterKeys } from '../net/security';

export interface SchedulerFileContent {
  address: string;
  id: string;
  started: number;
  /** The cluster's keys; absent when the scheduler runs without security. */
  keys?: ClusterKeys;
  /** The /metrics link and the dashboard's, with the token, when the scheduler serves HTTP. */
  metrics?: string;
  dashboard?: string;
}

/** `~` and `~/x` expand to the home directory (users write them in batch scripts). */
export function expandHome(p: string): string {
  if (p === '~') return os.homedir();
  if (p.startsWith('~/')) return path.join(os.homedir(), p.slice(2));
  return p;
}

/**
 * Creates `dir` and its missing parents one level at a time, with a coded error on failure
 * (Node's recursive mkdir never returns for a path under /proc).
 */
function ensureDir(dir: string): void {
  const missing: string[] = [];
  const mode = 0o700;
  for (let d = dir; !fs.existsSync(d); d = path.dirname(d)) {
    missing.push(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing.reverse()) {
    try {
      fs.mkdirSync(d, { mode });
    } catch (err) {
      throw new ClusterError(
        'ERR_SCHEDULER_FILE',
        `cannot create directory ${d} for the scheduler file: ${(err as Error).message}; choose a path on a shared, writable filesystem`,
      );
    }
  }
}

/**
 * Refuses a directory where others could replace the file: writable by group or others without
 * the sticky bit (as /tmp has).
 */
function checkDir(dir: string): void {
  const st = fs.statSync(dir);
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) {
    throw new ClusterError(
      'ERR_SECURITY',
      `directory ${dir} is writable by other users, who could replace the scheduler file (it holds the cluster's keys): choose a directory of your own, or chmod go-w ${dir}`,
    );
  }
}

/**
 * Written atomically, without following links: a new temp file (O_EXCL, O_NOFOLLOW, mode 0600)
 * renamed over the target, so no reader sees half a file and no link someone planted is written
 * through. The file holds the cluster's keys: only its owner may read it.
 */
export function writeSchedulerFile(file: string, content: SchedulerFileContent): void {
  const target = path.resolve(expandHome(file));
  const dir = path.dirname(target);
  ensureDir(dir);
  checkDir(dir);
  const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
  const flags =
    fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
  const fd = fs.openSync(tmp, flags, 0o600);
  try {
    fs.writeFileSync(fd, JSON.stringify(content, null, 2) + '\n');
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, target);
}

/** Removes the file only if it still names this scheduler (a newer one may have replaced it). */
export function removeSchedulerFile(file: string, id: string): void {
  const target = path.resolve(expandHome(file));
  try {
    const now = JSON.parse(fs.readFileSync(target, 'utf8')) as SchedulerFileContent;
    if (now.id === id) fs.unlinkSync(target);
  } catch {
    // already gone or unreadable: nothing of ours to remove
  }
}

function parse(target: string, text: string): SchedulerFileContent {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ClusterError('ERR_SCHEDULER_FILE', `scheduler file ${target} is not JSON`);
  }
  const d = data as Partial<SchedulerFileContent>;
  if (typeof d.address !== 'string' || typeof d.id !== 'string') {
    throw new ClusterError(
      'ERR_SCHEDULER_FILE',
      `scheduler file ${target} has no "address"/"id": was it written by mpi-cluster?`,
    );
  }
  const out: SchedulerFileContent = {
    address: d.address,
    id: d.id,
    started: Number(d.started) || 0,
  };
  if (d.keys !== undefined) out.keys = parseKeys(d.keys, `scheduler file ${target}`);
  return out;
}

export interface ReadOptions {
  /** How long to wait for the file to appear (ms). */
  timeout?: number;
  /** Ignore files written before this time (ms since epoch): never follow a stale file. */
  notBefore?: number;
}

/** Waits for the scheduler file (watching its directory) and reads it. */
export async function readSchedulerFile(
  file: string,
  options: ReadOptions = {},
): Promise<SchedulerFileContent> {
  const target = path.resolve(expandHome(file));
  const timeout = options.timeout ?? 30_000;
  const tryRead = (): SchedulerFileContent | null => {
    let text: string;
    try {
      const fd = fs.openSync(target, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      try {
        const st = fs.fstatSync(fd);
        if ((st.mode & 0o077) !== 0) {
          throw new ClusterError(
            'ERR_SECURITY',
            `scheduler file ${target} can be read by other users (mode ${(st.mode & 0o777).toString(8)}), who could take the cluster's keys from it: refused. Run chmod 600 ${target} and restart the scheduler, which writes it 0600`,
          );
        }
        text = fs.readFileSync(fd, 'utf8');
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      if (err instanceof ClusterError) throw err;
      return null;
    }
    const c = parse(target, text);
    if (options.notBefore && c.started < options.notBefore) return null;
    return c;
  };
  const first = tryRead();
  if (first) return first;
  const dir = path.dirname(target);
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: Error | null, c?: SchedulerFileContent) => {
      if (done) return;
      done = true;
      watcher?.close();
      clearTimeout(timer);
      clearInterval(poll);
      if (err) reject(err);
      else resolve(c!);
    };
    const check = () => {
      try {
        const c = tryRead();
        if (c) finish(null, c);
      } catch (err) {
        finish(err as Error);
      }
    };
    // A reader creates nothing: a directory that does not exist yet is polled until it does.
    let watcher: fs.FSWatcher | undefined;
    try {
      watcher = fs.watch(dir, check);
    } catch {
      watcher = undefined;
    }
    // fs.watch misses events on some network filesystems (NFS, Lustre): also look now and then.
    const poll = setInterval(check, 250);
    const timer = setTimeout(
      () =>
        finish(
          new ClusterError(
            'ERR_TIMEOUT',
            `no scheduler file at ${target} after ${timeout / 1000} s: is the scheduler running and writing to this path?`,
          ),
        ),
      timeout,
    );
    check();
  });
}
