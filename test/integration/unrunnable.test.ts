import { Client, LocalCluster } from '../../src';
import { KEYS_ENV } from '../../src/net/security';
import { DEFAULT_SCHEDULER_CONFIG } from '../../src/scheduler/types';
import { startCli } from '../helpers/cluster';

/**
 * A task asking for a resource no connected worker has: after the scheduler's grace
 * (unrunnableAfter) its client gets one process warning saying so, and the task runs once a
 * worker offering the resource joins. A real LocalCluster without GPU, a worker CLI with one.
 */
test(
  'a task needing a GPU on a cluster without one: the client is warned once, and the task runs when a GPU worker joins',
  async () => {
    const cluster = await LocalCluster.start({ nWorkers: 1, dashboardAddress: false });
    const client = await Client.connect(cluster);
    let warned!: (w: { message: string; options: unknown }) => void;
    const warning = new Promise<{ message: string; options: unknown }>((r) => (warned = r));
    const spy = jest
      .spyOn(process, 'emitWarning')
      .mockImplementation(((message: string, options: unknown) =>
        warned({ message, options })) as typeof process.emitWarning);
    let gpuWorker: ReturnType<typeof startCli> | null = null;
    try {
      const onGpu = [1, 2].map((x) =>
        client.submitWith({ resources: { GPU: 1 } }, (y: number) => [y, process.pid], x),
      );
      const { message, options } = await warning;
      expect(options).toEqual({ type: 'UnrunnableTaskWarning', code: 'WARN_TASK_UNRUNNABLE' });
      expect(message).toMatch(
        /^task \S+ can run only with resources GPU=1, and the one connected worker cannot: local-0 offers no resources\. It waits until such a worker joins; start one that offers them \(mpi-cluster-worker --resources GPU=1\)\.$/,
      );
      expect(onGpu.map((f) => f.status)).toEqual(['pending', 'pending']);

      // A worker with the GPU joins (as a worker started by hand would): both tasks run there.
      gpuWorker = startCli(
        'cli/worker.js',
        [cluster.address, '--host', '127.0.0.1', '--name', 'gpu-late', '--resources', 'GPU=1'],
        { [KEYS_ENV]: JSON.stringify(cluster.keys), MPI_CLUSTER_LOG: 'warn' },
      );
      const ran = await client.gather(onGpu);
      expect(ran.map(([y]) => y)).toEqual([1, 2]);
      expect(new Set(ran.map(([, pid]) => pid))).toEqual(new Set([gpuWorker.child.pid]));
      // Once in the process: the second task under the same restriction said nothing more.
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
      await client.close();
      await cluster.close();
      if (gpuWorker) {
        gpuWorker.child.kill('SIGTERM');
        await gpuWorker.exited;
      }
    }
  },
  60_000 + DEFAULT_SCHEDULER_CONFIG.unrunnableAfter,
);
