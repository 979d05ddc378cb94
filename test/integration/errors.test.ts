import { Client, fromModule, LocalCluster } from '../../src';
import { sharedCluster } from '../helpers/shared-cluster';
import * as path from 'node:path';
import * as zmq from 'zeromq';
import { decode, encode, pack } from '../../src/protocol';
import { secureClient } from '../../src/net/security';

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

test('malformed messages from a client that said hello leave the scheduler serving it', async () => {
  const raw = new zmq.Dealer({ linger: 0 });
  secureClient(raw, shared.cluster.keys!);
  raw.connect(shared.cluster.address);
  const send = (...ops: object[]) => raw.send([Buffer.from(JSON.stringify({ v: 1, ops }))]);
  const next = async (t: string) => {
    for (;;) {
      const [{ op }] = decode(await raw.receive());
      if (op.t === t) return op;
    }
  };
  await send({ t: 'hello-client', id: 'raw', name: 'raw' });
  await next('welcome');
  const task = { key: 'raw-1', fn: 'f1', deps: [], priority: 0, retries: 0, nf: 0 };
  await raw.send([Buffer.from('not json at all')]);
  await send({ t: 'submit', task: { key: 5 } });
  await send({ t: 'submit', task: { ...task, workers: 'abc' } }); // passed decode on the old main
  await send({ t: 'submit', task: { ...task, resources: { gpu: 'one' } } });
  await send({ t: 'scattered', keys: ['a'], workers: ['nobody'], nbytes: [] });
  await raw.send([Buffer.from(JSON.stringify({ v: 99, ops: [] }))]);
  await raw.send([]);
  // Still served: a well-formed task from the same peer runs and its result comes back.
  await send({
    t: 'define-fn',
    id: 'f1',
    spec: { kind: 'source', source: '(x) => x + 1', name: '' },
  });
  await raw.send(encode([{ op: { t: 'submit', task: { ...task, nf: 1 } }, frames: pack([41]) }]));
  const done = await next('key-done');
  expect(done).toMatchObject({ key: 'raw-1' });
  raw.close();
  expect(await shared.client.submit((x: number) => x + 1, 1).result()).toBe(2);
});

test('a value that cannot travel is refused at submit with ERR_SERIALIZE', () => {
  expect(() =>
    shared.client.submit(
      (f: unknown) => f,
      () => 1,
    ),
  ).toThrow(
    expect.objectContaining({
      code: 'ERR_SERIALIZE',
      message: expect.stringContaining('could not be cloned'),
    }),
  );
});

test('an explicit key reused for other work is ERR_KEY_CONFLICT, in this client and from another', async () => {
  const a = shared.client.submitWith({ key: 'conflict-k' }, (x: number) => x, 1);
  expect(shared.client.submitWith({ key: 'conflict-k' }, (x: number) => x, 1).key).toBe(a.key);
  expect(() => shared.client.submitWith({ key: 'conflict-k' }, (x: number) => x, 2)).toThrow(
    expect.objectContaining({ code: 'ERR_KEY_CONFLICT' }),
  );
  const other = await Client.connect({ address: shared.cluster.address });
  try {
    const b = other.submitWith({ key: 'conflict-k' }, (x: number) => x * 10, 1);
    await expect(b.result()).rejects.toMatchObject({ code: 'ERR_KEY_CONFLICT' });
    expect(await a.result()).toBe(1);
  } finally {
    await other.close();
  }
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

  test('a scheduler file under /proc is a timeout, not a hung event loop', async () => {
    await expect(
      Client.connect({ schedulerFile: '/proc/nosuch/sched.json', timeout: 500 }),
    ).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
  });

  test('a LocalCluster memoryLimit that is not understood is refused before any worker starts', async () => {
    await expect(LocalCluster.start({ nWorkers: 1, memoryLimit: '12XB' })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
  });
});
