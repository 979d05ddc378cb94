/**
 * The scheduler-file way in one job (issue 5, item 4): slurm/2-scheduler-file.sbatch starts the
 * scheduler and the workers with srun and runs slurm/client.js in the batch script.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeLab, type Lab } from './lab';

const SQUARES = Array.from({ length: 16 }, (_, i) => i * i).join(' ');

describeLab(
  'scheduler, srun workers and client by hand in one job',
  { prefix: 'sf', index: 2, nodes: 3, slurm: true },
  (lab: Lab) => {
    test(
      'slurm/2-scheduler-file.sbatch: correct results, every step ends, file removed',
      () =>
        lab.check(async () => {
          const file = path.join(lab.jobsDir, 'scheduler.json');
          const id = await lab.sbatch('slurm/2-scheduler-file.sbatch', {
            sbatch: ['--nodes=3'],
            env: { SCHEDULER_FILE: file },
          });
          // COMPLETED means every step ended too: the client's shutdown() ended the scheduler,
          // and the workers left when it said so.
          const job = await lab.waitDone(id, 60_000);
          const out = lab.output(id);
          expect(job.state).toBe('COMPLETED');
          expect(job.exitCode).toBe('0:0');
          expect(out).toContain(`${SQUARES}\n`);
          expect(out).toMatch(/^16 tasks on 4 workers in/m);
          expect(out).toMatch(new RegExp(`^scheduler at tcp://10\\.78\\.2\\.[123]:\\d+`, 'm'));
          expect(fs.existsSync(file)).toBe(false);
          expect(lab.jobProcesses(id)).toEqual([]);
        }),
      90_000,
    );
  },
);
