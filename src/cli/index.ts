export { schedulerCommand } from './scheduler';
export { workerCommand } from './worker';
