import { type Command, InvalidArgumentError, Option } from 'commander';
import { OptionError } from '../errors';
import { log } from '../log';
import { MEMORY_DEFAULTS, resolveThresholds, type MemoryThresholds } from '../worker/memory';
import { packageVersion } from '../paths';
import { DEFAULT_HTTP_PORT } from '../observe/http';
import { formatDuration, parseDuration } from '../util/duration';

/** `.version(...versionFlag())`: -V / --version print the package's version and exit. */
export function versionFlag(): [string, string, string] {
  return [packageVersion(), '-V, --version', 'print the mpi-cluster version and exit'];
}

/** Where a scheduler binds without --interface or --host (hostFor in net/interfaces.ts). */
export const SCHEDULER_BIND_DEFAULT =
  "without it or --host, the host's first non-loopback IPv4 address, else 127.0.0.1";

/** Where a worker serves without --interface or --host (workerHost in net/route.ts). */
export const WORKER_BIND_DEFAULT =
  "without it or --host, the address that routes to the scheduler; if there is none, the host's first non-loopback IPv4 address, with a warning";

/** What --dashboard-address takes, and its default (observe/http.ts). */
export const DASHBOARD_HELP = `the HTTP server for the dashboard, /metrics and /health: ':PORT' on the scheduler's host, 'HOST:PORT' or a port (default: ':${DEFAULT_HTTP_PORT}'; if that port is taken, one the OS chooses)`;

/** What a duration flag's help says it takes. */
export const DURATION_HELP = 'seconds, or with a unit: 500ms, 60s, 5m, 1h';

/** A parser for a duration flag: a bare number is seconds; returns milliseconds, more than 0. */
export function durationOption(name: string) {
  return (value: string): number => {
    const ms = parseDuration(value, { name, unit: 's' });
    if (ms === 0)
      throw new OptionError(`${name} must be longer than 0 (${DURATION_HELP}); got "${value}"`);
    return ms;
  };
}

/**
 * A duration flag (`--death-timeout <duration>`): its value in milliseconds, its help saying the
 * forms it takes and its default: a value (ms, shown with a unit), or words for a flag whose
 * absence means something else ('none, the worker runs until stopped').
 */
export function durationFlag(
  flags: string,
  description: string,
  byDefault?: number | string,
): Option {
  const text = `${description} (${DURATION_HELP})`;
  const option = new Option(
    flags,
    typeof byDefault === 'string' ? `${text} (default: ${byDefault})` : text,
  );
  option.argParser(durationOption(option.long ?? flags));
  return typeof byDefault === 'number'
    ? option.default(byDefault, formatDuration(byDefault))
    : option;
}

export function intOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        `${name} must be an integer from ${min} to ${max}, got "${value}"`,
      );
    }
    return n;
  };
}

/** Prints an error with its code and what to do, then exits non-zero; never a stack for users. */
export function fail(err: unknown, exitCode = 1): never {
  const e = err as { code?: string; message?: string };
  const code = e.code ? ` [${e.code}]` : '';
  process.stderr.write(`error${code}: ${e.message ?? String(err)}\n`);
  if (process.env.MPI_CLUSTER_LOG === 'debug' && err instanceof Error) log.debug(err.stack ?? '');
  process.exit(exitCode);
}

/**
 * How long a stop after SIGINT/SIGTERM may take before the process exits anyway: our promise is
 * 5 s in every state (Slurm's KillWait, after which it sends SIGKILL and may drain the node, is
 * 30 s by default).
 */
export const SIGNAL_DEADLINE_MS = 4000;

/**
 * Runs `stop()` on SIGINT/SIGTERM so scheduler files and sockets are cleaned up, then exits 0. A
 * stop that takes longer than SIGNAL_DEADLINE_MS, or a second signal, runs `now()` (synchronous
 * clean-up, e.g. removing the scheduler file) and exits 1.
 */
export function onSignals(
  stop: (signal: string) => Promise<void>,
  now: () => void = () => {},
): void {
  let stopping = false;
  const hard = (why: string): never => {
    log.warn(why);
    try {
      now();
    } finally {
      process.exit(1);
    }
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) hard(`${sig} again: exiting now`);
      stopping = true;
      setTimeout(
        () => hard(`stop after ${sig} took over ${SIGNAL_DEADLINE_MS / 1000} s: exiting now`),
        SIGNAL_DEADLINE_MS,
      ).unref();
      stop(sig).then(
        () => process.exit(0),
        (err: unknown) => fail(err),
      );
    });
  }
}

const THRESHOLD_HELP: Record<keyof MemoryThresholds, string> = {
  target:
    'stored values above this fraction of the memory limit spill to disk, least recently used first',
  spill: 'process memory above this fraction spills until under target',
  pause:
    'process memory above this fraction pauses the worker: no new task starts until it is back under',
  terminate:
    "process memory above this fraction: a LocalCluster's worker restarts, any other spills everything and recycles its task threads",
};

/** --memory-target/-spill/-pause/-terminate (Dask's thresholds), for the worker CLI and mpi-init. */
export function memoryThresholdOptions<C extends Command>(cmd: C): C {
  for (const name of ['target', 'spill', 'pause', 'terminate'] as const) {
    cmd.option(
      `--memory-${name} <fraction>`,
      `${THRESHOLD_HELP[name]}; false: off (default: ${MEMORY_DEFAULTS[name]})`,
    );
  }
  return cmd;
}

/** The thresholds the flags above gave (checked: ERR_INVALID_OPTION naming the flag). */
export function thresholdsFrom(o: {
  memoryTarget?: string;
  memorySpill?: string;
  memoryPause?: string;
  memoryTerminate?: string;
}): MemoryThresholds {
  return resolveThresholds({
    target: o.memoryTarget,
    spill: o.memorySpill,
    pause: o.memoryPause,
    terminate: o.memoryTerminate,
  });
}
