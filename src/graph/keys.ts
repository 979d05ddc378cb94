import { createHash } from 'node:crypto';
import { pack } from '../protocol/pack';
import { Future } from '../client/future';
import { isDelayed } from './types';

/**
 * A node's content hash: the function's id (a hash of its source, or its module and export) and
 * the arguments' packed bytes, where each node and future is a placeholder holding its key. The
 * same formula as the client's pure keys (client.ts submitWith), so an unfused node's task gets
 * the node's own key (graph-keys.test.ts checks that they agree).
 */
export function contentHash(fnId: string, args: readonly unknown[]): string {
  const frames = pack(args, {
    futureKey: (v) => (isDelayed(v) || v instanceof Future ? v.key : undefined),
  });
  const h = createHash('sha1').update(fnId);
  for (const f of frames) h.update(f);
  return h.digest('hex').slice(0, 24);
}
