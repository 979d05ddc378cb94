import { log } from '../log';
import { parseKeys, type ClusterKeys, type Security } from '../net/security';
import * as os from 'node:os';
import { Client } from '../client/client';
import { ClusterError, OptionError } from '../errors';
import * as mpi from '../mpi';
import type { Communicator } from '../mpi';
import { hostFor } from '../net';
import { Scheduler } from '../scheduler/server';
import { Worker, type WorkerOptions } from '../worker';

export interface InitializeOptions {
  /** Network interface for all cluster traffic, e.g. 'ib0'. Default: the host's primary address. */
  interface?: string;
  /** Threads (concurrent tasks) per worker rank. Default 1. */
  nthreads?: number;
  /** Per worker: 'auto' | bytes | '4GB' | fraction. Default 'auto'. */
  memoryLimit?: number | string;
  localDirectory?: string;
  /** More worker options (resources, deathTimeout, ...). */
  workerOptions?: Partial<Omit<WorkerOptions, 'scheduler'>>;
  /** A communicator (from `split`) instead of COMM_WORLD. */
  comm?: Communicator;
  /** true (default): scheduler and worker ranks exit when the cluster shuts down. */
  exit?: boolean;
  /** How long rank 1 waits for every worker to register (ms). Default 60000. */
  timeout?: number;
  /** Worker name prefix; names are PREFIX + rank (default: the rank alone, as dask-mpi). */
  name?: string;
  /** false: no CurveZMQ (a warning says so). Default: rank 0 makes keys and sends them over MPI. */
  security?: false;
}

const KNOWN = [
  'interface',
  'nthreads',
  'memoryLimit',
  'localDirectory',
  'workerOptions',
  'comm',
  'exit',
  'timeout',
  'name',
  'security',
];

let started: Promise<Client | null> | null = null;
let theClient: Client | null = null;

function check(o: InitializeOptions): void {
  if (typeof o !== 'object' || o === null)
    throw new OptionError('initialize(options): options must be an object');
  for (const k of Object.keys(o)) {
    if (!KNOWN.includes(k))
      throw new OptionError(`unknown initialize option "${k}"; known: ${KNOWN.join(', ')}`);
  }
  if (o.timeout !== undefined && !(typeof o.timeout === 'number' && o.timeout > 0)) {
    throw new OptionError(`timeout must be a positive number of ms, got ${o.timeout}`);
  }
  if (o.exit !== undefined && typeof o.exit !== 'boolean')
    throw new OptionError('exit must be true or false');
}

/** Ends the job on a bootstrap failure: one clear line, then MPI_Abort, so no rank can hang. */
function abortJob(comm: Communicator, err: unknown): never {
  const e = err as { code?: string; message?: string };
  comm.abort(
    1,
    `bootstrap failed on ${os.hostname()} [${e.code ?? 'ERR_BOOTSTRAP'}]: ${e.message ?? String(err)}`,
  );
}

/**
 * Turns an MPI job into a cluster, as `dask_mpi.initialize`: rank 0 runs the scheduler, rank 1
 * returns here with a connected client once every worker has registered, ranks >= 2 run workers.
 * On ranks 0 and >= 2 the promise never resolves (the process exits when the cluster shuts down)
 * unless `exit: false`, where it resolves to null once the cluster is down. When rank 1's script
 * ends, the cluster shuts down and every rank exits with MPI finalized.
 */
export function initialize(options: InitializeOptions = {}): Promise<Client | null> {
  check(options);
  started ??= run(options);
  return started;
}

async function run(o: InitializeOptions): Promise<Client | null> {
  mpi.init({ threadLevel: 'funneled' });
  const comm = o.comm ?? mpi.world();
  if (comm.size < 3) {
    throw new ClusterError(
      'ERR_WORLD_TOO_SMALL',
      `initialize() needs at least 3 MPI ranks (scheduler, client, one worker or more), got ${comm.size}: launch with e.g. mpirun -np 4 or srun -n 4`,
    );
  }
  const exit = o.exit ?? true;
  const hosts = (await comm.allgather(Buffer.from(os.hostname()))).map((b) => b.toString());
  // Without an interface: loopback when the whole job is on one host, else the primary address.
  const oneHost = hosts.every((h) => h === hosts[0]);
  const host = o.interface ? undefined : oneHost ? '127.0.0.1' : hostFor({});
  if (host && !oneHost && comm.rank === 0) {
    log.info(
      `initialize: no interface given and the job spans ${new Set(hosts).size} hosts: binding each rank's primary address (rank 0: ${host}); pass { interface: 'ib0' } to choose the network`,
    );
  }

  if (comm.rank === 0) {
    let scheduler: Scheduler;
    try {
      scheduler = await Scheduler.start({ interface: o.interface, host, security: o.security });
    } catch (err) {
      abortJob(comm, err);
    }
    await comm.bcast(encodeJoin(scheduler), 0);
    await scheduler.closed;
    return finish(exit);
  }

  const { address, security } = decodeJoin(await comm.bcast(null, 0));
  if (comm.rank === 1) {
    let client: Client;
    try {
      client = await Client.open({ address, timeout: o.timeout ?? 60_000, security });
    } catch (err) {
      abortJob(comm, err);
    }
    const expected = comm.size - 2;
    try {
      await client.waitForWorkers(expected, { timeout: o.timeout ?? 60_000 });
    } catch {
      const info = await client.schedulerInfo();
      const seen = new Set(Object.values(info.workers).map((w) => w.name));
      const missing = hosts
        .map((h, r) => ({ r, h }))
        .filter(({ r }) => r >= 2 && !seen.has(workerName(o, r)))
        .map(({ r, h }) => `rank ${r} on ${h}`);
      abortJob(
        comm,
        new ClusterError(
          'ERR_TIMEOUT',
          `only ${seen.size} of ${expected} workers registered within ${(o.timeout ?? 60_000) / 1000} s; never registered: ${missing.join(', ')}`,
        ),
      );
    }
    theClient = client;
    // The script ends when nothing is left to do: then the cluster shuts down and every rank exits.
    let ending = false;
    process.on('beforeExit', () => {
      if (ending) return;
      ending = true;
      void client.shutdown();
    });
    return client;
  }

  let worker: Worker;
  try {
    worker = await Worker.start({
      ...o.workerOptions,
      scheduler: address,
      interface: o.interface,
      host,
      nthreads: o.nthreads ?? o.workerOptions?.nthreads,
      memoryLimit: o.memoryLimit ?? o.workerOptions?.memoryLimit,
      localDirectory: o.localDirectory ?? o.workerOptions?.localDirectory,
      name: workerName(o, comm.rank),
      security,
    });
  } catch (err) {
    abortJob(comm, err);
  }
  await worker.closed;
  return finish(exit);
}

function workerName(o: InitializeOptions, rank: number): string {
  return `${o.name ?? ''}${rank}`;
}

/** Scheduler and worker ranks after the cluster is down. */
function finish(exit: boolean): Promise<null> {
  if (!exit) return Promise.resolve(null);
  mpi.finalize();
  process.exit(0);
}

/** Shuts the cluster down from the client rank (dask-mpi's send_close_signal). */
export async function sendCloseSignal(): Promise<void> {
  if (!theClient) {
    throw new ClusterError(
      'ERR_BOOTSTRAP',
      'sendCloseSignal() works on the client rank after initialize()',
    );
  }
  await theClient.shutdown();
}

/**
 * What rank 0 sends every rank over MPI: the scheduler's address and the cluster's keys (never
 * written to disk).
 */
export function encodeJoin(s: { address: string; keys: ClusterKeys | null }): Buffer {
  return Buffer.from(JSON.stringify({ address: s.address, keys: s.keys }));
}

export function decodeJoin(b: Buffer): { address: string; security: Security } {
  const j = JSON.parse(b.toString()) as { address: string; keys: unknown };
  return { address: j.address, security: j.keys ? parseKeys(j.keys, 'the MPI broadcast') : false };
}
