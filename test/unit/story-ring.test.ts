import { StoryRing } from '../../src/util/story-ring';

test('the story ring keeps the last `limit` transitions, oldest first, with the time when given', () => {
  const ring = new StoryRing<string>(3);
  ring.record('a', 'new', 'waiting', 'submit#1');
  ring.record('b', 'new', 'waiting', 'submit#1');
  ring.record('a', 'waiting', 'processing', 'tick#2', 7);
  expect(ring.story('a')).toEqual([
    { key: 'a', from: 'new', to: 'waiting', cause: 'submit#1' },
    { key: 'a', from: 'waiting', to: 'processing', cause: 'tick#2', now: 7 },
  ]);
  expect(ring.story('a')[0]).not.toHaveProperty('now');
  // Two more push the two oldest out.
  ring.record('a', 'processing', 'memory', 'task-finished#3');
  ring.record('b', 'waiting', 'processing', 'tick#4');
  expect(ring.story('a').map((t) => t.to)).toEqual(['processing', 'memory']);
  expect(ring.story('b').map((t) => t.to)).toEqual(['processing']);
  expect(ring.story('c')).toEqual([]);
});
