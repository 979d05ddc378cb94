import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { ClusterError } from '../errors';
import { interfaceAddress, primaryAddress } from './interfaces';

/** Where a scheduler address leads: a host and port, or this host (inproc://, ipc://). */
export type SchedulerTarget = { kind: 'here' } | { kind: 'tcp'; host: string; port: number };

const noRoute = (address: string, why: string, cause?: unknown): ClusterError =>
  new ClusterError('ERR_NO_ROUTE', `no route to scheduler ${address}: ${why}`, { cause });

/** Reads a ZeroMQ endpoint (`tcp://10.0.0.5:40123`, `tcp://node7:40123`, `ipc://...`, `inproc://...`). */
export function schedulerTarget(address: string): SchedulerTarget {
  if (/^(inproc|ipc):\/\//.test(address)) return { kind: 'here' };
  const m = /^tcp:\/\/(.+):(\d+)$/.exec(address);
  if (!m) throw noRoute(address, 'it is not tcp://HOST:PORT, ipc://PATH or inproc://NAME');
  const host = m[1];
  const port = Number(m[2]);
  if (!(port >= 1 && port <= 65535)) throw noRoute(address, `port ${m[2]} is not from 1 to 65535`);
  // Workers bind IPv4 only (their sockets are not ZMQ_IPV6), so an IPv6 route is of no use.
  if (host.startsWith('[') || net.isIPv6(host)) {
    throw noRoute(address, 'IPv6 scheduler addresses are not supported; give the worker --host');
  }
  if (host === '*') throw noRoute(address, 'the host is a wildcard, not an address to reach');
  return { kind: 'tcp', host, port };
}

/**
 * The local IPv4 address the kernel routes to the scheduler by: a connected UDP socket's local
 * end (connecting a UDP socket sends no packet). Loopback for inproc:// and ipc://.
 * Rejects with ERR_NO_ROUTE when the address cannot be read or has no route.
 */
export async function routeTo(address: string): Promise<string> {
  const target = schedulerTarget(address);
  if (target.kind === 'here') return '127.0.0.1';
  const socket = dgram.createSocket('udp4');
  try {
    return await new Promise<string>((resolve, reject) => {
      // A failed lookup or connect comes to the callback (ENOTFOUND, ENETUNREACH).
      socket.connect(target.port, target.host, (err?: Error) => {
        if (err) return reject(noRoute(address, err.message, err));
        const local = socket.address().address;
        if (local === '0.0.0.0') reject(noRoute(address, 'the kernel chose no local address'));
        else resolve(local);
      });
    });
  } finally {
    socket.close();
  }
}

/** How a worker's data address was chosen, and what to say about it. */
export interface HostChoice {
  host: string;
  how: 'host' | 'interface' | 'local' | 'route' | 'primary';
  /** For 'primary': why the route could not be used. */
  error?: ClusterError;
}

/**
 * Where a worker serves its data: the given host, else the named interface, else loopback for
 * a local cluster, else the address that routes to the scheduler, as Dask does (on a node with
 * eth0 and ib0, the primary address may lead peers over the wrong network, or nowhere). When
 * the route cannot be found, the host's primary address, with the reason.
 */
export async function workerHost(
  opts: { scheduler: string; host?: string; interface?: string; local?: boolean },
  route: (address: string) => Promise<string> = routeTo,
): Promise<HostChoice> {
  if (opts.host) return { host: opts.host, how: 'host' };
  if (opts.interface) return { host: interfaceAddress(opts.interface), how: 'interface' };
  if (opts.local) return { host: '127.0.0.1', how: 'local' };
  try {
    return { host: await route(opts.scheduler), how: 'route' };
  } catch (err) {
    const error =
      err instanceof ClusterError && err.code === 'ERR_NO_ROUTE'
        ? err
        : noRoute(opts.scheduler, err instanceof Error ? err.message : String(err), err);
    return { host: primaryAddress(), how: 'primary', error };
  }
}

/** The line a worker logs about a chosen address (null: given explicitly, nothing to say). */
export function describeHostChoice(
  name: string,
  scheduler: string,
  c: HostChoice,
): { level: 'info' | 'warn'; message: string } | null {
  if (c.how === 'route') {
    return {
      level: 'info',
      message: `worker ${name}: serving on ${c.host}, the address that routes to the scheduler at ${scheduler}`,
    };
  }
  if (c.how === 'primary') {
    return {
      level: 'warn',
      message: `worker ${name}: serving on ${c.host}, this host's primary address, since [${c.error?.code}] ${c.error?.message}; pass --interface or --host (interface or host) to choose`,
    };
  }
  return null;
}
