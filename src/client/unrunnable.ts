import type { OpOf } from '../protocol';

/** Restrictions warned of in this process; bounded, as a script may make many. */
const warned = new Set<string>();
const MAX_WARNED = 100;

/**
 * The scheduler says a task of this client waits for a worker that none connected can be (its
 * `resources` or `workers` restriction). Warned once per process for each restriction, as a Node
 * process warning (`process.on('warning')` sees it; stderr shows it unless `--no-warnings`).
 */
export function warnUnrunnable(op: OpOf<'task-unrunnable'>): void {
  const what = JSON.stringify([
    [...(op.workers ?? [])].sort(),
    Object.entries(op.resources ?? {}).sort(),
  ]);
  if (warned.has(what) || warned.size >= MAX_WARNED) return;
  warned.add(what);
  process.emitWarning(op.message, { type: 'UnrunnableTaskWarning', code: 'WARN_TASK_UNRUNNABLE' });
}
