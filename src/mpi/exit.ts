import { writeSync } from 'fs';
import { inspect } from 'util';
import { loadAddon } from './addon';

let uninstall: (() => void) | undefined;

/**
 * Makes a rank's end safe for the whole job (what `python -m mpi4py` does):
 * - clean exit (code 0): MPI_Finalize if MPI is still active;
 * - exit with a non-zero code: MPI_Abort(COMM_WORLD, code), since finalize would wait
 *   forever for ranks that are blocked in a collective with this one;
 * - uncaught exception or unhandled rejection: print it with the rank to stderr, then
 *   MPI_Abort(COMM_WORLD, 1) so mpirun ends every rank instead of leaving them hanging.
 * Idempotent; returns a function that removes the handlers.
 */
export function installExitHandlers(): () => void {
  if (uninstall) return uninstall;
  const native = loadAddon();
  const active = (): boolean => native.initialized() && !native.finalized();
  const who = (): string =>
    active() ? `rank ${native.rank(0)} of ${native.size(0)}` : `pid ${process.pid}`;

  const onExit = (code: number): void => {
    if (!active()) return;
    if (code === 0) native.finalize();
    else native.abort(0, code);
  };
  const fatal = (kind: string, error: unknown): void => {
    // Our own errors carry a code and a message that says what to do: no stack for those.
    const code = (error as { code?: unknown })?.code;
    const ours = error instanceof Error && typeof code === 'string' && code.startsWith('ERR_');
    const text = ours
      ? `[${code}] ${error.message}`
      : error instanceof Error && error.stack
        ? error.stack
        : inspect(error);
    // Synchronous write: MPI_Abort kills the process right after.
    writeSync(2, `mpi-cluster: ${who()}: ${kind}: ${text}\n`);
    if (active()) {
      writeSync(2, `mpi-cluster: ${who()}: calling MPI_Abort(MPI_COMM_WORLD, 1)\n`);
      native.abort(0, 1);
    }
    process.exit(1);
  };
  const onException = (error: unknown): void => fatal('uncaught exception', error);
  const onRejection = (reason: unknown): void => fatal('unhandled rejection', reason);

  process.on('exit', onExit);
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  uninstall = (): void => {
    process.off('exit', onExit);
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
    uninstall = undefined;
  };
  return uninstall;
}
