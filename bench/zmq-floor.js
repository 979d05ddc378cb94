'use strict';
// The floor: raw ZeroMQ between two Node processes on loopback, measured in the same run.
const { fork } = require('node:child_process');
const zmq = require('zeromq');

const CHUNK = 16 * 2 ** 20;

/**
 * The security mechanism of both ends: 'null' (none), 'curve' (what mpi-cluster uses: keys and
 * encryption), 'plain' (a user name and password sent in clear, no encryption).
 */
const SERVER = {
  null: () => ({}),
  curve: (keys) => ({ curveServer: true, curveSecretKey: keys.server.secretKey }),
  plain: () => ({ plainServer: true }),
};
const CLIENT = {
  null: () => ({}),
  curve: (keys) => ({
    curveServerKey: keys.server.publicKey,
    curvePublicKey: keys.client.publicKey,
    curveSecretKey: keys.client.secretKey,
  }),
  plain: () => ({ plainUsername: 'bench', plainPassword: 'bench' }),
};

async function admitAll() {
  const zap = new zmq.Reply();
  await zap.bind('inproc://zeromq.zap.01');
  for await (const [version, id] of zap) await zap.send([version, id, '200', 'OK', 'bench', '']);
}

if (process.argv[2] === 'peer') {
  // Answers 'x' with 'x' and 'big' with the payload, in 16 MiB frames as mpi-cluster sends it.
  (async () => {
    const keys = JSON.parse(process.argv[5]);
    // PLAIN asks a ZAP handler for each connection: one that admits everyone.
    if (process.argv[4] === 'plain') void admitAll();
    const r = new zmq.Router(SERVER[process.argv[4]](keys));
    r.sendHighWaterMark = 0;
    await r.bind('tcp://127.0.0.1:*');
    const bytes = Number(process.argv[3]);
    const payload = Buffer.alloc(bytes, 1);
    const frames = [];
    for (let at = 0; at < bytes; at += CHUNK) frames.push(payload.subarray(at, at + CHUNK));
    process.send(r.lastEndpoint);
    for await (const [id, what] of r)
      await r.send(what.toString() === 'big' ? [id, ...frames] : [id, what]);
  })();
} else {
  module.exports = async function zmqFloor({
    roundTrips = 2000,
    bytes = 256 * 2 ** 20,
    fetches = 3,
    mechanism = 'null',
  } = {}) {
    const keys = { server: zmq.curveKeyPair(), client: zmq.curveKeyPair() };
    const child = fork(__filename, ['peer', String(bytes), mechanism, JSON.stringify(keys)], {
      stdio: 'inherit',
    });
    const address = await new Promise((r) => child.once('message', r));
    const d = new zmq.Dealer(CLIENT[mechanism](keys));
    d.connect(address);
    const lat = [];
    for (let i = 0; i < roundTrips; i++) {
      const t = process.hrtime.bigint();
      await d.send('x');
      await d.receive();
      lat.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    lat.sort((a, b) => a - b);
    // Best of a few fetches: large transfers here vary 2-4x from run to run (page faults, GC).
    let best = 0;
    for (let i = 0; i < fetches; i++) {
      const t = process.hrtime.bigint();
      await d.send('big');
      await d.receive();
      best = Math.max(best, bytes / 2 ** 20 / (Number(process.hrtime.bigint() - t) / 1e9));
    }
    d.close();
    child.kill();
    return { rttMs: lat[lat.length >> 1], mibPerSec: best };
  };
}
