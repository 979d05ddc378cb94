import { spawn, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import { ClusterError, OptionError } from '../errors';
import { distFile } from '../paths';
import { Scheduler } from '../scheduler/server';
import { parseMemoryLimit } from '../worker/options';

export interface LocalClusterOptions {
  /** Worker processes. Default: the number of CPUs. */
  nWorkers?: number;
  /** Threads (concurrent tasks) per worker. Default 1. */
  threadsPerWorker?: number;
  /** Per worker: 'auto' | bytes | '4GB' | fraction. */
  memoryLimit?: number | string;
  /** Network interface for scheduler and workers; default loopback. */
  interface?: string;
  localDirectory?: string;
  /** How long to wait for the workers to register (ms). Default 30000. */
  timeout?: number;
}

const KNOWN = [
  'nWorkers',
  'threadsPerWorker',
  'memoryLimit',
  'interface',
  'localDirectory',
  'timeout',
];

/**
 * A scheduler in this process and worker processes on this machine: what `Client.connect()`
 * starts when no address is given.
 */
export class LocalCluster {
  private readonly children = new Set<ChildProcess>();
  private closing: Promise<void> | null = null;

  private constructor(
    readonly scheduler: Scheduler,
    private readonly options: LocalClusterOptions & { nWorkers: number; threadsPerWorker: number },
  ) {}

  get address(): string {
    return this.scheduler.address;
  }

  static async start(options: LocalClusterOptions = {}): Promise<LocalCluster> {
    for (const k of Object.keys(options)) {
      if (!KNOWN.includes(k))
        throw new OptionError(`unknown LocalCluster option "${k}"; known: ${KNOWN.join(', ')}`);
    }
    const nWorkers = options.nWorkers ?? os.availableParallelism();
    const threadsPerWorker = options.threadsPerWorker ?? 1;
    if (!Number.isInteger(nWorkers) || nWorkers < 0) {
      throw new OptionError(`nWorkers must be a non-negative integer, got ${options.nWorkers}`);
    }
    // Checked here, at the call, not only in each worker (where it would surface as a timeout).
    if (options.memoryLimit !== undefined) parseMemoryLimit(options.memoryLimit, threadsPerWorker);
    if (!Number.isInteger(threadsPerWorker) || threadsPerWorker < 1) {
      throw new OptionError(
        `threadsPerWorker must be a positive integer, got ${options.threadsPerWorker}`,
      );
    }
    const scheduler = await Scheduler.start({
      interface: options.interface,
      local: !options.interface,
    });
    const cluster = new LocalCluster(scheduler, { ...options, nWorkers, threadsPerWorker });
    try {
      await cluster.scale(nWorkers, options.timeout ?? 30_000);
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  /** Starts workers until `n` are running. */
  async scale(n: number, timeout = 30_000): Promise<void> {
    const start = this.children.size;
    for (let i = start; i < n; i++) this.spawnWorker(i);
    await this.scheduler.waitForWorkers(n, timeout).catch((err: Error) => {
      throw new ClusterError('ERR_TIMEOUT', `LocalCluster: ${err.message}`);
    });
  }

  private spawnWorker(i: number): void {
    const o = this.options;
    const args = [
      distFile('cli', 'worker.js'),
      this.address,
      '--nthreads',
      String(o.threadsPerWorker),
      '--name',
      `local-${i}`,
    ];
    if (o.memoryLimit !== undefined) args.push('--memory-limit', String(o.memoryLimit));
    if (o.interface) args.push('--interface', o.interface);
    else args.push('--host', '127.0.0.1');
    if (o.localDirectory) args.push('--local-directory', o.localDirectory);
    // The IPC channel ends when this process dies, and the worker exits with it.
    // MPI_CLUSTER_WORKER_NODE_ARGS passes flags to worker processes' node, e.g. --cpu-prof.
    const nodeArgs = (process.env.MPI_CLUSTER_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, ...args], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.children.add(child);
    child.on('exit', (code, signal) => {
      this.children.delete(child);
      // Like a nanny: report a dead worker at once instead of waiting for its heartbeat to lapse.
      if (!this.closing)
        this.scheduler.workerExited(child.pid!, `process exited (${signal ?? `code ${code}`})`);
    });
  }

  /** Worker processes' pids (tests kill them to prove resilience). */
  get workerPids(): number[] {
    return [...this.children].map((c) => c.pid!).filter(Boolean);
  }

  /** Stops the workers and the scheduler. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const exited = [...this.children].map(
        (c) =>
          new Promise((r) =>
            c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r),
          ),
      );
      await this.scheduler.close('local cluster closed');
      const timer = setTimeout(() => {
        for (const c of this.children) c.kill('SIGKILL');
      }, 3000);
      await Promise.all(exited);
      clearTimeout(timer);
    })();
    return this.closing;
  }
}
