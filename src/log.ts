/**
 * One small logger. Level from MPI_CLUSTER_LOG (error | warn | info | debug); default warn, so a
 * clean run writes nothing to stderr.
 */
const LEVELS = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 } as const;
type Level = keyof typeof LEVELS;

function current(): number {
  const env = (process.env.MPI_CLUSTER_LOG ?? 'warn') as Level;
  return LEVELS[env] ?? LEVELS.warn;
}

let prefix = `mpi-cluster[${process.pid}]`;
let level = current();

function out(lvl: Level, msg: string): void {
  if (LEVELS[lvl] <= level) process.stderr.write(`${prefix} ${lvl}: ${msg}\n`);
}

export const log = {
  setPrefix(p: string): void {
    prefix = p;
  },
  refresh(): void {
    level = current();
  },
  error: (m: string) => out('error', m),
  warn: (m: string) => out('warn', m),
  info: (m: string) => out('info', m),
  debug: (m: string) => out('debug', m),
};
