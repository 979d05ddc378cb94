export { Worker } from './worker';
export {
  type WorkerOptions,
  parseMemoryLimit,
  resolveWorkerOptions,
  WORKER_DEFAULTS,
} from './options';
