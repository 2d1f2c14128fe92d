import { describe, expect, it } from 'vitest';
import { Timeline } from '../../src/core/timeline';
import { event, message, notice } from '../helpers/fixtures';

const ROOM = 'p/0123456789abcdef0123456789abcdef';

describe('Timeline: member and room events (no target)', () => {
  it('keeps them as notices by seq, accounts for their seqs, and changes no message', () => {
    const t = new Timeline();
    t.holdUpTo(0);
    const first = message(ROOM, 1);
    t.add([first]);
    const added = notice(ROOM, 2, { kind: 'member', member: 'b', member_name: 'Bob', action: 'added', role: 'member' });
    const renamed = notice(ROOM, 3, { kind: 'room', created: false, visibility: 'private', title: 'Plans', topic: '' });
    expect(t.applyEvents([added, renamed])).toBe(true);
    expect(t.notices().map((n) => n.seq)).toEqual([2, 3]);
    expect(t.contiguousSeq).toBe(3);
    expect(t.messages()).toEqual([first]);
    expect(t.latestSeq()).toBe(3);
    // Replayed: nothing new.
    expect(t.applyEvents([added])).toBe(false);
    expect(t.notices()).toHaveLength(2);
    // A message after them, and an edit among them, as ever.
    t.add([message(ROOM, 4)]);
    expect(t.applyEvents([event(5, first, { kind: 'edit', content: 'changed' })])).toBe(true);
    expect(t.byId(first.id)?.content).toBe('changed');
    expect(t.contiguousSeq).toBe(5);
  });

  it('skips a change that names no message rather than breaking', () => {
    const t = new Timeline();
    t.holdUpTo(0);
    const m = message(ROOM, 1);
    t.add([m]);
    const broken = { ...event(2, m, { kind: 'delete' }), target: undefined };
    expect(() => t.applyEvents([broken])).not.toThrow();
    expect(t.byId(m.id)?.deleted).toBeUndefined();
    expect(t.contiguousSeq).toBe(2);
  });

  it('restores notices from the cache and drops them when the history changes', () => {
    const t = new Timeline();
    const n = notice(ROOM, 2, { kind: 'member', member: 'b', member_name: 'Bob', action: 'left' });
    t.restore([message(ROOM, 1)], 2, [n]);
    expect(t.notices()).toEqual([n]);
    t.clear();
    expect(t.notices()).toEqual([]);
  });
});
