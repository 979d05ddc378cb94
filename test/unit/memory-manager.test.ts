/**
 * The worker's memory manager (src/worker/memory.ts): pure decisions from stored values and
 * process memory, Dask's thresholds. validate() runs after every test.
 */
import {
  heapCapMb,
  MemoryManager,
  MEMORY_DEFAULTS,
  resolveThresholds,
  thresholdFlags,
} from '../../src/worker/memory';

const MiB = 2 ** 20;
let mm: MemoryManager;
afterEach(() => mm?.validate());

function manager(limitMiB = 100, t = {}): MemoryManager {
  mm = new MemoryManager(limitMiB * MiB, resolveThresholds(t));
  return mm;
}

test('stored values above target spill, least recently used first, down to target', () => {
  const m = manager();
  for (let i = 0; i < 8; i++) m.stored(`k${i}`, 10 * MiB);
  m.touched('k0'); // now the most recently used
  const d = m.check(50 * MiB);
  // 80 MiB held, target 60: spill 20 MiB, the oldest first, not k0.
  expect(d.spill).toEqual(['k1', 'k2']);
  expect(d.paused).toBe(false);
  expect(d.why).toMatch(/stored values 80 MiB above target 60 MiB/);
  m.spilled('k1');
  m.spilled('k2');
  expect([m.managed, m.spilledBytes, m.spilledCount]).toEqual([60 * MiB, 20 * MiB, 2]);
  expect(m.check(50 * MiB).spill).toEqual([]);
});

test('process memory above spill spills until the estimate is under target', () => {
  const m = manager();
  for (let i = 0; i < 4; i++) m.stored(`k${i}`, 10 * MiB);
  // 40 MiB stored (under target) but the process is at 75 MiB: free 15 MiB to reach 60.
  expect(m.check(75 * MiB).spill).toEqual(['k0', 'k1']);
});

test('pause above 0.8 of the limit, resume below it; terminate above 0.95', () => {
  const m = manager();
  expect(m.check(81 * MiB)).toMatchObject({ paused: true, terminate: false });
  expect(m.check(79 * MiB)).toMatchObject({ paused: false });
  expect(m.check(96 * MiB)).toMatchObject({ paused: true, terminate: true });
});

test('a failed write keeps the value in memory and pauses until a write succeeds', () => {
  const m = manager();
  for (let i = 0; i < 8; i++) m.stored(`k${i}`, 10 * MiB);
  expect(m.check(50 * MiB).spill).toEqual(['k0', 'k1']);
  m.spillFailed('k0', true);
  m.spillFailed('k1', false);
  expect(m.managed).toBe(80 * MiB);
  // Paused, and no new writes until the driver says to retry.
  expect(m.check(50 * MiB)).toMatchObject({ spill: [], paused: true });
  const retry = m.check(50 * MiB, { retry: true });
  expect(retry.spill).toEqual(['k0', 'k1']);
  m.spilled('k0');
  m.spilled('k1');
  expect(m.check(50 * MiB)).toMatchObject({ spill: [], paused: false });
});

test('a failed disk no longer pauses once nothing needs writing', () => {
  const m = manager();
  m.stored('a', 70 * MiB);
  expect(m.check(10 * MiB).spill).toEqual(['a']);
  m.spillFailed('a', true);
  expect(m.check(10 * MiB).paused).toBe(true);
  m.released('a');
  expect(m.check(10 * MiB).paused).toBe(false);
});

test('released values leave the totals, in memory or on disk; read back counts as memory', () => {
  const m = manager();
  m.stored('a', 70 * MiB);
  m.stored('b', 5 * MiB);
  expect(m.check(10 * MiB).spill).toEqual(['a']);
  m.spilled('a');
  expect(m.isSpilled('a')).toBe(true);
  m.unspilled('a');
  expect([m.managed, m.spilledCount]).toEqual([75 * MiB, 0]);
  m.released('a');
  m.released('b');
  expect([m.managed, m.spilledBytes]).toEqual([0, 0]);
});

test('evict spills everything in memory', () => {
  const m = manager();
  m.stored('a', MiB);
  m.stored('b', MiB);
  expect(m.check(10 * MiB, { evict: true }).spill).toEqual(['a', 'b']);
});

test('each threshold can be off, and memoryLimit 0 turns everything off', () => {
  const m = manager(100, { target: false, pause: false, terminate: false });
  m.stored('a', 90 * MiB);
  // No target: only process memory above spill (0.7) counts, down to the spill line.
  expect(m.check(50 * MiB)).toMatchObject({ spill: [], paused: false, terminate: false });
  expect(m.check(99 * MiB)).toMatchObject({ spill: ['a'], paused: false, terminate: false });
  mm = new MemoryManager(0, MEMORY_DEFAULTS);
  mm.stored('x', 10 * 1024 * MiB);
  expect(mm.check(100 * 1024 * MiB)).toMatchObject({ spill: [], paused: false, terminate: false });
});

test('thresholds are checked: fractions in (0, 1] or false; flags for the worker CLI', () => {
  expect(resolveThresholds({ pause: 0.9, terminate: false })).toEqual({
    target: 0.6,
    spill: 0.7,
    pause: 0.9,
    terminate: false,
  });
  expect(resolveThresholds({ spill: 'false' })).toMatchObject({ spill: false });
  for (const bad of [0, 1.5, -0.1, 'lots']) {
    expect(() => resolveThresholds({ target: bad as number })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    );
  }
  expect(thresholdFlags({ target: 0.5, terminate: false })).toEqual([
    '--memory-target',
    '0.5',
    '--memory-terminate',
    'false',
  ]);
});

test("a task thread's heap cap is its share of the room up to the pause line", () => {
  const t = resolveThresholds();
  // 1000 MiB limit, pause at 800 MiB, 100 MiB used: 700 MiB for 2 threads.
  expect(heapCapMb(1000 * MiB, t, 2, 100 * MiB)).toBe(350);
  expect(heapCapMb(1000 * MiB, resolveThresholds({ pause: false }), 1, 100 * MiB)).toBe(850);
  expect(heapCapMb(100 * MiB, t, 4, 90 * MiB)).toBe(32);
  expect(heapCapMb(0, t, 1, 100 * MiB)).toBeUndefined();
});
