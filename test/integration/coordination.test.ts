/**
 * Coordination between clients and tasks (issue 22, item 5) on a real LocalCluster: each
 * primitive across two client processes (this test's and a child Node process that connects by
 * address, with the keys in MPI_CLUSTER_KEYS as a user's second script would), a task that
 * connects its own client (the way until getClient exists), and the scheduler's end reaching
 * waiters as a coded error. The child scripts print lines the test waits for.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, LocalCluster } from '../../src';
import { Event, Lock, Queue, Semaphore, Variable } from '../../src/client/coordination';
import type { Future } from '../../src/client/future';
import { KEYS_ENV } from '../../src/net/security';
import { DIST, startCommand, type Started } from '../helpers/cluster';

let dir: string;
let cluster: LocalCluster;
let client: Client;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coordination-'));
  cluster = await LocalCluster.start({ nWorkers: 1, threadsPerWorker: 2, dashboardAddress: false });
  client = await Client.connect(cluster);
});
afterAll(async () => {
  await client?.close();
  await cluster?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

let scripts = 0;
/**
 * A second client process running `body` (CommonJS, inside an async function, with `client`
 * connected to `at`'s scheduler and `say(tag, value)` printing `TAG json`); it closes its client
 * at the end. A failure prints `FAILED {code, message}` and exits 1.
 */
function child(
  body: string,
  at: LocalCluster = cluster,
): Started & { said: (tag: string) => Promise<unknown> } {
  const file = path.join(dir, `child-${++scripts}.js`);
  fs.writeFileSync(
    file,
    `const { Client, Variable, Queue, Event, Lock, Semaphore } = require(${JSON.stringify(DIST)});
const say = (tag, v) => console.log(tag + ' ' + JSON.stringify(v === undefined ? null : v));
(async () => {
  const client = await Client.connect({ address: process.argv[2] });
${body}
  await client.close();
})().catch((e) => {
  say('FAILED', { code: e.code, message: e.message });
  process.exit(1);
});
`,
  );
  const started = startCommand(process.execPath, [file, at.address], {
    [KEYS_ENV]: JSON.stringify(at.keys),
  });
  /** The value the child printed with `tag`. */
  const said = async (tag: string) => {
    const line = await started.line(new RegExp(`^${tag} .*$`, 'm'), 30_000);
    return JSON.parse(line.slice(tag.length + 1));
  };
  return { ...started, said };
}

/** Resolves to the rejection's code (fails the test if `p` resolves). */
async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: { code?: string }) => e,
  );
  return String(err.code);
}

test('Variable: a future set by one process is got by another after the setter exited; an unset one times out', async () => {
  const c = child(`
  const f = client.submit((x) => x * 2, 21);
  await new Variable('answer').set({ f, note: 'from the child' });
  say('SET');`);
  expect(await c.exited).toBe(0);
  const got = await new Variable<{ f: Future<number>; note: string }>('answer', client).get('20s');
  expect(got.note).toBe('from the child');
  // The child's client is gone: the variable kept the key alive.
  expect(await got.f.result()).toBe(42);
  expect(await codeOf(new Variable('never-set', client).get('300ms'))).toBe('ERR_TIMEOUT');
  await new Variable('answer', client).delete();
});

test('Queue: items put in one process come out in order in the other; maxsize bounds puts; gets time out', async () => {
  const q = new Queue<number>('jobs', { maxsize: 2, client });
  const c = child(`
  const q = new Queue('jobs', { maxsize: 2 });
  const got = [];
  for (let i = 0; i < 3; i++) got.push(await q.get('20s'));
  say('GOT', got);
  try {
    await q.get('200ms');
  } catch (e) {
    say('EMPTY', e.code);
  }`);
  // The third put waits for room until the child takes the first item.
  for (const i of [1, 2, 3]) await q.put(i, '20s');
  expect(await c.said('GOT')).toEqual([1, 2, 3]);
  expect(await c.said('EMPTY')).toBe('ERR_TIMEOUT');
  expect(await c.exited).toBe(0);
  await q.put(4);
  await q.put(5);
  expect(await codeOf(q.put(6, '200ms'))).toBe('ERR_TIMEOUT');
  expect(await q.qsize()).toBe(2);
  expect([await q.get(), await q.get()]).toEqual([4, 5]);
});

test('Event: a wait in one process ends when the other sets it; a wait past its timeout says false', async () => {
  const c = child(`
  const e = new Event('go');
  say('EARLY', await e.wait('200ms'));
  say('WAITING');
  say('WOKE', await e.wait('20s'));`);
  expect(await c.said('EARLY')).toBe(false);
  await c.said('WAITING');
  const e = new Event('go', client);
  await e.set();
  expect(await c.said('WOKE')).toBe(true);
  expect(await e.isSet()).toBe(true);
  await e.clear();
  expect(await e.isSet()).toBe(false);
  expect(await c.exited).toBe(0);
});

test('Lock: held by one process, the other times out, then gets it on release; it is freed when its holder leaves', async () => {
  const lock = new Lock('the-lock', client);
  expect(await lock.acquire()).toBe(true);
  const c = child(`
  const l = new Lock('the-lock');
  say('TRY', await l.acquire('200ms'));
  say('WAITING');
  say('GOT', await l.acquire('20s'));
  // Ends without release: the scheduler frees it when this client leaves.`);
  expect(await c.said('TRY')).toBe(false);
  await c.said('WAITING');
  await lock.release();
  expect(await c.said('GOT')).toBe(true);
  expect(await c.exited).toBe(0);
  expect(await lock.acquire('20s')).toBe(true);
  expect(await codeOf(new Lock('the-lock', client).release())).toBe('ERR_COORD_MISUSE');
  await lock.release();
});

test('Semaphore: leases across processes, a timeout when none is free, and the leases of a leaving client freed', async () => {
  const sem = new Semaphore('two', 2, client);
  expect(await sem.acquire()).toBe(true);
  expect(await sem.acquire()).toBe(true);
  const c = child(`
  const s = new Semaphore('two', 2);
  say('TRY', await s.acquire('200ms'));
  say('WAITING');
  say('GOT', await s.acquire('20s'));
  say('VALUE', await s.getValue());`);
  expect(await c.said('TRY')).toBe(false);
  await c.said('WAITING');
  await sem.release();
  expect(await c.said('GOT')).toBe(true);
  expect(await c.said('VALUE')).toBe(2);
  expect(await c.exited).toBe(0);
  // The child left holding its lease: it is free again.
  expect(await sem.acquire('20s')).toBe(true);
  expect(await sem.getValue()).toBe(2);
  await sem.release();
  await sem.release();
  expect(await sem.getValue()).toBe(0);
});

test('publishDataset in one process, getDataset in another returns the values; names taken or missing are coded errors', async () => {
  const c = child(`
  const squares = client.map((x) => x * x, [1, 2, 3]);
  await client.publishDataset('squares', squares);
  try {
    await client.publishDataset('squares', []);
  } catch (e) {
    say('TAKEN', e.code);
  }
  say('LIST', await client.listDatasets());`);
  expect(await c.said('TAKEN')).toBe('ERR_DATASET_EXISTS');
  expect(await c.said('LIST')).toEqual(['squares']);
  expect(await c.exited).toBe(0);
  expect(await client.listDatasets()).toEqual(['squares']);
  const futures = await client.getDataset<Future<number>[]>('squares');
  expect(await client.gather(futures)).toEqual([1, 4, 9]);
  await client.unpublishDataset('squares');
  expect(await client.listDatasets()).toEqual([]);
  // This client's futures hold the data now, the dataset no longer.
  expect(await futures[2].result()).toBe(9);
  expect(await codeOf(client.getDataset('squares'))).toBe('ERR_DATASET_MISSING');
});

test('a task uses the primitives through a client it connects with the address and keys it is given', async () => {
  const task = client.submit(
    async (dist: string, address: string, keys: unknown) => {
      const m = require(dist) as typeof import('../../src');
      const own = await m.Client.connect({ address, security: keys as never });
      try {
        // Passed explicitly: tasks side by side in one worker process share its default client.
        await new m.Queue('from-task', { client: own }).put('hello from a task');
        return await new m.Event('task-go', own).wait('20s');
      } finally {
        await own.close();
      }
    },
    DIST,
    cluster.address,
    cluster.keys,
  );
  expect(await new Queue('from-task', { client }).get('30s')).toBe('hello from a task');
  await new Event('task-go', client).set();
  expect(await task.result()).toBe(true);
  await new Event('task-go', client).clear();
});

test("the scheduler's end: waiters in both processes fail with ERR_SCHEDULER_GONE, none hangs", async () => {
  const doomed = await LocalCluster.start({ nWorkers: 1, dashboardAddress: false });
  const mine = await Client.connect(doomed);
  const c = child(
    `
  try {
    await new Variable('never').get();
  } catch (e) {
    say('GONE', e.code);
  }`,
    doomed,
  );
  // Its code, taken as soon as it fails (during the close below).
  const waiting = codeOf(new Queue('empty', { client: mine }).get());
  // Both waits are registered: the scheduler holds the variable and the queue they wait on.
  const co = doomed.scheduler.coordination;
  while (co.size < 2) await new Promise((r) => setTimeout(r, 20));
  await doomed.close();
  expect(await waiting).toBe('ERR_SCHEDULER_GONE');
  expect(await c.said('GONE')).toBe('ERR_SCHEDULER_GONE');
  await mine.close();
});
