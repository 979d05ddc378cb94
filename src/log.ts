/**
 * One small logger: each line has a timestamp, the process and the level. Level from
 * MPI_CLUSTER_LOG (error | warn | info | debug). The policy, in one place:
 * - the library defaults to warn, so a library user's clean run writes nothing to stderr;
 * - the programs (mpi-init, the scheduler and worker CLIs) default to info: one line when a
 *   cluster is ready, warnings and errors;
 * - who joined and left (`log.member`) is info only in a scheduler or worker run by hand, where
 *   a batch job's output should show it, and debug elsewhere (under MPI every rank is a member
 *   by construction, and the ready line says how many).
 */
const LEVELS = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 } as const;
type Level = keyof typeof LEVELS;

let fallback: Level = 'warn';
let membersAt: Level = 'debug';

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
  /** Joins, leaves and registrations at info from now on (a scheduler or worker run by hand). */
  membersAtInfo(): void {
    membersAt = 'info';
  },
  /** A peer joined, registered or left: info by hand, debug elsewhere (see the policy above). */
  member: (m: string) => out(membersAt, m),
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

/**
 * The one line a program logs at its default level once a cluster is ready. The dashboard's
 * address goes without its token: batch output files are often readable by others.
 */
export function readyLine(
  what: string,
  c: { address: string; dashboardLink: string | null },
  seconds: number,
): string {
  let dashboard = '';
  if (c.dashboardLink) {
    const u = new URL(c.dashboardLink);
    u.search = '';
    dashboard = `, dashboard ${u.href} (with its token: client.dashboardLink)`;
  }
  return `cluster ready: ${what}, scheduler ${c.address}${dashboard}, ${seconds.toFixed(2)} s after start`;
}

const WARN_EVERY_MS = 5000;
const often = new Map<string, { at: number; left: number }>();
