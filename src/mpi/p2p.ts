/**
 * A communicator's point-to-point messages, outside its collectives' queue: a send that
 * waited behind a receive (or the other way round) could deadlock where MPI would not.
 * Arguments are checked by Communicator before they get here.
 */
import type { NativeAddon, NativeRequest } from './native';
import { SerialQueue } from './queue';

export class PointToPoint {
  /** Sends and receives not yet settled (free() refuses while any is). */
  pending = 0;
  /** One queue per "source:tag", so that receives match messages in call order. */
  private readonly receives = new Map<string, SerialQueue>();

  constructor(
    private readonly native: NativeAddon,
    private readonly comm: number,
    private readonly signal: AbortSignal,
    private readonly wait: (request: NativeRequest) => Promise<void>,
  ) {}

  /** Starts the MPI_Isend now (call order is posting order), resolves when it completes. */
  async send(bytes: Buffer, dest: number, tag: number): Promise<void> {
    this.pending++;
    try {
      await this.wait(this.native.isend(this.comm, bytes, dest, tag));
    } finally {
      this.pending--;
    }
  }

  /**
   * Polls MPI_Improbe (with waitFor's back-off) until a message is matched, which also
   * starts its MPI_Imrecv; then waits for that. After the previous receive of the same
   * source and tag: two probing at once could match their messages the other way round.
   */
  async recv(source: number, tag: number): Promise<Buffer> {
    const key = `${source}:${tag}`;
    let queue = this.receives.get(key);
    if (!queue) {
      queue = new SerialQueue(this.signal, () => this.receives.delete(key));
      this.receives.set(key, queue);
    }
    this.pending++;
    try {
      return await queue.run(async () => {
        let matched: { request: NativeRequest; data: Buffer } | null = null;
        const probe = (): boolean =>
          (matched ??= this.native.improbeRecv(this.comm, source, tag)) !== null;
        await this.wait({ test: probe });
        const { request, data } = matched as unknown as { request: NativeRequest; data: Buffer };
        await this.wait(request);
        return data;
      });
    } finally {
      this.pending--;
    }
  }
}
