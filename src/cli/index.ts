export { schedulerCommand } from './scheduler';
export { workerCommand } from './worker';
export { jobsCommand } from './jobs';
