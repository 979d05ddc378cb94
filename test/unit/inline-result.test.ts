import { inlineFrames, inlineResult } from '../../src/client/future';
import { pack, unpack } from '../../src/protocol';

test('a one-frame inline result is kept as its place in the message and unpacks to the value', () => {
  const value = { n: 42, s: 'result' };
  const [frame] = pack(value);
  const message = Buffer.concat([Buffer.from('other bytes'), frame, Buffer.from('more')]);
  const r = inlineResult([message.subarray(11, 11 + frame.length)]);
  expect(Array.isArray(r)).toBe(false);
  expect(unpack(inlineFrames(r))).toEqual(value);
});

test('an inline result of several frames is kept as they are', () => {
  const frames = [Buffer.from('a'), Buffer.from('b')];
  expect(inlineFrames(inlineResult(frames))).toBe(frames);
});
