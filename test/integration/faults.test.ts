/**
 * Faults a user meets, each with what they see: dead workers and clients noticed at once, removed
 * peers told, the scheduler stopped by SIGTERM in every state, LocalCluster keeping its workers.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zmq from 'zeromq';
import { Client, LocalCluster } from '../../src';
import { Scheduler } from '../../src/scheduler/server';
import { decode, encode } from '../../src/protocol';
import { InvariantError } from '../../src/errors';
import { KEYS_ENV, secureClient } from '../../src/net/security';
import { readSchedulerFile } from '../../src/cluster/scheduler-file';
import { ROOT, startCli as launch } from '../helpers/cluster';

let dir: string;
/** Every CLI a test started: killed after it, so a failing test leaves no process behind. */
const started: ReturnType<typeof launch>[] = [];
const startCli = (...args: Parameters<typeof launch>): ReturnType<typeof launch> => {
  const cli = launch(...args);
  started.push(cli);
  return cli;
};
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpi-cluster-faults-'));
});
afterEach(async () => {
  for (const cli of started.splice(0)) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    await cli.exited;
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Polls `cond` until it holds; fails naming `what` after `ms`. */
async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 30_000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function schedulerFromCli(extra: string[] = []) {
  const file = path.join(dir, 'sched.json');
  const sched = startCli('cli/scheduler.js', [
    '--scheduler-file',
    file,
    '--host',
    '127.0.0.1',
    ...extra,
  ]);
  const line = await sched.line(/scheduler at (tcp:\/\/\S+)/);
  return { file, sched, address: line.split(' ').pop()! };
}

test('a SIGKILLed worker of a CLI scheduler (no --worker-ttl) is removed at once and its task reruns', async () => {
  const { file, sched } = await schedulerFromCli();
  const doomed = startCli('cli/worker.js', ['--scheduler-file', file, '--name', 'doomed']);
  const client = await Client.connect({ schedulerFile: file, timeout: 10_000 });
  await client.waitForWorkers(1, 10_000);
  const marker = path.join(dir, 'started');
  const f = client.submit((m: string) => {
    const fsm = require('node:fs');
    if (!fsm.existsSync(m)) {
      fsm.writeFileSync(m, 'x');
      return new Promise(() => {}); // the first run never ends: its worker is killed
    }
    return 'ran again';
  }, marker);
  await until(() => fs.existsSync(marker), 'the task to start');
  const spare = startCli('cli/worker.js', ['--scheduler-file', file, '--name', 'spare']);
  await client.waitForWorkers(2, 10_000);
  doomed.child.kill('SIGKILL');
  // With the TTL in minutes, only noticing the closed connection finishes this in time.
  expect(await f.result()).toBe('ran again');
  const info = await client.schedulerInfo();
  expect(Object.values(info.workers).map((w) => w.name)).toEqual(['spare']);
  await client.shutdown();
  await Promise.all([sched.exited, spare.exited]);
  expect(sched.output()).not.toMatch(/error/i);
});

test('a SIGKILLed client is removed at once and its tasks are released', async () => {
  const { file, sched } = await schedulerFromCli();
  const w = startCli('cli/worker.js', ['--scheduler-file', file]);
  const script = `
    const { Client } = require(${JSON.stringify(path.join(ROOT, 'dist'))});
    (async () => {
      const c = await Client.connect({ schedulerFile: ${JSON.stringify(file)} });
      const fs = c.map((x) => new Promise((r) => setTimeout(() => r(x), 600_000)), [1, 2, 3]);
      await c.schedulerInfo();
      process.stdout.write('SUBMITTED\\n');
      await c.gather(fs);
    })();`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((r) =>
    child.stdout!.on('data', (d) => String(d).includes('SUBMITTED') && r()),
  );
  const watcher = await Client.connect({ schedulerFile: file, timeout: 10_000 });
  const total = async () =>
    Object.values((await watcher.schedulerInfo()).tasks).reduce((a, b) => a + b, 0);
  expect(await total()).toBe(3);
  child.kill('SIGKILL');
  await until(async () => (await total()) === 0, 'the dead client\u2019s tasks to be released');
  await watcher.shutdown();
  await Promise.all([sched.exited, w.exited]);
});

test('a client the scheduler removed is told: its pending futures err ERR_REMOVED', async () => {
  const s = await Scheduler.start({ local: true, clientTtl: 1000 });
  const script = `
    const { Client } = require(${JSON.stringify(path.join(ROOT, 'dist'))});
    (async () => {
      const c = await Client.connect({ address: ${JSON.stringify(s.address)} });
      const f = c.submit(() => 1); // no workers: stays pending
      process.stdout.write('READY\\n');
      try { await f.result(); } catch (e) { process.stdout.write('CODE ' + e.code + '\\n'); }
      process.exit(0);
    })();`;
  // The keys reach the child as LocalCluster hands them to workers: in its environment.
  const env = { ...process.env, [KEYS_ENV]: JSON.stringify(s.keys) };
  const child = spawn(process.execPath, ['-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env,
  });
  try {
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    await until(() => out.includes('READY'), 'the client to submit');
    child.kill('SIGSTOP'); // silent, connection open: only the TTL can remove it
    await until(() => s.core.clients.size === 0, 'the silent client to be removed');
    child.kill('SIGCONT');
    await new Promise((r) => child.on('exit', r));
    expect(out).toMatch(/CODE ERR_REMOVED/);
  } finally {
    child.kill('SIGKILL');
    await s.close();
  }
});

test('a member the scheduler does not know (removed, or never said hello) is told once that it is not part of the cluster', async () => {
  const s = await Scheduler.start({ local: true });
  const raw = new zmq.Dealer({ linger: 0 });
  secureClient(raw, s.keys!);
  raw.connect(s.address);
  await raw.send(encode([{ op: { t: 'heartbeat' }, frames: [] }]));
  const [reply] = decode(await raw.receive());
  expect(reply.op).toEqual(expect.objectContaining({ t: 'closing', code: 'ERR_REMOVED' }));
  raw.close();
  await s.close();
});

test('a throw while handling a message is dropped and the scheduler serves on; a broken invariant stops it and every client hears at once', async () => {
  let fatal: Error | null = null;
  const s = await Scheduler.start({ local: true, onFatal: (err) => (fatal = err) });
  const client = await Client.connect({ address: s.address });
  const handle = s.core.handle.bind(s.core);
  let next: Error | null = new Error('thrown on purpose');
  s.core.handle = (events) => {
    const evs = Array.isArray(events) ? events : [events];
    const err = next;
    if (err && evs.some((e) => e.type === 'submit')) {
      if (!(err instanceof InvariantError)) next = null;
      throw err;
    }
    return handle(events);
  };
  client.submit(() => 1); // its message throws and is dropped
  expect(Object.keys((await client.schedulerInfo()).workers)).toEqual([]); // still answering
  next = new InvariantError('broken on purpose');
  const f = client.submit(() => 2);
  await expect(f.result()).rejects.toMatchObject({
    code: 'ERR_SCHEDULER_GONE',
    message: expect.stringContaining('internal error: broken on purpose'),
  });
  await s.closed;
  await until(() => fatal !== null, 'onFatal');
  await client.close();
});

describe('SIGTERM stops the scheduler CLI and removes its file', () => {
  test.each([
    ['with no peers', async () => {}],
    [
      'with a peer that floods it with requests and never reads',
      async (address: string, file: string) => {
        const raw = new zmq.Dealer({ receiveHighWaterMark: 1, sendHighWaterMark: 1000, linger: 0 });
        secureClient(raw, (await readSchedulerFile(file)).keys!);
        raw.connect(address);
        await raw.send(encode([{ op: { t: 'hello-client', id: 'x', name: 'flood' }, frames: [] }]));
        for (let i = 0; i < 2000; i++) {
          await raw.send(encode([{ op: { t: 'info', req: i }, frames: [] }]));
        }
        return () => raw.close();
      },
    ],
    [
      'with a worker stopped by SIGSTOP',
      async (_address: string, file: string) => {
        const w = startCli('cli/worker.js', ['--scheduler-file', file]);
        const c = await Client.connect({ schedulerFile: file, timeout: 10_000 });
        await c.waitForWorkers(1, 10_000);
        await c.close();
        w.child.kill('SIGSTOP');
        return () => w.child.kill('SIGKILL');
      },
    ],
  ])('%s', async (_what, setUp) => {
    const { file, sched, address } = await schedulerFromCli();
    const cleanUp = await setUp(address, file);
    sched.child.kill('SIGTERM');
    // The test's own timeout bounds this wait: on the old code it hung.
    expect({ code: await sched.exited, output: sched.output() }).toEqual({
      code: 0,
      output: expect.any(String),
    });
    expect(fs.existsSync(file)).toBe(false);
    if (cleanUp) cleanUp();
  });
});

describe('LocalCluster', () => {
  test('restarts workers that die, as a nanny does', async () => {
    const cluster = await LocalCluster.start({ nWorkers: 3 });
    const client = await Client.connect({ address: cluster.address });
    const before = cluster.workerPids;
    for (const pid of before.slice(0, 2)) process.kill(pid, 'SIGKILL');
    await until(
      () =>
        cluster.workerPids.length === 3 &&
        cluster.workerPids.filter((p) => before.includes(p)).length === 1,
      'two new workers',
    );
    await client.waitForWorkers(3, 20_000);
    await until(
      async () => Object.keys((await client.schedulerInfo()).workers).length === 3,
      '3 workers',
    );
    expect(await client.gather(client.map((x: number) => x + 1, [1, 2, 3]))).toEqual([2, 3, 4]);
    await client.close();
    await cluster.close();
  });

  test('scale(n) down retires workers gracefully: their results move, nothing is recomputed', async () => {
    const cluster = await LocalCluster.start({ nWorkers: 3 });
    const client = await Client.connect({ address: cluster.address });
    // Results over the inline limit stay on their workers; each says which process made it.
    const fs3 = client.map(
      (i: number) =>
        new Promise((r) =>
          setTimeout(() => r({ i, pid: process.pid, pad: 'x'.repeat(20_000) }), 100),
        ),
      [0, 1, 2, 3, 4, 5],
    );
    const before = (await client.gather(fs3)) as { pid: number }[];
    expect(new Set(before.map((r) => r.pid)).size).toBeGreaterThan(1);
    await cluster.scale(1);
    expect(cluster.workerPids).toHaveLength(1);
    expect(Object.keys((await client.schedulerInfo()).workers)).toHaveLength(1);
    const after = (await client.gather(fs3)) as { pid: number }[];
    expect(after.map((r) => r.pid)).toEqual(before.map((r) => r.pid));
    const [holder] = Object.values(await client.whoHas(fs3)).map((w) => w.join());
    expect(Object.values(await client.whoHas(fs3)).every((w) => w.join() === holder)).toBe(true);
    await client.close();
    await cluster.close();
  });

  test('misuse of scale is refused with ERR_INVALID_OPTION', async () => {
    const cluster = await LocalCluster.start({ nWorkers: 0 });
    await expect(cluster.scale(-1)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await expect(cluster.scale(1.5)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await cluster.close();
  });
});
