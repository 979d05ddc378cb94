/**
 * The test bed for test/slurm and test/multihost: scripts/testbed brought up in beforeAll and
 * down in afterAll, one lab per test file (own netns names, subnet, bridge, Slurm ports), so
 * files can run side by side. Where the machine cannot host it, the file is skipped with the
 * reason printed.
 */
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const TESTBED = path.join(ROOT, 'scripts', 'testbed');
const DIST = path.join(ROOT, 'dist');
const OPENMPI_ADDON = path.join(ROOT, 'build', 'openmpi', 'Release', 'mpi_cluster.node');

export interface LabSpec {
  /** Names the emulated hosts PREFIX1..N (and the netns, Slurm nodes, bridge). <= 8 chars. */
  prefix: string;
  /** 1..200: the subnet 10.78.<index>.0/24 and the Slurm ports 17000 + 10 * index (+1). */
  index: number;
  /** Emulated hosts. */
  nodes: number;
  /** Start Slurm on the hosts (else only the network namespaces). */
  slurm: boolean;
  /** Needs the Open MPI build of the addon (srun / mpirun of mpi-init). */
  mpi?: boolean;
}

export interface JobInfo {
  id: string;
  state: string;
  exitCode: string;
  reason: string;
  nodes: string;
}

const TERMINAL = new Set([
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'NODE_FAIL',
  'OUT_OF_MEMORY',
  'PREEMPTED',
  'BOOT_FAIL',
  'DEADLINE',
]);

function which(cmd: string): boolean {
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .concat(['/usr/sbin', '/sbin'])
    .some((d) => {
      try {
        fs.accessSync(path.join(d, cmd), fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

/** Why this machine cannot host the lab, or null. */
export function skipReason(spec: LabSpec): string | null {
  if (process.platform !== 'linux')
    return `needs Linux network namespaces (on ${process.platform})`;
  if (process.getuid?.() !== 0)
    return 'needs root (network namespaces, slurmd); run the suite as root to include it';
  const tools = ['ip', 'nsenter', 'unshare'];
  if (spec.slurm) tools.push('slurmctld', 'slurmd', 'munged', 'sbatch', 'srun', 'scontrol');
  if (spec.mpi) tools.push('mpirun');
  const missing = tools.filter((t) => !which(t));
  if (missing.length) {
    return `missing ${missing.join(', ')} (apt-get install slurm-wlm munge openmpi-bin iproute2)`;
  }
  if (spec.mpi && !fs.existsSync(OPENMPI_ADDON)) {
    return `${path.relative(ROOT, OPENMPI_ADDON)} is not built (npm run build:native)`;
  }
  return null;
}

export function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 30_000,
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { env, cwd: ROOT, timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, out: `${stdout}${stderr}${err && !stderr ? String(err) : ''}` });
      },
    );
  });
}

/** Live processes (not this one, not zombies) whose environment and command line `match`. */
export function liveProcesses(
  match: (env: string, cmdline: string) => boolean,
): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z') continue;
      const env = fs.readFileSync(`/proc/${d}/environ`, 'utf8');
      const cmdline = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (!match(env, cmdline)) continue;
      out.push({ pid: Number(d), comm: fs.readFileSync(`/proc/${d}/comm`, 'utf8').trim() });
    } catch {
      // gone, or a kernel thread
    }
  }
  return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value (not undefined) or `timeoutMs` passes. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export class Lab {
  readonly dir: string;
  readonly jobsDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly hosts: string[];
  /** ib0 address of each host. */
  readonly addresses: string[];
  /** Jobs submitted in the current test, for diagnostics. */
  private jobs: string[] = [];

  constructor(readonly spec: LabSpec) {
    // A fixed directory per lab: a run that was killed leaves a record the next run cleans up.
    this.dir = `/tmp/mpi-cluster-lab-${spec.prefix}`;
    this.jobsDir = path.join(this.dir, 'jobs');
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
      // The launcher variables of whatever runs jest must not leak into the lab's jobs.
      if (!/^(OMPI_|PMIX_|PMI_|SLURM_|SRUN_|SBATCH_|HYDRA_|MPI_CLUSTER_)/.test(k)) env[k] = v;
    }
    this.env = {
      ...env,
      LAB: this.dir,
      LAB_PREFIX: spec.prefix,
      LAB_NET: `10.78.${spec.index}`,
      CTLD_PORT: String(17000 + 10 * spec.index),
      SLURMD_PORT: String(17001 + 10 * spec.index),
      SLURM_CONF: path.join(this.dir, 'cluster', 'etc', 'slurm.conf'),
      OMPI_ALLOW_RUN_AS_ROOT: '1',
      OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
      MPI_CLUSTER_MPI: 'openmpi',
      PATH: `${TESTBED}:${process.env.PATH}:/usr/sbin:/sbin`,
    };
    this.hosts = Array.from({ length: spec.nodes }, (_, i) => `${spec.prefix}${i + 1}`);
    this.addresses = this.hosts.map((_, i) => `10.78.${spec.index}.${i + 1}`);
  }

  async up(): Promise<void> {
    if (!fs.existsSync(path.join(DIST, 'index.js'))) {
      throw new Error(`${DIST} is missing: run \`npx tsc -p tsconfig.build.json\` first`);
    }
    await this.down(); // whatever a killed earlier run left
    const args = this.spec.slurm
      ? ['--nodes', String(this.spec.nodes)]
      : ['--netns-only', String(this.spec.nodes)];
    const r = await run(path.join(TESTBED, 'up.sh'), args, this.env, 60_000);
    if (r.code !== 0) throw new Error(`up.sh ${args.join(' ')} failed:\n${r.out}\n${this.logs()}`);
    fs.mkdirSync(this.jobsDir, { recursive: true });
  }

  async down(): Promise<void> {
    const r = await run(path.join(TESTBED, 'down.sh'), [], this.env, 60_000);
    if (r.code !== 0) throw new Error(`down.sh failed:\n${r.out}`);
  }

  /** What is left of this lab on the machine (for the "leaves nothing behind" check). */
  leftovers(): string[] {
    const left: string[] = [];
    if (fs.existsSync(this.dir)) left.push(this.dir);
    const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    for (const h of this.hosts) if (new RegExp(`^${h}\\b`, 'm').test(ns)) left.push(`netns ${h}`);
    const links = spawnSync('ip', ['-br', 'link'], { encoding: 'utf8' }).stdout;
    if (links.includes(`${this.spec.prefix}labbr0`)) left.push(`bridge ${this.spec.prefix}labbr0`);
    for (const p of this.processes(() => true)) left.push(`process ${p.pid} ${p.comm}`);
    return left;
  }

  /** Live processes whose environment belongs to this lab (and passes `filter`). */
  processes(filter: (env: string) => boolean): { pid: number; comm: string }[] {
    return liveProcesses(
      (env) =>
        (env.includes(`SLURM_CONF=${this.env.SLURM_CONF}\0`) ||
          env.includes(`LAB=${this.dir}\0`)) &&
        filter(env),
    );
  }

  /** Processes of one job's steps (not the daemons). */
  jobProcesses(id: string): { pid: number; comm: string }[] {
    return this.processes((env) => env.includes(`\0SLURM_JOB_ID=${id}\0`));
  }

  /** `sbatch` one of the repo's slurm/ scripts; output goes to jobs/<id>.out. */
  async sbatch(
    script: string,
    options: { sbatch?: string[]; args?: string[]; env?: Record<string, string> } = {},
  ): Promise<string> {
    const r = await run(
      'sbatch',
      [
        '--parsable',
        `--output=${this.jobsDir}/%j.out`,
        ...(options.sbatch ?? []),
        path.join(ROOT, script),
        ...(options.args ?? []),
      ],
      { ...this.env, ...options.env },
    );
    const id = r.out.trim().split(';')[0];
    if (r.code !== 0 || !/^\d+$/.test(id)) throw new Error(`sbatch ${script} failed:\n${r.out}`);
    this.jobs.push(id);
    return id;
  }

  /** sbatch, then wait for the job to end: its record and its output. */
  async runJob(
    script: string,
    options: { sbatch?: string[]; args?: string[]; env?: Record<string, string> },
    timeoutMs: number,
  ): Promise<{ id: string; job: JobInfo; out: string }> {
    const id = await this.sbatch(script, options);
    const job = await this.waitDone(id, timeoutMs);
    return { id, job, out: this.output(id) };
  }

  async job(id: string): Promise<JobInfo> {
    const r = await run('scontrol', ['show', 'job', '-o', id], this.env);
    const field = (k: string) => new RegExp(`\\b${k}=(\\S*)`).exec(r.out)?.[1] ?? '';
    return {
      id,
      state: field('JobState') || `unknown (${r.out.trim()})`,
      exitCode: field('ExitCode'),
      reason: field('Reason'),
      nodes: field('NodeList'),
    };
  }

  waitState(id: string, states: string[], timeoutMs: number): Promise<JobInfo> {
    return until(
      `job ${id} to reach ${states.join('/')}`,
      async () => {
        const j = await this.job(id);
        return states.includes(j.state) ? j : undefined;
      },
      timeoutMs,
      150,
    );
  }

  /** Waits for the job to end, whatever the state. */
  waitDone(id: string, timeoutMs: number): Promise<JobInfo> {
    return this.waitState(id, [...TERMINAL], timeoutMs);
  }

  output(id: string): string {
    try {
      return fs.readFileSync(path.join(this.jobsDir, `${id}.out`), 'utf8');
    } catch {
      return '(no output file)';
    }
  }

  async scancel(id: string): Promise<void> {
    const r = await run('scancel', [id], this.env);
    if (r.code !== 0) throw new Error(`scancel ${id}: ${r.out}`);
  }

  /** Each node's state as Slurm reports it (IDLE, ALLOCATED, DRAIN, ...), by node name. */
  async nodeStates(): Promise<Record<string, string>> {
    const r = await run('scontrol', ['show', 'node', '-o'], this.env);
    const out: Record<string, string> = {};
    for (const line of r.out.split('\n')) {
      const name = /\bNodeName=(\S+)/.exec(line)?.[1];
      if (name) out[name] = /\bState=(\S+)/.exec(line)?.[1] ?? '?';
    }
    return out;
  }

  /** ib0 byte counters of every host, by host. */
  counters(): Record<string, { rx: number; tx: number }> {
    const out: Record<string, { rx: number; tx: number }> = {};
    for (const h of this.hosts) {
      const r = spawnSync('ip', ['-j', '-s', '-n', h, 'link', 'show', 'ib0'], { encoding: 'utf8' });
      const s = JSON.parse(r.stdout)[0].stats64;
      out[h] = { rx: s.rx.bytes, tx: s.tx.bytes };
    }
    return out;
  }

  logs(): string {
    const dir = path.join(this.dir, 'cluster', 'log');
    let text = '';
    try {
      for (const f of fs.readdirSync(dir).sort()) {
        const lines = fs.readFileSync(path.join(dir, f), 'utf8').trimEnd().split('\n');
        text += `--- ${f} (last 25 lines)\n${lines.slice(-25).join('\n')}\n`;
      }
    } catch {
      text += `(no daemon logs under ${dir})\n`;
    }
    return text;
  }

  /** Job outputs, job records and daemon logs for the jobs of the running test. */
  async diagnostics(): Promise<string> {
    let text = '';
    for (const id of this.jobs) {
      const j = await this.job(id);
      text += `=== job ${id}: ${j.state} exit ${j.exitCode} reason ${j.reason} nodes ${j.nodes}\n`;
      text += `${this.output(id)}\n`;
    }
    const q = await run('squeue', ['-s'], this.env);
    return `${text}=== squeue -s\n${q.out}\n${this.logs()}`;
  }

  /**
   * Runs a test body; on failure the error carries the jobs' output and the daemon logs.
   * Jobs still running afterwards are cancelled, and the test waits for them to go.
   */
  async check(body: () => Promise<void>): Promise<void> {
    this.jobs = [];
    try {
      await body();
    } catch (err) {
      const e = err as Error;
      e.message = `${e.message}\n\n${await this.diagnostics()}`;
      throw e;
    } finally {
      const left = this.jobs.slice();
      await Promise.all(left.map((id) => run('scancel', [id], this.env)));
      await Promise.all(left.map((id) => this.waitDone(id, 30_000).catch(() => undefined)));
    }
  }
}

/**
 * describe() for a lab: brings it up before the tests and down after them (checking that
 * nothing is left); where this machine cannot host it, one skipped test says why.
 */
export function describeLab(title: string, spec: LabSpec, body: (lab: Lab) => void): void {
  describe(title, () => {
    const reason = skipReason(spec);
    if (reason) {
      console.warn(`skipping "${title}": ${reason}`);
      test.skip(`${title}: ${reason}`, () => undefined);
      return;
    }
    const lab = new Lab(spec);
    beforeAll(() => lab.up(), 90_000);
    afterAll(async () => {
      await lab.down();
      expect(lab.leftovers()).toEqual([]);
    }, 90_000);
    body(lab);
  });
}
