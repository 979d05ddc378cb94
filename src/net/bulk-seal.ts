import * as crypto from 'node:crypto';
import { ClusterError } from '../errors';

/**
 * Sealed bulk transfers (issue 23, item 4): a large value travels on a plain (NULL) ZeroMQ socket
 * in pieces sealed with AES-256-GCM, under a key made fresh for that one transfer and handed to
 * the receiver over the CURVE channel. This module only seals and opens; it touches no socket.
 *
 * A piece on the wire is a 20-byte head (magic, transfer id, piece index, piece count, ciphertext
 * length; authenticated as GCM's additional data), the ciphertext and the 16-byte tag. A message
 * is one frame holding up to PIECES_PER_MESSAGE pieces back to back: one frame, never several,
 * because libzmq 4.3 aborts the process (session_base.cpp, clean_pipes) when a socket closes
 * while a message of several frames is half-written to a slow peer (zeromq/libzmq#3442). The
 * nonce is the piece index: unique under a key used for one transfer only, so never reused.
 */

/**
 * Plaintext bytes per sealed piece: node:crypto seals 256 KiB pieces fastest here (their output
 * stays in cache), and a ZeroMQ message carries PIECES_PER_MESSAGE of them.
 */
export const BULK_PIECE = 256 * 1024;
export const PIECES_PER_MESSAGE = 4;
/** Values of at least this many bytes travel on the bulk channel when one is up. */
export const BULK_MIN_BYTES = 2 ** 20;
/**
 * The most one transfer may carry: it opens into one block, and a Buffer's limit is 4 GiB (less
 * room for aligning the frames). Larger values go over CURVE.
 */
export const BULK_MAX_BYTES = 2 ** 32 - 2 ** 20;
/** Whether a value's frames travel on the bulk channel: 1 MiB or more, and not over the limit. */
export function goesBulk(frames: readonly Buffer[]): boolean {
  let n = 0;
  for (const f of frames) n += f.length;
  return n >= BULK_MIN_BYTES && n <= BULK_MAX_BYTES;
}
export const HEAD_BYTES = 20;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
/** 'MCB2': mpi-cluster bulk, version 2 (pieces in one frame). */
const MAGIC = 0x4d434232;
/** The largest message a receiver takes: a bound for its socket. */
export const BULK_MESSAGE_MAX = PIECES_PER_MESSAGE * (HEAD_BYTES + BULK_PIECE + TAG_BYTES);
const CIPHER = 'aes-256-gcm';

function writeHead(h: Buffer, id: number, index: number, count: number, len: number): Buffer {
  h.writeUInt32BE(MAGIC, 0);
  h.writeUInt32BE(id, 4);
  h.writeUInt32BE(index, 8);
  h.writeUInt32BE(count, 12);
  h.writeUInt32BE(len, 16);
  return h;
}

/**
 * A message's pieces as [head, ciphertext, tag] views, or null if it is not pieces back to back
 * (too short, a wrong magic, a length past its end).
 */
export function splitMessage(message: Buffer): Buffer[][] | null {
  const out: Buffer[][] = [];
  let at = 0;
  while (at < message.length) {
    if (message.length - at < HEAD_BYTES + TAG_BYTES) return null;
    if (message.readUInt32BE(at) !== MAGIC) return null;
    const len = message.readUInt32BE(at + 16);
    const end = at + HEAD_BYTES + len + TAG_BYTES;
    if (end > message.length) return null;
    out.push([
      message.subarray(at, at + HEAD_BYTES),
      message.subarray(at + HEAD_BYTES, at + HEAD_BYTES + len),
      message.subarray(end - TAG_BYTES, end),
    ]);
    at = end;
  }
  return out.length > 0 ? out : null;
}

function nonceOf(index: number): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(index, 8);
  return iv;
}

/** Where each piece of a value's frames lies: pieces never span two frames. */
function layout(lens: readonly number[]): { frame: number; at: number; len: number }[] {
  const out = [];
  for (let f = 0; f < lens.length; f++) {
    for (let at = 0; at < lens[f]; at += BULK_PIECE) {
      out.push({ frame: f, at, len: Math.min(BULK_PIECE, lens[f] - at) });
    }
  }
  return out;
}

/**
 * One block for all of a transfer's frames, each at an offset aligned to 8 bytes: the frames of
 * one large buffer (16 MiB each but the last) then lie back to back, and unpack takes them as
 * one view of the block instead of copying them together (protocol/pack.ts).
 */
function frameViews(lens: readonly number[]): Buffer[] {
  const at = (n: number) => Math.ceil(n / 8) * 8;
  const block = Buffer.allocUnsafeSlow(lens.reduce((s, n) => s + at(n), 0));
  let off = 0;
  return lens.map((n) => {
    const view = block.subarray(off, off + n);
    off += at(n);
    return view;
  });
}

/** What the receiver is told over the CURVE channel before the pieces come. */
export interface Announce {
  id: number;
  /** The transfer's key, base64. */
  seal: string;
  /** Byte length of each of the value's frames. */
  lens: number[];
}

/** Seals one transfer's pieces one at a time, as the socket takes them. */
export class Sealer {
  private readonly key = crypto.randomBytes(KEY_BYTES);
  private readonly pieces: { frame: number; at: number; len: number }[];
  private next = 0;

  constructor(
    readonly id: number,
    private readonly frames: readonly Buffer[],
  ) {
    this.pieces = layout(frames.map((f) => f.length));
  }

  get announce(): Announce {
    return {
      id: this.id,
      seal: this.key.toString('base64'),
      lens: this.frames.map((f) => f.length),
    };
  }

  get count(): number {
    return this.pieces.length;
  }

  /** The next message (one frame): up to PIECES_PER_MESSAGE pieces, or null when all are out. */
  nextMessage(): Buffer | null {
    if (this.next >= this.pieces.length) return null;
    const last = Math.min(this.pieces.length, this.next + PIECES_PER_MESSAGE);
    let bytes = 0;
    for (let i = this.next; i < last; i++) bytes += HEAD_BYTES + this.pieces[i].len + TAG_BYTES;
    const out = Buffer.allocUnsafe(bytes);
    let at = 0;
    while (this.next < last) at = this.seal(this.next++, out, at);
    return out;
  }

  /** Writes piece `index` (head, ciphertext, tag) into `out` at `at`; returns where it ends. */
  private seal(index: number, out: Buffer, at: number): number {
    const p = this.pieces[index];
    const head = writeHead(
      out.subarray(at, at + HEAD_BYTES),
      this.id,
      index,
      this.pieces.length,
      p.len,
    );
    const c = crypto.createCipheriv(CIPHER, this.key, nonceOf(index), { authTagLength: TAG_BYTES });
    c.setAAD(head);
    at += HEAD_BYTES;
    at += c.update(this.frames[p.frame].subarray(p.at, p.at + p.len)).copy(out, at);
    at += c.final().copy(out, at);
    return at + c.getAuthTag().copy(out, at);
  }
}

interface Open {
  id: number;
  key: Buffer;
  lens: number[];
  pieces: { frame: number; at: number; len: number }[];
  /** Each frame's bytes, written in place as pieces open. */
  out: Buffer[];
  next: number;
}

/** What one received piece did. */
export type Outcome =
  | { kind: 'piece' }
  | { kind: 'done'; id: number; frames: Buffer[] }
  /** For a transfer not announced yet (its announcement is still on the way): hold it. */
  | { kind: 'early'; id: number }
  /** Refused; nothing changed. */
  | { kind: 'refused'; error: ClusterError };

const refuse = (
  code: 'ERR_BULK_FRAME' | 'ERR_BULK_AUTH' | 'ERR_BULK_REPLAY',
  m: string,
): Outcome => ({
  kind: 'refused',
  error: new ClusterError(code, m),
});

/**
 * The receiving end of one bulk channel: transfers are announced in the order the sender queued
 * them and their pieces come in that order, so anything else (a piece again, an old transfer, a
 * changed byte) is refused without changing what is open.
 */
export class Opener {
  private readonly queue: Open[] = [];
  /** The last transfer announced; ids only grow. */
  private lastId = 0;
  /** Transfers at or below this id are complete or abandoned. */
  private closedUpTo = 0;

  constructor(private readonly name: string) {}

  /** Transfers announced and not complete. */
  get pending(): number {
    return this.queue.length;
  }

  /** Announces a transfer (told over the CURVE channel); throws ERR_BULK_FRAME if malformed. */
  expect(a: Announce): void {
    const key = Buffer.from(a.seal, 'base64');
    const total = a.lens.reduce((s, n) => s + n, 0);
    const ok =
      Number.isInteger(a.id) &&
      a.id > this.lastId &&
      a.id <= 0xffffffff &&
      key.length === KEY_BYTES &&
      a.lens.every((n) => Number.isInteger(n) && n >= 0) &&
      total > 0 &&
      total <= BULK_MAX_BYTES;
    if (!ok) {
      throw new ClusterError(
        'ERR_BULK_FRAME',
        `${this.name}: malformed bulk announcement (transfer ${a.id} after ${this.lastId}, ${key.length}-byte key, ${total} bytes)`,
      );
    }
    this.lastId = a.id;
    this.queue.push({
      id: a.id,
      key,
      lens: a.lens,
      pieces: layout(a.lens),
      out: frameViews(a.lens),
      next: 0,
    });
  }

  /** Forgets a transfer (its request failed); later pieces of it are refused as replays. */
  abandon(id: number): void {
    const at = this.queue.findIndex((t) => t.id === id);
    if (at < 0) return;
    this.queue.splice(0, at + 1);
    this.closedUpTo = Math.max(this.closedUpTo, id);
  }

  /** Opens one received piece. */
  open(parts: readonly Buffer[]): Outcome {
    const [head, sealed, tag] = parts;
    if (
      parts.length !== 3 ||
      head.length !== HEAD_BYTES ||
      tag.length !== TAG_BYTES ||
      head.readUInt32BE(0) !== MAGIC ||
      head.readUInt32BE(16) !== sealed.length
    ) {
      return refuse('ERR_BULK_FRAME', `${this.name}: a bulk message that is not a sealed piece`);
    }
    const id = head.readUInt32BE(4);
    const index = head.readUInt32BE(8);
    const count = head.readUInt32BE(12);
    if (id <= this.closedUpTo) {
      return refuse(
        'ERR_BULK_REPLAY',
        `${this.name}: piece ${index} of bulk transfer ${id}, which is complete: a replay`,
      );
    }
    if (id > this.lastId) return { kind: 'early', id };
    const t = this.queue[0];
    if (id !== t.id) {
      return refuse('ERR_BULK_FRAME', `${this.name}: bulk transfer ${id} before ${t.id}`);
    }
    if (index < t.next) {
      return refuse(
        'ERR_BULK_REPLAY',
        `${this.name}: piece ${index} of bulk transfer ${id} again: a replay`,
      );
    }
    const p = t.pieces[index];
    if (index > t.next || count !== t.pieces.length || sealed.length !== p.len) {
      return refuse(
        'ERR_BULK_FRAME',
        `${this.name}: piece ${index}/${count} of bulk transfer ${id} (${sealed.length} bytes) where piece ${t.next}/${t.pieces.length} was due`,
      );
    }
    const d = crypto.createDecipheriv(CIPHER, t.key, nonceOf(index), { authTagLength: TAG_BYTES });
    d.setAAD(head);
    d.setAuthTag(tag);
    const plain = d.update(sealed);
    try {
      d.final();
    } catch {
      return refuse(
        'ERR_BULK_AUTH',
        `${this.name}: piece ${index} of bulk transfer ${id} failed authentication (changed on the way, or not sealed with its key); dropped`,
      );
    }
    plain.copy(t.out[p.frame], p.at);
    t.next += 1;
    if (t.next < t.pieces.length) return { kind: 'piece' };
    this.queue.shift();
    this.closedUpTo = id;
    return { kind: 'done', id, frames: t.out };
  }
}
