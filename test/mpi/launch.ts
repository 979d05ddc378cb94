/** Spawns fixtures under a real MPI launcher, per MPI flavour, and records their output. */
import { spawn } from 'child_process';
import fs from 'fs';
import path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
export const FIXTURES = path.join(__dirname, 'fixtures');
const DIST_ENTRY = path.join(ROOT, 'dist', 'mpi', 'index.js');

export interface Flavour {
  name: 'openmpi' | 'mpich';
  launcher: string;
  args(np: number, command: string[]): string[];
  /**
   * Whether the launcher reliably forwards what a rank wrote to stderr just before
   * MPI_Abort. MPICH's hydra often exits on the abort before forwarding it (its own
   * "application called MPI_Abort" line is lost the same way).
   */
  forwardsStderrBeforeAbort: boolean;
}

export const FLAVOURS: Flavour[] = [
  {
    name: 'openmpi',
    launcher: 'mpirun.openmpi',
    // More ranks than cores; no core binding (node runs helper threads).
    args: (np, command) => ['--oversubscribe', '--bind-to', 'none', '-np', String(np), ...command],
    forwardsStderrBeforeAbort: true,
  },
  {
    name: 'mpich',
    launcher: 'mpiexec.mpich',
    args: (np, command) => ['-n', String(np), ...command],
    forwardsStderrBeforeAbort: false,
  },
];

function which(command: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** Why this flavour cannot be tested here, or null. */
export function skipReason(flavour: Flavour): string | null {
  const addon = path.join(ROOT, 'build', flavour.name, 'Release', 'mpi_cluster.node');
  if (!fs.existsSync(addon)) {
    const build = `MPI_CLUSTER_MPI=${flavour.name} npm run build:native`;
    return `${path.relative(ROOT, addon)} is not built (run \`${build}\`)`;
  }
  if (!which(flavour.launcher)) return `launcher ${flavour.launcher} is not on PATH`;
  return null;
}

/**
 * describe.each over the MPI flavours; a flavour that cannot run is skipped visibly,
 * with its reason printed, never silently.
 */
export function describeFlavours(title: string, body: (flavour: Flavour) => void): void {
  describe.each(FLAVOURS)(`${title} ($name)`, (flavour) => {
    if (!fs.existsSync(DIST_ENTRY)) {
      throw new Error(`${DIST_ENTRY} is missing: run \`npx tsc -p tsconfig.build.json\` first`);
    }
    const reason = skipReason(flavour);
    if (reason) {
      console.warn(`skipping "${title}" for ${flavour.name}: ${reason}`);
      test.skip(`${flavour.name}: ${reason}`, () => undefined);
      return;
    }
    body(flavour);
  });
}

export interface Line {
  text: string;
  /** Date.now() when the line reached us. */
  at: number;
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Line[];
  stderr: string;
  exitedAt: number;
  timedOut: boolean;
}

/** The launcher variables of the environment jest runs in must not leak into the jobs. */
function cleanEnv(flavour: Flavour, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(OMPI_|PMIX_|PMI_|SLURM_|HYDRA_|MV2_|MPI_LOCALNRANKS|MPI_CLUSTER_)/.test(key)) {
      env[key] = value;
    }
  }
  return {
    ...env,
    OMPI_ALLOW_RUN_AS_ROOT: '1',
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
    MPI_CLUSTER_MPI: flavour.name,
    ...extra,
  };
}

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  started?: (pid: number) => void,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    // Own process group, so a hung job can be killed whole.
    const child = spawn(command, args, { cwd: ROOT, env, detached: true });
    started?.(child.pid as number);
    const stdout: Line[] = [];
    let partial = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      const at = Date.now();
      for (const text of parts) stdout.push({ text, at });
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      process.kill(-(child.pid as number), 'SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const exitedAt = Date.now();
      clearTimeout(timer);
      if (partial) stdout.push({ text: partial, at: exitedAt });
      resolve({ code, signal, stdout, stderr, exitedAt, timedOut });
    });
  });
}

/** `<launcher> -np <np> node fixtures/<script> ...args`. */
export function runMpi(
  flavour: Flavour,
  script: string,
  options: { np?: number; args?: string[]; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Run> {
  const { np = 4, args = [], env = {}, timeoutMs = 60_000 } = options;
  const command = [process.execPath, path.join(FIXTURES, script), ...args];
  return run(flavour.launcher, flavour.args(np, command), cleanEnv(flavour, env), timeoutMs);
}

/** `<launcher> -np <np> <command...>` for any command (bootstrap and mpi-init tests). */
export function runMpiCommand(
  flavour: Flavour,
  np: number,
  command: string[],
  options: {
    env?: Record<string, string>;
    timeoutMs?: number;
    /** Called with the launcher's pid once it is spawned (to signal it). */
    started?: (pid: number) => void;
  } = {},
): Promise<Run> {
  const { env = {}, timeoutMs = 60_000 } = options;
  return run(
    flavour.launcher,
    flavour.args(np, command),
    cleanEnv(flavour, env),
    timeoutMs,
    options.started,
  );
}

/** One launch of several commands, one rank each (MPMD: `cmd1 : cmd2 : ...`). */
export function runMpmd(
  flavour: Flavour,
  commands: string[][],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Run> {
  const { env = {}, timeoutMs = 60_000 } = options;
  const [first, ...rest] = commands;
  const n = flavour.name === 'openmpi' ? '-np' : '-n';
  const args = [...flavour.args(1, first), ...rest.flatMap((c) => [':', n, '1', ...c])];
  return run(flavour.launcher, args, cleanEnv(flavour, env), timeoutMs);
}

/** `node fixtures/<script>` without a launcher (an MPI singleton). */
export function runNode(
  flavour: Flavour,
  script: string,
  env: Record<string, string> = {},
): Promise<Run> {
  return run(process.execPath, [path.join(FIXTURES, script)], cleanEnv(flavour, env), 60_000);
}

/** Lines "PREFIX <rank> <rest>" by rank. */
export function linesByRank(result: Run, prefix: string): Map<number, string> {
  const byRank = new Map<number, string>();
  for (const { text } of result.stdout) {
    const match = new RegExp(`^${prefix} (\\d+) (.*)$`).exec(text);
    if (match) byRank.set(Number(match[1]), match[2]);
  }
  return byRank;
}

/** True while `pid` exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Resolves with the pids still running at `deadline` (Date.now() value), or [] as soon
 * as none is. Hydra returns before its proxies have finished killing the ranks.
 */
export function survivorsAt(pids: number[], deadline: number): Promise<number[]> {
  return new Promise((resolve) => {
    const check = (): void => {
      const running = pids.filter(isRunning);
      if (running.length === 0 || Date.now() >= deadline) resolve(running);
      else setTimeout(check, 20);
    };
    check();
  });
}
