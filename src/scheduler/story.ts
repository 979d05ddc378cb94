import { StoryRing } from '../util/story-ring';
import type { Transition } from './types';

/** Transitions kept for story(). */
export const STORY_LIMIT = 100_000;

/** The last STORY_LIMIT transitions of every task, with the event that caused each. */
export class StoryLog extends StoryRing<Transition['from'] | Transition['to']> {
  constructor() {
    super(STORY_LIMIT);
  }

  override story(key: string): Transition[] {
    return super.story(key) as Transition[];
  }
}
