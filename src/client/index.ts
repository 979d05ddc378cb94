export { Client, connect, type ClientOptions } from './client';
export type { ConnectTarget, Duration } from './target';
export { Future, TaskError, type FutureStatus } from './future';
export { fromModule, type ModuleFunction, type TaskFunction } from './fnspec';
export { mpiProgram, type MpiProgram, type MpiProgramOptions, type ProgramResult } from './program';
export { type TaskOptions } from './task-options';
export { progress, type ProgressOptions } from './progress';
export { performanceReport } from './report';
export { Variable, Queue, Event, Lock, Semaphore } from './coordination';
