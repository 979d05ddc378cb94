/**
 * The MPI way under a real Slurm on three emulated hosts with ib0 (issue 5, items 1-3):
 * slurm/1-mpi-init.sbatch and slurm/1-initialize.sbatch as users submit them, with only the
 * node lines given on the sbatch command line.
 */
import { describeLab, until, type Lab } from './lab';

const NODES = ['--nodes=3', '--ntasks-per-node=2']; // 6 ranks: n1 scheduler + client, n2/n3 workers
const SQUARES = Array.from({ length: 16 }, (_, i) => i * i).join(' ');

describeLab(
  'srun node dist/mpi-init.js on 3 hosts',
  { prefix: 'mi', index: 1, nodes: 3, slurm: true, mpi: true },
  (lab: Lab) => {
    test(
      'slurm/1-mpi-init.sbatch runs examples/squares.js over 6 ranks on ib0',
      () =>
        lab.check(async () => {
          const before = lab.counters();
          const { job, out } = await lab.runJob(
            'slurm/1-mpi-init.sbatch',
            { sbatch: NODES }, // mpi-init's ready line names the scheduler's address
            60_000,
          );
          expect(job.state).toBe('COMPLETED');
          expect(job.exitCode).toBe('0:0');
          expect(out).toContain(`${SQUARES}\n`);
          expect(out).toMatch(/16 tasks on 4 workers in/);
          // Rank 0 (first host) bound its scheduler to that host's ib0 address.
          expect(out).toMatch(
            new RegExp(
              `cluster ready: 4 workers, scheduler tcp://${lab.addresses[0].replace(/\./g, '\\.')}:\\d+`,
            ),
          );
          const after = lab.counters();
          for (const h of lab.hosts) expect(after[h].tx).toBeGreaterThan(before[h].tx);
        }),
      90_000,
    );

    test(
      'initialize({ interface: "ib0" }) in user code (slurm/1-initialize.sbatch)',
      () =>
        lab.check(async () => {
          const before = lab.counters();
          const { job, out } = await lab.runJob(
            'slurm/1-initialize.sbatch',
            {
              sbatch: NODES,
              args: ['test/slurm/fixtures/ib0-squares.js'],
              env: { PAYLOAD_MB: '8' },
            },
            60_000,
          );
          expect(job.state).toBe('COMPLETED');
          expect(job.exitCode).toBe('0:0');
          expect(out).toContain(`SQUARES ${SQUARES}\n`);
          expect(out).toContain(`BYTES ${8 << 20}\n`);
          const [n1, n2, n3] = lab.addresses;
          expect(out).toMatch(new RegExp(`^SCHEDULER tcp://${n1}:\\d+$`, 'm'));
          // Workers are ranks 2..5 on the second and third host, each serving on its ib0 address.
          const workers = [...out.matchAll(/^WORKER (\S+) (\S+) (\S+)$/gm)].map((m) => ({
            name: m[1],
            address: m[3],
          }));
          expect(workers.map((w) => w.name).sort()).toEqual(['2', '3', '4', '5']);
          for (const w of workers) {
            expect(w.address).toMatch(new RegExp(`^tcp://(${n2}|${n3}):\\d+$`));
          }
          // The 8 MiB of results left the worker hosts through ib0 and reached the first host.
          const after = lab.counters();
          const [h1, h2, h3] = lab.hosts;
          expect(after[h2].tx - before[h2].tx).toBeGreaterThan(2 << 20);
          expect(after[h3].tx - before[h3].tx).toBeGreaterThan(2 << 20);
          expect(after[h1].rx - before[h1].rx).toBeGreaterThan(8 << 20);
        }),
      90_000,
    );

    test(
      'a client script that exits with 3: job FAILED with 3, every step gone within 5 s',
      () =>
        lab.check(async () => {
          const id = await lab.sbatch('slurm/1-mpi-init.sbatch', {
            sbatch: NODES,
            args: ['test/slurm/fixtures/fail.js'],
            env: { EXIT_CODE: '3' },
          });
          const end = await until(
            'the script to print END',
            () => {
              const m = /^END (\d+)$/m.exec(lab.output(id));
              return m ? Number(m[1]) : undefined;
            },
            60_000,
          );
          // Every process of the job gone, and Slurm knows the job is over.
          const goneAt = await until(
            `job ${id}'s processes to end`,
            async () => {
              if (lab.jobProcesses(id).length > 0) return undefined;
              const j = await lab.job(id);
              return j.state === 'RUNNING' || j.state === 'COMPLETING' ? undefined : Date.now();
            },
            30_000,
            50,
          );
          expect(goneAt - end).toBeLessThan(5000);
          const job = await lab.job(id);
          expect(job.state).toBe('FAILED');
          expect(job.exitCode).toBe('3:0');
          expect(lab.output(id)).toContain('RESULT 2 3 4');
        }),
      90_000,
    );

    test(
      'an interface that does not exist: FAILED, the message names it, no hang',
      () =>
        lab.check(async () => {
          const t0 = Date.now();
          const id = await lab.sbatch('slurm/1-mpi-init.sbatch', {
            sbatch: NODES,
            env: { MPI_CLUSTER_INTERFACE: 'nosuch0' },
          });
          const job = await lab.waitDone(id, 30_000);
          expect(Date.now() - t0).toBeLessThan(20_000);
          expect(job.state).toBe('FAILED');
          expect(job.exitCode).not.toBe('0:0');
          expect(lab.output(id)).toMatch(/ERR_INTERFACE_NOT_FOUND.*"nosuch0"/);
          expect(lab.jobProcesses(id)).toEqual([]);
        }),
      60_000,
    );
  },
);
