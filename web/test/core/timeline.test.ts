import { describe, expect, it } from 'vitest';
import { Timeline } from '../../src/core/timeline';
import { message } from '../helpers/fixtures';

describe('Timeline', () => {
  it('keeps messages in seq order and drops a seq it already holds', () => {
    const t = new Timeline();
    const three = message('lobby', 3);
    expect(t.add([three, message('lobby', 1)])).toHaveLength(2);
    expect(t.add([message('lobby', 3), message('lobby', 2)]).map((m) => m.seq)).toEqual([2]);
    expect(t.messages().map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(t.messages()[2]).toBe(three);
    expect(t.size).toBe(3);
    expect(t.hasId(three.id)).toBe(true);
    expect(t.lowestSeq()).toBe(1);
    expect(t.highestSeq()).toBe(3);
  });

  it('returns the same array until something is added', () => {
    const t = new Timeline();
    t.add([message('lobby', 1)]);
    const first = t.messages();
    t.add([message('lobby', 1)]);
    expect(t.messages()).toBe(first);
    t.add([message('lobby', 2)]);
    expect(t.messages()).not.toBe(first);
  });

  it('moves contiguousSeq up over what follows it, and not over a gap', () => {
    const t = new Timeline();
    t.add([message('lobby', 5)]);
    expect(t.contiguousSeq).toBeNull();
    t.holdUpTo(5);
    expect(t.contiguousSeq).toBe(5);
    t.add([message('lobby', 7)]);
    expect(t.contiguousSeq).toBe(5);
    t.add([message('lobby', 6)]);
    expect(t.contiguousSeq).toBe(7);
    t.holdUpTo(3);
    expect(t.contiguousSeq).toBe(7);
  });

  it('restores a cached tail and clears everything', () => {
    const t = new Timeline();
    t.restore([message('lobby', 8), message('lobby', 9)], 9);
    expect(t.contiguousSeq).toBe(9);
    expect(t.messages().map((m) => m.seq)).toEqual([8, 9]);
    t.add([message('lobby', 10)]);
    expect(t.contiguousSeq).toBe(10);
    t.clear();
    expect(t.size).toBe(0);
    expect(t.contiguousSeq).toBeNull();
    expect(t.messages()).toEqual([]);
  });
});
