import { describePlacement, placement } from '../../src/bootstrap/placement';
import { launcherLocalRank, pinGpu } from '../../src/cluster/gpus';

test("default layout is dask-mpi's: scheduler 0, client 1, workers from 2", () => {
  expect(placement(5)).toEqual({
    size: 5,
    schedulerRank: 0,
    clientRank: 1,
    workerRanks: [2, 3, 4],
  });
  expect(describePlacement(placement(3))).toBe('0: scheduler, 1: client, 2: worker');
});

test('inclusive workers put a worker on every rank, so 1- and 2-rank jobs are clusters', () => {
  expect(placement(1, { exclusiveWorkers: false })).toMatchObject({
    clientRank: 0,
    workerRanks: [0],
  });
  expect(describePlacement(placement(1, { exclusiveWorkers: false }))).toBe(
    '0: scheduler+client+worker',
  );
  expect(placement(2, { exclusiveWorkers: false }).workerRanks).toEqual([0, 1]);
});

test("the client rank defaults to 1, or 0 when the scheduler is on 1; it may equal the scheduler's", () => {
  expect(placement(3, { schedulerRank: 1 }).clientRank).toBe(0);
  expect(placement(3, { schedulerRank: 2 })).toMatchObject({ clientRank: 1, workerRanks: [0] });
  expect(placement(2, { clientRank: 0 })).toMatchObject({ schedulerRank: 0, workerRanks: [1] });
});

test('scheduler-file and outside-scheduler modes have no client rank', () => {
  expect(placement(3, {}, 'file')).toEqual({
    size: 3,
    schedulerRank: 0,
    clientRank: null,
    workerRanks: [1, 2],
  });
  expect(placement(2, { exclusiveWorkers: false }, 'file').workerRanks).toEqual([0, 1]);
  expect(placement(2, {}, 'workers')).toEqual({
    size: 2,
    schedulerRank: -1,
    clientRank: null,
    workerRanks: [0, 1],
  });
  expect(() => placement(2, { clientRank: 1 }, 'file')).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
  );
  expect(() => placement(1, {}, 'file')).toThrow(/launch at least 2 ranks/);
});

test.each([
  // The default layout needs 3 ranks, also asked with 1 (whose client would share rank 0).
  [1, {}, 3, '0: scheduler+client'],
  [2, {}, 3, '0: scheduler, 1: client'],
  [1, { clientRank: 0 }, 2, '0: scheduler+client'],
  [2, { schedulerRank: 1 }, 3, '0: client, 1: scheduler'],
  [2, { schedulerRank: 1, clientRank: 0 }, 3, '0: client, 1: scheduler'],
])(
  'ERR_WORLD_TOO_SMALL on %i rank(s) with %j says the %i ranks that layout needs',
  (size, options, needed, now) => {
    expect(() => placement(size, options)).toThrow(
      expect.objectContaining({
        code: 'ERR_WORLD_TOO_SMALL',
        message: `${size} rank(s) leave no rank for a worker (${now}): launch at least ${needed} ranks (e.g. mpirun -np ${needed}, placed ${describePlacement(placement(needed, options))}), or let the scheduler's and the client's ranks run workers too (exclusiveWorkers: false, --inclusive-workers)`,
      }),
    );
    // And that many is enough.
    expect(placement(needed, options).workerRanks.length).toBeGreaterThan(0);
  },
);

test('in scheduler-file mode the scheduler alone takes a rank: 2 are needed', () => {
  expect(() => placement(1, {}, 'file')).toThrow(
    expect.objectContaining({
      code: 'ERR_WORLD_TOO_SMALL',
      message: expect.stringMatching(
        /^1 rank\(s\) leave no rank for a worker \(0: scheduler\): launch at least 2 ranks .*let the scheduler's rank run workers too/,
      ),
    }),
  );
});

test('a scheduler or client rank beyond the job says how many ranks the layout needs', () => {
  expect(() => placement(2, { schedulerRank: 3 })).toThrow(
    expect.objectContaining({
      code: 'ERR_WORLD_TOO_SMALL',
      message: expect.stringMatching(
        /schedulerRank is 3 but the job has 2 rank\(s\) \(0 to 1\): choose a smaller rank or launch at least 4 ranks/,
      ),
    }),
  );
  expect(placement(4, { schedulerRank: 3 }).workerRanks).toEqual([0, 2]);
  expect(() => placement(3, { clientRank: 4, exclusiveWorkers: false })).toThrow(
    /clientRank is 4 .*launch at least 5 ranks/,
  );
});

test('bad ranks and layouts without a worker are refused with codes that say the fix', () => {
  expect(() => placement(2)).toThrow(
    expect.objectContaining({
      code: 'ERR_WORLD_TOO_SMALL',
      message: expect.stringMatching(/launch at least 3 ranks.*--inclusive-workers/),
    }),
  );
  expect(() => placement(3, { clientRank: 3 })).toThrow(
    /clientRank is 3 but the job has 3 rank\(s\) \(0 to 2\)/,
  );
  expect(() => placement(3, { schedulerRank: -1 })).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
  );
  expect(() => placement(3, { schedulerRank: 1.5 })).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
  );
  expect(() => placement(3, { exclusiveWorkers: 'no' as unknown as boolean })).toThrow(
    /exclusiveWorkers must be true or false/,
  );
});

test("a worker rank's GPU: the launcher's local rank, modulo the GPUs it sees, its own first", () => {
  expect(launcherLocalRank({ OMPI_COMM_WORLD_LOCAL_RANK: '2' })).toBe(2);
  expect(launcherLocalRank({ MPI_LOCALRANKID: '1' })).toBe(1);
  expect(launcherLocalRank({ SLURM_LOCALID: '3' })).toBe(3);
  expect(launcherLocalRank({})).toBeNull();
  const env = { CUDA_VISIBLE_DEVICES: '0,1,2,3' };
  expect(pinGpu(1, env)).toEqual({
    device: '1',
    count: 4,
    visible: '1,2,3,0',
    source: 'CUDA_VISIBLE_DEVICES',
  });
  expect(pinGpu(5, env).device).toBe('1');
  // srun --gpus-per-task=1 gives each rank one GPU of its own: that one, whatever the local rank.
  expect(pinGpu(3, { CUDA_VISIBLE_DEVICES: '6' })).toMatchObject({ device: '6', visible: '6' });
});
