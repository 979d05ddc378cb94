import { decode, encode, pack, unpack, PROTOCOL_VERSION } from '../../src/protocol';

test('a batch of ops with frames round-trips through encode/decode', () => {
  const parts = encode([
    { op: { t: 'heartbeat' }, frames: [] },
    { op: { t: 'data', req: 1, key: 'k', nf: 2 }, frames: [Buffer.from('a'), Buffer.from('bc')] },
    { op: { t: 'release', keys: ['x'] }, frames: [] },
  ]);
  const envs = decode(parts);
  expect(envs.map((e) => e.op.t)).toEqual(['heartbeat', 'data', 'release']);
  expect(envs[1].frames.map((f) => f.toString())).toEqual(['a', 'bc']);
});

const TASK = { key: 'k', fn: 'f', deps: [], priority: 0, retries: 0, nf: 0 };

test('a well-formed submit with every optional field passes decode', () => {
  const task = { ...TASK, workers: ['a'], resources: { gpu: 1 }, fp: 'x' };
  const parts = [
    Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION, ops: [{ t: 'submit', task }] })),
  ];
  expect(decode(parts)[0].op).toEqual({ t: 'submit', task });
});

test.each([
  ['not JSON', [Buffer.from('\x00\x01garbage')]],
  ['wrong version', [Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION + 1, ops: [] }))]],
  ['unknown op', [Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION, ops: [{ t: 'rm-rf' }] }))]],
  [
    'field of wrong type',
    [Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION, ops: [{ t: 'release', keys: 'x' }] }))],
  ],
  [
    'frames missing',
    [
      Buffer.from(
        JSON.stringify({ v: PROTOCOL_VERSION, ops: [{ t: 'data', req: 1, key: 'k', nf: 3 }] }),
      ),
    ],
  ],
  [
    'a frame outside the blob',
    [
      Buffer.from(
        JSON.stringify({
          v: PROTOCOL_VERSION,
          ops: [{ t: 'data', req: 1, key: 'k', nf: 1 }],
          f: [[0, 9]],
        }),
      ),
      Buffer.from('x'),
    ],
  ],
  [
    'a part named twice',
    [
      Buffer.from(
        JSON.stringify({
          v: PROTOCOL_VERSION,
          ops: [{ t: 'data', req: 1, key: 'k', nf: 2 }],
          f: [1, 1],
        }),
      ),
      Buffer.alloc(5000),
    ],
  ],
  [
    'frames left over',
    [Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION, ops: [] })), Buffer.from('x')],
  ],
  ...(
    [
      [
        'a task restricted to a string, not a list',
        { t: 'submit', task: { ...TASK, workers: 'abc' } },
      ],
      [
        'resources that are not numbers',
        { t: 'submit', task: { ...TASK, resources: { gpu: 'x' } } },
      ],
      [
        'a compute whose deps lack holders',
        { t: 'compute', key: 'k', fn: 'f', nf: 0, deps: [{ key: 'd' }] },
      ],
      [
        'a source spec without source',
        { t: 'define-fn', id: 'f', spec: { kind: 'source', name: 'f' } },
      ],
      ['a spec of unknown kind', { t: 'define-fn', id: 'f', spec: { kind: 'eval' } }],
      [
        'scattered keys without sizes',
        { t: 'scattered', keys: ['a', 'b'], workers: [], nbytes: [1] },
      ],
      ['retries beyond the bound', { t: 'submit', task: { ...TASK, retries: 1e9 } }],
      [
        'a worker with a billion threads',
        {
          t: 'register',
          worker: {
            id: 'w',
            name: 'w',
            host: 'h',
            address: 'a',
            nthreads: 1e9,
            memoryLimit: 1,
            pid: 1,
            localDirectory: '/',
          },
        },
      ],
      ['a who-has reply that is not lists', { t: 'who-has-reply', req: 1, who: { k: 'w' } }],
      [
        'an error code that is not a string',
        { t: 'key-erred', key: 'k', error: { name: 'E', message: 'm', code: 5 } },
      ],
    ] as [string, unknown][]
  ).map(([what, op]): [string, Buffer[]] => [
    what,
    [Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION, ops: [op] }))],
  ]),
  [
    'nested field missing',
    [
      Buffer.from(
        JSON.stringify({ v: PROTOCOL_VERSION, ops: [{ t: 'submit', task: { key: 'k' } }] }),
      ),
    ],
  ],
])('decode refuses a message with %s, with code ERR_PROTOCOL', (_what, parts) => {
  expect(() => decode(parts)).toThrow(expect.objectContaining({ code: 'ERR_PROTOCOL' }));
});

test('small frames share one part, large ones keep their own, and all come back in order', () => {
  const big = Buffer.alloc(10_000, 2);
  const parts = encode([
    { op: { t: 'data', req: 1, key: 'a', nf: 2 }, frames: [Buffer.from('x'), big] },
    { op: { t: 'data', req: 2, key: 'b', nf: 1 }, frames: [Buffer.from('yz')] },
  ]);
  expect(parts).toHaveLength(3); // header, the large frame, the blob of small ones
  expect(parts[1]).toBe(big);
  const envs = decode(parts);
  expect(envs[0].frames.map((f) => f.length)).toEqual([1, 10_000]);
  expect(envs[1].frames[0].toString()).toBe('yz');
});

test('large buffers travel as their own frames and come back as the same types', () => {
  const big = Buffer.alloc(100_000, 3);
  const floats = new Float64Array(50_000).fill(1.5);
  const value = {
    big,
    nested: [floats],
    small: Buffer.from('hi'),
    n: 1,
    s: 'x',
    m: new Map([[1, 2]]),
  };
  const frames = pack(value);
  expect(frames).toHaveLength(3);
  // No copy: each large frame views the original memory.
  expect(frames[1].buffer).toBe(big.buffer);
  expect(frames[1].byteOffset).toBe(big.byteOffset);
  expect(frames[2].buffer).toBe(floats.buffer);
  const out = unpack(frames.map((f) => Buffer.from(f))) as typeof value;
  expect(Buffer.isBuffer(out.big) && out.big.equals(big)).toBe(true);
  expect(out.nested[0]).toBeInstanceOf(Float64Array);
  expect(out.nested[0][49_999]).toBe(1.5);
  expect(out.small.toString()).toBe('hi');
  expect(out.m.get(1)).toBe(2);
});

test('a typed array on an unaligned frame is copied to an aligned one', () => {
  const frames = pack(new Float64Array(4096).fill(2));
  const unaligned = Buffer.alloc(frames[1].length + 1).subarray(1);
  frames[1].copy(unaligned);
  const out = unpack([frames[0], unaligned]) as Float64Array;
  expect(out[4095]).toBe(2);
});

test('futures become placeholders resolved by the receiver', () => {
  class F {
    constructor(readonly key: string) {}
  }
  const frames = pack([new F('a'), { deep: [new F('b')] }], {
    futureKey: (v) => (v instanceof F ? v.key : undefined),
  });
  expect(unpack(frames, (k) => k.toUpperCase())).toEqual(['A', { deep: ['B'] }]);
});

test('buffers over 16 MiB are cut into 16 MiB frames and joined again', () => {
  const big = Buffer.alloc(40 * 2 ** 20);
  big[big.length - 1] = 9;
  const frames = pack(big);
  expect(frames.slice(1).map((f) => f.length)).toEqual([16 * 2 ** 20, 16 * 2 ** 20, 8 * 2 ** 20]);
  const out = unpack(frames) as Buffer;
  expect(out.length).toBe(big.length);
  expect(out[out.length - 1]).toBe(9);
});

describe('packing keeps what structured clone keeps', () => {
  const big = () => Buffer.alloc(64 * 1024, 5);

  test('a cycle, without and with a large buffer inside', () => {
    const plain: { x: number; self?: unknown } = { x: 1 };
    plain.self = plain;
    const p = unpack(pack(plain)) as typeof plain;
    expect(p.self).toBe(p);

    const node: { buf: Buffer; list: unknown[] } = { buf: big(), list: [] };
    node.list.push(node);
    const frames = pack(node);
    expect(frames.length).toBeGreaterThan(1); // the buffer travels as its own frame
    const out = unpack(frames) as typeof node;
    expect(out.list[0]).toBe(out);
    expect(out.buf.equals(big())).toBe(true);
  });

  test('an object referenced twice that holds a large buffer travels once and comes back once', () => {
    const shared = { data: new Float64Array(10_000).fill(1.5) };
    const frames = pack([shared, { again: shared }]);
    expect(frames).toHaveLength(2); // head + one frame, not two
    const [a, b] = unpack(frames) as [typeof shared, { again: typeof shared }];
    expect(b.again).toBe(a);
    expect(a.data).toBeInstanceOf(Float64Array);
    expect(a.data[9_999]).toBe(1.5);
  });

  test('one large buffer referenced twice is one frame and one value', () => {
    const buf = big();
    const frames = pack({ first: buf, second: buf });
    expect(frames).toHaveLength(2);
    const out = unpack(frames) as { first: Buffer; second: Buffer };
    expect(out.second).toBe(out.first);
  });

  test('a future referenced twice is one dependency, resolved to one value', () => {
    class F {
      constructor(readonly key: string) {}
    }
    const f = new F('k');
    const seen: string[] = [];
    const frames = pack([f, [f]], {
      futureKey: (v) => (v instanceof F ? (seen.push(v.key), v.key) : undefined),
    });
    const value = { v: 1 };
    const out = unpack(frames, () => value) as [unknown, unknown[]];
    expect(out[0]).toBe(value);
    expect(out[1][0]).toBe(value);
    expect(new Set(seen)).toEqual(new Set(['k']));
  });
});
