/**
 * The gang function behind mpiProgram (issue 21, Parsl's case): an external MPI executable started
 * by the job's own launcher on the hosts of the gang's members, whose worker slots stay reserved
 * while it runs. Every member runs runProgram; gang rank 0 starts the launcher, the others wait for
 * it in a barrier. Workers import this module from dist/ (client/program.ts names it).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClusterError } from '../errors';
import type { GangComm } from './gang-comm';
import { launchPlan, vendorFromEnv, vendorFromVersion, type MpiVendor } from './launcher';

/** What the client sends: mpiProgram's arguments, validated there. */
export interface ProgramSpec {
  command: string;
  args: string[];
  /** Set for the program on top of the rank's environment (less the job's MPI variables). */
  env?: Record<string, string>;
  /** Absolute; absent: the worker's working directory. */
  cwd?: string;
  /** Stop the launcher after this long (ms). */
  timeoutMs?: number;
}

/** Gang rank 0's return (the others return null). */
export interface ProgramResult {
  /** The launcher's exit code (srun and mpirun exit with the program's), null if signalled. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Every rank's output as the launcher forwarded it, each up to OUTPUT_LIMIT bytes. */
  stdout: string;
  stderr: string;
  /** Each gang rank's hostname, in gang rank order. */
  hosts: string[];
  /** The command that ran: launcher, its options, the program and its arguments. */
  launcher: string[];
  /** Stopped by the `timeout` option. */
  timedOut: boolean;
}

/** Per stream: a program's output comes back as one task result, held in memory. */
export const OUTPUT_LIMIT = 16 << 20;

const GUARD = path.join(__dirname, 'program-guard.js');

function find(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** Whose `mpirun` is on PATH, by what it says of itself; null when none or it will not say. */
function probeVendor(): Promise<MpiVendor | null> {
  const mpirun = find('mpirun') ?? find('mpiexec');
  if (!mpirun) return Promise.resolve(null);
  return new Promise((resolve) => {
    const child = spawn(mpirun, ['--version'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (c: Buffer) => (text += c.toString()));
    child.stderr.on('data', (c: Buffer) => (text += c.toString()));
    child.on('error', () => resolve(null));
    child.on('close', () => resolve(vendorFromVersion(text)));
  });
}

/** Collects a stream up to OUTPUT_LIMIT bytes, reading (and counting) the rest. */
class Capped {
  private readonly parts: Buffer[] = [];
  private kept = 0;
  private dropped = 0;

  add(chunk: Buffer): void {
    const room = OUTPUT_LIMIT - this.kept;
    if (room > 0) this.parts.push(room >= chunk.length ? chunk : chunk.subarray(0, room));
    this.kept += Math.min(room, chunk.length);
    this.dropped += Math.max(0, chunk.length - room);
  }

  text(): string {
    const s = Buffer.concat(this.parts).toString('utf8');
    return this.dropped === 0
      ? s
      : `${s}\n[mpi-cluster: output cut at ${OUTPUT_LIMIT} bytes; ${this.dropped} more bytes dropped]\n`;
  }
}

/** Runs the launcher under program-guard.js and waits for it to end. */
function launch(
  argv: string[],
  env: Record<string, string>,
  spec: ProgramSpec,
): Promise<Omit<ProgramResult, 'hosts' | 'launcher'>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [GUARD, ...argv], {
      cwd: spec.cwd,
      env,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    });
    const stdout = new Capped();
    const stderr = new Capped();
    let status = '';
    child.stdout!.on('data', (c: Buffer) => stdout.add(c));
    child.stderr!.on('data', (c: Buffer) => stderr.add(c));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (c: Buffer) => (status += c.toString()));
    let timedOut = false;
    const timer =
      spec.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.stdin!.end(); // the guard stops the launcher's process group
          }, spec.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (guardCode) => {
      clearTimeout(timer);
      let ended: { code?: number | null; signal?: NodeJS.Signals | null; error?: string };
      try {
        ended = JSON.parse(status);
      } catch {
        ended = { error: `the launcher's guard exited with ${guardCode} without a status` };
      }
      if (ended.error !== undefined) {
        reject(
          new ClusterError(
            'ERR_NO_LAUNCHER',
            `mpiProgram: could not start ${argv[0]}: ${ended.error}\n${stderr.text()}`,
          ),
        );
        return;
      }
      resolve({
        code: ended.code ?? null,
        signal: ended.signal ?? null,
        stdout: stdout.text(),
        stderr: stderr.text(),
        timedOut,
      });
    });
  });
}

/**
 * Every member: where it runs (gang rank order). Gang rank 0: the launcher on those hosts, then the
 * barrier that releases the others; its result is the program's, the others' null.
 */
export async function runProgram(comm: GangComm, spec: ProgramSpec): Promise<ProgramResult | null> {
  // Inside Slurm the launcher needs Slurm's node names, which need not be the hostnames.
  const here = { host: os.hostname(), node: process.env.SLURMD_NODENAME || os.hostname() };
  const members = await comm.allgather(here);
  if (comm.rank !== 0) {
    await comm.barrier();
    return null;
  }
  const env = process.env as Record<string, string | undefined>;
  const vendor = vendorFromEnv(env) ?? (env.SLURM_JOB_ID ? null : await probeVendor());
  const plan = launchPlan({
    env,
    hosts: members.map((m) => m.node),
    vendor,
    command: spec.command,
    args: spec.args,
    find,
  });
  const ended = await launch(plan.argv, { ...plan.env, ...spec.env }, spec);
  await comm.barrier();
  return { ...ended, hosts: members.map((m) => m.host), launcher: plan.argv };
}
