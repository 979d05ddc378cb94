/**
 * Starting the scheduler and worker roles of one MPI rank, in the rank's own process or in a child
 * process of it. The client's rank uses a child for its other roles: the script's end (Node's
 * `beforeExit`, when nothing is left to do) is what ends the job, and a scheduler's or worker's
 * sockets in the script's process would keep it from ever coming.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { ClusterError, type ErrorCode } from '../errors';
import { log } from '../log';
import { parseKeys, type ClusterKeys, type Security } from '../net/security';
import { distFile } from '../paths';
import type { Scheduler, SchedulerOptions } from '../scheduler/server';
import type { Worker, WorkerOptions } from '../worker';
import type { WorkerMpi } from '../worker/gang';

/** What a scheduler's rank tells every rank over MPI: its address and the cluster's keys. */
export interface Join {
  address: string;
  security: Security;
}

/** The roles to start; plain data, so it can go to a child process. */
export interface RoleSpec {
  /** Start a scheduler (its options: no callbacks). */
  scheduler?: Omit<SchedulerOptions, 'onFatal'>;
  /** Start a worker: of the scheduler given, or (scheduler absent) of the one started with it. */
  worker?: Omit<WorkerOptions, 'scheduler'> & { scheduler?: string };
  /** The child's extra environment (a GPU worker's CUDA_VISIBLE_DEVICES). */
  env?: Record<string, string>;
}

export interface Started {
  /** The scheduler's address and keys, when a scheduler was started. */
  join: Join | null;
  /** Resolves once every role started here has stopped. */
  closed: Promise<void>;
  /** Stops what was started here (the child: it is told to). */
  close(reason: string): Promise<void>;
  /**
   * Waits, keeping this process alive, until the roles have stopped by themselves (the cluster
   * shut down), CHILD_END_MS at most for a child, which is then killed.
   */
  ended(): Promise<void>;
  /** The roles' objects when they run in this process. */
  scheduler?: Scheduler;
  worker?: Worker;
}

/** How long a client's rank waits for its role child to end after the shutdown (ms). */
const CHILD_END_MS = 5000;

function fatalExit(): never {
  const { FATAL_EXIT_CODE } =
    require('../scheduler/server') as typeof import('../scheduler/server');
  process.exit(FATAL_EXIT_CODE);
}

function roleNames(spec: RoleSpec): string {
  return [spec.scheduler && 'scheduler', spec.worker && 'worker'].filter(Boolean).join(' and ');
}

function joinOf(s: Scheduler): Join {
  return { address: s.address, security: s.keys ?? false };
}

/**
 * Starts the roles in this process: the scheduler first, then the worker (with `mpi`, an MPI
 * process of the job that can be a gang member).
 */
export async function startHere(spec: RoleSpec, mpi?: WorkerMpi): Promise<Started> {
  let scheduler: Scheduler | undefined;
  let worker: Worker | undefined;
  // A broken invariant (a bug) ends the rank loudly: exit 70, so the launcher ends the job.
  // A rank loads the modules of its own roles only (issue 23): a worker no scheduler code.
  if (spec.scheduler) {
    const { Scheduler } = require('../scheduler/server') as typeof import('../scheduler/server');
    scheduler = await Scheduler.start({ ...spec.scheduler, onFatal: fatalExit });
  }
  if (spec.worker) {
    const address = spec.worker.scheduler ?? scheduler?.address;
    if (!address) throw new ClusterError('ERR_BOOTSTRAP', 'a worker role without a scheduler');
    // A worker of the scheduler started with it has that scheduler's keys.
    const security = spec.worker.scheduler ? spec.worker.security : (scheduler!.keys ?? false);
    try {
      const { Worker } = require('../worker/worker') as typeof import('../worker/worker');
      worker = await Worker.start({ ...spec.worker, scheduler: address, security, mpi });
    } catch (err) {
      await scheduler?.close('its worker could not start');
      throw err;
    }
  }
  const closed = Promise.all([scheduler?.closed, worker?.closed]).then(() => undefined);
  return {
    join: scheduler ? joinOf(scheduler) : null,
    closed,
    close: async (reason) => {
      await worker?.close(reason);
      await scheduler?.close(reason);
    },
    ended: () => closed,
    scheduler,
    worker,
  };
}

/** What a role child sends its parent: ready (with the join), or why it could not start. */
type ChildReport =
  | { t: 'ready'; join: { address: string; keys: ClusterKeys | null } | null }
  | { t: 'failed'; code?: string; message: string };

/**
 * Starts the roles in a child process (dist/bootstrap/role-child.js) that ends with this one: it
 * stops its roles when the IPC channel closes. The keys travel over IPC, never on a command line.
 * The child is unreferenced once started, so it does not keep this process alive.
 */
export function startInChild(spec: RoleSpec): Promise<Started> {
  const child: ChildProcess = fork(distFile('bootstrap', 'role-child.js'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...spec.env, MPI_CLUSTER_LOG: log.levelName() },
    serialization: 'advanced',
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise<Started>((resolve, reject) => {
    const early = (code: number | null, signal: string | null) =>
      reject(
        new ClusterError(
          'ERR_BOOTSTRAP',
          `the process for this rank's ${roleNames(spec)} exited (${signal ?? `code ${code}`}) before it started`,
        ),
      );
    child.once('exit', early);
    child.once('message', (m: ChildReport) => {
      child.off('exit', early);
      if (m.t === 'failed') {
        reject(new ClusterError((m.code ?? 'ERR_BOOTSTRAP') as ErrorCode, m.message));
        return;
      }
      child.unref();
      child.channel?.unref();
      resolve({
        join: m.join && {
          address: m.join.address,
          security: m.join.keys ? parseKeys(m.join.keys, 'the role process') : false,
        },
        closed: exited,
        close: async () => {
          if (child.connected) child.disconnect();
          await exited;
        },
        ended: async () => {
          child.ref();
          let timer: NodeJS.Timeout | undefined;
          const late = new Promise<'late'>(
            (r) => (timer = setTimeout(() => r('late'), CHILD_END_MS)),
          );
          if ((await Promise.race([exited, late])) === 'late') {
            log.warn(
              `this rank's ${roleNames(spec)} did not stop within ${CHILD_END_MS / 1000} s; killing it`,
            );
            child.kill('SIGKILL');
            await exited;
          }
          clearTimeout(timer);
        },
      });
    });
    child.send(spec);
  });
}
