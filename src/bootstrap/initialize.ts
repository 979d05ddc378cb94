import * as os from 'node:os';
import type { Client } from '../client/client';
import { ClusterError, OptionError } from '../errors';
import { log, readyLine } from '../log';
import { parseDuration } from '../util/duration';
import * as mpi from '../mpi';
import type { Communicator } from '../mpi';
import type { DashboardAddress } from '../observe/http';
import type { WorkerOptions } from '../worker';
import { describePlacement, placement, type Placement, type PlacementOptions } from './placement';
import { hostsOf, startRank, type RankSetup } from './rank';
import type { Join } from './roles';

export interface InitializeOptions extends PlacementOptions {
  /** Network interface for all cluster traffic, e.g. 'ib0'. Default: the host's primary address. */
  interface?: string;
  /** Threads (concurrent tasks) per worker rank. Default 1. */
  nthreads?: number;
  /** Per worker: 'auto' | bytes | '4GB' | fraction; 0 or false: no limit. Default 'auto'. */
  memoryLimit?: number | string | false;
  /** Dask's memory thresholds, fractions of memoryLimit or false: target, spill, pause, terminate. */
  memoryThresholds?: WorkerOptions['memoryThresholds'];
  localDirectory?: string;
  /** More worker options (resources, deathTimeout, ...). */
  workerOptions?: Partial<Omit<WorkerOptions, 'scheduler'>>;
  /** A communicator (from `split`) instead of COMM_WORLD. */
  comm?: Communicator;
  /** true (default): scheduler and worker ranks exit when the cluster shuts down. */
  exit?: boolean;
  /** How long the client's rank waits for every worker to register: ms, or '60s'. Default 60 s. */
  timeout?: number | string;
  /** Worker name prefix; names are PREFIX + rank (default: the rank alone, as dask-mpi). */
  name?: string;
  /** false: no CurveZMQ (a warning says so). Default: the scheduler's rank makes keys and sends them over MPI. */
  security?: false;
  /** The scheduler's port, for sites that open one. Default: any free port. */
  schedulerPort?: number;
  /** The scheduler's dashboard and /metrics: ':8787' (default, else the next free port), 'host:port', or false. */
  dashboardAddress?: DashboardAddress;
  /**
   * Pin each worker rank to one GPU by its node-local rank (OMPI_COMM_WORLD_LOCAL_RANK,
   * MPI_LOCALRANKID, SLURM_LOCALID), honouring a CUDA_VISIBLE_DEVICES the launcher set, and offer
   * { GPU: 1 }.
   */
  gpus?: boolean;
}

const KNOWN = [
  'interface',
  'nthreads',
  'memoryLimit',
  'memoryThresholds',
  'localDirectory',
  'workerOptions',
  'comm',
  'exit',
  'timeout',
  'name',
  'security',
  'schedulerPort',
  'dashboardAddress',
  'gpus',
  'schedulerRank',
  'clientRank',
  'exclusiveWorkers',
];

let started: Promise<Client | null> | null = null;
let theClient: Client | null = null;
/** On the client's rank: shuts the cluster down and waits for this rank's own roles to stop. */
let ending: Promise<void> | null = null;
let end: (() => Promise<void>) | null = null;

/** Checks initialize()'s (and execute()'s) options; unknown ones are refused with the known. */
export function checkInitializeOptions(o: InitializeOptions): void {
  if (typeof o !== 'object' || o === null)
    throw new OptionError('initialize(options): options must be an object');
  for (const k of Object.keys(o)) {
    if (!KNOWN.includes(k))
      throw new OptionError(`unknown initialize option "${k}"; known: ${KNOWN.join(', ')}`);
  }
  if (o.timeout !== undefined && !(parseDuration(o.timeout, { name: 'timeout', unit: 'ms' }) > 0)) {
    throw new OptionError(`timeout must be a positive duration, got ${JSON.stringify(o.timeout)}`);
  }
  if (o.exit !== undefined && typeof o.exit !== 'boolean')
    throw new OptionError('exit must be true or false');
  if (o.gpus !== undefined && typeof o.gpus !== 'boolean')
    throw new OptionError('gpus must be true or false');
  const port = o.schedulerPort;
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new OptionError(
      `schedulerPort must be a port from 1 to 65535, got ${JSON.stringify(port)}`,
    );
  }
}

/**
 * What each rank starts from initialize()'s options (mpi-init's flags are the same options):
 * the scheduler's and every worker's settings, the bound address, and in scheduler-file mode the
 * file or the scheduler outside the job.
 */
export function rankSetup(
  comm: Communicator,
  plan: Placement,
  o: InitializeOptions,
  host: string | undefined,
  more: { schedulerFile?: string; outside?: Join } = {},
): RankSetup {
  return {
    comm,
    plan,
    scheduler: {
      interface: o.interface,
      host,
      port: o.schedulerPort,
      schedulerFile: more.schedulerFile,
      security: o.security,
      dashboardAddress: o.dashboardAddress,
    },
    worker: {
      ...o.workerOptions,
      interface: o.interface,
      // A job on one host: loopback for all. On several hosts without an interface, each worker
      // serves on its address that routes to the scheduler (net/route.ts), as Dask's do.
      host: host === '127.0.0.1' ? host : undefined,
      nthreads: o.nthreads ?? o.workerOptions?.nthreads,
      memoryLimit: o.memoryLimit ?? o.workerOptions?.memoryLimit,
      memoryThresholds: o.memoryThresholds ?? o.workerOptions?.memoryThresholds,
      localDirectory: o.localDirectory ?? o.workerOptions?.localDirectory,
    },
    namePrefix: o.name ?? '',
    gpus: o.gpus ?? false,
    outside: more.outside,
  };
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
 * Turns an MPI job into a cluster, as `dask_mpi.initialize`: by default rank 0 runs the scheduler,
 * rank 1 returns here with a connected client once every worker has registered, ranks >= 2 run
 * workers; `schedulerRank`, `clientRank` and `exclusiveWorkers: false` place them otherwise
 * (placement.ts). On ranks without the client the promise never resolves (the process exits when
 * the cluster shuts down), so with the default `exit: true` it is typed as a Client; with
 * `exit: false` it resolves to null on those ranks once the cluster is down.
 * When the client's script ends, the cluster shuts down and every rank exits with MPI finalized.
 */
export function initialize(options?: InitializeOptions & { exit?: true }): Promise<Client>;
export function initialize(options: InitializeOptions): Promise<Client | null>;
export function initialize(options: InitializeOptions = {}): Promise<Client | null> {
  checkInitializeOptions(options);
  started ??= run(options);
  return started;
}

async function run(o: InitializeOptions): Promise<Client | null> {
  mpi.init({ threadLevel: 'funneled' });
  const comm = o.comm ?? mpi.world();
  const plan = placement(comm.size, o);
  const exit = o.exit ?? true;
  const timeout =
    o.timeout === undefined ? 60_000 : parseDuration(o.timeout, { name: 'timeout', unit: 'ms' });
  const { hosts, host, job } = await hostsOf(comm, o.interface);
  if (comm.rank === plan.schedulerRank) log.debug(`initialize: ranks ${describePlacement(plan)}`);
  const rank = await startRank(rankSetup(comm, plan, o, host), { hosts, job }).catch(
    (err: unknown) => abortJob(comm, err),
  );

  if (!rank.roles.includes('client')) {
    await rank.started!.closed;
    return finish(exit);
  }
  let client: Client;
  try {
    // Only the client's rank loads the client's modules (issue 23).
    const { Client } = require('../client/client') as typeof import('../client/client');
    client = await Client.open({
      address: rank.join.address,
      timeout,
      security: rank.join.security,
    });
  } catch (err) {
    abortJob(comm, err);
  }
  const expected = plan.workerRanks.length;
  try {
    await client.waitForWorkers(expected, { timeout });
  } catch {
    const info = await client.schedulerInfo();
    const seen = new Set(Object.values(info.workers).map((w) => w.name));
    const missing = plan.workerRanks
      .filter((r) => !seen.has(`${o.name ?? ''}${r}`))
      .map((r) => `rank ${r} on ${hosts[r]}`);
    abortJob(
      comm,
      new ClusterError(
        'ERR_TIMEOUT',
        `only ${seen.size} of ${expected} workers registered within ${timeout / 1000} s; never registered: ${missing.join(', ')}`,
      ),
    );
  }
  log.info(readyLine(`${expected} workers`, client, process.uptime()));
  theClient = client;
  end = async () => {
    await client.shutdown();
    // This rank's own scheduler or worker (a child process) stops with the cluster.
    await rank.started?.ended();
  };
  // The script ends when nothing is left to do: then the cluster shuts down and every rank exits.
  process.on('beforeExit', () => void endCluster());
  return client;
}

/**
 * @internal On the client's rank: shuts the cluster down and waits for this rank's scheduler or
 * worker to stop (once, however often it is called: the script's end, execute()).
 */
export function endCluster(): Promise<void> {
  if (!end) {
    throw new ClusterError(
      'ERR_BOOTSTRAP',
      'endCluster() works on the client rank after initialize()',
    );
  }
  ending ??= end();
  return ending;
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
