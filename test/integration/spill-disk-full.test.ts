/**
 * A worker whose spill directory fills up (a small tmpfs, as root): it pauses with ERR_SPILL in
 * its log, loses nothing, and resumes once the disk has room again (issue 20).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from '../../src';
import { startCli, startPlainScheduler, type Started } from '../helpers/cluster';

const root = process.getuid?.() === 0;
if (!root) console.warn('spill-disk-full: skipped: mounting a tmpfs needs root');
const maybe = root ? test : test.skip;

let dir = '';
let mounted = false;
const procs: Started[] = [];
afterAll(async () => {
  for (const p of procs) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  if (mounted) execFileSync('umount', [dir]);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const make = (seed: number) => Buffer.alloc(16e6, seed);

maybe(
  'a full spill disk pauses the worker with ERR_SPILL; nothing is lost; it resumes when space returns',
  async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spill-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', dir]);
    mounted = true;
    const { sched, address } = await startPlainScheduler();
    procs.push(sched);
    const worker = startCli('cli/worker.js', [
      address,
      '--no-security',
      // Only the target counts here (200 MB), so a pause can come from the disk alone.
      '--memory-limit',
      '1GB',
      '--memory-target',
      '0.2',
      '--memory-spill',
      'false',
      '--memory-pause',
      'false',
      '--memory-terminate',
      'false',
      '--local-directory',
      dir,
      '--name',
      'w',
    ]);
    procs.push(worker);
    const client = await Client.connect({ address, security: false });
    try {
      await client.waitForWorkers(1, { timeout: 20_000 });
      // 20 x 16 MB = 320 MB held: past the target (200 MB); the 40 MB disk takes 2 of them.
      const futures = client.map(
        (i: number) => Buffer.alloc(16e6, i),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      // The disk fills before they are all computed: the worker pauses with some still to run.
      await worker.line(
        /\[ERR_SPILL\] spilling \S+ to \S+ failed \(ENOSPC\): the disk is full/,
        30_000,
      );
      await worker.line(/worker w: paused: .*spilling to disk failed/, 30_000);
      // Room again: the next try writes, and the worker takes tasks again.
      execFileSync('mount', ['-o', 'remount,size=512m', dir]);
      await worker.line(/worker w: resumed/, 30_000);
      expect(await client.submit((x: number) => x + 1, 1).result()).toBe(2);
      for (let i = 0; i < futures.length; i++) {
        expect(sha((await futures[i].result()) as Uint8Array)).toBe(sha(make(i + 1)));
      }
      const info = Object.values((await client.schedulerInfo()).workers)[0] as {
        spilledCount?: number;
      };
      expect(info.spilledCount).toBeGreaterThan(2);
    } finally {
      await client.shutdown();
    }
  },
  120_000,
);
