import {
  INT_MAX,
  MAX_CHUNK,
  decodeLength,
  encodeLength,
  gatherLayout,
  planChunks,
} from '../../src/mpi/chunks';
import { pollDelay } from '../../src/mpi/poll';

describe('bcast chunk planning', () => {
  test('0 bytes is no chunks; small buffers are one chunk', () => {
    expect(planChunks(0)).toEqual([]);
    expect(planChunks(1)).toEqual([{ offset: 0, length: 1 }]);
    expect(planChunks(MAX_CHUNK)).toEqual([{ offset: 0, length: MAX_CHUNK }]);
  });

  test('buffers over 2 GiB are cut into pieces of at most 1 GiB that cover them exactly', () => {
    const total = 5 * 2 ** 30 + 123;
    const chunks = planChunks(total);
    expect(chunks).toHaveLength(6);
    expect(chunks.every((c) => c.length <= MAX_CHUNK && c.length <= INT_MAX)).toBe(true);
    expect(chunks[5]).toEqual({ offset: 5 * 2 ** 30, length: 123 });
    let next = 0;
    for (const { offset, length } of chunks) {
      expect(offset).toBe(next);
      next += length;
    }
    expect(next).toBe(total);
  });

  test('a custom chunk size', () => {
    expect(planChunks(10, 4)).toEqual([
      { offset: 0, length: 4 },
      { offset: 4, length: 4 },
      { offset: 8, length: 2 },
    ]);
  });

  test('invalid sizes are RangeErrors', () => {
    expect(() => planChunks(-1)).toThrow(RangeError);
    expect(() => planChunks(1.5)).toThrow(/total must be/);
    expect(() => planChunks(10, 0)).toThrow(/maxChunk must be/);
    expect(() => planChunks(10, INT_MAX + 1)).toThrow(RangeError);
  });

  test('lengths travel as 8-byte little-endian integers, beyond 32 bits', () => {
    const encoded = encodeLength(2 ** 33 + 5);
    expect(encoded).toHaveLength(8);
    expect(decodeLength(encoded)).toBe(2 ** 33 + 5);
    const two = Buffer.concat([encodeLength(7), encodeLength(0)]);
    expect([decodeLength(two, 0), decodeLength(two, 1)]).toEqual([7, 0]);
    expect(() => decodeLength(Buffer.alloc(8, 0xff))).toThrow(/not a safe integer/);
  });
});

describe('allgather layout', () => {
  test('blocks are packed in rank order', () => {
    const { counts, displs, total } = gatherLayout([1, 0, 2001, 3001]);
    expect([...counts]).toEqual([1, 0, 2001, 3001]);
    expect([...displs]).toEqual([0, 1, 1, 2002]);
    expect(total).toBe(5003);
  });

  test('a total beyond int counts is a RangeError that names the sizes', () => {
    expect(() => gatherLayout([2 ** 30, 2 ** 30])).toThrow(RangeError);
    expect(() => gatherLayout([2 ** 30, 2 ** 30])).toThrow(
      /total 2147483648 bytes \(rank 0: 1073741824, rank 1: 1073741824\).*INT_MAX/,
    );
    expect(gatherLayout([INT_MAX, 0]).total).toBe(INT_MAX);
  });
});

describe('poll back-off', () => {
  test('setImmediate first, then timers doubling up to 8 ms', () => {
    const delays = Array.from({ length: 16 }, (_, attempt) => pollDelay(attempt));
    expect(delays).toEqual([-1, -1, -1, -1, -1, -1, -1, -1, 1, 2, 4, 8, 8, 8, 8, 8]);
  });
});
