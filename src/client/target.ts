/**
 * The one step from what the user gave `Client.connect()` (nothing, an address, a scheduler file,
 * a cluster object) to what a client needs: an address and keys, with a LocalCluster started
 * where none was given. It runs before a Client exists and knows nothing of clients.
 */
import type { LocalCluster, LocalClusterOptions } from '../cluster/local';
import { readSchedulerFile } from '../cluster/scheduler-file';
import { OptionError } from '../errors';
import type { JobQueueCluster } from '../jobqueue/cluster';
import type { Security } from '../net/security';
import { parseDuration } from '../util/duration';
import type { ClientOptions } from './types';

/** A duration: ms as a number, or a string with its unit ('500ms', '30s', '5m'). */
export type Duration = number | string;

export type ConnectTarget =
  | undefined
  | string
  | LocalCluster
  | JobQueueCluster
  | {
      schedulerFile: string;
      timeout?: Duration;
      notBefore?: number;
      schedulerTimeout?: Duration;
    }
  | { address: string; timeout?: Duration; schedulerTimeout?: Duration; security?: Security }
  | { local: LocalClusterOptions };

export interface Resolved {
  options: ClientOptions;
  /** A cluster started for this connection: the client owns it and closes it. */
  owned: LocalCluster | null;
}

function durations<T extends { timeout?: Duration; schedulerTimeout?: Duration }>(
  t: T,
): { timeout?: number; schedulerTimeout?: number } {
  return {
    timeout:
      t.timeout === undefined
        ? undefined
        : parseDuration(t.timeout, { name: 'timeout', unit: 'ms' }),
    schedulerTimeout:
      t.schedulerTimeout === undefined
        ? undefined
        : parseDuration(t.schedulerTimeout, { name: 'schedulerTimeout', unit: 'ms' }),
  };
}

export async function resolveTarget(target: ConnectTarget): Promise<Resolved> {
  // Loaded here, not with the client: an MPI job's client rank (Client.open) needs neither (issue 23).
  const { LocalCluster } = require('../cluster/local') as typeof import('../cluster/local');
  const { JobQueueCluster } =
    require('../jobqueue/cluster') as typeof import('../jobqueue/cluster');
  if (target === undefined || (typeof target === 'object' && 'local' in target)) {
    const cluster = await LocalCluster.start(target?.local);
    return {
      options: { address: cluster.scheduler.inprocAddress, security: cluster.keys ?? false },
      owned: cluster,
    };
  }
  if (typeof target === 'string') {
    if (!/^(tcp|ipc|inproc):\/\/./.test(target)) {
      throw new OptionError(
        `connect("${target}"): an address looks like tcp://host:port${/\.json$/i.test(target) ? `; for a scheduler file use connect({ schedulerFile: "${target}" })` : ''}`,
      );
    }
    return { options: { address: target }, owned: null };
  }
  if (target instanceof LocalCluster || target instanceof JobQueueCluster) {
    return {
      options: { address: target.scheduler.inprocAddress, security: target.keys ?? false },
      owned: null,
    };
  }
  if (typeof target === 'object' && target !== null) {
    if ('schedulerFile' in target) {
      const d = durations(target);
      const f = await readSchedulerFile(target.schedulerFile, {
        timeout: d.timeout,
        notBefore: target.notBefore,
      });
      return {
        options: {
          address: f.address,
          ...d,
          // The file holds the keys; one without them is from a scheduler run without security.
          security: f.keys ?? false,
        },
        owned: null,
      };
    }
    if ('address' in target) {
      const { address, security } = target;
      return { options: { address, security, ...durations(target) }, owned: null };
    }
  }
  throw new OptionError(
    `connect() takes nothing, an address string, a LocalCluster, a SLURMCluster/PBSCluster/SGECluster, { schedulerFile }, { address } or { local: LocalClusterOptions }; got ${JSON.stringify(target)}`,
  );
}
