import type { SchedulerAction, SubmittedTask } from '../../src/scheduler';
import type { WorkerInfoWire } from '../../src/protocol';

/** Payloads in the scheduler-core unit tests: a string naming the task's function. */
export type P = string;

export const worker = (
  id: string,
  nthreads = 1,
  extra: Partial<WorkerInfoWire> = {},
): WorkerInfoWire => ({
  id,
  name: `name-${id}`,
  host: 'h',
  address: `tcp://h:${id}`,
  nthreads,
  memoryLimit: 1e9,
  pid: 1,
  localDirectory: '/tmp',
  ...extra,
});

export const task = (
  key: string,
  deps: string[] = [],
  extra: Partial<SubmittedTask<P>> = {},
): SubmittedTask<P> => ({
  key,
  deps,
  priority: 0,
  retries: 0,
  payload: `fn-${key}`,
  ...extra,
});

/** The actions of one type, typed. */
export const of = <T extends SchedulerAction<P>['type']>(acts: SchedulerAction<P>[], type: T) =>
  acts.filter((a) => a.type === type) as Extract<SchedulerAction<P>, { type: T }>[];
