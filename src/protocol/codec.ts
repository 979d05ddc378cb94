import { PROTOCOL_VERSION, type Envelope, type Op } from './messages';
import { checkOp, framesOf } from './schema';

export class ProtocolError extends Error {
  readonly code = 'ERR_PROTOCOL';
}

/** Encodes a batch of ops and their frames into one multipart message. */
export function encode(batch: readonly Envelope[]): Buffer[] {
  const ops: Op[] = new Array(batch.length);
  let nframes = 0;
  for (let i = 0; i < batch.length; i++) {
    ops[i] = batch[i].op;
    nframes += batch[i].frames.length;
  }
  const parts: Buffer[] = new Array(nframes + 1);
  parts[0] = Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION, ops }));
  let at = 1;
  for (const env of batch) for (const f of env.frames) parts[at++] = f;
  return parts;
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
  const { v, ops } = header as { v?: unknown; ops?: unknown };
  if (v !== PROTOCOL_VERSION) {
    throw new ProtocolError(`protocol version ${JSON.stringify(v)}, expected ${PROTOCOL_VERSION}`);
  }
  if (!Array.isArray(ops)) throw new ProtocolError('header.ops is not an array');
  const out: Envelope[] = new Array(ops.length);
  let at = 1;
  for (let i = 0; i < ops.length; i++) {
    const bad = checkOp(ops[i]);
    if (bad) throw new ProtocolError(bad);
    const op = ops[i] as Op;
    const nf = framesOf(op as { t: string; nf?: number });
    if (at + nf > parts.length) throw new ProtocolError(`op ${op.t} claims missing frames`);
    out[i] = { op, frames: parts.slice(at, at + nf) as Buffer[] };
    at += nf;
  }
  if (at !== parts.length) throw new ProtocolError(`${parts.length - at} unclaimed frames`);
  return out;
}
