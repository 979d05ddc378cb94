export { Outbox, MAX_OPS_PER_MESSAGE, MAX_BYTES_PER_MESSAGE } from './outbox';
export { PeerPool, PeerTimeoutError } from './peers';
export { BulkServer, BulkReceiver, BULK_HELLO_MS } from './bulk';
export { goesBulk, BULK_MIN_BYTES } from './bulk-seal';
export { router, dealer, boundEndpoint, HIGH_WATER_MARK, MAX_MESSAGE_SIZE } from './sockets';
export { interfaceAddress, primaryAddress, hostFor, bindEndpoint } from './interfaces';
export {
  routeTo,
  schedulerTarget,
  workerHost,
  describeHostChoice,
  type HostChoice,
  type SchedulerTarget,
} from './route';
export {
  makeKeys,
  parseKeys,
  secureServer,
  resolveSecurity,
  rememberKeys,
  localKeys,
  warnInsecure,
  KEYS_ENV,
  type ClusterKeys,
  type Security,
} from './security';
