/**
 * The client `node.compute()` uses when given none. The client module keeps no "current client"
 * of its own, so this remembers the last client that connected in this process (Client.open
 * calls noteClient): the one a script that connects once means. A WeakRef, so remembering it
 * keeps nothing alive; a closed client refuses the work with ERR_CLIENT_CLOSED.
 */
import { ClusterError } from '../errors';
import type { Client } from '../client/client';

let last: WeakRef<Client> | null = null;

export function noteClient(client: Client): void {
  last = new WeakRef(client);
}

export function defaultClient(): Client {
  const client = last?.deref();
  if (!client) {
    throw new ClusterError(
      'ERR_NO_CLIENT',
      'no client to compute on: node.compute() uses the last client that connected in this process, and none has; connect one (await Client.connect()) or call client.compute(node)',
    );
  }
  return client;
}
