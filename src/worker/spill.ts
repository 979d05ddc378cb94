/**
 * The spill store: values written to a directory of the worker's own (inside its 0700 worker
 * directory, so removed at close, and cleaned at the next start on the host when its process is
 * gone). A value is its packed frames; a file holds the frame count, each frame's length, then
 * the frames. Reads and writes go through libuv's thread pool (fs.promises), never blocking the
 * event loop. Failures are ClusterError ERR_SPILL, saying what failed and where.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ClusterError } from '../errors';

export class SpillStore {
  private constructor(readonly dir: string) {}

  static create(workerDirectory: string): SpillStore {
    const dir = path.join(workerDirectory, 'spill');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    return new SpillStore(dir);
  }

  private file(key: string): string {
    return path.join(this.dir, createHash('sha1').update(key).digest('hex'));
  }

  async write(key: string, frames: Buffer[]): Promise<void> {
    const header = Buffer.alloc(4 + 8 * frames.length);
    header.writeUInt32LE(frames.length, 0);
    frames.forEach((f, i) => header.writeDoubleLE(f.length, 4 + 8 * i));
    const file = this.file(key);
    let handle: fs.promises.FileHandle | null = null;
    try {
      handle = await fs.promises.open(file, 'w', 0o600);
      // A write may be partial (a disk filling up): go on from where it stopped until all is
      // written or a write fails (ENOSPC).
      let rest = [header, ...frames];
      while (rest.length > 0) {
        const { bytesWritten } = await handle.writev(rest);
        rest = skip(rest, bytesWritten);
      }
      await handle.close();
      handle = null;
    } catch (err) {
      await handle?.close().catch(() => undefined);
      await fs.promises.rm(file, { force: true }).catch(() => undefined);
      const e = err as NodeJS.ErrnoException;
      throw new ClusterError(
        'ERR_SPILL',
        `spilling ${key} to ${this.dir} failed (${e.code ?? e.message})${e.code === 'ENOSPC' ? ': the disk is full; free space there or give the worker another --local-directory' : ''}`,
        { cause: err },
      );
    }
  }

  async read(key: string): Promise<Buffer[]> {
    const file = this.file(key);
    try {
      const all = await fs.promises.readFile(file);
      const n = all.readUInt32LE(0);
      const frames: Buffer[] = [];
      let at = 4 + 8 * n;
      for (let i = 0; i < n; i++) {
        const len = all.readDoubleLE(4 + 8 * i);
        frames.push(all.subarray(at, at + len));
        at += len;
      }
      if (at !== all.length) throw Object.assign(new Error('truncated'), { code: 'ETRUNCATED' });
      return frames;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new ClusterError(
        'ERR_SPILL',
        `reading spilled ${key} from ${file} failed (${e.code ?? e.message})`,
        { cause: err },
      );
    }
  }

  remove(key: string): void {
    fs.rm(this.file(key), { force: true }, () => undefined);
  }
}

/** The buffers left after the first `n` bytes of `bufs`. */
function skip(bufs: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < bufs.length && n >= bufs[i].length) n -= bufs[i++].length;
  if (i === bufs.length) return [];
  return [bufs[i].subarray(n), ...bufs.slice(i + 1)];
}
