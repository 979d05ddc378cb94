/**
 * `mpi-cluster-worker --nanny`: as Dask's nanny, the command stays a small supervisor and runs
 * the worker in a child process, started anew when the worker exits because its process went
 * over the terminate memory threshold (exit code MEMORY_EXIT). SIGINT and SIGTERM are passed on;
 * any other exit ends the nanny with the worker's code. The worker leaves with the nanny (its
 * IPC channel closes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { log } from '../log';
import {
  MAX_QUICK_MEMORY_EXITS,
  MEMORY_EXIT,
  NANNY_ENV,
  RESTART_WINDOW_MS,
} from '../worker/options';

export function runNanny(script: string, args: string[]): void {
  let child: ChildProcess;
  let stopping = false;
  let quick = 0;
  const start = () => {
    const started = Date.now();
    child = spawn(process.execPath, [...process.execArgv, script, ...args], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, [NANNY_ENV]: '1' },
    });
    child.on('exit', (code, signal) => {
      if (code === MEMORY_EXIT && !stopping) {
        quick = Date.now() - started < RESTART_WINDOW_MS ? quick + 1 : 0;
        if (quick < MAX_QUICK_MEMORY_EXITS) {
          log.warn('nanny: the worker went over its memory terminate threshold; starting another');
          start();
          return;
        }
        log.error(
          `nanny: the worker went over its memory threshold ${quick} times within ${RESTART_WINDOW_MS / 1000} s of starting; not restarting it`,
        );
      }
      process.exit(code ?? (signal ? 1 : 0));
    });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      stopping = true;
      child.kill(sig);
    });
  }
  start();
}
