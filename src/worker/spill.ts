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
    try {
      // writeFile writes in chunks of 512 KiB, several times faster here than one write of a
      // large frame (measured by npm run bench), and goes on after partial writes until all is
      // written or a write fails (ENOSPC).
      await fs.promises.writeFile(file, [header, ...frames], { mode: 0o600 });
    } catch (err) {
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
