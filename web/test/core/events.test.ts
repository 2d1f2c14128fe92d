import { describe, expect, it } from 'vitest';
import { applyEvent, setReaction, tombstone } from '../../src/core/events';
import type { Message, RoomEvent } from '../../src/core/protocol';
import { BOB, CAROL, ME, event, message } from '../helpers/fixtures';

const fold = (m: Message, events: readonly RoomEvent[]) => events.reduce(applyEvent, m);

describe('applyEvent', () => {
  it('sets the text and edit time of an edit, and changes nothing when applied again', () => {
    const m = message('lobby', 1);
    const edit = event(2, m, { kind: 'edit', content: 'fixed' });
    const edited = applyEvent(m, edit);
    expect(edited).toMatchObject({ content: 'fixed', edited_at: edit.created_at, seq: 1, id: m.id });
    expect(m.content).toBe('message 1');
    expect(applyEvent(edited, edit)).toBe(edited);
  });

  it('leaves a tombstone for a delete: no text, no edit, no reactions; a later edit changes nothing', () => {
    const m = message('lobby', 1, { edited_at: 'x', reactions: [{ emoji: '👍', count: 1, users: [BOB] }] });
    const gone = applyEvent(m, event(2, m, { kind: 'delete' }));
    expect(gone).toEqual({ ...m, content: '', deleted: true, edited_at: undefined, reactions: undefined });
    expect(gone).not.toHaveProperty('reactions');
    expect(applyEvent(gone, event(3, m, { kind: 'edit', content: 'back?' }))).toBe(gone);
    expect(applyEvent(gone, event(3, m, { kind: 'reaction', emoji: '👍', on: true, count: 1 }))).toBe(gone);
    expect(tombstone(gone)).toBe(gone);
  });

  it("sets a reaction's count to the event's and adds or takes the user, dropping an emoji at 0", () => {
    const m = message('lobby', 1);
    const a = applyEvent(m, event(2, m, { kind: 'reaction', emoji: '👍', on: true, count: 1 }, { user_id: ME }));
    const b = applyEvent(a, event(3, m, { kind: 'reaction', emoji: '🎉', on: true, count: 1 }));
    const c = applyEvent(b, event(4, m, { kind: 'reaction', emoji: '👍', on: true, count: 2 }));
    expect(c.reactions).toEqual([
      { emoji: '👍', count: 2, users: [ME, BOB] },
      { emoji: '🎉', count: 1, users: [BOB] },
    ]);
    const d = applyEvent(c, event(5, m, { kind: 'reaction', emoji: '👍', on: false, count: 1 }, { user_id: ME }));
    expect(d.reactions).toEqual([
      { emoji: '👍', count: 1, users: [BOB] },
      { emoji: '🎉', count: 1, users: [BOB] },
    ]);
    const e = applyEvent(d, event(6, m, { kind: 'reaction', emoji: '🎉', on: false, count: 0 }));
    const f = applyEvent(e, event(7, m, { kind: 'reaction', emoji: '👍', on: false, count: 0 }));
    expect(e.reactions).toEqual([{ emoji: '👍', count: 1, users: [BOB] }]);
    expect(f).not.toHaveProperty('reactions');
  });

  it('keeps a count beyond the users it knows (the server lists the first ten)', () => {
    const ten = Array.from({ length: 10 }, (_, i) => `user-${i}`);
    const shown = setReaction([{ emoji: '👍', count: 12, users: ten }], '👍', CAROL, true, 13);
    expect(shown[0]).toMatchObject({ count: 13 });
    expect(shown[0]?.users).toContain(CAROL);
  });

  it('lands on the same state from the message as posted or from its current state, replayed in order', () => {
    const posted = message('lobby', 1);
    const log: RoomEvent[] = [
      event(2, posted, { kind: 'reaction', emoji: '👍', on: true, count: 1 }, { user_id: BOB }),
      event(3, posted, { kind: 'reaction', emoji: '👍', on: true, count: 2 }, { user_id: CAROL }),
      event(4, posted, { kind: 'edit', content: 'edited once' }),
      event(5, posted, { kind: 'reaction', emoji: '❤️', on: true, count: 1 }, { user_id: ME }),
      event(6, posted, { kind: 'reaction', emoji: '👍', on: false, count: 1 }, { user_id: BOB }),
      event(7, posted, { kind: 'edit', content: 'edited twice' }),
    ];
    const current = fold(posted, log);
    expect(current).toMatchObject({
      content: 'edited twice',
      reactions: [
        { emoji: '👍', count: 1, users: [CAROL] },
        { emoji: '❤️', count: 1, users: [ME] },
      ],
    });
    // History gave the current state; a replay from any earlier seq follows it.
    for (let from = 0; from < log.length; from++) expect(fold(current, log.slice(from))).toEqual(current);
    // A replay that starts mid-way from an older state gets there too.
    expect(fold(fold(posted, log.slice(0, 2)), log.slice(1))).toEqual(current);
  });
});
