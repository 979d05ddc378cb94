import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClusterError } from '../errors';
import { log } from '../log';

/** Written into each worker directory: who owns it, so a later worker can tell it is stale. */
export const OWNER_FILE = 'owner.json';

interface Owner {
  pid: number;
  host: string;
}

/** The per-user parent of worker directories when none is given: <tmpdir>/mpi-cluster-<uid>. */
export function defaultWorkerParent(): string {
  const uid = process.getuid?.() ?? os.userInfo().username;
  return path.join(os.tmpdir(), `mpi-cluster-${uid}`);
}

/**
 * Creates `<parent>/worker-<id>` with mode 0700 (task scratch data is private to its user),
 * records this process as its owner, and first removes sibling worker directories of this host
 * whose owner process is gone (a worker killed with SIGKILL never removes its own).
 */
export function createWorkerDirectory(parent: string, id: string): string {
  fs.mkdirSync(parent, { recursive: true, mode: 0o700 });
  checkParent(parent);
  removeStaleDirectories(parent);
  const dir = path.join(parent, `worker-${id}`);
  fs.mkdirSync(dir, { mode: 0o700 });
  const owner: Owner = { pid: process.pid, host: os.hostname() };
  fs.writeFileSync(path.join(dir, OWNER_FILE), JSON.stringify(owner) + '\n', { mode: 0o600 });
  return dir;
}

/** The default parent is shared /tmp: it must be ours and closed to others. */
function checkParent(parent: string): void {
  const st = fs.statSync(parent);
  const uid = process.getuid?.();
  if (uid === undefined || parent !== defaultWorkerParent()) return;
  if (st.uid !== uid) {
    throw new ClusterError(
      'ERR_INVALID_OPTION',
      `worker directory parent ${parent} belongs to uid ${st.uid}, not to this user (${uid}): remove it or give localDirectory`,
    );
  }
  if ((st.mode & 0o077) !== 0) fs.chmodSync(parent, 0o700);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists, it is someone else's.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Removes `worker-*` directories under `parent` whose owner file names a process of this host
 * that no longer runs. Directories of other hosts (a shared filesystem) and directories without
 * an owner file (being created, or from an older version) are left alone.
 */
export function removeStaleDirectories(parent: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return removed;
  }
  const host = os.hostname();
  for (const name of names) {
    if (!name.startsWith('worker-')) continue;
    const dir = path.join(parent, name);
    let owner: Partial<Owner>;
    try {
      owner = JSON.parse(fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8')) as Partial<Owner>;
    } catch {
      continue;
    }
    if (owner.host !== host || !Number.isInteger(owner.pid) || alive(owner.pid!)) continue;
    try {
      fs.rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
      log.debug(`removed stale worker directory ${dir} (its process ${owner.pid} is gone)`);
    } catch (err) {
      log.warn(`could not remove stale worker directory ${dir}: ${(err as Error).message}`);
    }
  }
  return removed;
}
