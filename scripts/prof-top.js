#!/usr/bin/env node
'use strict';
// The top functions of V8 CPU profiles (`node --cpu-prof`), for docs/performance.md:
//   node scripts/prof-top.js [--top N] [--by self|total] [--filter TEXT] [--phases] a.cpuprofile ...
// Per file: wall time profiled, then per function (name, file:line) its self % and total % of the
// profile's time. Total counts a function once per stack, so recursion does not inflate it.
// --filter keeps functions whose name or file contains TEXT (e.g. dist/ for our own code);
// --phases adds the time by phase (MPI_Init, loading modules, GC, ...); --top 0 prints only that.
const fs = require('node:fs');
const path = require('node:path');

function parseArgs(argv) {
  const o = { top: 15, by: 'self', filter: '', phases: false, files: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--phases') o.phases = true;
    else if (argv[i] === '--top') o.top = Number(argv[++i]);
    else if (argv[i] === '--by') o.by = argv[++i];
    else if (argv[i] === '--filter') o.filter = argv[++i];
    else o.files.push(argv[i]);
  }
  return o;
}

function short(url) {
  if (!url) return '';
  const u = url.replace(/^file:\/\//, '');
  const i = u.lastIndexOf('/node_modules/');
  if (i >= 0) return u.slice(i + 1);
  const d = u.lastIndexOf('/dist/');
  if (d >= 0) return u.slice(d + 1);
  return u.startsWith('node:') ? u : path.basename(u);
}

/** Per function: self and total microseconds. */
function summarize(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Time of each sample: the delta to the next one.
  const selfUs = new Map();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const keyOf = (n) => {
    const f = n.callFrame;
    const name = f.functionName || '(anonymous)';
    const where = short(f.url);
    return where ? `${name} ${where}:${f.lineNumber + 1}` : name;
  };
  const fns = new Map();
  const entry = (k) => {
    let e = fns.get(k);
    if (!e) fns.set(k, (e = { self: 0, total: 0 }));
    return e;
  };
  let all = 0;
  for (const [id, us] of selfUs) {
    all += us;
    const n = byId.get(id);
    entry(keyOf(n)).self += us;
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const k = keyOf(byId.get(at));
      if (seen.has(k)) continue;
      seen.add(k);
      entry(k).total += us;
    }
  }
  return { all, fns, wallUs: profile.endTime - profile.startTime };
}

/**
 * --phases: the profile's time by what the innermost telling frame of each sample was: MPI_Init,
 * MPI_Finalize, loading modules (require() and Node's built-ins), GC, idle, or running code.
 */
const PHASES = [
  ['MPI_Init', (f) => f.functionName === 'init' && f.url.endsWith('/dist/mpi/index.js')],
  [
    'MPI_Finalize',
    (f) =>
      (f.functionName === 'finalize' && f.url.endsWith('/dist/mpi/index.js')) ||
      (f.functionName === 'onExit' && f.url.endsWith('/dist/mpi/exit.js')),
  ],
  [
    'loading modules',
    (f) => f.functionName === 'Module.require' || f.functionName === 'compileForInternalLoader',
  ],
  ['GC', (f) => f.functionName === '(garbage collector)'],
  ['idle', (f) => f.functionName === '(idle)'],
];

function phases(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const out = new Map();
  let all = 0;
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const dt = Math.max(0, i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0);
    all += dt;
    let phase = 'running code';
    for (let at = samples[i]; at !== undefined; at = parent.get(at)) {
      const hit = PHASES.find(([, test]) => test(byId.get(at).callFrame));
      if (hit) {
        phase = hit[0];
        break;
      }
    }
    out.set(phase, (out.get(phase) ?? 0) + dt);
  }
  return [...out]
    .sort((a, b) => b[1] - a[1])
    .map(([k, us]) => `${k} ${(us / 1000).toFixed(0)} ms (${((us / all) * 100).toFixed(0)}%)`)
    .join(', ');
}

/** Which of our processes a profile is from, by the functions it ran. */
function roleOf(profile) {
  const ran = (file, fn) =>
    profile.nodes.some(
      (n) => n.callFrame.url.endsWith(file) && (!fn || n.callFrame.functionName === fn),
    );
  const roles = [
    ran('/dist/scheduler/server.js', 'start') && 'scheduler',
    ran('/dist/worker/worker.js', 'start') && 'worker',
    ran('/dist/client/client.js', 'open') && 'client',
    ran('/dist/worker/executor.js') && 'executor thread',
  ].filter(Boolean);
  return roles.join(' + ') || 'other';
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.files.length === 0) {
    console.error(
      'usage: prof-top.js [--top N] [--by self|total] [--filter TEXT] file.cpuprofile ...',
    );
    process.exit(2);
  }
  for (const file of o.files) {
    const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
    const { all, fns, wallUs } = summarize(profile);
    const skip = new Set(['(root)', '(program)', '(idle)']);
    const rows = [...fns]
      .filter(([k]) => !skip.has(k) || o.by === 'self')
      .filter(([k]) => !o.filter || k.includes(o.filter))
      .sort((a, b) => b[1][o.by] - a[1][o.by])
      .slice(0, o.top);
    const idle = fns.get('(idle)')?.self ?? 0;
    console.log(
      `\n${path.basename(file)} (${roleOf(profile)}): ${(wallUs / 1000).toFixed(0)} ms profiled, ${((all - idle) / 1000).toFixed(0)} ms busy`,
    );
    if (o.phases) console.log(phases(profile));
    if (o.top === 0) continue;
    console.log('| function | self % | total % |\n|---|---|---|');
    for (const [k, e] of rows) {
      const pct = (x) => ((x / all) * 100).toFixed(1);
      console.log(`| \`${k}\` | ${pct(e.self)} | ${pct(e.total)} |`);
    }
  }
}

main();
