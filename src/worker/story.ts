import { StoryRing } from '../util/story-ring';
import type { StoryState, WorkerTransition } from './state-types';

/** Transitions kept for story(): a long-lived worker's log stays bounded. */
export const WORKER_STORY_LIMIT = 50_000;

/** The last WORKER_STORY_LIMIT transitions of the worker's keys, with what caused each. */
export class WorkerStoryLog extends StoryRing<StoryState> {
  constructor() {
    super(WORKER_STORY_LIMIT);
  }

  override record(key: string, from: StoryState, to: StoryState, cause: string, now: number): void {
    super.record(key, from, to, cause, now);
  }

  override story(key: string): WorkerTransition[] {
    return super.story(key) as WorkerTransition[];
  }
}
