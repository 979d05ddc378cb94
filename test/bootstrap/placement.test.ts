import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  describeFlavours,
  runMpiCommand,
  runMpmd,
  survivorsAt,
  type Flavour,
  type Run,
} from '../mpi/launch';

const FIX = path.join(__dirname, 'fixtures');
const SCRIPT = path.join(FIX, 'placement.js');
const INIT = path.resolve(__dirname, '..', '..', 'dist', 'mpi-init.js');
const node = process.execPath;

interface Report {
  client: number;
  clientPid: number;
  address: string;
  /** By worker name (its rank): the pid, rank and CUDA_VISIBLE_DEVICES its task saw. */
  workers: Record<string, { pid: number; rank: number; gpus: string | null }>;
  resources: Record<string, Record<string, number>>;
  sum: number;
}

function report(r: Run): Report {
  const l = r.stdout.find((x) => x.text.startsWith('PLACEMENT '));
  if (!l) throw new Error(`no PLACEMENT line (exit ${r.code}); stderr:\n${r.stderr.slice(-3000)}`);
  return JSON.parse(l.text.slice('PLACEMENT '.length)) as Report;
}

/** Every process the job ran (ranks and the client rank's role child) is gone once it ended. */
async function noneLeft(rep: Report): Promise<void> {
  const pids = [rep.clientPid, ...Object.values(rep.workers).map((w) => w.pid)];
  expect(await survivorsAt(pids, Date.now() + 5000)).toEqual([]);
}

/** Ranks, options, the client's rank and the worker ranks the cluster must have. */
const MATRIX: [number, Record<string, unknown>, number, number[]][] = [
  [1, { exclusiveWorkers: false }, 0, [0]],
  [2, { exclusiveWorkers: false }, 1, [0, 1]],
  [2, { clientRank: 0 }, 0, [1]],
  [3, {}, 1, [2]],
  [3, { exclusiveWorkers: false }, 1, [0, 1, 2]],
  [3, { clientRank: 0 }, 0, [1, 2]],
  [3, { schedulerRank: 2, clientRank: 0 }, 0, [1]],
  [3, { schedulerRank: 1, clientRank: 1, exclusiveWorkers: false }, 1, [0, 1, 2]],
  [4, {}, 1, [2, 3]],
  [4, { exclusiveWorkers: false }, 1, [0, 1, 2, 3]],
  [4, { schedulerRank: 3, clientRank: 2 }, 2, [0, 1]],
  [4, { clientRank: 0, exclusiveWorkers: false }, 0, [0, 1, 2, 3]],
];

/** Layouts with no rank left for a worker. */
const TOO_SMALL: [number, Record<string, unknown>, string][] = [
  [1, {}, 'launch at least 3 ranks'],
  [2, {}, 'launch at least 3 ranks'],
  [1, { clientRank: 0 }, 'launch at least 2 ranks'],
  [2, { schedulerRank: 1 }, 'launch at least 3 ranks'],
];

function execute(flavour: Flavour, np: number, options: object, env: Record<string, string> = {}) {
  return runMpiCommand(flavour, np, [node, SCRIPT], {
    env: { MODE: 'execute', PLACEMENT_OPTIONS: JSON.stringify(options), ...env },
    timeoutMs: 60_000,
  });
}

describeFlavours('rank placement', (flavour) => {
  test.each(MATRIX)(
    'execute() on %i rank(s) with %j: client on rank %i, workers on %j, results, exit 0, nothing left',
    async (np, options, clientRank, workerRanks) => {
      const r = await execute(flavour, np, options);
      const rep = report(r);
      expect(rep.client).toBe(clientRank);
      expect(Object.keys(rep.workers).map(Number)).toEqual(workerRanks);
      // Each worker's task ran in a process of the rank it is named after.
      for (const [name, w] of Object.entries(rep.workers)) expect(w.rank).toBe(Number(name));
      expect(rep.sum).toBe(204);
      expect(r.code).toBe(0);
      await noneLeft(rep);
    },
  );

  test.each(TOO_SMALL)(
    'execute() on %i rank(s) with %j leaves no worker: ERR_WORLD_TOO_SMALL ("%s"), every rank ends',
    async (np, options, says) => {
      const r = await execute(flavour, np, options);
      expect(r.timedOut).toBe(false);
      expect(r.code).not.toBe(0);
      if (flavour.forwardsStderrBeforeAbort)
        expect(r.stderr).toMatch(new RegExp(`ERR_WORLD_TOO_SMALL.*${says}`));
    },
  );

  test('a clientRank beyond the job is ERR_WORLD_TOO_SMALL naming the ranks there are', async () => {
    const r = await execute(flavour, 3, { clientRank: 5 });
    expect(r.code).not.toBe(0);
    if (flavour.forwardsStderrBeforeAbort)
      expect(r.stderr).toMatch(/ERR_WORLD_TOO_SMALL.*clientRank is 5 but the job has 3 rank/);
  });

  test('execute(): a function that returns 7 exits 7; one that throws exits 1 with its error printed', async () => {
    const seven = await execute(flavour, 3, { exclusiveWorkers: false }, { BEHAVIOUR: 'code' });
    expect(report(seven).sum).toBe(204);
    if (flavour.name === 'openmpi') expect(seven.code).toBe(7);
    else expect(seven.code).not.toBe(0);
    await noneLeft(report(seven));

    const thrown = await execute(flavour, 3, {}, { BEHAVIOUR: 'throw' });
    expect(report(thrown).sum).toBe(204);
    if (flavour.name === 'openmpi') expect(thrown.code).toBe(1);
    else expect(thrown.code).not.toBe(0);
    expect(thrown.stderr).toMatch(
      /execute: the function failed: Error: the function failed on purpose/,
    );
    await noneLeft(report(thrown));
  });

  test('mpi-init --client-rank 0 --inclusive-workers --scheduler-port P: 2 ranks, 2 workers, the port', async () => {
    const port = await freePort();
    const r = await runMpiCommand(flavour, 2, [
      node,
      INIT,
      '--interface',
      'lo',
      '--client-rank',
      '0',
      '--inclusive-workers',
      '--scheduler-port',
      String(port),
      SCRIPT,
    ]);
    const rep = report(r);
    expect(rep.client).toBe(0);
    expect(Object.keys(rep.workers)).toEqual(['0', '1']);
    expect(rep.address).toBe(`tcp://127.0.0.1:${port}`);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(`info: cluster ready: 2 workers, scheduler tcp://127\\.0\\.0\\.1:${port}, `),
    );
    await noneLeft(rep);
  });

  test('mpi-init --scheduler-file --scheduler-rank 1 --inclusive-workers: every rank a worker, the file for clients', async () => {
    const { Client } = await import('../../src');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'placement-file-'));
    const file = path.join(dir, 'sched.json');
    const job = runMpiCommand(flavour, 2, [
      node,
      INIT,
      '--scheduler-file',
      file,
      '--interface',
      'lo',
      '--scheduler-rank',
      '1',
      '--inclusive-workers',
    ]);
    const client = await Client.connect({ schedulerFile: file, timeout: 20_000 });
    try {
      await client.waitForWorkers(2, { timeout: 20_000 });
      const names = Object.values((await client.schedulerInfo()).workers).map((w) => w.name);
      expect(names.sort()).toEqual(['0', '1']);
      expect(await client.gather(client.map((x: number) => x + 1, [1, 2]))).toEqual([2, 3]);
      await client.shutdown();
      expect((await job).code).toBe(0);
      expect(fs.existsSync(file)).toBe(false);
    } finally {
      await client.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--gpus: each worker rank pinned by its local rank (its GPU first), { GPU: 1 }, GPU tasks on each', async () => {
    const r = await runMpiCommand(
      flavour,
      3,
      [node, INIT, '--interface', 'lo', '--inclusive-workers', '--gpus', SCRIPT],
      { env: { CUDA_VISIBLE_DEVICES: '3,5,7', GPU_TASKS: '1' } },
    );
    const rep = report(r);
    expect(Object.fromEntries(Object.entries(rep.workers).map(([n, w]) => [n, w.gpus]))).toEqual({
      '0': '3,5,7',
      '1': '5,7,3',
      '2': '7,3,5',
    });
    expect(rep.resources).toEqual({ '0': { GPU: 1 }, '1': { GPU: 1 }, '2': { GPU: 1 } });
    expect(r.code).toBe(0);
    await noneLeft(rep);
  });

  test('--gpus honours a launcher that gave each rank its own GPU (per-rank CUDA_VISIBLE_DEVICES)', async () => {
    const ranks = ['4', '6', '9'].map((gpu) => [
      'env',
      `CUDA_VISIBLE_DEVICES=${gpu}`,
      node,
      INIT,
      '--interface',
      'lo',
      '--inclusive-workers',
      '--gpus',
      SCRIPT,
    ]);
    const r = await runMpmd(flavour, ranks, { env: { GPU_TASKS: '1' } });
    const rep = report(r);
    expect(Object.fromEntries(Object.entries(rep.workers).map(([n, w]) => [n, w.gpus]))).toEqual({
      '0': '4',
      '1': '6',
      '2': '9',
    });
    expect(r.code).toBe(0);
  });

  test('--gpus where no GPU can be found ends the job with ERR_NO_GPU saying where it looked and what works under MPI', async () => {
    const r = await runMpiCommand(flavour, 3, [node, INIT, '--interface', 'lo', '--gpus', SCRIPT], {
      env: { PATH: `${path.dirname(node)}:/usr/bin:/bin`, CUDA_VISIBLE_DEVICES: '-1' },
    });
    expect(r.timedOut).toBe(false);
    expect(r.code).not.toBe(0);
    if (flavour.forwardsStderrBeforeAbort)
      expect(r.stderr).toMatch(
        /ERR_NO_GPU.*CUDA_VISIBLE_DEVICES is "-1".*set CUDA_VISIBLE_DEVICES for the ranks.*leave out --gpus/,
      );
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
