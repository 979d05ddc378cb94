'use strict';
// The floor: raw ZeroMQ between two Node processes on loopback, measured in the same run.
const { fork } = require('node:child_process');
const zmq = require('zeromq');

if (process.argv[2] === 'echo') {
  (async () => {
    const r = new zmq.Router();
    r.sendHighWaterMark = 0;
    await r.bind('tcp://127.0.0.1:*');
    process.send(r.lastEndpoint);
    for await (const m of r) await r.send(m);
  })();
} else {
  module.exports = async function zmqFloor({ roundTrips = 2000, bytes = 256 * 2 ** 20 } = {}) {
    const child = fork(__filename, ['echo'], { stdio: 'inherit' });
    const address = await new Promise((r) => child.once('message', r));
    const d = new zmq.Dealer();
    d.connect(address);
    const lat = [];
    for (let i = 0; i < roundTrips; i++) {
      const t = process.hrtime.bigint();
      await d.send('x');
      await d.receive();
      lat.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    lat.sort((a, b) => a - b);
    // The best of one whole frame and 16 MiB frames (what mpi-cluster sends), there and back.
    const payload = Buffer.alloc(bytes, 1);
    const chunks = [];
    for (let at = 0; at < bytes; at += 16 * 2 ** 20)
      chunks.push(payload.subarray(at, at + 16 * 2 ** 20));
    let best = 0;
    for (const parts of [[payload], chunks, chunks]) {
      const t = process.hrtime.bigint();
      await d.send(parts);
      await d.receive();
      const secs = Number(process.hrtime.bigint() - t) / 1e9;
      best = Math.max(best, (2 * bytes) / 2 ** 20 / secs);
    }
    d.close();
    child.kill();
    return { rttMs: lat[lat.length >> 1], mibPerSec: best };
  };
}
