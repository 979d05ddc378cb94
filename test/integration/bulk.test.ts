/**
 * Encrypted bulk data (issue 23, item 4), over real ZeroMQ sockets: with security on, values of
 * 1 MiB and more come to a client sealed with AES-256-GCM on the worker's plain bulk port; a
 * tampered or replayed piece is refused and the genuine transfer still completes; a stranger at
 * the bulk port is dropped, learns nothing, and the port goes on serving.
 */
import * as zmq from 'zeromq';
import { Client, LocalCluster } from '../../src';
import type { ClusterError } from '../../src/errors';
import { BulkReceiver, BulkServer, bulkStats } from '../../src/net/bulk';
import { BULK_PIECE, Sealer, splitMessage } from '../../src/net/bulk-seal';
import { PeerPool } from '../../src/net/peers';
import { context, makeKeys, secureServer } from '../../src/net/security';
import { router as routerSocket } from '../../src/net/sockets';
import { decode, encode, type Envelope, type Op } from '../../src/protocol';
import { pack, unpack } from '../../src/protocol/pack';

function pattern(bytes: number, seed: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4093) b[i] = (i + seed) & 255;
  return b;
}

describe('on a LocalCluster with security on', () => {
  let cluster: LocalCluster;
  let client: Client;
  beforeAll(async () => {
    cluster = await LocalCluster.start({
      nWorkers: 2,
      threadsPerWorker: 1,
      dashboardAddress: false,
    });
    client = await Client.connect(cluster);
  });
  afterAll(async () => {
    await client?.close();
    await cluster?.close();
  });

  test('a 24 MiB result comes sealed on the bulk channel, same bytes; a small one does not', async () => {
    const before = { ...bulkStats };
    const bytes = 24 * 2 ** 20;
    const big = client.submit((n: number) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i += 4093) b[i] = (i + 7) & 255;
      return b;
    }, bytes);
    const got = (await big.result()) as Buffer;
    expect(got.equals(pattern(bytes, 7))).toBe(true);
    expect(bulkStats.transfers).toBe(before.transfers + 1);
    expect(bulkStats.bytes - before.bytes).toBeGreaterThanOrEqual(bytes);
    const small = await client.submit((n: number) => Buffer.alloc(n, 2), 64 * 1024).result();
    expect((small as Buffer).length).toBe(64 * 1024);
    expect(bulkStats.transfers).toBe(before.transfers + 1);
    expect(bulkStats.refused).toBe(before.refused);
  });

  test('a large value moves between workers as a task input, and several gathered at once arrive whole', async () => {
    const [w0, w1] = Object.values((await client.schedulerInfo()).workers).map((w) => w.name);
    const make = (seed: number) =>
      client.submitWith(
        { workers: [w0] },
        (n: number, s: number) => {
          const b = Buffer.alloc(n);
          for (let i = 0; i < n; i += 4093) b[i] = (i + s) & 255;
          return b;
        },
        3 * 2 ** 20 + seed,
        seed,
      );
    const values = [1, 2, 3].map(make);
    const sum = client.submitWith(
      { workers: [w1] },
      (a: Buffer, b: Buffer, c: Buffer) => a.length + b.length + c.length + a[4093] + c[4093],
      values[0],
      values[1],
      values[2],
    );
    expect(await sum.result()).toBe(9 * 2 ** 20 + 6 + ((4093 + 1) & 255) + ((4093 + 3) & 255));
    const before = bulkStats.transfers;
    const all = (await client.gather(values)) as Buffer[];
    expect(bulkStats.transfers).toBe(before + 3);
    all.forEach((b, i) => expect(b.equals(pattern(3 * 2 ** 20 + i + 1, i + 1))).toBe(true));
  });
});

/** Every piece of a transfer as [head, ciphertext, tag]. */
function piecesOf(s: Sealer): Buffer[][] {
  const out: Buffer[][] = [];
  for (let m = s.nextMessage(); m; m = s.nextMessage()) out.push(...splitMessage(m)!);
  return out;
}
/** Pieces as one message's frame, as the bulk port sends them. */
const wire = (...pieces: Buffer[][]): Buffer => Buffer.concat(pieces.flat());

describe('the bulk channel itself', () => {
  test('a tampered piece and a replayed one are refused (ERR_BULK_AUTH, ERR_BULK_REPLAY); the genuine transfers complete', async () => {
    // The test plays the sending end on a plain ROUTER: it can change and repeat what it sends,
    // as someone on the path could.
    const router = new zmq.Router({ context });
    await router.bind('tcp://127.0.0.1:*');
    const refused: string[] = [];
    const receiver = new BulkReceiver('test', (err: ClusterError) => refused.push(err.code));
    try {
      receiver.connect(router.lastEndpoint!);
      const [routing, hello] = await router.receive();
      expect(routing.toString()).toBe(receiver.id);
      expect(hello.toString()).toBe('hello');

      const first = pattern(3 * BULK_PIECE + 5, 1);
      const s1 = new Sealer(1, pack(first));
      const got1 = receiver.expect(s1.announce);
      const p1 = piecesOf(s1);
      const tampered = p1[1].map((f) => Buffer.from(f));
      tampered[1][100] ^= 0x80;
      await router.send([routing, wire(p1[0])]);
      await router.send([routing, wire(tampered)]);
      for (const p of p1.slice(1)) await router.send([routing, wire(p)]);
      expect((unpack(await got1) as Buffer).equals(first)).toBe(true);

      // A later transfer: a piece of the first one again is refused, then the later one opens.
      const second = pattern(2 * BULK_PIECE, 2);
      const s2 = new Sealer(2, pack(second));
      const got2 = receiver.expect(s2.announce);
      await router.send([routing, wire(p1[1])]);
      for (const p of piecesOf(s2)) await router.send([routing, wire(p)]);
      expect((unpack(await got2) as Buffer).equals(second)).toBe(true);
      expect(refused).toEqual(['ERR_BULK_AUTH', 'ERR_BULK_REPLAY']);
    } finally {
      receiver.close();
      router.close();
    }
  });

  test('a receiver that does not say hello is waited for once; one that says it later is served', async () => {
    const server = await BulkServer.start('127.0.0.1', 'test');
    const receiver = new BulkReceiver('test');
    try {
      expect(server.worthWaitingFor(receiver.id)).toBe(true);
      expect(await server.reachable(receiver.id, 20)).toBe(false);
      expect(server.worthWaitingFor(receiver.id)).toBe(false);
      receiver.connect(server.address);
      expect(await server.reachable(receiver.id, 10_000)).toBe(true);
      expect(server.worthWaitingFor(receiver.id)).toBe(true);
      const v = pattern(2 * 2 ** 20, 5);
      expect(
        (unpack(await receiver.expect(server.send(receiver.id, pack(v)))) as Buffer).equals(v),
      ).toBe(true);
    } finally {
      receiver.close();
      server.close();
    }
  });

  test('a receiver that takes nothing holds up no other', async () => {
    const server = await BulkServer.start('127.0.0.1', 'test');
    // Says hello, then reads nothing: once its queues are full, sends to it fail at once.
    const stuck = new zmq.Dealer({ routingId: 'a'.repeat(32), context, receiveHighWaterMark: 1 });
    const receiver = new BulkReceiver('test');
    try {
      stuck.connect(server.address);
      await stuck.send('hello');
      receiver.connect(server.address);
      expect(await server.reachable('a'.repeat(32), 10_000)).toBe(true);
      expect(await server.reachable(receiver.id, 10_000)).toBe(true);
      // More than the queues and socket buffers between the two can hold.
      server.send('a'.repeat(32), pack(Buffer.alloc(96 * 2 ** 20, 1)));
      const v = pattern(4 * 2 ** 20, 6);
      expect(
        (unpack(await receiver.expect(server.send(receiver.id, pack(v)))) as Buffer).equals(v),
      ).toBe(true);
      expect(server.backlog('a'.repeat(32))).toBe(1);
    } finally {
      stuck.close();
      receiver.close();
      server.close();
    }
  });

  test('a stranger at the bulk port is dropped, is sent nothing, and the port goes on serving', async () => {
    const strangers: string[] = [];
    const server = await BulkServer.start('127.0.0.1', 'test', (err) => strangers.push(err.code));
    const stranger = new zmq.Dealer({ routingId: 'f'.repeat(32), context });
    const receiver = new BulkReceiver('test');
    try {
      stranger.connect(server.address);
      await stranger.send(['not', 'a hello']);
      await stranger.send('hello again');
      await stranger.send('hello'); // a well-formed hello under an id no requester named
      receiver.connect(server.address);
      expect(await server.reachable(receiver.id, 10_000)).toBe(true);
      expect(await server.reachable('f'.repeat(32), 10_000)).toBe(true);
      expect(strangers).toEqual(['ERR_BULK_FRAME', 'ERR_BULK_FRAME']);
      const v = pattern(2 * 2 ** 20, 3);
      const got = receiver.expect(server.send(receiver.id, pack(v)));
      expect((unpack(await got) as Buffer).equals(v)).toBe(true);
      // Nothing was ever sent to the stranger's id.
      stranger.receiveTimeout = 0;
      await expect(stranger.receive()).rejects.toMatchObject({ code: 'EAGAIN' });
      // A message larger than any hello makes libzmq cut the stranger off; the port serves on.
      await stranger.send(Buffer.alloc(4096));
      const again = pattern(2 * 2 ** 20, 4);
      expect(
        (unpack(await receiver.expect(server.send(receiver.id, pack(again)))) as Buffer).equals(
          again,
        ),
      ).toBe(true);
    } finally {
      stranger.close();
      receiver.close();
      server.close();
    }
  });
});

describe('a requester (PeerPool) against a worker played by the test', () => {
  // The test is the worker: a CURVE ROUTER with the cluster's keys and a plain bulk ROUTER, so it
  // can announce values and send their pieces as it likes.
  const keys = makeKeys();
  let data: ReturnType<typeof routerSocket>;
  let bulk: zmq.Router;
  let unsecure: () => void;
  let pool: PeerPool;
  beforeAll(async () => {
    data = routerSocket();
    unsecure = await secureServer(data, keys);
    await data.bind('tcp://127.0.0.1:*');
    bulk = new zmq.Router({ context });
    await bulk.bind('tcp://127.0.0.1:*');
    pool = new PeerPool('test', keys);
  });
  afterAll(() => {
    pool.close();
    data.close();
    bulk.close();
    unsecure();
  });

  const reply = (peer: Buffer, ...ops: Op[]) =>
    data.send([peer, ...encode(ops.map((op): Envelope => ({ op, frames: [] })))]);
  async function nextRequest(): Promise<{ peer: Buffer; op: Op }> {
    const [peer, ...parts] = await data.receive();
    return { peer, op: decode(parts)[0].op };
  }

  test('a value comes whole through a tampered piece; one whose pieces never come fails its request with ERR_TIMEOUT', async () => {
    const value = pattern(3 * 2 ** 20, 9);
    const asked = pool.request(data.lastEndpoint!, { t: 'get-data', req: 0, keys: ['k'] });
    const first = await nextRequest();
    if (first.op.t !== 'get-data' || !first.op.bulk) throw new Error('no bulk id in get-data');
    const req = first.op.req;
    await reply(first.peer, { t: 'bulk-at', req, address: bulk.lastEndpoint! });
    const [routing, hello] = await bulk.receive();
    expect(routing.toString()).toBe(first.op.bulk);
    expect(hello.toString()).toBe('hello');
    const sealer = new Sealer(1, pack(value));
    await reply(
      first.peer,
      { t: 'data-bulk', req, key: 'k', ...sealer.announce },
      { t: 'data-end', req },
    );
    const pieces = piecesOf(sealer);
    const tampered = pieces[2].map((f) => Buffer.from(f));
    tampered[2][0] ^= 1; // the tag
    await bulk.send([routing, wire(pieces[0], pieces[1], tampered)]);
    for (const p of pieces.slice(2)) await bulk.send([routing, wire(p)]);
    const envs = await asked;
    expect(envs.map((e) => e.op.t)).toEqual(['data', 'data-end']);
    expect((unpack(envs[0].frames) as Buffer).equals(value)).toBe(true);
    expect(bulkStats.refused).toBeGreaterThanOrEqual(1);

    // Announced, never sent, and no data-end either: the request ends at its timeout, with
    // nothing left unhandled.
    const second = pool.request(
      data.lastEndpoint!,
      { t: 'get-data', req: 0, keys: ['k'] },
      [],
      300,
    );
    const again = await nextRequest();
    if (again.op.t !== 'get-data') throw new Error(`unexpected ${again.op.t}`);
    await reply(again.peer, {
      t: 'data-bulk',
      req: again.op.req,
      key: 'k',
      ...new Sealer(2, pack(value)).announce,
    });
    await expect(second).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
  });
});
