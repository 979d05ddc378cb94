import * as zmq from 'zeromq';
import { Client, LocalCluster } from '../../src';
import {
  HIGH_WATER_MARK,
  MAX_BYTES_PER_MESSAGE,
  MAX_MESSAGE_SIZE,
  Outbox,
  dealer,
  router,
} from '../../src/net';
import { secureClient } from '../../src/net/security';
import { decode } from '../../src/protocol';

/** Real ZeroMQ sockets on loopback: a ROUTER with the project's Outbox and two DEALER peers. */
async function pair() {
  const r = router();
  await r.bind('tcp://127.0.0.1:*');
  const out = new Outbox(r, true, 'test router');
  const connect = async (id: string) => {
    const d = dealer(null, id);
    d.connect(r.lastEndpoint!);
    await d.send('hello');
    await r.receive();
    return d;
  };
  return { r, out, slow: await connect('slow'), fast: await connect('fast') };
}

const count = async (d: zmq.Dealer, ops: number): Promise<number[]> => {
  const seen: number[] = [];
  while (seen.length < ops) {
    for (const { op } of decode(await d.receive()))
      seen.push(op.t === 'data' ? op.req : (op as { n: number }).n);
  }
  return seen;
};

test('a peer that does not read is parked at its high-water mark; the other peer is served', async () => {
  const { r, out, slow, fast } = await pair();
  try {
    // A full message's bytes per op: every op is its own message, far more than the high-water
    // marks hold (one buffer, sent again and again).
    const big = Buffer.alloc(MAX_BYTES_PER_MESSAGE, 7);
    const n = HIGH_WATER_MARK * 4;
    for (let i = 0; i < n; i++) out.post('slow', { t: 'data', req: i, key: 'k', nf: 1 }, [big]);
    for (let i = 0; i < 50; i++) out.post('fast', { t: 'n-workers', n: i });
    expect(await count(fast, 50)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    // Wait until the pump stops getting rid of the slow peer's messages: it is parked.
    let last = -1;
    for (let same = 0; same < 5;) {
      await new Promise((res) => setTimeout(res, 50));
      same = out.backlog === last ? same + 1 : 0;
      last = out.backlog;
    }
    // What the slow peer has not taken waits in the Outbox; libzmq holds a bounded number of
    // messages (both high-water marks, plus what the kernel's socket buffers take).
    expect(n - out.backlog).toBeLessThanOrEqual(2 * HIGH_WATER_MARK + 20);
    expect(out.backlog).toBeGreaterThan(0);
    // Once it reads, it gets everything, in order.
    const got = await count(slow, n);
    expect(got).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(await out.drained(10_000)).toBe(true);
    expect(out.backlog).toBe(0);
  } finally {
    out.close();
    for (const s of [r, slow, fast]) s.close();
  }
});

test('ops posted in one turn travel in messages of at most 1,000 ops', async () => {
  const { r, out, slow, fast } = await pair();
  try {
    for (let i = 0; i < 2500; i++) out.post('fast', { t: 'n-workers', n: i });
    const sizes: number[] = [];
    let total = 0;
    while (total < 2500) {
      const envs = decode(await fast.receive());
      sizes.push(envs.length);
      total += envs.length;
    }
    expect(sizes).toEqual([1000, 1000, 500]);
  } finally {
    out.close();
    for (const s of [r, slow, fast]) s.close();
  }
});

test('a member sending a part over the size limit is cut off; the scheduler serves on', async () => {
  const cluster = await LocalCluster.start({ nWorkers: 1 });
  // With the cluster's keys: the limit holds for peers that got in, too.
  const stranger = new zmq.Dealer({ linger: 0 });
  secureClient(stranger, cluster.keys!);
  try {
    const cutOff = (async () => {
      for (;;) if ((await stranger.events.receive()).type === 'disconnect') return true;
    })();
    stranger.connect(cluster.address);
    await stranger.send(Buffer.alloc(MAX_MESSAGE_SIZE + 1));
    expect(await cutOff).toBe(true); // libzmq drops the connection instead of buffering the part
    const client = await Client.connect(cluster.address);
    try {
      expect(await client.submit((x: number) => x + 1, 1).result()).toBe(2);
      expect(Object.keys((await client.schedulerInfo()).workers)).toHaveLength(1);
    } finally {
      await client.close();
    }
  } finally {
    stranger.close();
    await cluster.close();
  }
});
