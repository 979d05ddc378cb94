/**
 * One small logger: each line has a timestamp, the process and the level. Level from
 * MPI_CLUSTER_LOG (error | warn | info | debug); default warn, so a library user's clean run
 * writes nothing to stderr; the scheduler CLI and mpi-init default to info (who joined and left).
 */
const LEVELS = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 } as const;
type Level = keyof typeof LEVELS;

let fallback: Level = 'warn';

function current(): number {
  const env = (process.env.MPI_CLUSTER_LOG ?? fallback) as Level;
  return LEVELS[env] ?? LEVELS[fallback];
}

let prefix = `mpi-cluster[${process.pid}]`;
let level = current();

function out(lvl: Level, msg: string): void {
  if (LEVELS[lvl] <= level) {
    process.stderr.write(`${new Date().toISOString()} ${prefix} ${lvl}: ${msg}\n`);
  }
}

export const log = {
  setPrefix(p: string): void {
    prefix = p;
  },
  /** The level in force, for a child process to log as this one does. */
  levelName(): Level {
    return (Object.keys(LEVELS) as Level[]).find((l) => LEVELS[l] === level) ?? fallback;
  },
  refresh(): void {
    level = current();
  },
  /** The level when MPI_CLUSTER_LOG is not set (programs: info; the library: warn). */
  defaultLevel(l: Level): void {
    fallback = l;
    level = current();
  },
  error: (m: string) => out('error', m),
  warn: (m: string) => out('warn', m),
  info: (m: string) => out('info', m),
  debug: (m: string) => out('debug', m),
  /**
   * A warning that a peer can cause at will (a malformed message): at most one per WARN_EVERY_MS
   * for each `kind`, with a count of those left out, so a flood cannot flood the logs.
   */
  warnOften(kind: string, m: string): void {
    const now = Date.now();
    const seen = often.get(kind);
    if (seen && now - seen.at < WARN_EVERY_MS) {
      seen.left += 1;
      return;
    }
    const left = seen?.left
      ? ` (${seen.left} more like it in the last ${WARN_EVERY_MS / 1000} s)`
      : '';
    often.set(kind, { at: now, left: 0 });
    out('warn', m + left);
  },
};

const WARN_EVERY_MS = 5000;
const often = new Map<string, { at: number; left: number }>();
