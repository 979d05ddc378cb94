/**
 * Dynamic scaling (issue 5, item 5), as in the HPC course: a scheduler job and one worker-pool
 * job; the client starts a long map; a second pool submitted mid-run takes tasks.
 */
import { describeLab, type Lab } from './lab';
import { slowSquare, startSession } from './pools';

const N = 48; // one pool has 4 slots: 48 one-second tasks take it 12 s at the very least

describeLab(
  'a second worker pool joins mid-run',
  { prefix: 'sc', index: 3, nodes: 3, slurm: true },
  (lab: Lab) => {
    test(
      'its workers take tasks: the map ends sooner than one pool could end it',
      () =>
        lab.check(async () => {
          const s = await startSession(lab, 'scaling');
          const a = await s.addPool();
          const t0 = Date.now();
          const futures = s.client.map(
            slowSquare,
            Array.from({ length: N }, (_, i) => i),
          );
          for await (const f of s.client.asCompleted(futures)) {
            void f;
            break; // the first pool is under way
          }
          const submittedAfter = Date.now() - t0;
          const b = await s.addPool();
          const registeredAfter = Date.now() - t0;
          const bWorkers = await s.poolWorkers(b);
          const results = await s.client.gather(futures);
          const elapsed = Date.now() - t0;

          expect(results.map((r) => r[0])).toEqual(Array.from({ length: N }, (_, i) => i * i));
          expect(bWorkers).toEqual([`pool${b}-0`, `pool${b}-1`]);
          const byPool = { [a]: 0, [b]: 0 };
          for (const [, job] of results) byPool[job] += 1;
          expect(byPool[a] + byPool[b]).toBe(N);
          expect(byPool[b]).toBeGreaterThan(0);
          // Faster than any run on one pool: 48 tasks of 1 s on 4 slots need >= 12 s.
          expect(elapsed).toBeLessThan((N / 4) * 1000);
          console.log(
            `scaling: second pool submitted ${(submittedAfter / 1000).toFixed(1)} s after the map began, ` +
              `its workers registered at ${(registeredAfter / 1000).toFixed(1)} s; ` +
              `${N} tasks in ${(elapsed / 1000).toFixed(2)} s (one pool: >= ${N / 4} s); ` +
              `first pool ran ${byPool[a]}, second ${byPool[b]}`,
          );
          await s.end();
        }),
      90_000,
    );
  },
);
