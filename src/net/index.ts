export { Outbox } from './outbox';
export { PeerPool, PeerTimeoutError } from './peers';
export { router, dealer, boundEndpoint } from './sockets';
export { interfaceAddress, primaryAddress, hostFor, bindEndpoint } from './interfaces';
