import * as path from 'node:path';
import { describeFlavours, runMpiCommand, type Run } from '../mpi/launch';

const SCRIPT = path.join(__dirname, 'fixtures', 'gangs.js');

/** The `GANG <name> <json>` lines of a run, by name. */
function scenarios(r: Run): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { text } of r.stdout) {
    const m = /^GANG (\S+) (.*)$/.exec(text);
    if (m) out[m[1]] = JSON.parse(m[2]);
  }
  return out;
}

interface Collectives {
  rank: number;
  size: number;
  world: number;
  sumLength: number;
  sumFirst: number;
  sumLast: number;
  sumType: string;
  ints: number[];
  minimum: number;
  product: number;
  big: string;
  reduced: number | null;
  into: { same: boolean; shared: number[]; plain: number[] };
  root: unknown;
  typed: number[];
  typedType: string;
  gathered: string[] | null;
  everyone: number[];
  got: unknown[];
}

/** What every rank of a gang of `size` must have computed in fixtures/gangs.js's collectives(). */
function checkCollectives(results: Collectives[], size: number, n: number): void {
  expect(results.map((r) => [r.rank, r.size])).toEqual(
    Array.from({ length: size }, (_, i) => [i, size]),
  );
  // Gang rank order is the workers' MPI rank order, on distinct worker ranks (2-5).
  const worlds = results.map((r) => r.world);
  expect(new Set(worlds).size).toBe(size);
  expect([...worlds].sort((a, b) => a - b)).toEqual(worlds);
  for (const w of worlds) expect([2, 3, 4, 5]).toContain(w);
  const triangle = (size * (size + 1)) / 2;
  for (const r of results) {
    expect(r.everyone).toEqual(worlds);
    expect(r).toMatchObject({
      sumLength: n,
      sumFirst: triangle,
      sumLast: triangle,
      sumType: 'Float64Array',
      ints: [size - 1, 0, 7],
      minimum: 10,
      product: Array.from({ length: size }, (_, i) => i + 1).reduce((a, b) => a * b, 1),
      big: String(((size * (size - 1)) / 2) * 1e12),
      root: { hello: 'gang', list: [1, 2, 3] },
      typed: [1.5, 2.5],
      typedType: 'Float32Array',
      into: { same: true, shared: [size, (size * (size - 1)) / 2], plain: [2, size - 1] },
    });
    expect(r.reduced).toBe(r.rank === size - 1 ? (size * (size - 1)) / 2 : null);
    expect(r.gathered).toEqual(
      r.rank === 0 ? Array.from({ length: size }, (_, i) => 'x'.repeat(i)) : null,
    );
    const prev = (r.rank + size - 1) % size;
    expect(r.got).toEqual([
      { from: prev, tag: 2 },
      { from: prev, tag: 1, n: 1 },
      { from: prev, tag: 1, n: 2 },
    ]);
  }
}

describeFlavours('gang members with a worker on every rank', (flavour) => {
  test('the workers of the scheduler and client ranks are not members; the others are', async () => {
    const run = await runMpiCommand(flavour, 4, [process.execPath, SCRIPT], {
      env: { GANG_LAYOUT: 'inclusive' },
      timeoutMs: 60_000,
    });
    expect({ code: run.code, timedOut: run.timedOut }).toEqual({ code: 0, timedOut: false });
    const seen = scenarios(run).inclusive as { two: number[]; three: { code: string } };
    expect(seen.two).toEqual([2, 3]);
    expect(seen.three.code).toBe('ERR_GANG_TOO_LARGE');
  }, 70_000);
});

describeFlavours('gang tasks on the worker ranks of an MPI job', (flavour) => {
  let run: Run;
  let seen: Record<string, unknown>;

  beforeAll(async () => {
    run = await runMpiCommand(flavour, 6, [process.execPath, SCRIPT], { timeoutMs: 120_000 });
    seen = scenarios(run);
  }, 130_000);

  test('the job ends with exit 0 after every scenario', () => {
    expect({ code: run.code, timedOut: run.timedOut, world: seen.world }).toEqual({
      code: 0,
      timedOut: false,
      world: 1,
    });
  });

  test('a 2-rank gang: allreduce, reduce, bcast, gather, allgather, send/recv, values exact', () => {
    checkCollectives(seen.two as Collectives[], 2, 1000);
  });

  test('a 4-rank gang: the same with a 1,000,000-element Float64Array allreduce', () => {
    checkCollectives(seen.four as Collectives[], 4, 1_000_000);
  });

  test('two gangs at once with 1,000 ordinary tasks: right results on disjoint ranks', () => {
    const pair = seen.pair as {
      g1: { label: string; rank: number; sum: number }[];
      g2: { label: string; rank: number; sum: number }[];
      ordinaryOk: number | false;
    };
    expect(pair.ordinaryOk).toBe(1000);
    expect(pair.g1.map((x) => [x.label, x.sum])).toEqual([
      ['a', 3],
      ['a', 3],
    ]);
    expect(pair.g2.map((x) => [x.label, x.sum])).toEqual([
      ['b', 3],
      ['b', 3],
    ]);
    const ranks = [...pair.g1, ...pair.g2].map((x) => x.rank);
    expect(new Set(pair.g1.map((x) => x.rank)).size).toBe(2);
    expect(new Set(pair.g2.map((x) => x.rank)).size).toBe(2);
    for (const r of ranks) expect([2, 3, 4, 5]).toContain(r);
  });

  test('a gang of every worker rank behind 400 queued tasks runs before they drain', () => {
    const whole = seen.whole as { all: number[]; doneAtGang: number; total: number; ok: boolean };
    expect(whole.all).toEqual([4, 4, 4, 4]);
    expect(whole.doneAtGang).toBeLessThan(400);
    expect({ total: whole.total, ok: whole.ok }).toEqual({ total: 400, ok: true });
  });

  test('an error on one rank errs the task naming the rank; every rank serves on', () => {
    const e = seen.error as {
      failed: { code?: string; message: string };
      again: number[];
      ordinary: number[];
    };
    expect(e.failed.message).toMatch(/gang rank 2 of 4: rank two fails on purpose/);
    expect(e.again).toEqual([6, 6, 6, 6]);
    expect(e.ordinary).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('a gang cancelled while its ranks wait on each other frees them for the next gang', () => {
    expect(seen.cancel).toEqual({ status: 'cancelled', afterCancel: [10, 10, 10, 10] });
  });

  test("futures as a gang's arguments, and mapWith with ranks: one gang per element", () => {
    expect(seen.deps).toEqual({
      scaled: [
        [3, 6, 9],
        [3, 6, 9],
        [3, 6, 9],
      ],
      mapped: [
        [3, 3],
        [30, 30],
        [300, 300],
      ],
    });
  });

  test('a gang larger than the worker ranks is a coded error', () => {
    const t = seen['too-large'] as { code: string; message: string };
    expect(t.code).toBe('ERR_GANG_TOO_LARGE');
    expect(t.message).toMatch(/ranks: 5\b.*\b4\b/);
  });
});
