import { describe, expect, it } from 'vitest';
import { Timeline } from '../../src/core/timeline';
import { BOB, event, message } from '../helpers/fixtures';

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

describe('Timeline: events', () => {
  it('counts events in the seq space: contiguousSeq moves over them, and over the gaps a history page spans', () => {
    const t = new Timeline();
    const one = message('lobby', 1);
    t.add([one]);
    t.holdUpTo(1);
    t.applyEvents([event(3, one, { kind: 'edit', content: 'x' })]);
    expect(t.contiguousSeq).toBe(1);
    t.applyEvents([event(2, one, { kind: 'reaction', emoji: '👍', on: true, count: 1 })]);
    expect(t.contiguousSeq).toBe(3);
    expect(t.latestSeq()).toBe(3);
    expect(t.hasSeen(2)).toBe(true);
    expect(t.hasSeen(4)).toBe(false);
    // A history page after 3 ends with seq 6: 4 and 5 were events.
    t.add([message('lobby', 6)]);
    expect(t.contiguousSeq).toBe(3);
    t.holdUpTo(6);
    expect(t.contiguousSeq).toBe(6);
    // A message never lands on a seq known to be an event.
    t.applyEvents([event(8, one, { kind: 'edit', content: 'y' })]);
    expect(t.add([message('lobby', 8)])).toEqual([]);
  });

  it('applies events to the messages they change, each once: a replay of older ones changes nothing', () => {
    const t = new Timeline();
    const one = message('lobby', 1);
    t.add([one]);
    t.holdUpTo(1);
    const live = [
      event(2, one, { kind: 'edit', content: 'first edit' }),
      event(3, one, { kind: 'reaction', emoji: '👍', on: true, count: 1 }),
      event(4, one, { kind: 'edit', content: 'second edit' }),
    ];
    expect(t.applyEvents(live)).toBe(true);
    const after = t.byId(one.id);
    expect(after).toMatchObject({ content: 'second edit', reactions: [{ emoji: '👍', count: 1, users: [BOB] }] });
    const list = t.messages();
    // Replayed after a reconnect from an older since_seq: no flicker back to "first edit".
    expect(t.applyEvents(live.slice(0, 2))).toBe(false);
    expect(t.byId(one.id)).toBe(after);
    expect(t.messages()).toBe(list);
  });

  it('keeps an event for a message not held yet and applies it when the message arrives', () => {
    const t = new Timeline();
    t.holdUpTo(10);
    const old = message('lobby', 3); // not loaded yet: an older page
    t.applyEvents([event(11, old, { kind: 'edit', content: 'edited while unloaded' })]);
    expect(t.contiguousSeq).toBe(11);
    // The history page was read before the edit: it brings the old text.
    t.add([old]);
    expect(t.byId(old.id)?.content).toBe('edited while unloaded');
    // Dropped when the client could not follow the room (events may be missing).
    const older = message('lobby', 2);
    t.applyEvents([event(12, older, { kind: 'delete' })]);
    t.forgetOrphans();
    t.add([older]);
    expect(t.byId(older.id)?.deleted).toBeUndefined();
  });

  it('refreshes held messages from a later page, unless an event after the head changed them', () => {
    const t = new Timeline();
    const a = message('lobby', 1);
    const b = message('lobby', 2);
    t.add([a, b]);
    t.holdUpTo(2);
    t.applyEvents([event(9, b, { kind: 'edit', content: 'live edit' })]);
    const changed = t.refresh(
      [
        { ...a, content: 'edited in the gap' },
        { ...b, content: 'stale' },
      ],
      8,
    );
    expect(changed).toBe(true);
    expect(t.byId(a.id)?.content).toBe('edited in the gap');
    expect(t.byId(b.id)?.content).toBe('live edit');
  });
});
