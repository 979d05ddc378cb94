export { LocalCluster, type LocalClusterOptions } from './local';
export {
  readSchedulerFile,
  writeSchedulerFile,
  expandHome,
  type SchedulerFileContent,
} from './scheduler-file';
