import { Client, LocalCUDACluster } from '../../src';
import { pinGpu, rotated, visibleGpus } from '../../src/cluster/gpus';

/**
 * GPU workers without a GPU: the device list is given, each worker reports the
 * CUDA_VISIBLE_DEVICES it sees. (On a machine with NVIDIA GPUs, nvidia-smi finds them.)
 */
test('one worker per GPU, its own device first, named after it, offering { GPU: 1 }', async () => {
  const cluster = await LocalCUDACluster.start({
    cudaVisibleDevices: '2,5',
    dashboardAddress: false,
  });
  const client = await Client.connect(cluster);
  try {
    const workers = Object.values((await client.schedulerInfo()).workers);
    expect(workers.map((w) => [w.name, w.resources]).sort()).toEqual([
      ['gpu-2', { GPU: 1 }],
      ['gpu-5', { GPU: 1 }],
    ]);
    // Tasks that need a GPU, each holding it a moment: both workers take part.
    const seen = await client.gather(
      Array.from({ length: 16 }, (_, i) =>
        client.submitWith(
          { resources: { GPU: 1 }, pure: false },
          (_i: number) =>
            new Promise<string>((r) =>
              setTimeout(() => r(`${process.env.CUDA_VISIBLE_DEVICES}`), 20),
            ),
          i,
        ),
      ),
    );
    expect(new Set(seen)).toEqual(new Set(['2,5', '5,2']));
  } finally {
    await client.close();
    await cluster.close();
  }
}, 60_000);

test('the device list: the option, else CUDA_VISIBLE_DEVICES, else nvidia-smi; none at all is ERR_NO_GPU', () => {
  expect(visibleGpus([0, 1], {})).toEqual({
    devices: ['0', '1'],
    source: 'the cudaVisibleDevices option',
  });
  expect(visibleGpus(undefined, { CUDA_VISIBLE_DEVICES: '3, 1' })).toEqual({
    devices: ['3', '1'],
    source: 'CUDA_VISIBLE_DEVICES',
  });
  expect(() => visibleGpus(undefined, { PATH: '/nonexistent' })).toThrow(
    expect.objectContaining({
      code: 'ERR_NO_GPU',
      message: expect.stringMatching(
        /no cudaVisibleDevices option, CUDA_VISIBLE_DEVICES not set, and nvidia-smi is not on PATH\. Give cudaVisibleDevices/,
      ),
    }),
  );
  expect(() =>
    visibleGpus(undefined, { CUDA_VISIBLE_DEVICES: '-1', PATH: '/nonexistent' }),
  ).toThrow(/CUDA_VISIBLE_DEVICES is "-1"/);
  expect(() => visibleGpus('0;1', {})).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
  );
  expect([0, 1, 2].map((i) => rotated(['a', 'b', 'c'], i))).toEqual(['a,b,c', 'b,c,a', 'c,a,b']);
});

test('ERR_NO_GPU advises what works where the GPUs were asked for: CUDA_VISIBLE_DEVICES under MPI and for the worker CLI, the option for LocalCUDACluster', () => {
  const none = { CUDA_VISIBLE_DEVICES: '-1', PATH: '/nonexistent' };
  const message = (f: () => unknown): string => {
    try {
      f();
    } catch (err) {
      expect(err).toMatchObject({ code: 'ERR_NO_GPU' });
      return (err as Error).message;
    }
    throw new Error('no ERR_NO_GPU');
  };
  // An MPI worker rank (initialize({ gpus: true }), mpi-init --gpus): mpi-init has no option for
  // the devices, so the advice is the launcher's environment, or no --gpus.
  const mpi = message(() => pinGpu(0, none));
  expect(mpi).toMatch(
    /^no GPU found: CUDA_VISIBLE_DEVICES is "-1", and nvidia-smi is not on PATH\./,
  );
  expect(mpi).toMatch(
    /set CUDA_VISIBLE_DEVICES for the ranks.*-x CUDA_VISIBLE_DEVICES.*leave out --gpus \(gpus: true\)/,
  );
  expect(mpi).not.toMatch(/cudaVisibleDevices/);
  // The worker CLI's --gpu.
  const worker = message(() => pinGpu(0, none, 'worker'));
  expect(worker).toMatch(/set CUDA_VISIBLE_DEVICES for the worker.*else leave out --gpu /);
  expect(worker).not.toMatch(/cudaVisibleDevices/);
  // LocalCUDACluster keeps its option's advice.
  expect(message(() => visibleGpus(undefined, none))).toMatch(
    /no cudaVisibleDevices option, CUDA_VISIBLE_DEVICES is "-1".*Give cudaVisibleDevices \(e\.g\. '0,1'\)/,
  );
});

test('more workers than GPUs, or an unknown option, is refused before anything starts', async () => {
  await expect(
    LocalCUDACluster.start({ cudaVisibleDevices: [0], nWorkers: 2 }),
  ).rejects.toMatchObject({
    code: 'ERR_INVALID_OPTION',
    message: expect.stringContaining(
      'nWorkers 2 is more than the 1 GPU(s) found (0, from the cudaVisibleDevices option)',
    ),
  });
  await expect(LocalCUDACluster.start({ gpus: 2 } as never)).rejects.toThrow(
    /unknown LocalCUDACluster option "gpus"/,
  );
});

test('mpi-cluster-worker --gpu i (what a job-queue job with gpus runs): GPU i first, { GPU: 1 }', async () => {
  const { Scheduler } = await import('../../src/scheduler/server');
  const { startCli } = await import('../helpers/cluster');
  const { KEYS_ENV } = await import('../../src/net/security');
  const scheduler = await Scheduler.start({ local: true, dashboardAddress: false });
  const env = { CUDA_VISIBLE_DEVICES: '2,4,6', [KEYS_ENV]: JSON.stringify(scheduler.keys) };
  const workers = [0, 2].map((i) =>
    startCli(
      'cli/worker.js',
      [
        scheduler.address,
        '--host',
        '127.0.0.1',
        '--name',
        `job-${i}`,
        '--gpu',
        String(i),
        '--resources',
        'MEM=1',
      ],
      env,
    ),
  );
  const client = await Client.connect({ address: scheduler.address, security: scheduler.keys! });
  try {
    await client.waitForWorkers(2, 20_000);
    const info = await client.schedulerInfo();
    expect(
      Object.values(info.workers)
        .map((w) => [w.name, w.resources])
        .sort(),
    ).toEqual([
      ['job-0', { GPU: 1, MEM: 1 }],
      ['job-2', { GPU: 1, MEM: 1 }],
    ]);
    const seen = await client.gather(
      ['job-0', 'job-2'].map((name) =>
        client.submitWith(
          { workers: [name], resources: { GPU: 1 } },
          () => `${process.env.CUDA_VISIBLE_DEVICES}`,
        ),
      ),
    );
    expect(seen).toEqual(['2,4,6', '6,2,4']);
  } finally {
    await client.close();
    await scheduler.close();
    await Promise.all(workers.map((w) => w.exited));
  }
}, 60_000);
