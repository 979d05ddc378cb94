/** The pure parts of the gang operations: argument rules, waitFor's abort and the queue. */
import { checkGroupRanks, checkTag } from '../../src/mpi/args';
import type { NativeRequest } from '../../src/mpi/native';
import { waitFor } from '../../src/mpi/poll';
import { SerialQueue } from '../../src/mpi/queue';
import { allocLike, checkOp, checkReduceOperands } from '../../src/mpi/reduce-args';

/** A request that completes after `polls` tests (never when Infinity), counting tests. */
function fakeRequest(polls: number): NativeRequest & { tests: number } {
  const request = {
    tests: 0,
    test: () => ++request.tests >= polls,
  };
  return request;
}

describe('waitFor with an AbortSignal', () => {
  test('resolves as before when not aborted', async () => {
    const request = fakeRequest(20);
    await waitFor(request, new AbortController().signal);
    expect(request.tests).toBe(20);
  });

  test('rejects with the reason at once and stops polling', async () => {
    const request = fakeRequest(Infinity);
    const stop = new AbortController();
    const reason = new Error('gone');
    const waiting = waitFor(request, stop.signal);
    await new Promise((resolve) => setTimeout(resolve, 30));
    stop.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    const tests = request.tests;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(request.tests).toBe(tests);
  });

  test('an aborted signal rejects without testing', async () => {
    const request = fakeRequest(1);
    const stop = new AbortController();
    stop.abort(new Error('before'));
    await expect(waitFor(request, stop.signal)).rejects.toThrow('before');
    expect(request.tests).toBe(0);
  });
});

describe('SerialQueue', () => {
  test('runs in call order; after abort, queued operations reject with the reason', async () => {
    const stop = new AbortController();
    let idle = 0;
    const queue = new SerialQueue(stop.signal, () => idle++);
    const order: number[] = [];
    const first = queue.run(async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      order.push(1);
    });
    const second = queue.run(async () => void order.push(2));
    await Promise.all([first, second]);
    expect(order).toEqual([1, 2]);
    expect([queue.pending, idle]).toEqual([0, 1]);

    const reason = new Error('abandoned');
    const blocked = queue.run(() => new Promise<void>(() => undefined));
    const queued = queue.run(async () => 'ran');
    await new Promise((resolve) => setImmediate(resolve)); // `blocked` has started
    stop.abort(reason);
    await expect(queued).rejects.toBe(reason);
    expect(queue.pending).toBe(1); // the one that never settles
    void blocked;
  });
});

describe('argument rules', () => {
  test('group ranks: distinct, in range, integers, caller included', () => {
    expect(Array.from(checkGroupRanks([2, 0], 4, 0))).toEqual([2, 0]);
    expect(() => checkGroupRanks([0, 4], 4, 0)).toThrow(RangeError);
    expect(() => checkGroupRanks([0, 0], 4, 0)).toThrow(/twice/);
    expect(() => checkGroupRanks([1, 2], 4, 0)).toThrow(/calling rank 0/);
    expect(() => checkGroupRanks([0, 1.5], 4, 0)).toThrow(TypeError);
    expect(() => checkGroupRanks([], 4, 0)).toThrow(TypeError);
  });

  test('tags are 0..32767', () => {
    expect(checkTag('tag', 32767)).toBe(32767);
    expect(() => checkTag('tag', 32768)).toThrow(RangeError);
    expect(() => checkTag('tag', -1)).toThrow(/tag must be/);
  });

  test('reduce operands', () => {
    expect(checkOp('prod')).toBe(3);
    expect(() => checkOp('avg')).toThrow(TypeError);
    expect(checkReduceOperands(2.5, undefined)).toEqual({
      send: new Float64Array([2.5]),
      out: null,
      scalar: true,
    });
    expect(() => checkReduceOperands(new Uint8ClampedArray(1), undefined)).toThrow(TypeError);
    expect(() => checkReduceOperands(1, new Float64Array(1))).toThrow(TypeError);
    const data = new Int32Array(4);
    expect(() => checkReduceOperands(data, new Int32Array(3))).toThrow(RangeError);
    expect(() => checkReduceOperands(data, new Uint32Array(4))).toThrow(TypeError);
    const shared = new Float64Array(new SharedArrayBuffer(64));
    expect(() => checkReduceOperands(shared.subarray(0, 4), shared.subarray(3, 7))).toThrow(
      /share memory/,
    );
    const out = shared.subarray(4);
    expect(checkReduceOperands(shared.subarray(0, 4), out).out).toBe(out);
    // A Buffer is a Uint8Array: either may be the other's out; the result is a Buffer.
    expect(checkReduceOperands(Buffer.alloc(2), new Uint8Array(2)).out).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(allocLike(Buffer.alloc(2)))).toBe(true);
    expect(allocLike(new BigInt64Array(3))).toEqual(new BigInt64Array(3));
  });
});
