import crypto from 'crypto';
import { describeFlavours, runMpi } from './launch';

const BIG = 64 * 1024 * 1024;

// The content fixtures/collectives.js broadcasts: a 251-byte ramp repeated.
function expectedBigHash(): string {
  const seed = Buffer.from(Array.from({ length: 251 }, (_, i) => (i * 7 + 3) & 255));
  return crypto.createHash('sha256').update(Buffer.alloc(BIG).fill(seed)).digest('hex');
}

interface RankResult {
  rank: number;
  size: number;
  threadLevel: string;
  vendor: string;
  flavour: string;
  processor: string;
  bcast0: number;
  bcast1: string;
  bcastBig: { length: number; sha256: string };
  allgather: Array<{ length: number; ok: boolean }>;
  barrier: { ticks: number; wallMs: number; cpuMs: number };
  bcastSync: string;
  allgatherSync: string[];
  sub: { rank: number; size: number; members: string[] };
  subBcast: string;
  splitUndefined: number | null;
}

const VENDORS = { openmpi: 'Open MPI', mpich: 'MPICH' };

describeFlavours('collectives under mpirun -np 4', (flavour) => {
  let results: RankResult[];
  let stderr: string;

  beforeAll(async () => {
    const run = await runMpi(flavour, 'collectives.js');
    stderr = run.stderr;
    expect(run.timedOut).toBe(false);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: run.stderr });
    results = run.stdout
      .filter(({ text }) => text.startsWith('RESULT '))
      .map(({ text }) => JSON.parse(text.slice('RESULT '.length)) as RankResult)
      .sort((a, b) => a.rank - b.rank);
  }, 90_000);

  test('every rank reports its rank, the world size and the MPI it loaded', () => {
    expect(results.map((r) => [r.rank, r.size])).toEqual([
      [0, 4],
      [1, 4],
      [2, 4],
      [3, 4],
    ]);
    for (const r of results) {
      expect(r.vendor).toBe(VENDORS[flavour.name]);
      expect(r.flavour).toBe(flavour.name);
      expect(r.processor).not.toBe('');
      expect(r.threadLevel).toBe('funneled');
    }
    expect(stderr).not.toMatch(/warning/i);
  });

  test('bcast of 0 B, 1 B (from the last rank) and 64 MiB', () => {
    const hash = expectedBigHash();
    for (const r of results) {
      expect(r.bcast0).toBe(0);
      expect(r.bcast1).toBe('2a');
      expect(r.bcastBig).toMatchObject({ length: BIG, sha256: hash });
    }
  });

  test('allgather of buffers of different lengths, one empty', () => {
    const expected = [1, 0, 2001, 3001].map((length) => ({ length, ok: true }));
    for (const r of results) expect(r.allgather).toEqual(expected);
  });

  test('the blocking forms agree', () => {
    for (const r of results) {
      expect(r.bcastSync).toBe('sync');
      expect(r.allgatherSync).toEqual(['0', '1', '2', '3']);
    }
  });

  test('barrier waits for the late rank without blocking the event loop or spinning', () => {
    for (const r of results.filter((result) => result.rank !== 0)) {
      // Rank 0 arrives ~300 ms late; a 10 ms interval kept firing meanwhile.
      expect(r.barrier.wallMs).toBeGreaterThanOrEqual(200);
      expect(r.barrier.ticks).toBeGreaterThanOrEqual(5);
      // Back-off polling: far less CPU than a core spinning for the whole wait.
      expect(r.barrier.cpuMs).toBeLessThan(r.barrier.wallMs / 2);
    }
  });

  test('split into even and odd ranks, ordered by key', () => {
    const sub = results.map((r) => r.sub);
    expect(sub).toEqual([
      { rank: 1, size: 2, members: ['2', '0'] },
      { rank: 1, size: 2, members: ['3', '1'] },
      { rank: 0, size: 2, members: ['2', '0'] },
      { rank: 0, size: 2, members: ['3', '1'] },
    ]);
    expect(results.map((r) => r.subBcast)).toEqual(['from 2', 'from 3', 'from 2', 'from 3']);
    // Rank 0 passed a null color (MPI_UNDEFINED): no communicator; the others form one of 3.
    expect(results.map((r) => r.splitUndefined)).toEqual([null, 3, 3, 3]);
  });
});
