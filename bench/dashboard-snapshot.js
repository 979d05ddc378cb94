'use strict';
// The scheduler's own cost of an open dashboard (issue 24): one snapshot (what the page gets
// each second) and one /workers view, with 1,000,000 tasks in flight on 256 workers, in a real
// SchedulerCore and Dashboard; medians of 20, next to the cost of the submit that made them.
const { SchedulerCore } = require('../dist/scheduler');
const { Dashboard } = require('../dist/observe/dashboard');
const { workersView } = require('../dist/observe/views');

const TASKS = 1_000_000;
const WORKERS = 256;
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const msOf = (f) => {
  const t = process.hrtime.bigint();
  const out = f();
  return [Number(process.hrtime.bigint() - t) / 1e6, out];
};

module.exports = async function dashboardSnapshotBench() {
  const core = new SchedulerCore({});
  core.handle({ type: 'client-join', client: 'c', now: 0 });
  core.handle(
    Array.from({ length: WORKERS }, (_, i) => ({
      type: 'worker-join',
      worker: {
        id: `w${i}`,
        name: `worker-${i}`,
        host: 'h',
        address: `tcp://h:${i}`,
        nthreads: 4,
        memoryLimit: 1e9,
        pid: 1,
        localDirectory: '/tmp',
      },
      now: 0,
    })),
  );
  const tasks = Array.from({ length: TASKS }, (_, i) => ({
    key: `work-${i.toString(16).padStart(24, '0')}`,
    deps: [],
    priority: 0,
    retries: 0,
    payload: 'p',
  }));
  const [submitMs] = msOf(() => core.handle({ type: 'submit', client: 'c', tasks }));
  const source = { core, workerStats: () => ({ cpu: 0.5, rss: 1e8, lag: 0, transferBytes: 0 }) };
  const dashboard = new Dashboard(source);
  try {
    const snaps = [];
    const views = [];
    let bytes = 0;
    for (let i = 0; i < 20; i++) {
      for (let k = 0; k < 2000; k++)
        dashboard.taskDone(`w${k % WORKERS}`, `work-${k}`, 0.001, false);
      const [t, snap] = msOf(() => JSON.stringify(dashboard.snapshot()));
      snaps.push(t);
      bytes = snap.length;
      views.push(msOf(() => JSON.stringify(workersView(source)))[0]);
    }
    return [
      [
        `the scheduler's cost of an open dashboard, ${TASKS.toLocaleString('en')} tasks in flight on ${WORKERS} workers: one snapshot (a second's push, 2,000 bars) / one /workers view, median of 20`,
        `${median(snaps).toFixed(1)} ms (${Math.round(bytes / 1024)} KiB) / ${median(views).toFixed(1)} ms`,
        'a few ms a second, whatever the task count',
        `submitting those tasks to the same core: ${Math.round(submitMs)} ms`,
      ],
    ];
  } finally {
    dashboard.close();
  }
};

if (require.main === module) {
  module.exports().then(
    (rows) => {
      for (const r of rows) console.log(r.join(' | '));
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
