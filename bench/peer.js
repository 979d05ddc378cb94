'use strict';
// The peer (issue 23): Debian's dask.distributed running bench/dask_peer.py on this machine with
// the same 4 workers and workloads. null (with the reason printed) where it is not installed.
const { spawn, spawnSync } = require('node:child_process');
const path = require('node:path');

/** Debian's python3 (python3-distributed is installed for it), else the first on PATH. */
const PYTHON = ['/usr/bin/python3', 'python3'].find(
  (p) => spawnSync(p, ['-c', 'import distributed'], { stdio: 'ignore' }).status === 0,
);

/** Why there is no peer (null: there is one). */
function missing() {
  return PYTHON
    ? null
    : 'dask.distributed is not installed (scripts/setup.sh installs python3-distributed): peer skipped';
}

/** One run of the peer: its figures, or null when it is missing or failed (said on stderr). */
function daskPeer({ quick = false } = {}) {
  if (!PYTHON) return Promise.resolve(null);
  return new Promise((resolve) => {
    const args = [path.join(__dirname, 'dask_peer.py'), ...(quick ? ['--quick'] : [])];
    const child = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop();
      if (code !== 0 || !line) {
        console.error(
          `dask peer failed (exit ${code}): ${err.trim().split('\n').slice(-3).join(' / ')}`,
        );
        resolve(null);
        return;
      }
      resolve(JSON.parse(line));
    });
  });
}

module.exports = { daskPeer, missing, PYTHON };
