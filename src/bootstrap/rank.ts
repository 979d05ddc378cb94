/**
 * One MPI rank's part in a cluster: from the placement, which roles it runs, where (its own
 * process, or a child when it is the client's rank), on which GPU, and the join (scheduler address
 * and keys) that the scheduler's rank broadcasts to all.
 */
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import { launcherLocalRank, pinGpu } from '../cluster/gpus';
import { log } from '../log';
import type { Communicator } from '../mpi';
import { hostFor } from '../net';
import { parseKeys, type ClusterKeys } from '../net/security';
import type { WorkerOptions } from '../worker';
import { rolesOf, type Placement, type Role } from './placement';
import { startHere, startInChild, type Join, type RoleSpec, type Started } from './roles';

export interface RankSetup {
  comm: Communicator;
  plan: Placement;
  /** The scheduler's options (on the scheduler's rank). */
  scheduler: NonNullable<RoleSpec['scheduler']>;
  /** Every worker's options but its scheduler, name and keys. */
  worker: Omit<WorkerOptions, 'scheduler' | 'name' | 'security'>;
  /** Worker names are PREFIX + rank. */
  namePrefix: string;
  /** Pin each worker rank to one GPU by its node-local rank and offer { GPU: 1 }. */
  gpus: boolean;
  /** A scheduler outside the job (placement mode 'workers'): no broadcast, every rank joins it. */
  outside?: Join;
}

export interface Rank {
  roles: Role[];
  join: Join;
  /** The scheduler and worker roles of this rank (null: it has none). */
  started: Started | null;
  /** The hosts of every rank, by rank. */
  hosts: string[];
}

/** What every rank learns of the job in its first collective. */
export interface JobView {
  /** The hosts of every rank, by rank. */
  hosts: string[];
  /**
   * The job's id: rank 0's random token, the same on every rank and different in another job (a
   * scheduler outside the job may have workers of several: they never share a gang task).
   */
  job: string;
}

/** Each rank's host, the job's id, and the address every rank binds when no interface was chosen. */
export async function hostsOf(
  comm: Communicator,
  iface: string | undefined,
): Promise<JobView & { host: string | undefined }> {
  const mine = Buffer.from(`${randomBytes(8).toString('hex')} ${os.hostname()}`);
  const seen = (await comm.allgather(mine)).map((b) => b.toString());
  const hosts = seen.map((s) => s.slice(s.indexOf(' ') + 1));
  const job = seen[0].slice(0, seen[0].indexOf(' '));
  // Without an interface: loopback when the whole job is on one host, else the primary address.
  const oneHost = hosts.every((h) => h === hosts[0]);
  const host = iface ? undefined : oneHost ? '127.0.0.1' : hostFor({});
  if (host && !oneHost && comm.rank === 0) {
    log.warn(
      `no interface given and the job spans ${new Set(hosts).size} hosts: the scheduler binds its host's primary address (rank 0: ${host}), workers the address that routes to it; pass { interface: 'ib0' } (--interface ib0) to choose the network`,
    );
  }
  return { hosts, host, job };
}

/** The ranks before `rank` on its host: its node-local rank, as launchers number them. */
function countedLocalRank(rank: number, hosts: string[]): number {
  return hosts.slice(0, rank).filter((h) => h === hosts[rank]).length;
}

/** Starts this rank's scheduler and worker roles; the scheduler's rank broadcasts the join. */
export async function startRank(setup: RankSetup, { hosts, job }: JobView): Promise<Rank> {
  const { comm, plan } = setup;
  const roles = rolesOf(plan, comm.rank);
  // A worker in the rank's own process can be a gang member (issue 21). Not one in the client
  // rank's child process (not an MPI process of the job), nor one sharing its process with the
  // scheduler: a member blocks its main thread in MPI_Comm_create_group until every member has its
  // compute, and the scheduler that sends them would be blocked with it.
  const start = (spec: RoleSpec) =>
    roles.includes('client')
      ? startInChild(spec)
      : startHere(spec, spec.worker && !spec.scheduler ? { comm, job } : undefined);
  const workerSpec = (join: Join | null): RoleSpec => {
    const spec: RoleSpec = {};
    if (!roles.includes('worker')) return spec;
    const w: NonNullable<RoleSpec['worker']> = {
      ...setup.worker,
      name: `${setup.namePrefix}${comm.rank}`,
      ...(join ? { scheduler: join.address, security: join.security } : {}),
    };
    if (setup.gpus) {
      const gpu = pinGpu(launcherLocalRank() ?? countedLocalRank(comm.rank, hosts));
      log.debug(
        `rank ${comm.rank}: worker on GPU ${gpu.device} (CUDA_VISIBLE_DEVICES=${gpu.visible}, from ${gpu.source})`,
      );
      // Worker ranks before this one on its host whose local rank picks the same GPU.
      const mine = countedLocalRank(comm.rank, hosts);
      const sharing = plan.workerRanks.filter(
        (r) =>
          r < comm.rank &&
          hosts[r] === hosts[comm.rank] &&
          (mine - countedLocalRank(r, hosts)) % gpu.count === 0,
      );
      if (sharing.length > 0) {
        log.warn(
          `rank ${comm.rank} shares GPU ${gpu.device} with worker rank(s) ${sharing.join(', ')}: more worker ranks on ${hosts[comm.rank]} than its ${gpu.count} GPU(s)`,
        );
      }
      w.resources = { ...w.resources, GPU: 1 };
      spec.env = { CUDA_VISIBLE_DEVICES: gpu.visible };
      // In this process, tasks (threads, and what they spawn) see it too.
      if (!roles.includes('client')) process.env.CUDA_VISIBLE_DEVICES = gpu.visible;
    }
    spec.worker = w;
    return spec;
  };

  let started: Started | null = null;
  let join: Join;
  if (setup.outside) {
    join = setup.outside;
    started = await start(workerSpec(join));
  } else if (roles.includes('scheduler')) {
    started = await start({ ...workerSpec(null), scheduler: setup.scheduler });
    join = started.join!;
    await comm.bcast(encodeJoin(join), plan.schedulerRank);
  } else {
    join = decodeJoin(await comm.bcast(null, plan.schedulerRank));
    if (roles.includes('worker')) started = await start(workerSpec(join));
  }
  return { roles, join, started, hosts };
}

/** What the scheduler's rank sends every rank over MPI (the keys are never written to disk). */
export function encodeJoin(j: Join): Buffer {
  return Buffer.from(JSON.stringify({ address: j.address, keys: j.security || null }));
}

export function decodeJoin(b: Buffer): Join {
  const j = JSON.parse(b.toString()) as { address: string; keys: ClusterKeys | null };
  return { address: j.address, security: j.keys ? parseKeys(j.keys, 'the MPI broadcast') : false };
}
