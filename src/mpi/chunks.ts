/** Pure sizing rules for moving byte buffers of any length through int-counted MPI calls. */

/** Largest count one MPI call takes (counts and displacements are C ints). */
export const INT_MAX = 2147483647;
/** Largest piece a bcast sends in one MPI call. */
export const MAX_CHUNK = 1 << 30;
/** Lengths travel as one little-endian uint64 per rank. */
export const LENGTH_BYTES = 8;

export interface Chunk {
  offset: number;
  length: number;
}

/** Splits `total` bytes into pieces of at most `maxChunk`; 0 bytes is no pieces. */
export function planChunks(total: number, maxChunk: number = MAX_CHUNK): Chunk[] {
  if (!Number.isSafeInteger(total) || total < 0) {
    throw new RangeError(`total must be a non-negative safe integer, got ${total}`);
  }
  if (!Number.isInteger(maxChunk) || maxChunk < 1 || maxChunk > INT_MAX) {
    throw new RangeError(`maxChunk must be an integer in [1, ${INT_MAX}], got ${maxChunk}`);
  }
  const chunks: Chunk[] = [];
  for (let offset = 0; offset < total; offset += maxChunk) {
    chunks.push({ offset, length: Math.min(maxChunk, total - offset) });
  }
  return chunks;
}

export function encodeLength(length: number): Buffer {
  const buffer = Buffer.alloc(LENGTH_BYTES);
  buffer.writeBigUInt64LE(BigInt(length));
  return buffer;
}

export function decodeLength(buffer: Buffer, index = 0): number {
  const length = buffer.readBigUInt64LE(index * LENGTH_BYTES);
  if (length > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`received length ${length} is not a safe integer`);
  }
  return Number(length);
}

export interface GatherLayout {
  counts: Int32Array;
  displs: Int32Array;
  total: number;
}

/**
 * Where each rank's block lands in one allgatherv receive buffer. Every rank computes the
 * same layout from the same lengths, so every rank throws the same error together.
 */
export function gatherLayout(lengths: readonly number[], operation = 'allgather'): GatherLayout {
  const counts = new Int32Array(lengths.length);
  const displs = new Int32Array(lengths.length);
  let total = 0;
  lengths.forEach((length, i) => {
    displs[i] = Math.min(total, INT_MAX);
    counts[i] = Math.min(length, INT_MAX);
    total += length;
  });
  if (total > INT_MAX) {
    const detail = lengths.map((length, rank) => `rank ${rank}: ${length}`).join(', ');
    throw new RangeError(
      `${operation}: the buffers total ${total} bytes (${detail}), more than one MPI call ` +
        `can address (INT_MAX = ${INT_MAX} bytes); gather smaller pieces in several calls`,
    );
  }
  return { counts, displs, total };
}
