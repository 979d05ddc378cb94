export * from './messages';
export { encode, decode, ProtocolError } from './codec';
export { pack, unpack, packedBytes, type Packed } from './pack';
