import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { SystemName } from './options';
import { SYSTEMS } from './systems';

/**
 * Every job-queue cluster keeps a ledger of its jobs on disk (mode 0600), so jobs a crashed or
 * killed client left queued or running can be cancelled later: by the next cluster started on
 * this host, or by `mpi-cluster-jobs cleanup`.
 */
export interface LedgerEntry {
  cluster: string;
  system: SystemName;
  /** The process that owns the cluster, and its host. */
  pid: number;
  host: string;
  started: number;
  /** Extra environment the batch commands need (SLURM_CONF, PBS_CONF_FILE, ...). */
  env: Record<string, string>;
  jobs: string[];
}

/** ~/.mpi-cluster, or MPI_CLUSTER_HOME. */
export function clusterHome(): string {
  return process.env.MPI_CLUSTER_HOME ?? path.join(os.homedir(), '.mpi-cluster');
}

/** One directory per cluster: its ledger, scheduler file, job script and (by default) logs. */
export function clusterDir(id: string): string {
  return path.join(clusterHome(), 'clusters', id);
}

function ledgerFile(id: string): string {
  return path.join(clusterDir(id), 'ledger.json');
}

/** Creates the directory and its parents, each 0700 (the scheduler file beside it holds keys). */
export function makePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** Written whole (a temp file renamed over it), mode 0600. */
export function writeLedger(entry: LedgerEntry): void {
  const file = ledgerFile(entry.cluster);
  makePrivateDir(path.dirname(file));
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(entry, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, file);
}

export function removeLedger(id: string): void {
  fs.rmSync(ledgerFile(id), { force: true });
}

export function readLedgers(): LedgerEntry[] {
  const dir = path.join(clusterHome(), 'clusters');
  const out: LedgerEntry[] = [];
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    try {
      out.push(JSON.parse(fs.readFileSync(ledgerFile(name), 'utf8')) as LedgerEntry);
    } catch {
      // no ledger (a closed cluster's logs), or one being rewritten
    }
  }
  return out;
}

/** Whether the ledger's owner still runs (on another host: assumed so, it cannot be checked). */
export function ownerAlive(e: LedgerEntry): boolean {
  if (e.host !== os.hostname()) return true;
  try {
    process.kill(e.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface CleanupResult {
  cluster: string;
  system: SystemName;
  jobs: string[];
}

/**
 * Cancels the jobs of every ledger whose owner is gone (with `all`, of every ledger), and removes
 * those ledgers. `system` limits it to one batch system.
 */
export async function cleanup(
  options: { all?: boolean; system?: SystemName } = {},
): Promise<CleanupResult[]> {
  const done: CleanupResult[] = [];
  for (const e of readLedgers()) {
    if (options.system && e.system !== options.system) continue;
    if (!options.all && ownerAlive(e)) continue;
    await SYSTEMS[e.system].cancel(e.jobs, { ...process.env, ...e.env });
    removeLedger(e.cluster);
    done.push({ cluster: e.cluster, system: e.system, jobs: e.jobs });
  }
  return done;
}
