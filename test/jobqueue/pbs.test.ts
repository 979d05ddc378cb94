import * as fs from 'node:fs';
import { run } from '../slurm/lab';
import type { Bed } from './beds';
import { GADI } from '../fixtures/tutorials';
import { jobQueueSuite } from './suite';

const TUTORIAL_NODE = GADI.node!;

/**
 * PBSCluster against OpenPBS 23.06 (scripts/testbed/pbs): one emulated host in a network
 * namespace, its interface named ib0; the scheduler in the root namespace on the gateway.
 */
/** qmgr in the bed, failing loudly. */
async function qmgr(bed: Bed, command: string): Promise<void> {
  const r = await run('qmgr', ['-c', command], { ...process.env, ...bed.env });
  if (r.code !== 0) throw new Error(`qmgr -c "${command}": ${r.out}`);
}

jobQueueSuite({
  kind: 'pbs',
  workerInterface: 'ib0',
  // pbs_mom polls every 1-3 s here: a 5 s walltime ends after about 7.5 s (pbs/README).
  shortWalltime: '00:00:40',
  walltimeWaitMs: 90_000,
  // The Gadi tutorial's call, as given; the bed only adds where its scheduler listens.
  tutorial: (bed) => ({ ...GADI, env: bed.env, schedulerOptions: { host: bed.schedulerHost } }),
  // Gadi has a queue "normal" and Node at /apps/node/bin/node; the bed gets both for the test.
  prepareTutorial: async (bed: Bed) => {
    await qmgr(bed, 'create queue normal queue_type=execution,enabled=true,started=true');
    const made = !fs.existsSync('/apps');
    fs.mkdirSync('/apps/node/bin', { recursive: true });
    fs.symlinkSync(process.execPath, TUTORIAL_NODE);
    return async () => {
      fs.rmSync(TUTORIAL_NODE, { force: true });
      if (made) fs.rmSync('/apps', { recursive: true, force: true });
      await qmgr(bed, 'delete queue normal');
    };
  },
  // ngpus as OpenPBS's admin guide sets it up (a host-level consumable), the node offering two.
  prepareGpus: async (bed: Bed) => {
    const env = { ...process.env, ...bed.env };
    const nodes = await run('pbsnodes', ['-a'], env);
    const node = nodes.out.split('\n')[0].trim();
    if ((await run('qmgr', ['-c', 'list resource ngpus'], env)).code !== 0)
      await qmgr(bed, 'create resource ngpus type=long, flag=nh');
    await qmgr(bed, `set node ${node} resources_available.ngpus = 2`);
    return () => qmgr(bed, `unset node ${node} resources_available.ngpus`);
  },
});
