/**
 * Gang tasks (issue 21) under a real Slurm on three emulated hosts with ib0: a gang with one rank
 * per host computing an allreduce over ib0, and mpiProgram starting an MPI C program across two
 * hosts through srun inside the allocation. The jobs are laid out cyclically (fixtures/gangs.js).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describeLab, type Lab } from './lab';

const SCRIPT = 'test/slurm/fixtures/gangs.js';
// 6 ranks dealt round-robin: hosts 1,2,3,1,2,3; workers 2-5, of which 3, 4, 5 on hosts 1, 2, 3.
const NODES = ['--nodes=3', '--ntasks-per-node=2', '--distribution=cyclic'];
const HELLO_C = path.join(__dirname, '..', 'bootstrap', 'fixtures', 'mpi-hello.c');
const BYTES = 4 << 20;

/** The `GANG <name> <json>` line of a job's output. */
function scenario(out: string, name: string): unknown {
  const m = new RegExp(`^GANG ${name} (.*)$`, 'm').exec(out);
  if (!m) throw new Error(`no GANG ${name} line in the job's output:\n${out}`);
  return JSON.parse(m[1]);
}

interface Program {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  hosts: string[];
  launcher: string[];
  timedOut: boolean;
}

const hellos = (p: Program): string[] =>
  p.stdout
    .split('\n')
    .filter((l) => l.startsWith('HELLO '))
    .sort();

describeLab(
  'gang tasks on 3 Slurm hosts over ib0',
  { prefix: 'gg', index: 8, nodes: 3, slurm: true, mpi: true },
  (lab: Lab) => {
    test(
      'a 3-host gang, one rank per host: a 4 MiB allreduce, exact, through every host ib0',
      () =>
        lab.check(async () => {
          const before = lab.counters();
          const { job, out } = await lab.runJob(
            'slurm/1-initialize.sbatch',
            {
              sbatch: NODES,
              args: [SCRIPT],
              env: { GANG_SCENARIO: 'allreduce', GANG_BYTES: String(BYTES) },
            },
            60_000,
          );
          expect({ state: job.state, exitCode: job.exitCode }).toEqual({
            state: 'COMPLETED',
            exitCode: '0:0',
          });
          const ranks = scenario(out, 'allreduce') as {
            rank: number;
            world: number;
            host: string;
            n: number;
            wrong: number;
          }[];
          expect(ranks.map((r) => [r.rank, r.world, r.host, r.n, r.wrong])).toEqual([
            [0, 3, lab.hosts[0], BYTES / 8, 0],
            [1, 4, lab.hosts[1], BYTES / 8, 0],
            [2, 5, lab.hosts[2], BYTES / 8, 0],
          ]);
          // Each member sent and received at least the array's size over its host's ib0.
          const after = lab.counters();
          for (const h of lab.hosts) {
            expect({ h, tx: after[h].tx - before[h].tx >= BYTES }).toEqual({ h, tx: true });
            expect({ h, rx: after[h].rx - before[h].rx >= BYTES }).toEqual({ h, rx: true });
          }
        }),
      90_000,
    );

    test(
      'mpiProgram: an MPI C program across hosts through srun in the allocation: exit 0, 3, a host twice',
      () =>
        lab.check(async () => {
          const bin = path.join(lab.jobsDir, 'mpi-hello');
          const cc = spawnSync('mpicc', ['-O', '-o', bin, HELLO_C], { encoding: 'utf8' });
          expect({ status: cc.status, stderr: cc.stderr }).toEqual({ status: 0, stderr: '' });
          const { job, out } = await lab.runJob(
            'slurm/1-initialize.sbatch',
            { sbatch: NODES, args: [SCRIPT], env: { GANG_SCENARIO: 'program', HELLO_BIN: bin } },
            60_000,
          );
          expect({ state: job.state, exitCode: job.exitCode }).toEqual({
            state: 'COMPLETED',
            exitCode: '0:0',
          });
          const { ok, fails, mixed } = scenario(out, 'program') as Record<string, Program>;
          const [h1, h2, h3] = lab.hosts;
          expect(ok).toMatchObject({ code: 0, signal: null, timedOut: false, hosts: [h1, h2] });
          expect(ok.launcher.slice(1, 9)).toEqual([
            '--overlap',
            '--ntasks=2',
            '--nodes=2',
            `--nodelist=${h1},${h2}`,
            '--distribution=arbitrary',
            '--kill-on-bad-exit=1',
            '--',
            bin,
          ]);
          expect(path.basename(ok.launcher[0])).toBe('srun');
          // A job of 2 of its own (size 2, ranks 0 + 1), one rank on each member's host.
          expect(hellos(ok)).toEqual([`HELLO 0 2 ${h1} 1 -`, `HELLO 1 2 ${h2} 1 -`]);
          expect(fails.code).toBe(3);
          expect(hellos(fails)).toEqual([`HELLO 0 2 ${h1} 1 -`, `HELLO 1 2 ${h2} 1 -`]);
          // Members on hosts 3, 1, 3: the node list repeats a host, and each program rank runs on
          // the host of the gang rank with its number (arbitrary distribution).
          expect(mixed.code).toBe(0);
          expect(mixed.launcher.slice(2, 5)).toEqual([
            '--ntasks=3',
            '--nodes=2',
            `--nodelist=${h3},${h1},${h3}`,
          ]);
          expect(hellos(mixed)).toEqual([
            `HELLO 0 3 ${h3} 3 -`,
            `HELLO 1 3 ${h1} 3 -`,
            `HELLO 2 3 ${h3} 3 -`,
          ]);
        }),
      90_000,
    );
  },
);
