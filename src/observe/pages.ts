/**
 * The dashboard's pages beside /status (issue 24): /workers, /worker?id=, /graph and /info. Each
 * is one HTML document whose script fetches its JSON (/api/<page>) once a second with the page's
 * token, and draws it: tables and small canvas charts of our own, so nothing is fetched from
 * outside (compute nodes are offline).
 */
import { FLAME_SCRIPT } from './flame';

const HEAD = (title: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mpi-cluster ${title}</title>
<style>
  body { font: 13px system-ui, sans-serif; margin: 12px; color: #222; background: #fafafa; }
  h1 { font-size: 16px; margin: 0 0 8px; } h2 { font-size: 14px; margin: 14px 0 6px; }
  nav a { margin-right: 12px; }
  table { border-collapse: collapse; width: 100%; background: #fff; }
  td, th { padding: 3px 6px; border-bottom: 1px solid #eee; text-align: left; white-space: nowrap; }
  .bar { position: relative; height: 12px; background: #eee; min-width: 200px; }
  .bar span { position: absolute; top: 0; bottom: 0; }
  .managed { background: #2a9d8f; } .unmanaged { background: #9aa5b1; } .spilled { background: #6a4c93; }
  .paused { color: #fff; background: #e76f51; border-radius: 3px; padding: 0 4px; font-size: 11px; }
  .muted { color: #888; } pre { background: #fff; padding: 6px; overflow: auto; }
  canvas { background: #fff; border: 1px solid #eee; width: 100%; }
</style>
</head>
<body>
<nav><a href="status">status</a><a href="workers">workers</a><a href="graph">graph</a><a href="profile">profile</a><a href="info">info</a></nav>
<h1>mpi-cluster ${title} <span id="note" class="muted"></span></h1>
`;

/** Helpers every page's script shares: the token on links and fetches, escaping, byte sizes. */
const COMMON = `
'use strict';
const token = new URLSearchParams(location.search).get('token') || '';
const q = (extra) => '?token=' + encodeURIComponent(token) + (extra || '');
for (const a of document.querySelectorAll('nav a')) a.href += q();
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const bytes = (n) => n == null ? '-' : n >= 1e9 ? (n / 1e9).toFixed(2) + ' GB' : n >= 1e6 ? (n / 1e6).toFixed(1) + ' MB' : (n / 1e3).toFixed(0) + ' kB';
const pct = (n) => n == null ? '-' : Math.round(100 * n) + '%';
const ms = (s) => s == null ? '-' : (1000 * s).toFixed(1) + ' ms';
window.page = { draws: 0 };
function poll(api, extra, draw) {
  const tick = () => fetch('api/' + api + q(extra)).then((r) => r.ok ? r.json() : Promise.reject(new Error(r.status + ' ' + r.statusText)))
    .then((d) => { draw(d); window.page.draws += 1; $('note').textContent = ''; })
    .catch((e) => { $('note').textContent = String(e.message || e); });
  tick();
  setInterval(tick, 1000);
}
function memoryBar(w) {
  const all = Math.max(w.memoryLimit || 0, w.managed + w.unmanaged + w.spilled, 1);
  let at = 0;
  const seg = (cls, n) => { const s = '<span class="' + cls + '" style="left:' + (100 * at / all) + '%;width:' + (100 * n / all) + '%"></span>'; at += n; return s; };
  return '<div class="bar">' + seg('managed', w.managed) + seg('unmanaged', w.unmanaged) + seg('spilled', w.spilled) + '</div>';
}
`;

export const WORKERS_PAGE = `${HEAD('workers')}
<p class="muted">Memory as stacked bars: managed (stored values, green), unmanaged (the rest of the process, grey), spilled (on disk, purple), against the worker's limit.</p>
<table><thead><tr><th>name</th><th>host</th><th>threads</th><th>memory</th><th>managed</th><th>unmanaged</th><th>spilled</th><th>limit</th><th>cpu</th><th>event-loop lag</th><th>running</th><th>held</th></tr></thead>
<tbody id="rows"></tbody></table>
<script>${COMMON}
poll('workers', '', (d) => {
  $('rows').innerHTML = d.workers.map((w) => '<tr data-worker="' + esc(w.id) + '"><td><a href="worker' + q('&id=' + encodeURIComponent(w.id)) + '">' + esc(w.name) + '</a>' +
    (w.paused ? ' <span class="paused">paused</span>' : '') + '</td><td>' + esc(w.host) + '</td><td>' + w.nthreads + '</td><td>' + memoryBar(w) + '</td><td>' +
    bytes(w.managed) + '</td><td>' + bytes(w.unmanaged) + '</td><td>' + bytes(w.spilled) + '</td><td>' + (w.memoryLimit ? bytes(w.memoryLimit) : 'none') + '</td><td>' +
    pct(w.cpu) + '</td><td>' + ms(w.lag) + '</td><td>' + w.running + '</td><td>' + w.held + '</td></tr>').join('');
});
</script>
</body>
</html>
`;

export const WORKER_PAGE = `${HEAD('worker')}
<table><tbody id="facts"></tbody></table>
<h2>Memory (managed, unmanaged, spilled; scaled to its peak) and CPU over the last five minutes</h2>
<canvas id="memory" height="160"></canvas>
<canvas id="cpu" height="100"></canvas>
<h2>Running now</h2><pre id="running"></pre>
<h2>Held</h2><pre id="held"></pre>
<script>${COMMON}
const id = new URLSearchParams(location.search).get('id') || '';
function chart(canvas, at, series, colours, top) {
  canvas.width = canvas.clientWidth;
  const g = canvas.getContext('2d');
  g.clearRect(0, 0, canvas.width, canvas.height);
  if (at.length < 2) return;
  const x = (i) => canvas.width * (at[i] - at[0]) / Math.max(1, at[at.length - 1] - at[0]);
  const max = Math.max(top, 1);
  // Stacked: each series on top of those before it.
  const base = at.map(() => 0);
  series.forEach((s, k) => {
    g.beginPath();
    g.moveTo(x(0), canvas.height - canvas.height * base[0] / max);
    for (let i = 0; i < at.length; i++) g.lineTo(x(i), canvas.height - canvas.height * (base[i] + s[i]) / max);
    for (let i = at.length - 1; i >= 0; i--) g.lineTo(x(i), canvas.height - canvas.height * base[i] / max);
    g.closePath();
    g.fillStyle = colours[k];
    g.fill();
    for (let i = 0; i < at.length; i++) base[i] += s[i];
  });
}
poll('worker', '&id=' + encodeURIComponent(id), (d) => {
  const w = d.worker;
  $('facts').innerHTML = [['name', esc(w.name) + (w.paused ? ' <span class="paused">paused</span>' : '')], ['id', esc(w.id)], ['host', esc(w.host)], ['address', esc(w.address)],
    ['threads', w.nthreads], ['memory', memoryBar(w) + bytes(w.managed) + ' + ' + bytes(w.unmanaged) + ' + ' + bytes(w.spilled) + ' spilled / ' + (w.memoryLimit ? bytes(w.memoryLimit) : 'no limit')],
    ['cpu', pct(w.cpu)], ['event-loop lag', ms(w.lag)], ['running', w.running], ['held', w.held]]
    .map(([k, v]) => '<tr><th>' + k + '</th><td>' + v + '</td></tr>').join('');
  const h = d.history;
  const top = 1.2 * Math.max(1, ...h.managed.map((m, i) => m + h.unmanaged[i] + h.spilled[i])); // the limit is in the facts above
  chart($('memory'), h.at, [h.managed, h.unmanaged, h.spilled], ['#2a9d8f', '#9aa5b1', '#6a4c93'], top);
  chart($('cpu'), h.at, [h.cpu], ['#264653'], Math.max(1, ...h.cpu));
  $('running').textContent = d.running.join('\\n') || '(nothing)';
  $('held').textContent = d.held.join('\\n') || '(nothing)';
});
</script>
</body>
</html>
`;

export const GRAPH_PAGE = `${HEAD('task graph')}
<p class="muted">The tasks the scheduler knows now, a column per depth (a task right of its inputs), coloured by state:
<span style="color:#bbb">released</span>, <span style="color:#999">waiting</span>, <span style="color:#7f7f7f">queued</span>,
<span style="color:#e9c46a">processing</span>, <span style="color:#2a9d8f">memory</span>, <span style="color:#d62728">erred</span>. Hover a task for its key.</p>
<canvas id="graph" height="600"></canvas>
<div id="key" class="muted"></div>
<script>${COMMON}
const COLOURS = { released: '#bbb', waiting: '#999', queued: '#7f7f7f', processing: '#e9c46a', memory: '#2a9d8f', erred: '#d62728' };
let placed = [];
window.graph = { nodes: 0, tooMany: 0 };
poll('graph', '', (d) => {
  const c = $('graph');
  c.width = c.clientWidth;
  const g = c.getContext('2d');
  g.clearRect(0, 0, c.width, c.height);
  if (d.tooMany) {
    window.graph = { nodes: 0, tooMany: d.tooMany };
    $('note').textContent = d.tooMany + ' tasks: more than the ' + d.limit + ' this page draws';
    placed = [];
    return;
  }
  const n = d.nodes.length;
  // Depth: the longest path from a task with no inputs, in topological order (Kahn's).
  const depth = new Array(n).fill(0);
  const pending = d.nodes.map((x) => x.deps.length);
  const users = d.nodes.map(() => []);
  d.nodes.forEach((x, i) => x.deps.forEach((k) => users[k].push(i)));
  const ready = [];
  for (let i = 0; i < n; i++) if (pending[i] === 0) ready.push(i);
  while (ready.length) {
    const j = ready.pop();
    for (const u of users[j]) {
      depth[u] = Math.max(depth[u], depth[j] + 1);
      if (--pending[u] === 0) ready.push(u);
    }
  }
  const columns = [];
  for (let i = 0; i < n; i++) (columns[depth[i]] = columns[depth[i]] || []).push(i);
  const cw = c.width / Math.max(1, columns.length);
  const xy = new Array(n);
  columns.forEach((col, k) => col.forEach((i, r) => { xy[i] = [cw * (k + 0.5), c.height * (r + 0.5) / col.length]; }));
  g.strokeStyle = 'rgba(0,0,0,0.12)';
  g.beginPath();
  for (let i = 0; i < n; i++) for (const k of d.nodes[i].deps) { g.moveTo(xy[k][0], xy[k][1]); g.lineTo(xy[i][0], xy[i][1]); }
  g.stroke();
  const size = Math.max(2, Math.min(8, c.height / Math.max(1, ...columns.map((col) => col.length)) / 2));
  placed = [];
  for (let i = 0; i < n; i++) {
    const node = d.nodes[i];
    g.fillStyle = COLOURS[node.state] || '#000';
    g.beginPath(); g.arc(xy[i][0], xy[i][1], size, 0, 2 * Math.PI); g.fill();
    placed.push({ x: xy[i][0], y: xy[i][1], r: size + 2, node });
  }
  window.graph = { nodes: n, tooMany: 0 };
});
$('graph').addEventListener('mousemove', (ev) => {
  const r = $('graph').getBoundingClientRect();
  const px = ev.clientX - r.left, py = ev.clientY - r.top;
  const hit = placed.find((p) => (p.x - px) ** 2 + (p.y - py) ** 2 <= p.r ** 2);
  $('key').textContent = hit ? hit.node.key + ' (' + hit.node.state + (hit.node.worker ? ' on ' + hit.node.worker : '') + ')' : '';
});
</script>
</body>
</html>
`;

export const INFO_PAGE = `${HEAD('info')}
<table><tbody id="facts"></tbody></table>
<h2>Options</h2><pre id="options"></pre>
<h2>Last events</h2><pre id="events"></pre>
<script>${COMMON}
poll('info', '', (d) => {
  $('facts').innerHTML = Object.entries(d.facts).map(([k, v]) => '<tr><th>' + esc(k) + '</th><td>' + esc(v) + '</td></tr>').join('');
  $('options').textContent = JSON.stringify(d.options, null, 2);
  $('events').textContent = d.events.map((e) => new Date(e.at).toISOString() + '  ' + e.text).join('\\n');
});
</script>
</body>
</html>
`;

export const PROFILE_PAGE = `${HEAD('profile')}
<p class="muted">What the workers' task threads ran, sampled by V8's profiler (every 1 ms, in every executor thread of every worker) and merged by function: a flame graph, callers above callees, width the share of samples. Hover for a function's share.</p>
<p><label>seconds <input id="seconds" type="number" value="2" min="0.1" max="30" step="0.5" style="width:5em"></label> <button id="run">profile again</button> <span id="status" class="muted"></span></p>
<canvas id="flame" height="480"></canvas>
<div id="hover" class="muted">&nbsp;</div>
<h2>Heaviest functions (self samples)</h2><pre id="top"></pre>
<script>${COMMON}
window.profile = { runs: 0, names: [] };
${FLAME_SCRIPT}
function draw(tree) {
  const drawn = drawFlame($('flame'), tree, $('top'), $('hover'));
  window.profile = { runs: window.profile.runs + 1, names: drawn.names, samples: drawn.samples };
}
function run() {
  const s = Number($('seconds').value) || 2;
  $('status').textContent = 'profiling for ' + s + ' s...';
  fetch('api/profile' + q('&seconds=' + s)).then((r) => r.json()).then((d) => { draw(d.tree); $('status').textContent = ''; })
    .catch((e) => { $('status').textContent = String(e.message || e); });
}
$('run').addEventListener('click', run);
run();
</script>
</body>
</html>
`;

/** The page served at each path. */
export const PAGES: Readonly<Record<string, string>> = {
  '/workers': WORKERS_PAGE,
  '/worker': WORKER_PAGE,
  '/graph': GRAPH_PAGE,
  '/info': INFO_PAGE,
  '/profile': PROFILE_PAGE,
};
