/**
 * Way 3 for the tests: a scheduler job (slurm/3-scheduler.sbatch), worker-pool jobs
 * (slurm/3-workers.sbatch: 2 workers x 2 threads each) and a client in the test process,
 * which reaches the emulated hosts' ib0 through the lab's bridge.
 */
import * as path from 'node:path';
// The CLIs in the jobs run dist/; the client here runs the same build.
import { Client } from '../../dist';
import { until, type Lab } from './lab';

export interface Session {
  client: Client;
  file: string;
  scheduler: string;
  /** Submits one more pool; resolves with its job id once its 2 workers are registered. */
  addPool(sbatch?: string[]): Promise<string>;
  /** Names of the registered workers of pool `id`. */
  poolWorkers(id: string): Promise<string[]>;
  /** Shuts the cluster down and checks that every job of the session COMPLETED (or `ended`). */
  end(ended?: Record<string, string>): Promise<void>;
}

/** A slow square that says which pool ran it (a worker inherits its job's SLURM_JOB_ID). */
export const slowSquare = async (x: number): Promise<[number, string]> => {
  await new Promise((r) => setTimeout(r, 1000));
  return [x * x, process.env.SLURM_JOB_ID ?? '?'];
};

export async function startSession(lab: Lab, name: string): Promise<Session> {
  const file = path.join(lab.jobsDir, `${name}.json`);
  const env = { SCHEDULER_FILE: file };
  const started = Date.now();
  const scheduler = await lab.sbatch('slurm/3-scheduler.sbatch', { env });
  const client = await Client.connect({ schedulerFile: file, timeout: 30_000, notBefore: started });
  const pools: string[] = [];
  const poolWorkers = async (id: string) =>
    Object.values((await client.schedulerInfo()).workers)
      .map((w) => w.name)
      .filter((n) => n.startsWith(`pool${id}-`))
      .sort();
  return {
    client,
    file,
    scheduler,
    poolWorkers,
    async addPool(sbatch: string[] = []) {
      const id = await lab.sbatch('slurm/3-workers.sbatch', { env, sbatch });
      pools.push(id);
      await until(
        `pool ${id}'s 2 workers to register`,
        async () => ((await poolWorkers(id)).length === 2 ? true : undefined),
        30_000,
      );
      return id;
    },
    async end(ended: Record<string, string> = {}) {
      await client.shutdown();
      for (const id of [scheduler, ...pools]) {
        const job = await lab.waitDone(id, 20_000);
        expect(`${id} ${job.state}`).toBe(`${id} ${ended[id] ?? 'COMPLETED'}`);
      }
    },
  };
}
