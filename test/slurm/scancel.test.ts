/**
 * Resilience (issue 5, item 6), as in the HPC course: two worker-pool jobs; one is cancelled
 * mid-run; every result still arrives, correct, and the cancelled workers leave the list.
 */
import * as fs from 'node:fs';
import { describeLab, until, type Lab } from './lab';
import { slowSquare, startSession } from './pools';

const N = 32;

describeLab(
  'scancel of one of two worker pools mid-run',
  { prefix: 'rs', index: 4, nodes: 3, slurm: true },
  (lab: Lab) => {
    test(
      'every result arrives correct; the cancelled workers leave the scheduler',
      () =>
        lab.check(async () => {
          const s = await startSession(lab, 'scancel');
          const a = await s.addPool();
          const b = await s.addPool();
          const futures = s.client.map(
            slowSquare,
            Array.from({ length: N }, (_, i) => i),
          );
          let done = 0;
          for await (const f of s.client.asCompleted(futures)) {
            void f;
            if (++done === 8) break; // both pools busy, some results held by each
          }
          const info = await s.client.schedulerInfo();
          const held = Object.values(info.workers)
            .filter((w) => w.name.startsWith(`pool${a}-`))
            .reduce((n, w) => n + w.processing + w.inMemory, 0);
          const t = Date.now();
          await lab.scancel(a);
          const leftAfter = await until(
            `pool ${a}'s workers to leave the scheduler`,
            async () => ((await s.poolWorkers(a)).length === 0 ? Date.now() - t : undefined),
            15_000,
          );
          const results = await s.client.gather(futures);

          expect(held).toBeGreaterThan(0); // the cancelled pool did hold work
          expect(results.map((r) => r[0])).toEqual(Array.from({ length: N }, (_, i) => i * i));
          expect(await s.poolWorkers(b)).toEqual([`pool${b}-0`, `pool${b}-1`]);
          expect((await lab.waitDone(a, 20_000)).state).toBe('CANCELLED');
          console.log(
            `scancel: pool ${a} held ${held} tasks/results; its workers left the list ${leftAfter} ms after scancel; ` +
              `results from pool ${a}: ${results.filter((r) => r[1] === a).length}, from ${b}: ${results.filter((r) => r[1] === b).length}`,
          );
          await s.end({ [a]: 'CANCELLED' });
        }),
      90_000,
    );

    test(
      'scancel of the scheduler job after its pools are gone: it stops on SIGTERM, removes its file, no node drains',
      () =>
        lab.check(async () => {
          const s = await startSession(lab, 'scancel-scheduler');
          const a = await s.addPool();
          // Traffic for the pool's workers, so the scheduler has sends to peers that vanish.
          const futures = s.client.map(slowSquare, [1, 2, 3, 4, 5, 6, 7, 8]);
          await s.client.wait([futures[0]]);
          await lab.scancel(a);
          await until(
            `pool ${a}'s workers to leave the scheduler`,
            async () => ((await s.poolWorkers(a)).length === 0 ? true : undefined),
            15_000,
          );
          await s.client.close();
          await lab.scancel(s.scheduler);
          expect((await lab.waitDone(s.scheduler, 20_000)).state).toBe('CANCELLED');
          // Only a scheduler that handled SIGTERM removes its file (SIGKILL after KillWait would not).
          expect(fs.existsSync(s.file)).toBe(false);
          const states = await lab.nodeStates();
          expect(Object.values(states).filter((st) => /DRAIN|DOWN|FAIL/.test(st))).toEqual([]);
          console.log(`scancel of the scheduler: nodes ${JSON.stringify(states)}`);
        }),
      90_000,
    );
  },
);
