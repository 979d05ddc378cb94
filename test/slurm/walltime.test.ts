/**
 * Walltime (issue 5, item 8): a worker pool submitted with a short --time reaches it while it
 * works; it is treated like a lost worker and nothing the client asked for is lost.
 * Slurm counts --time in whole minutes and checks limits on a timer, so this takes 1-2 minutes.
 */
import type { Future } from '../../dist';
import { describeLab, until, type Lab } from './lab';
import { slowSquare, startSession } from './pools';

describeLab(
  'a worker pool that reaches its time limit',
  { prefix: 'wt', index: 5, nodes: 3, slurm: true },
  (lab: Lab) => {
    test(
      'its workers leave, their work is redone elsewhere, every result arrives',
      () =>
        lab.check(async () => {
          const s = await startSession(lab, 'walltime');
          const a = await s.addPool(['--time=1']);
          const b = await s.addPool();
          const t0 = Date.now();
          // Values are kept here and each future released once its value is in, so that what
          // the lost pool held at the end is only the work it was running.
          const values: ([number, string] | Error)[] = [];
          let submitted = 0;
          let done = 0;
          let heldAtEnd = 0;
          const submit = () => {
            const i = submitted++;
            const f: Future<[number, string]> = s.client.submit(slowSquare, i);
            f.result()
              .then(
                (v) => (values[i] = v),
                (err: Error) => (values[i] = err),
              )
              .finally(() => {
                done += 1;
                f.release();
              });
          };
          // Keep both pools busy until the first one's walltime is up.
          const ended = await until(
            `pool ${a} to reach its time limit`,
            async () => {
              while (submitted - done < 12) submit();
              const job = await lab.job(a);
              if (job.state !== 'RUNNING') return job;
              const info = await s.client.schedulerInfo();
              heldAtEnd = Object.values(info.workers)
                .filter((w) => w.name.startsWith(`pool${a}-`))
                .reduce((n, w) => n + w.processing, 0);
              return undefined;
            },
            150_000,
            250,
          );
          const endedAfter = Date.now() - t0;
          const t1 = Date.now();
          const leftAfter = await until(
            `pool ${a}'s workers to leave the scheduler`,
            async () => ((await s.poolWorkers(a)).length === 0 ? Date.now() - t1 : undefined),
            15_000,
          );
          await until(
            `all ${submitted} results`,
            () => (done === submitted ? true : undefined),
            30_000,
          );

          expect(['TIMEOUT', 'COMPLETING']).toContain(ended.state);
          expect((await lab.waitDone(a, 20_000)).state).toBe('TIMEOUT');
          expect(heldAtEnd).toBeGreaterThan(0);
          expect(await s.poolWorkers(b)).toEqual([`pool${b}-0`, `pool${b}-1`]);
          expect(values.map((v) => (v instanceof Error ? v.message : v[0]))).toEqual(
            Array.from({ length: submitted }, (_, i) => i * i),
          );
          console.log(
            `walltime: pool ${a} (--time=1) ended ${(endedAfter / 1000).toFixed(1)} s into the run ` +
              `running ${heldAtEnd} tasks; its workers left the list ${leftAfter} ms later; ` +
              `${submitted} tasks in ${((Date.now() - t0) / 1000).toFixed(1)} s, all correct`,
          );
          await s.end({ [a]: 'TIMEOUT' });
        }),
      200_000,
    );
  },
);
