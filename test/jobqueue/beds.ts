/**
 * The job-queue test beds for test/jobqueue: one real batch system per bed, brought up in
 * beforeAll and down in afterAll, in the style of test/slurm/lab.ts (whose Lab, run and until
 * it reuses).
 *
 *   slurm  a Lab (scripts/testbed): hosts jq1..jq3 (netns) on 10.78.9.0/24, slurmctld on the
 *          bridge 10.78.9.254, ports 17090/17091; nodes advertise 256 GB (REALMEM) so
 *          `--mem=16G` is accepted (memory is not a consumable: SelectTypeParameters=CR_Core)
 *   pbs    scripts/testbed/pbs: OpenPBS from /opt/pbs, every daemon in netns jqpbs
 *          (10.79.9.1; the root namespace is 10.79.9.254), state in /var/spool/mpi-cluster-pbs-jq
 *   sge    scripts/testbed/sge: Son of Grid Engine on loopback, private cell in
 *          /tmp/mpi-cluster-sge-jq, ports 16454/16455
 *
 * Each bed has its own names, subnet, ports and state directory, apart from the scripts'
 * defaults, so a bed a developer brought up by hand is never touched by the tests. The beds
 * of one kind share these fixed names: run test files that use the same kind one at a time
 * (jest --runInBand, as test:slurm does).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  Lab,
  LabSpec,
  TESTBED,
  describeLab,
  liveProcesses,
  run,
  skipReason,
  until,
} from '../slurm/lab';

export type BedKind = 'slurm' | 'pbs' | 'sge';

export interface Bed {
  kind: BedKind;
  /**
   * Environment for the batch commands (sbatch/squeue/scancel, qsub/qstat/qdel): PATH with the
   * right qsub first, SLURM_CONF / SGE_ROOT, SGE_CELL, SGE_QMASTER_PORT, SGE_EXECD_PORT /
   * PBS_CONF_FILE. Only the variables to add on top of process.env.
   */
  env: Record<string, string>;
  /**
   * Address in the root namespace that the bed's jobs can reach (a scheduler run by the test
   * binds it): Slurm lab bridge address (10.78.<index>.254), PBS gateway, SGE 127.0.0.1.
   */
  schedulerHost: string;
  /** A fresh directory (mode 0700 ok; jobs run as root) for job logs and scheduler files, under the bed's state dir. */
  workDir: string;
  up(): Promise<void>;
  down(): Promise<void>;
  /** Ids of every job the batch system still lists as queued/running/held/exiting (not finished). */
  queued(): Promise<string[]>;
  /** What is left of the bed on the machine after down() (dirs are fine if documented; processes, netns). */
  leftovers(): string[];
  /** Daemon logs tails and queue listing, for error messages. */
  diagnostics(): Promise<string>;
}

/** The Slurm bed's lab: index 9 is used by no other test file (test/slurm, test/multihost use 1-7). */
export const SLURM_BED: LabSpec = { prefix: 'jq', index: 9, nodes: 3, slurm: true };
/** MB each Slurm node advertises (slurm-up.sh's REALMEM; the default 4096 rejects `--mem=16G`). */
const SLURM_REALMEM_MB = 256 * 1024;

const PBS_EXEC = '/opt/pbs';
const PBS_STAMP = path.join(PBS_EXEC, '.testbed-build');
const PBS_DIR = path.join(TESTBED, 'pbs');
const SGE_DIR = path.join(TESTBED, 'sge');

/** The PBS bed's settings (up.sh knobs). PBS_HOME may not lie below a world-writable dir: not /tmp. */
export const PBS_BED = {
  PBSLAB: '/var/spool/mpi-cluster-pbs-jq',
  PBS_NS: 'jqpbs',
  PBS_NET: '10.79.9',
  // The emulated host's interface is called ib0, as on the clusters the tutorials target; it
  // advertises 48 cores (the Gadi tutorial asks for ncpus=48), run on this machine's two.
  PBS_IF: 'ib0',
  PBS_NCPUS: '48',
  PBS_MEM: '256gb',
};
/** The SGE bed's settings (up.sh knobs). */
export const SGE_BED = {
  SGELAB: '/tmp/mpi-cluster-sge-jq',
  SGE_QMASTER_PORT: '16454',
  SGE_EXECD_PORT: '16455',
  SGE_SLOTS: '8',
};

const BUILD_PBS =
  'PBS_SOURCE=path/to/openpbs-src.tar.xz scripts/testbed/pbs/build.sh ' +
  '(or PBS_SOURCE=path/to/openpbs-src.tar.xz scripts/setup.sh)';

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Why this machine cannot host the bed, or null. */
export function bedSkipReason(kind: BedKind): string | null {
  if (kind === 'slurm') return skipReason(SLURM_BED);
  if (process.platform !== 'linux') return `needs Linux (on ${process.platform})`;
  if (process.getuid?.() !== 0) {
    return `needs root (the ${kind} daemons${kind === 'pbs' ? ', a network namespace' : ''}); run the suite as root to include it`;
  }
  if (kind === 'pbs') {
    const tools = ['ip', 'nsenter', 'unshare'].filter(
      (t) => !['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((d) => executable(path.join(d, t))),
    );
    if (tools.length) return `missing ${tools.join(', ')} (apt-get install iproute2 util-linux)`;
    if (!executable(path.join(PBS_EXEC, 'sbin', 'pbs_server.bin')) || !fs.existsSync(PBS_STAMP)) {
      return `OpenPBS is not built in ${PBS_EXEC}: ${BUILD_PBS}`;
    }
    const pg = '/usr/lib/postgresql';
    const initdb = fs.existsSync(pg)
      ? fs.readdirSync(pg).some((v) => executable(path.join(pg, v, 'bin', 'initdb')))
      : false;
    if (!initdb) return `PostgreSQL (the PBS data service) is missing: ${BUILD_PBS}`;
    return null;
  }
  const sge = ['/usr/sbin/sge_qmaster', '/usr/sbin/sge_execd', '/usr/lib/gridengine/qsub'];
  const missing = sge.filter((f) => !executable(f));
  if (missing.length || !fs.existsSync('/usr/share/gridengine/default-bootstrap')) {
    return (
      `Son of Grid Engine is not installed (${missing.join(', ') || 'default-bootstrap'} missing): ` +
      'scripts/setup.sh, or apt-get install gridengine-master gridengine-exec gridengine-client ' +
      '(answer "configure automatically" with no)'
    );
  }
  return null;
}

/** process.env.PATH with `first` in front (and nowhere else), /usr/sbin and /sbin at the end. */
function pathWith(first: string[]): string {
  const dirs = [...first, ...(process.env.PATH ?? '/usr/bin:/bin').split(path.delimiter)];
  return [...new Set([...dirs, '/usr/sbin', '/sbin'].filter((d) => d !== ''))].join(path.delimiter);
}

/** Live processes whose environment or command line matches, as leftovers() lists them. */
function processes(match: (env: string, cmdline: string) => boolean): string[] {
  return liveProcesses(match).map((p) => `process ${p.pid} ${p.comm}`);
}

function tail(file: string, lines = 25): string {
  try {
    const text = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    return `--- ${file} (last ${lines} lines)\n${text.slice(-lines).join('\n')}\n`;
  } catch {
    return `--- ${file}: (none)\n`;
  }
}

/** The newest file in a directory (PBS names its daemon logs by date). */
function newest(dir: string): string | null {
  try {
    const files = fs
      .readdirSync(dir)
      .map((f) => path.join(dir, f))
      .filter((f) => fs.statSync(f).isFile())
      .sort((a, b) => fs.statSync(a).mtimeMs - fs.statSync(b).mtimeMs);
    return files.at(-1) ?? null;
  } catch {
    return null;
  }
}

function freshDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
}

function netnsExists(name: string): boolean {
  return fs.existsSync(`/var/run/netns/${name}`);
}

function linkExists(name: string): boolean {
  return fs.existsSync(`/sys/class/net/${name}`);
}

/** The Slurm bed: a Lab whose nodes advertise enough memory for `--mem` requests. */
export function slurmBed(lab: Lab): Bed {
  lab.env.REALMEM = String(SLURM_REALMEM_MB);
  const workDir = path.join(lab.jobsDir, 'work');
  const env = { PATH: lab.env.PATH as string, SLURM_CONF: lab.env.SLURM_CONF as string };
  return {
    kind: 'slurm',
    env,
    schedulerHost: `${lab.env.LAB_NET}.254`,
    workDir,
    async up() {
      await lab.up();
      freshDir(workDir);
    },
    down: () => lab.down(),
    async queued() {
      const r = await run('squeue', ['-h', '-o', '%i'], lab.env);
      if (r.code !== 0) throw new Error(`squeue failed: ${r.out}`);
      return r.out.split('\n').filter((l) => l.trim() !== '');
    },
    leftovers: () => lab.leftovers(),
    diagnostics: () => lab.diagnostics(),
  };
}

export function pbsBed(): Bed {
  const lab = PBS_BED.PBSLAB;
  const env = {
    PATH: pathWith([`${PBS_EXEC}/bin`, `${PBS_EXEC}/sbin`]),
    PBS_CONF_FILE: path.join(lab, 'etc', 'client.conf'),
  };
  const scriptEnv = { ...process.env, ...env, ...PBS_BED };
  const workDir = path.join(lab, 'work');
  const qselect = async () => {
    const r = await run(`${PBS_EXEC}/bin/qselect`, [], scriptEnv);
    if (r.code !== 0) throw new Error(`qselect failed (${r.code}): ${r.out}`);
    return r.out.split('\n').filter((l) => l.trim() !== '');
  };
  const bed: Bed = {
    kind: 'pbs',
    env,
    schedulerHost: `${PBS_BED.PBS_NET}.254`,
    workDir,
    async up() {
      // Whatever a killed earlier run left (up.sh alone would keep a healthy bed and its jobs).
      await bed.down();
      const r = await run(path.join(PBS_DIR, 'up.sh'), [], scriptEnv, 120_000);
      if (r.code !== 0) throw new Error(`pbs/up.sh failed:\n${r.out}\n${await bed.diagnostics()}`);
      freshDir(workDir);
    },
    async down() {
      const r = await run(path.join(PBS_DIR, 'down.sh'), ['--purge'], scriptEnv, 90_000);
      if (r.code !== 0) throw new Error(`pbs/down.sh failed:\n${r.out}`);
    },
    queued: qselect,
    leftovers() {
      const left: string[] = [];
      // down.sh --purge keeps $PBSLAB/cache: the fresh PBS_HOME that up.sh restores (48 MB).
      if (fs.existsSync(lab)) {
        for (const f of fs.readdirSync(lab)) if (f !== 'cache') left.push(path.join(lab, f));
      }
      if (netnsExists(PBS_BED.PBS_NS)) left.push(`netns ${PBS_BED.PBS_NS}`);
      if (linkExists(`veth-${PBS_BED.PBS_NS}`)) left.push(`link veth-${PBS_BED.PBS_NS}`);
      // Daemons carry PBSLAB_DAEMON; jobs get the daemons' PBS_CONF_FILE (pbs_environment);
      // PostgreSQL runs with -D $PBSLAB/home/datastore.
      left.push(
        ...processes(
          (e, c) =>
            e.includes(`PBSLAB_DAEMON=${lab}\0`) ||
            e.includes(`PBS_CONF_FILE=${lab}/etc/pbs.conf\0`) ||
            c.includes(`${lab}/`),
        ),
      );
      return left;
    },
    async diagnostics() {
      let text = '';
      for (const [cmd, args] of [
        ['qstat', ['-x', '-a', '-s']],
        ['pbsnodes', ['-av']],
      ] as const) {
        const r = await run(`${PBS_EXEC}/bin/${cmd}`, [...args], scriptEnv, 15_000);
        text += `=== ${cmd} ${args.join(' ')} (exit ${r.code})\n${r.out}\n`;
      }
      const home = path.join(lab, 'home');
      for (const d of ['server_logs', 'sched_logs', 'mom_logs', 'comm_logs']) {
        const f = newest(path.join(home, d));
        text += f ? tail(f) : `--- ${path.join(home, d)}: (no log)\n`;
      }
      for (const d of ['server', 'sched', 'mom', 'comm']) {
        text += tail(path.join(lab, 'log', `${d}.out`), 10);
      }
      return text;
    },
  };
  return bed;
}

export function sgeBed(): Bed {
  const lab = SGE_BED.SGELAB;
  const root = path.join(lab, 'root');
  const env = {
    PATH: pathWith([path.join(lab, 'bin')]),
    SGE_ROOT: root,
    SGE_CELL: 'default',
    SGE_QMASTER_PORT: SGE_BED.SGE_QMASTER_PORT,
    SGE_EXECD_PORT: SGE_BED.SGE_EXECD_PORT,
  };
  const scriptEnv = { ...process.env, ...env, ...SGE_BED };
  const workDir = path.join(lab, 'work');
  const bed: Bed = {
    kind: 'sge',
    env,
    schedulerHost: '127.0.0.1',
    workDir,
    async up() {
      await bed.down();
      const r = await run(path.join(SGE_DIR, 'up.sh'), [], scriptEnv, 120_000);
      if (r.code !== 0) throw new Error(`sge/up.sh failed:\n${r.out}\n${await bed.diagnostics()}`);
      freshDir(workDir);
    },
    async down() {
      const r = await run(path.join(SGE_DIR, 'down.sh'), ['--purge'], scriptEnv, 90_000);
      if (r.code !== 0) throw new Error(`sge/down.sh failed:\n${r.out}`);
    },
    async queued() {
      // qstat lists pending (qw, hqw, Eqw), running (r, t) and deleted-but-not-gone (dr) jobs;
      // a finished job is simply absent. Array tasks repeat their job id: listed once.
      const r = await run(path.join(lab, 'bin', 'qstat'), ['-u', '*'], scriptEnv);
      if (r.code !== 0) throw new Error(`qstat failed (${r.code}): ${r.out}`);
      const ids = r.out
        .split('\n')
        .map((l) => /^\s*(\d+)\s/.exec(l)?.[1])
        .filter((id): id is string => id !== undefined);
      return [...new Set(ids)];
    },
    leftovers() {
      const left: string[] = [];
      if (fs.existsSync(lab)) left.push(lab);
      // Daemons carry SGELAB_DAEMON; jobs (and their shepherds) SGE_ROOT of the cell + JOB_ID.
      left.push(
        ...processes(
          (e) =>
            e.includes(`SGELAB_DAEMON=${lab}\0`) ||
            (e.includes(`SGE_ROOT=${root}\0`) && /(^|\0)JOB_ID=/.test(e)),
        ),
      );
      return left;
    },
    async diagnostics() {
      let text = '';
      for (const args of [
        ['-u', '*', '-f'],
        ['-u', '*', '-s', 'z'],
      ]) {
        const r = await run(path.join(lab, 'bin', 'qstat'), args, scriptEnv, 15_000);
        const out = r.out.trimEnd().split('\n').slice(-30).join('\n');
        text += `=== qstat ${args.join(' ')} (exit ${r.code})\n${out}\n`;
      }
      const spool = path.join(lab, 'spool');
      text += tail(path.join(spool, 'qmaster', 'messages'));
      try {
        for (const h of fs.readdirSync(path.join(spool, 'execd'))) {
          text += tail(path.join(spool, 'execd', h, 'messages'));
        }
      } catch {
        text += `--- ${path.join(spool, 'execd')}: (none)\n`;
      }
      for (const d of ['qmaster', 'execd']) text += tail(path.join(lab, 'log', `${d}.out`), 10);
      return text;
    },
  };
  return bed;
}

/** Waits until the bed lists no job (e.g. after qdel/scancel); returns how long it took. */
export async function waitNoJobs(bed: Bed, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  await until(
    `no ${bed.kind} job left`,
    async () => ((await bed.queued()).length === 0 ? true : undefined),
    timeoutMs,
    250,
  );
  return Date.now() - t0;
}

/**
 * describe() for a bed: brings it up before the tests and down after them (checking that
 * nothing is left); where this machine cannot host it, one skipped test says why.
 */
export function describeBed(title: string, kind: BedKind, body: (bed: Bed) => void): void {
  if (kind === 'slurm') {
    // describeLab registers its hooks (lab.up() in beforeAll), then calls this synchronously:
    // REALMEM is set before the lab comes up, and this beforeAll runs after lab.up().
    describeLab(title, SLURM_BED, (lab) => {
      const bed = slurmBed(lab);
      beforeAll(() => freshDir(bed.workDir));
      body(bed);
    });
    return;
  }
  describe(title, () => {
    const reason = bedSkipReason(kind);
    if (reason) {
      console.warn(`skipping "${title}": ${reason}`);
      test.skip(`${title}: ${reason}`, () => undefined);
      return;
    }
    const bed = kind === 'pbs' ? pbsBed() : sgeBed();
    beforeAll(() => bed.up(), 150_000);
    afterAll(async () => {
      await bed.down();
      expect(bed.leftovers()).toEqual([]);
    }, 90_000);
    body(bed);
  });
}
