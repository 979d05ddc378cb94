/**
 * Security by default (CurveZMQ): a process that knows only the addresses gets nowhere, garbage
 * at every port crashes nothing, keys never travel where other users can read them.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zmq from 'zeromq';
import { Client, LocalCluster } from '../../src';
import { readSchedulerFile } from '../../src/cluster/scheduler-file';
import { makeKeys, secureClient } from '../../src/net/security';
import { encode } from '../../src/protocol';
import { Scheduler } from '../../src/scheduler/server';
import { runCli, startCli } from '../helpers/cluster';
import { sharedCluster } from '../helpers/shared-cluster';

const shared = sharedCluster({ nWorkers: 2 });

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpi-cluster-sec-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const workerAddresses = async () =>
  Object.values((await shared.client.schedulerInfo()).workers).map((w) => w.address);

/** Resolves with the first handshake failure a socket reports. */
const handshakeFailure = (s: zmq.Dealer): Promise<string> =>
  (async () => {
    for await (const ev of s.events) if (ev.type.startsWith('handshake:error')) return ev.type;
    return 'closed';
  })();

describe('a stranger who knows only the address', () => {
  test('cannot connect a client: ERR_SECURITY at once, naming where the keys are', async () => {
    await expect(
      Client.connect({ address: shared.cluster.address, security: false, timeout: 20_000 }),
    ).rejects.toMatchObject({
      code: 'ERR_SECURITY',
      message: expect.stringContaining('schedulerFile'),
    });
  });

  test('with keys of its own is refused at the handshake too', async () => {
    await expect(
      Client.connect({ address: shared.cluster.address, security: makeKeys(), timeout: 20_000 }),
    ).rejects.toMatchObject({ code: 'ERR_SECURITY', message: expect.stringContaining('refused') });
  });

  test('cannot register a worker, read or overwrite a worker’s data, run a task or shut the cluster down', async () => {
    // A worker without keys never registers.
    const intruder = startCli('cli/worker.js', [
      shared.cluster.address,
      '--no-security',
      '--name',
      'intruder',
      '--host',
      '127.0.0.1',
    ]);
    // Plain sockets at the scheduler and at every worker's data port, with real requests.
    const targets = [shared.cluster.address, ...(await workerAddresses())];
    const sockets = targets.map((address) => {
      const s = new zmq.Dealer({ linger: 0, sendTimeout: 0 });
      const failed = handshakeFailure(s);
      s.connect(address);
      return { s, failed };
    });
    const f = shared.client.submit(() => 'secret');
    await f.result();
    for (const { s } of sockets) {
      const ops = [
        { op: { t: 'hello-client', id: 'x', name: 'x' }, frames: [] },
        { op: { t: 'get-data', req: 1, keys: [f.key] }, frames: [] },
        { op: { t: 'shutdown' }, frames: [] },
      ] as const;
      await s.send(encode(ops as never)).catch(() => {});
    }
    for (const { failed } of sockets) expect(await failed).toMatch(/^handshake:error:/);
    for (const { s } of sockets) s.close();
    // Still serving, the intruder not among its workers, the value not forged.
    expect(await shared.client.submit((x: number) => x + 1, 1).result()).toBe(2);
    const names = Object.values((await shared.client.schedulerInfo()).workers).map((w) => w.name);
    expect(names).not.toContain('intruder');
    expect(await f.result()).toBe('secret');
    intruder.child.kill('SIGKILL');
    await intruder.exited;
  });
});

test('a member keeps to its role: a client cannot report results or hold keys, a worker cannot submit or shut down, core-event fields do nothing', async () => {
  const keys = shared.cluster.keys!;
  const member = (id: string) => {
    const s = new zmq.Dealer({ linger: 0, routingId: id });
    secureClient(s, keys);
    s.connect(shared.cluster.address);
    return s;
  };
  const send = (s: zmq.Dealer, ops: object[]) =>
    s.send(encode(ops.map((op) => ({ op, frames: [] })) as never));
  // A task a real client waits on, still running while the forgeries arrive.
  const slow = shared.client.submit(
    () => new Promise<string>((r) => setTimeout(() => r('real'), 1500)),
  );
  const asClient = member('c-member');
  await send(asClient, [
    { t: 'hello-client', id: 'c-member', name: 'member' },
    // Worker reports from a client: dropped.
    { t: 'task-finished', key: slow.key, nbytes: 1, duration: 0, nf: 0 },
    { t: 'add-keys', keys: [slow.key], nbytes: [1] },
    {
      t: 'task-erred',
      key: slow.key,
      error: { name: 'Error', message: 'forged', stack: '' },
      duration: 0,
    },
    // The core's own event fields, riding on a request: ignored (events are built field by field).
    { t: 'info', req: 1, type: 'tick', now: 9e15, worker: 'w-x' },
  ]);
  const asWorker = member('w-member');
  await send(asWorker, [
    {
      t: 'register',
      worker: {
        id: 'w-member',
        name: 'member-worker',
        address: 'tcp://127.0.0.1:9',
        host: 'x',
        pid: 1,
        nthreads: 1,
        memoryLimit: 1e9,
        localDirectory: '/nonexistent',
        resources: {},
      },
    },
    // Client requests from a worker: dropped.
    { t: 'shutdown' },
    { t: 'release', keys: [slow.key] },
    { t: 'cancel', keys: [slow.key] },
  ]);
  expect(await slow.result()).toBe('real');
  // Gone, the member worker is dropped at once; the cluster computes on its own two.
  asWorker.close();
  expect(await shared.client.gather(shared.client.map((x: number) => x + 1, [1, 2]))).toEqual([
    2, 3,
  ]);
  const names = async () =>
    Object.values((await shared.client.schedulerInfo()).workers).map((w) => w.name);
  expect((await names()).filter((n) => n !== 'member-worker')).toHaveLength(2);
  // Its connection gone, the member worker is removed (the scheduler finds out within seconds).
  while ((await names()).includes('member-worker')) await new Promise((r) => setTimeout(r, 100));
  expect(await shared.client.submit(() => 'still').result()).toBe('still');
  asClient.close();
}, 60_000);

test('garbage at every port crashes nothing: 100,000 random frames from a member, raw bytes from strangers', async () => {
  const targets = [shared.cluster.address, ...(await workerAddresses())];
  // Strangers: raw TCP with random bytes (they never get past the handshake).
  await Promise.all(
    targets.map(
      (address) =>
        new Promise<void>((resolve) => {
          const [host, port] = address.replace('tcp://', '').split(':');
          const sock = net.connect(Number(port), host, () => {
            for (let i = 0; i < 100; i++)
              sock.write(
                Buffer.from(Array.from({ length: 1000 }, () => (Math.random() * 256) | 0)),
              );
            sock.end();
          });
          sock.on('close', () => resolve());
          sock.on('error', () => resolve());
        }),
    ),
  );
  // A member (it has the keys): 100,000 random frames, spread over the ports.
  const member = targets.map((address) => {
    const s = new zmq.Dealer({ linger: 0 });
    secureClient(s, shared.cluster.keys!);
    s.connect(address);
    return s;
  });
  for (let i = 0; i < 100_000; i++) {
    const len = (Math.random() * 64) | 0;
    const frame = Buffer.from(Array.from({ length: len }, () => (Math.random() * 256) | 0));
    await member[i % member.length].send(i % 7 === 0 ? [frame, frame] : frame);
  }
  for (const s of member) s.close();
  expect(await shared.client.gather(shared.client.map((x: number) => x * 2, [1, 2, 3]))).toEqual([
    2, 4, 6,
  ]);
  expect(Object.keys((await shared.client.schedulerInfo()).workers)).toHaveLength(2);
}, 120_000);

describe('keys', () => {
  test('LocalCluster workers get them through the environment, never on the command line', () => {
    const secret = shared.cluster.keys!.clientSecret;
    for (const pid of shared.cluster.workerPids) {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      expect(cmdline).not.toContain(secret);
      expect(cmdline).not.toContain(shared.cluster.keys!.serverSecret);
    }
  });

  test('the scheduler file holds them, mode 0600; a client reading it gets in', async () => {
    const file = path.join(dir, 'sched.json');
    const sched = startCli('cli/scheduler.js', ['--scheduler-file', file, '--host', '127.0.0.1']);
    await sched.line(/scheduler at/);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect((await readSchedulerFile(file)).keys).toEqual(
      expect.objectContaining({ clientSecret: expect.stringMatching(/^.{40}$/) }),
    );
    const client = await Client.connect({ schedulerFile: file });
    await client.shutdown();
    expect(await sched.exited).toBe(0);
  });

  test('a scheduler file other users can read is refused with ERR_SECURITY, saying the fix', async () => {
    const s = await Scheduler.start({ local: true, schedulerFile: path.join(dir, 's.json') });
    try {
      fs.chmodSync(path.join(dir, 's.json'), 0o644);
      await expect(
        Client.connect({ schedulerFile: path.join(dir, 's.json'), timeout: 2000 }),
      ).rejects.toMatchObject({
        code: 'ERR_SECURITY',
        message: expect.stringContaining('chmod 600'),
      });
    } finally {
      await s.close();
    }
  });

  test('a scheduler file in a directory others may write is refused at the start', async () => {
    const open = path.join(dir, 'open');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    const r = await runCli('cli/scheduler.js', [
      '--scheduler-file',
      path.join(open, 's.json'),
      '--host',
      '127.0.0.1',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[ERR_SECURITY\].*writable by other users/);
  });
});

test('security: false runs the cluster without CURVE, with a warning', async () => {
  const cluster = await LocalCluster.start({ nWorkers: 1, security: false });
  try {
    expect(cluster.keys).toBeNull();
    const client = await Client.connect(cluster);
    expect(await client.submit(() => 'plain').result()).toBe('plain');
    await client.close();
  } finally {
    await cluster.close();
  }
});
