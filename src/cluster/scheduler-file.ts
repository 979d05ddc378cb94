import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClusterError } from '../errors';

export interface SchedulerFileContent {
  address: string;
  id: string;
  started: number;
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
  for (let d = dir; !fs.existsSync(d); d = path.dirname(d)) {
    missing.push(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing.reverse()) {
    try {
      fs.mkdirSync(d);
    } catch (err) {
      throw new ClusterError(
        'ERR_SCHEDULER_FILE',
        `cannot create directory ${d} for the scheduler file: ${(err as Error).message}; choose a path on a shared, writable filesystem`,
      );
    }
  }
}

/** Written atomically (temp file + rename) with mode 0600, so no reader sees half a file. */
export function writeSchedulerFile(file: string, content: SchedulerFileContent): void {
  const target = path.resolve(expandHome(file));
  ensureDir(path.dirname(target));
  const tmp = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(content, null, 2) + '\n', { mode: 0o600 });
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
  return { address: d.address, id: d.id, started: Number(d.started) || 0 };
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
      text = fs.readFileSync(target, 'utf8');
    } catch {
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
