import { Client, fromModule, LocalCluster } from '../../src';
import { sharedCluster } from '../helpers/shared-cluster';
import * as path from 'node:path';
import * as zmq from 'zeromq';

const shared = sharedCluster({ nWorkers: 2 });

test('a task error comes back with its remote stack and worker, and fails every dependent', async () => {
  const bad = shared.client.submit(function explode(x: number) {
    throw new RangeError(`bad input ${x}`);
  }, 4);
  const dependent = shared.client.submit((x: unknown) => x, bad);
  const err = await bad.exception();
  expect(err).toMatchObject({
    code: 'ERR_TASK_FAILED',
    remote: { name: 'RangeError', message: 'bad input 4' },
  });
  expect((err as unknown as { remote: { worker: string } }).remote.worker).toMatch(/^local-/);
  expect(err!.stack).toMatch(/remote stack[\s\S]*explode/);
  await expect(dependent.result()).rejects.toMatchObject({ remote: { message: 'bad input 4' } });
});

test('retries re-run a failing task', async () => {
  // Fails on the first run in each thread, succeeds after: state survives in the thread.
  const f = shared.client.submitWith({ retries: 3 }, () => {
    const g = globalThis as { __tries?: number };
    g.__tries = (g.__tries ?? 0) + 1;
    if (g.__tries < 2) throw new Error('first try fails');
    return 'ok';
  });
  expect(await f.result()).toBe('ok');
});

test('a closure is refused at submit, on the client, naming the variable', () => {
  const factor = 3;
  expect(() => shared.client.submit((x: number) => x * factor, 2)).toThrow(
    expect.objectContaining({ code: 'ERR_CLOSURE', message: expect.stringContaining('"factor"') }),
  );
});

test('a module function travels by reference and can use imports', async () => {
  const file = path.resolve(__dirname, '..', 'fixtures', 'tasks.js');
  const f = shared.client.submit(fromModule(file, 'double'), 21);
  expect(await f.result()).toBe(42);
  const missing = shared.client.submit(fromModule(file, 'nope'));
  await expect(missing.result()).rejects.toMatchObject({
    remote: { message: expect.stringContaining('no exported function "nope"') },
  });
});

test('malformed frames sent at the scheduler port leave it serving', async () => {
  const raw = new zmq.Dealer();
  raw.connect(shared.cluster.address);
  await raw.send([Buffer.from('not json at all')]);
  await raw.send([Buffer.from(JSON.stringify({ v: 1, ops: [{ t: 'submit', task: { key: 5 } }] }))]);
  await raw.send([Buffer.from(JSON.stringify({ v: 99, ops: [] }))]);
  await raw.send([Buffer.from(JSON.stringify({ v: 1, ops: [{ t: 'shutdown' }] }))]); // never said hello
  await raw.send([]);
  raw.close();
  expect(await shared.client.submit((x: number) => x + 1, 1).result()).toBe(2);
});

test('unknown interfaces are refused with ERR_INTERFACE_NOT_FOUND naming the choices', async () => {
  await expect(LocalCluster.start({ nWorkers: 1, interface: 'ib9' })).rejects.toMatchObject({
    code: 'ERR_INTERFACE_NOT_FOUND',
    message: expect.stringMatching(/"ib9".*available: .*lo/),
  });
});

test('a client for a scheduler that does not answer fails with ERR_TIMEOUT', async () => {
  await expect(
    Client.connect({ address: 'tcp://127.0.0.1:9', timeout: 300 }),
  ).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
});

describe('misuse gets a coded error at the call', () => {
  test('map over something that is not an iterable', () => {
    const f = (x: number) => x;
    for (const bad of [5, null, undefined, { a: 1 }]) {
      expect(() => shared.client.map(f, bad as unknown as number[])).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
      );
    }
  });

  test('waitForWorkers takes its timeout as a number too, as in Dask', async () => {
    await shared.client.waitForWorkers(2, 5000);
    await expect(shared.client.waitForWorkers(5, 300)).rejects.toMatchObject({
      code: 'ERR_TIMEOUT',
    });
    await expect(shared.client.waitForWorkers(1, -1)).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
  });

  test('connect() with a file name or a word instead of an address', async () => {
    await expect(Client.connect('sched.json')).rejects.toThrow(/schedulerFile/);
    await expect(Client.connect('x')).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
  });

  test('a LocalCluster memoryLimit that is not understood is refused before any worker starts', async () => {
    await expect(LocalCluster.start({ nWorkers: 1, memoryLimit: '12XB' })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
  });
});
