import { Client } from './client/client';
import { LocalCluster, type LocalClusterOptions } from './cluster/local';
import { JobQueueCluster } from './jobqueue/cluster';
import { readSchedulerFile } from './cluster/scheduler-file';
import { OptionError } from './errors';
import type { Security } from './net/security';

export type ConnectTarget =
  | undefined
  | string
  | LocalCluster
  | JobQueueCluster
  | { schedulerFile: string; timeout?: number; notBefore?: number; schedulerTimeout?: number }
  | { address: string; timeout?: number; schedulerTimeout?: number; security?: Security }
  | { local: LocalClusterOptions };

/**
 * Connects a client:
 * - `connect()` starts a LocalCluster (closed with the client);
 * - `connect('tcp://10.0.0.5:40123')` joins a running scheduler;
 * - `connect({ schedulerFile: 'sched.json' })` waits for the file and joins (`notBefore`: ignore a
 *   file written before that time, ms since the epoch, e.g. one an earlier job left);
 * - `connect(cluster)` joins a LocalCluster or a job-queue cluster (SLURMCluster, ...) you started.
 */
export async function connect(target?: ConnectTarget): Promise<Client> {
  if (target === undefined || (typeof target === 'object' && 'local' in target)) {
    const cluster = await LocalCluster.start(target?.local);
    try {
      const client = await Client.open({
        address: cluster.scheduler.inprocAddress,
        security: cluster.keys ?? false,
      });
      client.onClose = () => cluster.close();
      return client;
    } catch (err) {
      await cluster.close();
      throw err;
    }
  }
  if (typeof target === 'string') {
    if (!/^(tcp|ipc|inproc):\/\/./.test(target)) {
      throw new OptionError(
        `connect("${target}"): an address looks like tcp://host:port${/\.json$/i.test(target) ? `; for a scheduler file use connect({ schedulerFile: "${target}" })` : ''}`,
      );
    }
    return Client.open({ address: target });
  }
  if (target instanceof LocalCluster || target instanceof JobQueueCluster) {
    return Client.open({
      address: target.scheduler.inprocAddress,
      security: target.keys ?? false,
    });
  }
  if (typeof target === 'object' && target !== null) {
    if ('schedulerFile' in target) {
      const f = await readSchedulerFile(target.schedulerFile, {
        timeout: target.timeout,
        notBefore: target.notBefore,
      });
      return Client.open({
        address: f.address,
        timeout: target.timeout,
        schedulerTimeout: target.schedulerTimeout,
        // The file holds the keys; one without them is from a scheduler run without security.
        security: f.keys ?? false,
      });
    }
    if ('address' in target) return Client.open(target);
  }
  throw new OptionError(
    `connect() takes nothing, an address string, a LocalCluster, a SLURMCluster/PBSCluster/SGECluster, { schedulerFile } or { address }; got ${JSON.stringify(target)}`,
  );
}
