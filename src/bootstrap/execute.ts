import { log } from '../log';
import type { Client } from '../client/client';
import { OptionError } from '../errors';
import {
  checkInitializeOptions,
  endCluster,
  initialize,
  type InitializeOptions,
} from './initialize';

/**
 * Runs `fn(client)` on the client's rank of an MPI job that is a cluster (dask-mpi's execute()),
 * then shuts the cluster down, and every rank exits. The exit code is fn's: an integer it returns
 * (0 to 255), else 0; 1 when it throws (the error is printed, with its code). Placement as
 * initialize(): `schedulerRank`, `clientRank` (may be equal), `exclusiveWorkers`.
 */
export async function execute(
  fn: (client: Client) => unknown,
  options: InitializeOptions = {},
): Promise<never> {
  if (typeof fn !== 'function')
    throw new OptionError('execute(fn, options): fn must be a function');
  checkInitializeOptions(options);
  if (options.exit === false)
    throw new OptionError('execute() always exits: leave out exit: false');
  const client = await initialize({ ...options, exit: true });
  // Ranks without the client exit inside initialize() when the cluster shuts down.
  let code = 0;
  try {
    const r = await fn(client);
    if (Number.isInteger(r) && (r as number) >= 0 && (r as number) <= 255) code = r as number;
  } catch (err) {
    const e = err as { code?: string; stack?: string; message?: string };
    log.error(
      `execute: the function failed${e.code ? ` [${e.code}]` : ''}: ${e.stack ?? e.message ?? String(err)}`,
    );
    code = 1;
  }
  await endCluster();
  // MPI is finalized at exit (code 0), or the job aborted with the code (mpi/exit.ts).
  process.exit(code);
}
