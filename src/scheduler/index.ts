export { SchedulerCore } from './core';
export * from './types';
export { Scheduler, type SchedulerOptions } from './server';
