import { PROTOCOL_VERSION, type Envelope, type Op } from './messages';
import { checkOp, framesOf } from './schema';

export class ProtocolError extends Error {
  readonly code = 'ERR_PROTOCOL';
}

/**
 * Frames up to this size are packed into one shared ZeroMQ part: libzmq's cost is per part, and a
 * batch of a thousand small tasks would otherwise be a thousand parts.
 */
export const PACK_LIMIT = 4096;

/**
 * Encodes a batch of ops and their frames into one multipart message:
 * `[header, ...large frames, blob?]`. The header's `f` lists every logical frame in order: a number
 * is the index of its own part, a pair `[offset, length]` a slice of the blob (the last part).
 */
export function encode(batch: readonly Envelope[]): Buffer[] {
  const ops: Op[] = new Array(batch.length);
  const parts: Buffer[] = [Buffer.alloc(0)];
  const f: (number | [number, number])[] = [];
  const small: Buffer[] = [];
  let blobLength = 0;
  for (let i = 0; i < batch.length; i++) {
    ops[i] = batch[i].op;
    for (const frame of batch[i].frames) {
      if (frame.length <= PACK_LIMIT) {
        f.push([blobLength, frame.length]);
        small.push(frame);
        blobLength += frame.length;
      } else {
        f.push(parts.length);
        parts.push(frame);
      }
    }
  }
  if (small.length > 0) parts.push(Buffer.concat(small, blobLength));
  parts[0] = Buffer.from(
    JSON.stringify(f.length > 0 ? { v: PROTOCOL_VERSION, ops, f } : { v: PROTOCOL_VERSION, ops }),
  );
  return parts;
}

function logicalFrames(parts: readonly Buffer[], f: unknown): Buffer[] {
  if (f === undefined) {
    if (parts.length > 1) throw new ProtocolError(`${parts.length - 1} unclaimed parts`);
    return [];
  }
  if (!Array.isArray(f)) throw new ProtocolError('header.f is not an array');
  const usesBlob = f.some((d) => Array.isArray(d));
  const blob = usesBlob ? parts[parts.length - 1] : undefined;
  const lastOwn = usesBlob ? parts.length - 2 : parts.length - 1;
  const seen = new Set<number>();
  const out: Buffer[] = new Array(f.length);
  for (let i = 0; i < f.length; i++) {
    const d = f[i];
    if (typeof d === 'number') {
      if (!Number.isInteger(d) || d < 1 || d > lastOwn || seen.has(d)) {
        throw new ProtocolError(`frame ${i} names part ${JSON.stringify(d)}, which does not exist`);
      }
      seen.add(d);
      out[i] = parts[d];
    } else if (
      Array.isArray(d) &&
      d.length === 2 &&
      d.every((x) => Number.isInteger(x) && x >= 0)
    ) {
      const [off, len] = d as [number, number];
      if (!blob || off + len > blob.length)
        throw new ProtocolError(`frame ${i} lies outside the blob`);
      out[i] = blob.subarray(off, off + len);
    } else {
      throw new ProtocolError(`frame ${i} descriptor ${JSON.stringify(d)} is malformed`);
    }
  }
  if (seen.size !== lastOwn) throw new ProtocolError(`${lastOwn - seen.size} unclaimed parts`);
  return out;
}

/**
 * Decodes one multipart message (without routing id). Throws ProtocolError on anything that is
 * not a well-formed message of this protocol version; callers log and drop it.
 */
export function decode(parts: readonly Buffer[]): Envelope[] {
  if (parts.length === 0) throw new ProtocolError('empty message');
  let header: unknown;
  try {
    header = JSON.parse(parts[0].toString('utf8'));
  } catch {
    throw new ProtocolError(`header is not JSON (${parts[0].length} bytes)`);
  }
  if (typeof header !== 'object' || header === null) throw new ProtocolError('header not object');
  const { v, ops, f } = header as { v?: unknown; ops?: unknown; f?: unknown };
  if (v !== PROTOCOL_VERSION) {
    throw new ProtocolError(`protocol version ${JSON.stringify(v)}, expected ${PROTOCOL_VERSION}`);
  }
  if (!Array.isArray(ops)) throw new ProtocolError('header.ops is not an array');
  const frames = logicalFrames(parts, f);
  const out: Envelope[] = new Array(ops.length);
  let at = 0;
  for (let i = 0; i < ops.length; i++) {
    const bad = checkOp(ops[i]);
    if (bad) throw new ProtocolError(bad);
    const op = ops[i] as Op;
    const nf = framesOf(op as { t: string; nf?: number });
    if (at + nf > frames.length) throw new ProtocolError(`op ${op.t} claims missing frames`);
    out[i] = { op, frames: frames.slice(at, at + nf) };
    at += nf;
  }
  if (at !== frames.length) throw new ProtocolError(`${frames.length - at} unclaimed frames`);
  return out;
}
