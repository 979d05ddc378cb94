import { describeFlavours, runMpi } from './launch';

const BIG = (64 * 1024 * 1024) / 8;
const MIB8 = 8 * 1024 * 1024;

interface Summary {
  length: number;
  sum: number;
  samples: number[];
}

interface Message {
  length: number;
  fill: number | null;
  uniform: boolean;
  tag: number;
}

interface RankResult {
  rank: number;
  size: number;
  pair: { rank: number; size: number };
  pairF64: number[];
  pairI32: number[];
  pairMin: number;
  pairMax: number;
  pairProd: number;
  triple?: { rank: number; size: number };
  tripleSeen?: number;
  tripleSum?: number;
  quad: { rank: number; size: number };
  bigPlain: Summary & { fresh: boolean };
  bigShared: Summary & { same: boolean; input: boolean };
  reduce: number[] | null;
  reduceNumber: number | null;
  reduceOut: { same: boolean; values: number[] } | null;
  gather: Array<{ length: number; ok: boolean }> | null;
  bigint: string[];
  biguint: string[];
  sent?: number;
  received?: { tag1: Message[]; tag2: Message[] };
  abandon?: Record<string, string | number>;
  errors: Record<string, string>;
}

/** What the fixture's 64 MiB allreduce must give: 6 + 4 * (i % 1000), summed in order. */
function expectedBig(): Summary {
  let sum = 0;
  for (let i = 0; i < BIG; i++) sum += 6 + 4 * (i % 1000);
  const at = (i: number): number => 6 + 4 * (i % 1000);
  return { length: BIG, sum, samples: [0, 1, 999, 1000, 123457, BIG - 1].map(at) };
}

describeFlavours('group communicators and gang operations under mpirun -np 4', (flavour) => {
  let results: RankResult[];

  beforeAll(async () => {
    const run = await runMpi(flavour, 'gang-ops.js', { timeoutMs: 120_000 });
    expect(run.timedOut).toBe(false);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: run.stderr });
    results = run.stdout
      .filter(({ text }) => text.startsWith('RESULT '))
      .map(({ text }) => JSON.parse(text.slice('RESULT '.length)) as RankResult)
      .sort((a, b) => a.rank - b.rank);
    expect(results.map((r) => r.rank)).toEqual([0, 1, 2, 3]);
  }, 150_000);

  test('two pairs created at once, ordered as listed, reduce inside themselves', () => {
    // Pairs [2, 0] and [1, 3]: new rank i is ranks[i].
    expect(results.map((r) => r.pair)).toEqual([
      { rank: 1, size: 2 },
      { rank: 0, size: 2 },
      { rank: 0, size: 2 },
      { rank: 1, size: 2 },
    ]);
    const even = { f64: [3, 4, -2], i32: [2, -2, 2 << 20], min: 1, max: 3, prod: 1.5 * 3.5 };
    const odd = { f64: [5, 8, -4], i32: [4, -4, 2 << 20], min: 2, max: 4, prod: 2.5 * 4.5 };
    for (const r of results) {
      const e = r.rank % 2 === 0 ? even : odd;
      expect([r.pairF64, r.pairI32, r.pairMin, r.pairMax, r.pairProd]).toEqual([
        e.f64,
        e.i32,
        e.min,
        e.max,
        e.prod,
      ]);
    }
  });

  test('a group of {1, 2, 3} forms while rank 0 is busy elsewhere', () => {
    expect(results[0].triple).toBeUndefined();
    expect(results.slice(1).map((r) => [r.triple?.rank, r.triple?.size, r.tripleSum])).toEqual([
      [0, 3, 6],
      [1, 3, 6],
      [2, 3, 6],
    ]);
    // Rank 0 got rank 1's sum while it had not called createGroup: the group did not need it.
    expect(results[0].tripleSeen).toBe(6);
  });

  test('64 MiB Float64Array allreduce, plain and on SharedArrayBuffers with out', () => {
    const expected = expectedBig();
    expect(results.map((r) => r.quad)).toEqual([
      { rank: 3, size: 4 },
      { rank: 2, size: 4 },
      { rank: 1, size: 4 },
      { rank: 0, size: 4 },
    ]);
    for (const r of results) {
      expect(r.bigPlain).toEqual({ ...expected, fresh: true });
      expect(r.bigShared).toEqual({ ...expected, same: true, input: true });
    }
  });

  test('reduce to root 1: the result there, null elsewhere', () => {
    expect(results.map((r) => r.reduce)).toEqual([null, [6, 600, -6], null, null]);
    expect(results.map((r) => r.reduceNumber)).toEqual([null, 30, null, null]);
    expect(results.map((r) => r.reduceOut)).toEqual([
      null,
      { same: true, values: [24, 2401] },
      null,
      null,
    ]);
  });

  test('gather of different lengths (one empty) to root 2', () => {
    const blocks = [5, 0, 3000, 1].map((length) => ({ length, ok: true }));
    expect(results.map((r) => r.gather)).toEqual([null, null, blocks, null]);
  });

  test('BigInt64Array sum and BigUint64Array max', () => {
    for (const r of results) {
      expect(r.bigint).toEqual([String(6n * 2n ** 40n), '-4']);
      expect(r.biguint).toEqual([String(2n ** 62n), '1']);
    }
  });

  test('send/recv of 0 B, 10 B and 8 MiB on two interleaved tags keeps order per tag', () => {
    const message = (tag: number, length: number, index: number): Message => ({
      length,
      fill: length === 0 ? null : 16 * tag + index,
      uniform: true,
      tag,
    });
    const expected = {
      tag1: [message(1, 0, 0), message(1, 10, 1), message(1, MIB8, 2)],
      tag2: [message(2, MIB8, 0), message(2, 10, 1), message(2, 0, 2)],
    };
    for (const r of results) {
      if (r.rank % 2 === 0) expect(r.sent).toBe(6);
      else expect(r.received).toEqual(expected);
    }
  });

  test('abandon rejects the operations in flight (a collective, a receive), the queued one and every later call', () => {
    const a = results[0].abandon!;
    expect(a).toMatchObject({
      first: 'reason',
      queued: 'reason',
      probing: 'reason',
      later: 'reason',
      laterRecv: 'reason',
      free: 'reason',
      createGroup: 'reason',
    });
    // ...and both ranks then went on to the world barrier and exited 0 (beforeAll).
  });

  test('argument errors name the argument and reach no MPI call', () => {
    for (const r of results) {
      expect(r.errors).toEqual({
        rankOutOfRange: 'RangeError:',
        callerMissing: 'RangeError:',
        duplicate: 'RangeError:',
        notInt: 'TypeError:',
        badTag: 'RangeError:',
        clamped: 'TypeError:',
        outLength: 'RangeError:',
        outType: 'TypeError:',
        outOverlap: 'RangeError:',
        badOp: 'TypeError:',
        badRoot: 'RangeError:',
        badDest: 'RangeError:',
        badTagSend: 'RangeError:',
        badSource: 'RangeError:',
        badGather: 'TypeError:',
      });
    }
  });
});
