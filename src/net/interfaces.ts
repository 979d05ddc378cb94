import * as os from 'node:os';
import { ClusterError } from '../errors';

/** IPv4 address of a named network interface, e.g. `ib0`. */
export function interfaceAddress(name: string): string {
  const all = os.networkInterfaces();
  const entries = all[name];
  if (!entries) {
    const available = Object.keys(all).join(', ') || '(none)';
    throw new ClusterError(
      'ERR_INTERFACE_NOT_FOUND',
      `interface "${name}" not found on host ${os.hostname()}; available: ${available}. ` +
        'Pass one of those as `interface`, or leave it out to use the default address.',
    );
  }
  const v4 = entries.find((e) => e.family === 'IPv4');
  if (!v4) {
    throw new ClusterError(
      'ERR_INTERFACE_NOT_FOUND',
      `interface "${name}" on host ${os.hostname()} has no IPv4 address`,
    );
  }
  return v4.address;
}

/** The host's first non-loopback IPv4 address, or loopback when it has none. */
export function primaryAddress(): string {
  for (const entries of Object.values(os.networkInterfaces())) {
    for (const e of entries ?? []) if (e.family === 'IPv4' && !e.internal) return e.address;
  }
  return '127.0.0.1';
}

/** Where to bind: the named interface, else loopback for local clusters, else the primary. */
export function hostFor(opts: { interface?: string; local?: boolean; host?: string }): string {
  if (opts.host) return opts.host;
  if (opts.interface) return interfaceAddress(opts.interface);
  return opts.local ? '127.0.0.1' : primaryAddress();
}

/** `tcp://host:port` with a port the OS chooses when `port` is 0 or absent. */
export function bindEndpoint(host: string, port?: number): string {
  return `tcp://${host}:${port ? port : '*'}`;
}
