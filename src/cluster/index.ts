export { LocalCluster, type LocalClusterOptions } from './local';
export { LocalCUDACluster, type LocalCUDAClusterOptions } from './cuda';
export {
  readSchedulerFile,
  writeSchedulerFile,
  expandHome,
  type SchedulerFileContent,
} from './scheduler-file';
