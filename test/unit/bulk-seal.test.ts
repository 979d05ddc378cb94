/**
 * Sealed bulk transfers (issue 23, item 4): what the receiving end accepts and refuses, without
 * sockets. A refused piece changes nothing: the genuine one after it still opens.
 */
import {
  BULK_MAX_BYTES,
  BULK_PIECE,
  Opener,
  Sealer,
  goesBulk,
  splitMessage,
  type Outcome,
} from '../../src/net/bulk-seal';
import { pack, unpack } from '../../src/protocol/pack';

/** Every piece of a transfer as [head, ciphertext, tag], in order. */
function piecesOf(s: Sealer): Buffer[][] {
  const out: Buffer[][] = [];
  for (let m = s.nextMessage(); m; m = s.nextMessage()) out.push(...splitMessage(m)!);
  return out;
}

const KEY = Buffer.alloc(32, 7).toString('base64');
const codeOf = (r: Outcome) => (r.kind === 'refused' ? r.error.code : r.kind);

function value(bytes: number, seed: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 997) b[i] = (i + seed) & 255;
  return b;
}

test('a value of several frames opens to the same bytes, as one view unpack takes without a copy', () => {
  const v = value(40 * 2 ** 20 + 13, 1);
  const frames = pack(v);
  expect(frames.length).toBeGreaterThan(2);
  const s = new Sealer(1, frames);
  const o = new Opener('test');
  o.expect(s.announce);
  const pieces = piecesOf(s);
  expect(pieces.length).toBe(s.count);
  let last: Outcome = { kind: 'piece' };
  for (const p of pieces) last = o.open(p);
  if (last.kind !== 'done') throw new Error(`not done: ${codeOf(last)}`);
  const back = unpack(last.frames) as Buffer;
  expect(back.equals(v)).toBe(true);
  // The value's frames lie back to back in one block: unpack returned a view of it.
  expect(back.buffer).toBe(last.frames[1].buffer);
  expect(o.pending).toBe(0);
});

test('a changed byte in the ciphertext or tag is refused with ERR_BULK_AUTH (in the head, ERR_BULK_FRAME), and the genuine piece still opens', () => {
  const s = new Sealer(1, [value(3 * BULK_PIECE, 2)]);
  const o = new Opener('test');
  o.expect(s.announce);
  const [p0, p1, p2] = piecesOf(s);
  expect(codeOf(o.open(p0))).toBe('piece');
  const flipped = (b: Buffer, at: number) => {
    const c = Buffer.from(b);
    c[at] ^= 1;
    return c;
  };
  expect(codeOf(o.open([p1[0], flipped(p1[1], 12345), p1[2]]))).toBe('ERR_BULK_AUTH');
  expect(codeOf(o.open([p1[0], p1[1], flipped(p1[2], 0)]))).toBe('ERR_BULK_AUTH');
  // The piece count in the head is authenticated too: a head saying 3 of 4 is not the piece due.
  expect(codeOf(o.open([flipped(p1[0], 15), p1[1], p1[2]]))).toBe('ERR_BULK_FRAME');
  // A piece sealed under another transfer's key, put in this one's place.
  const other = new Sealer(1, [value(3 * BULK_PIECE, 3)]);
  expect(codeOf(o.open(piecesOf(other)[1]))).toBe('ERR_BULK_AUTH');
  expect(codeOf(o.open(p1))).toBe('piece');
  expect(codeOf(o.open(p2))).toBe('done');
});

test('a piece sent again, and a whole finished transfer sent again, are refused as replays', () => {
  const o = new Opener('test');
  const first = new Sealer(1, [value(2 * BULK_PIECE, 4)]);
  o.expect(first.announce);
  const [a0, a1] = piecesOf(first);
  expect(codeOf(o.open(a0))).toBe('piece');
  expect(codeOf(o.open(a0))).toBe('ERR_BULK_REPLAY');
  expect(codeOf(o.open(a1))).toBe('done');
  const second = new Sealer(2, [value(2 * BULK_PIECE, 5)]);
  o.expect(second.announce);
  expect(codeOf(o.open(a0))).toBe('ERR_BULK_REPLAY');
  expect(codeOf(o.open(a1))).toBe('ERR_BULK_REPLAY');
  const [b0, b1] = piecesOf(second);
  expect(codeOf(o.open(b1))).toBe('ERR_BULK_FRAME'); // ahead of its turn
  expect(codeOf(o.open(b0))).toBe('piece');
  const done = o.open(b1);
  if (done.kind !== 'done') throw new Error(codeOf(done));
  expect(done.frames[0].equals(value(2 * BULK_PIECE, 5))).toBe(true);
});

test('a piece of a transfer not announced yet is early (held, not refused); an announcement that goes back in id is malformed', () => {
  const o = new Opener('test');
  const s = new Sealer(7, [value(BULK_PIECE + 1, 6)]);
  const [p0, p1] = piecesOf(s);
  expect(o.open(p0)).toEqual({ kind: 'early', id: 7 });
  o.expect(s.announce);
  expect(codeOf(o.open(p0))).toBe('piece');
  expect(codeOf(o.open(p1))).toBe('done');
  expect(() => o.expect(new Sealer(7, [value(BULK_PIECE, 7)]).announce)).toThrow(
    expect.objectContaining({ code: 'ERR_BULK_FRAME' }),
  );
  expect(() => o.expect({ id: 8, seal: 'c2hvcnQ=', lens: [BULK_PIECE] })).toThrow(
    expect.objectContaining({ code: 'ERR_BULK_FRAME' }),
  );
});

test('what is not a sealed piece is refused with ERR_BULK_FRAME and opens nothing', () => {
  const s = new Sealer(1, [value(BULK_PIECE, 8)]);
  const o = new Opener('test');
  o.expect(s.announce);
  const [p] = piecesOf(s);
  expect(codeOf(o.open([Buffer.from('hello')]))).toBe('ERR_BULK_FRAME');
  expect(codeOf(o.open([Buffer.alloc(16), p[1], p[2]]))).toBe('ERR_BULK_FRAME');
  expect(codeOf(o.open([p[0], p[1].subarray(1), p[2]]))).toBe('ERR_BULK_FRAME');
  expect(codeOf(o.open([...p, p[2]]))).toBe('ERR_BULK_FRAME');
  expect(codeOf(o.open(p))).toBe('done');
});

test('a message is one frame of pieces back to back; one cut short, or with a wrong magic or a length past its end, is not split', () => {
  const s = new Sealer(1, [value(5 * BULK_PIECE + 3, 10)]);
  const m = s.nextMessage()!;
  const pieces = splitMessage(m)!;
  expect(pieces.map((p) => p[1].length)).toEqual([BULK_PIECE, BULK_PIECE, BULK_PIECE, BULK_PIECE]);
  expect(splitMessage(s.nextMessage()!)!.map((p) => p[1].length)).toEqual([BULK_PIECE, 3]);
  expect(s.nextMessage()).toBeNull();
  expect(splitMessage(m.subarray(0, m.length - 1))).toBeNull();
  expect(splitMessage(Buffer.alloc(0))).toBeNull();
  const badMagic = Buffer.from(m);
  badMagic[0] ^= 1;
  expect(splitMessage(badMagic)).toBeNull();
  const tooLong = Buffer.from(m);
  tooLong.writeUInt32BE(m.length, 16);
  expect(splitMessage(tooLong)).toBeNull();
});

test('an abandoned transfer ends: its later pieces are replays', () => {
  const s = new Sealer(1, [value(2 * BULK_PIECE, 9)]);
  const o = new Opener('test');
  o.expect(s.announce);
  const [p0, p1] = piecesOf(s);
  expect(codeOf(o.open(p0))).toBe('piece');
  o.abandon(1);
  expect(o.pending).toBe(0);
  expect(codeOf(o.open(p1))).toBe('ERR_BULK_REPLAY');
});

test('values of 1 MiB and more go bulk, smaller ones and ones over the limit do not', () => {
  expect(goesBulk(pack(Buffer.alloc(2 ** 20)))).toBe(true);
  expect(goesBulk(pack(Buffer.alloc(2 ** 20 - 64)))).toBe(false);
  expect(goesBulk(pack({ a: 1 }))).toBe(false);
  // Frames that only claim their length: a 4 GiB value is over the limit.
  const claims = (n: number) => ({ length: n }) as Buffer;
  expect(goesBulk([claims(100), claims(BULK_MAX_BYTES - 100)])).toBe(true);
  expect(goesBulk([claims(100), claims(2 ** 32)])).toBe(false);
  expect(() => new Opener('test').expect({ id: 1, seal: KEY, lens: [BULK_MAX_BYTES + 1] })).toThrow(
    expect.objectContaining({ code: 'ERR_BULK_FRAME' }),
  );
});
