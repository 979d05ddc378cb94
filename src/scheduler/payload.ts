import type { FnSpec } from '../protocol';

/**
 * What the scheduler keeps of a pending task's arguments, compactly (issue 23, item 5): the
 * common one frame, a slice of the message it came in, is kept as its bytes' place instead of a
 * Buffer in an array (about 140 bytes of heap less per task). `frames` makes the Buffer when the
 * task is sent to a worker.
 */
export class CompactPayload {
  private readonly bytes: ArrayBufferLike | null;
  private readonly offset: number;
  private readonly length: number;
  /** Every frame other than exactly one (none, or several). */
  private readonly other: Buffer[] | null;

  constructor(
    readonly fn: string,
    readonly spec: FnSpec,
    frames: Buffer[],
  ) {
    if (frames.length === 1) {
      const f = frames[0];
      this.bytes = f.buffer;
      this.offset = f.byteOffset;
      this.length = f.length;
      this.other = null;
    } else {
      this.bytes = null;
      this.offset = 0;
      this.length = 0;
      this.other = frames;
    }
  }

  get frames(): Buffer[] {
    return this.other ?? [Buffer.from(this.bytes!, this.offset, this.length)];
  }
}
