#!/usr/bin/env node
'use strict';
// The GPU check of issue 14, for a machine with NVIDIA GPUs (run after set-up and a build):
//   node scripts/gpu-check.js
// 1. `nvidia-smi -L` detection: LocalCUDACluster finds the GPUs by itself.
// 2. Each worker runs a { GPU: 1 } task that spawns
//    `nvidia-smi --query-gpu=index,uuid --format=csv,noheader` and must see its own device first
//    (CUDA_VISIBLE_DEVICES rotated; nvidia-smi itself ignores it, so the check compares the
//    device the worker was given with the UUID nvidia-smi reports for that index).
// Prints one line per step and exits 1 on any mismatch.
const { execFileSync } = require('node:child_process');
const { Client, LocalCUDACluster } = require('../dist');

async function main() {
  const listed = execFileSync('nvidia-smi', ['-L'], { encoding: 'utf8' }).trim();
  console.log(`nvidia-smi -L:\n${listed}`);
  const cluster = await LocalCUDACluster.start({ dashboardAddress: false });
  const client = await Client.connect(cluster);
  let ok = true;
  try {
    const workers = Object.values((await client.schedulerInfo()).workers);
    console.log(
      `workers: ${workers.map((w) => `${w.name} ${JSON.stringify(w.resources)}`).join(', ')}`,
    );
    ok =
      workers.length === listed.split('\n').length && workers.every((w) => w.resources.GPU === 1);
    const seen = await client.gather(
      workers.map((w) =>
        client.submitWith({ workers: [w.name], resources: { GPU: 1 } }, () => {
          const { execFileSync: run } = require('node:child_process');
          const visible = process.env.CUDA_VISIBLE_DEVICES;
          const first = visible.split(',')[0];
          const rows = run('nvidia-smi', ['--query-gpu=index,uuid', '--format=csv,noheader'], {
            encoding: 'utf8',
          })
            .trim()
            .split('\n')
            .map((l) => l.split(',').map((x) => x.trim()));
          return { visible, first, uuid: (rows.find(([i]) => i === first) || [])[1] || null };
        }),
      ),
    );
    workers.forEach((w, i) => {
      const s = seen[i];
      const mine = w.name === `gpu-${s.first}` && s.uuid !== null;
      ok = ok && mine;
      console.log(
        `${w.name}: CUDA_VISIBLE_DEVICES=${s.visible}, its GPU ${s.first} = ${s.uuid} ${mine ? 'OK' : 'MISMATCH'}`,
      );
    });
  } finally {
    await client.close();
    await cluster.close();
  }
  console.log(ok ? 'GPU CHECK PASSED' : 'GPU CHECK FAILED');
  process.exit(ok ? 0 : 1);
}

main().catch((err) => {
  console.error(`GPU CHECK FAILED: [${err.code || 'error'}] ${err.message}`);
  process.exit(1);
});
