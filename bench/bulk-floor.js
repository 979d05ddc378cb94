'use strict';
// The ceiling for encrypted bulk data (issue 23, item 4): raw ZeroMQ between two Node processes on
// loopback moving one value in chunks, with no security (NULL), with CurveZMQ, and with NULL
// sockets carrying chunks sealed with AES-256-GCM from node:crypto (sealed by the sender, opened
// by the receiver, one message per chunk so sealing the next overlaps sending this one; each
// chunk sealed as pieces of pieceKiB, as src/net/bulk-seal.ts does with 256 KiB pieces, 4 a message).
// Run: node bench/bulk-floor.js [MiB=256] [messageMiB=1] [reps=3] [pieceKiB=256]; npm run bench
// uses measure() for its raw ZeroMQ row.
const { fork } = require('node:child_process');
const crypto = require('node:crypto');
const zmq = require('zeromq');

const MODES = ['null', 'curve', 'null+aes-gcm'];

/** A 12-byte GCM nonce: 4 fixed bytes, then a counter that never repeats under one key. */
function nonce(n) {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(0x62756c6b, 0);
  iv.writeBigUInt64BE(BigInt(n), 4);
  return iv;
}

if (process.argv[2] === 'peer') {
  (async () => {
    const [, , , mode, bytesText, chunkText, pieceText, keysText] = process.argv;
    const keys = JSON.parse(keysText);
    const r = new zmq.Router(
      mode === 'curve' ? { curveServer: true, curveSecretKey: keys.server.secretKey } : {},
    );
    r.sendHighWaterMark = 0;
    await r.bind('tcp://127.0.0.1:*');
    const bytes = Number(bytesText);
    const chunk = Number(chunkText);
    const piece = Number(pieceText);
    const payload = Buffer.alloc(bytes, 1);
    const aes = Buffer.from(keys.aes, 'hex');
    let counter = 0;
    process.send(r.lastEndpoint);
    for await (const [id, what] of r) {
      if (what.toString() !== 'big') {
        await r.send([id, what]);
        continue;
      }
      if (mode !== 'null+aes-gcm') {
        const frames = [];
        for (let at = 0; at < bytes; at += chunk) frames.push(payload.subarray(at, at + chunk));
        await r.send([id, ...frames]);
        continue;
      }
      for (let at = 0; at < bytes; at += chunk) {
        const parts = [];
        for (let p = at; p < Math.min(bytes, at + chunk); p += piece) {
          const n = counter++;
          const c = crypto.createCipheriv('aes-256-gcm', aes, nonce(n));
          const head = Buffer.alloc(8);
          head.writeBigUInt64BE(BigInt(n));
          c.setAAD(head);
          const sealed = c.update(payload.subarray(p, Math.min(p + piece, at + chunk)));
          c.final();
          parts.push(head, sealed, c.getAuthTag());
        }
        await r.send([id, ...parts]);
      }
    }
  })();
} else {
  async function fetchOnce(d, mode, aes, bytes) {
    const t = process.hrtime.bigint();
    await d.send('big');
    let got = 0;
    if (mode !== 'null+aes-gcm') {
      const frames = await d.receive();
      got = Buffer.concat(frames).length;
    } else {
      // Opened into one block, as the bulk channel does (no copy to join the pieces after).
      const out = Buffer.allocUnsafeSlow(bytes);
      let off = 0;
      while (off < bytes) {
        const parts = await d.receive();
        for (let i = 0; i < parts.length; i += 3) {
          const [head, sealed, tag] = parts.slice(i, i + 3);
          const n = head.readBigUInt64BE(0);
          const dc = crypto.createDecipheriv('aes-256-gcm', aes, nonce(Number(n)));
          dc.setAAD(head);
          dc.setAuthTag(tag);
          off += dc.update(sealed).copy(out, off);
          dc.final();
        }
      }
      got = off;
    }
    if (got !== bytes) throw new Error('wrong size');
    return bytes / 2 ** 20 / (Number(process.hrtime.bigint() - t) / 1e9);
  }

  /** MiB/s of `reps` fetches of `bytes` in messages of `chunk` bytes (sealed as `piece`-byte pieces). */
  async function measure(
    mode,
    { bytes = 256 * 2 ** 20, chunk = 2 ** 20, piece = 256 * 1024, reps = 3 } = {},
  ) {
    const keys = {
      server: zmq.curveKeyPair(),
      client: zmq.curveKeyPair(),
      aes: crypto.randomBytes(32).toString('hex'),
    };
    const child = fork(
      __filename,
      ['peer', mode, String(bytes), String(chunk), String(piece), JSON.stringify(keys)],
      { stdio: 'inherit' },
    );
    const address = await new Promise((r) => child.once('message', r));
    const d = new zmq.Dealer(
      mode === 'curve'
        ? {
            curveServerKey: keys.server.publicKey,
            curvePublicKey: keys.client.publicKey,
            curveSecretKey: keys.client.secretKey,
          }
        : {},
    );
    d.receiveHighWaterMark = 0;
    d.connect(address);
    await d.send('x');
    await d.receive();
    const rates = [];
    for (let i = 0; i < reps; i++)
      rates.push(await fetchOnce(d, mode, Buffer.from(keys.aes, 'hex'), bytes));
    d.close();
    child.kill();
    return rates;
  }

  module.exports = { measure, MODES };

  const main = async () => {
    const mib = Number(process.argv[2] ?? 256);
    const chunk = Number(process.argv[3] ?? 1) * 2 ** 20;
    const reps = Number(process.argv[4] ?? 3);
    const piece = Math.min(chunk, Number(process.argv[5] ?? 256) * 1024);
    const opts = { bytes: mib * 2 ** 20, chunk, piece, reps };
    console.log(
      `${mib} MiB in ${chunk / 2 ** 20} MiB messages (sealed as ${piece / 1024} KiB pieces), ${reps} fetches per mode, modes alternating`,
    );
    const all = Object.fromEntries(MODES.map((m) => [m, []]));
    for (let round = 0; round < 2; round++)
      for (const m of MODES) all[m].push(...(await measure(m, opts)));
    for (const m of MODES) {
      const s = [...all[m]].sort((a, b) => a - b);
      console.log(
        `${m.padEnd(14)} best ${Math.round(s[s.length - 1])} median ${Math.round(s[s.length >> 1])} MiB/s  (${all[m].map(Math.round).join(' ')})`,
      );
    }
  };
  if (require.main === module) void main();
}
