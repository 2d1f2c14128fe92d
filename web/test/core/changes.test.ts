import { describe, expect, it } from 'vitest';
import { withChanges } from '../../src/core/changes';
import { newChange } from '../../src/core/outbox';
import { BOB, ME, message } from '../helpers/fixtures';

const AT = '2026-11-22T21:00:00.000Z';

describe('withChanges', () => {
  it('lays your pending edit, reactions and delete over the stored message, in the order made', () => {
    const stored = message('lobby', 1, { user_id: ME, reactions: [{ emoji: '👍', count: 1, users: [BOB] }] });
    const edit = newChange('e1', 'lobby', { kind: 'edit', target: stored.id, content: 'better' }, AT);
    const thumbs = newChange('r1', 'lobby', { kind: 'react', target: stored.id, emoji: '👍', on: true }, AT);
    const party = newChange('r2', 'lobby', { kind: 'react', target: stored.id, emoji: '🎉', on: true }, AT);
    const shown = withChanges(stored, [edit, thumbs, party], ME);
    expect(shown).toMatchObject({ content: 'better', edited_at: AT });
    expect(shown.reactions).toEqual([
      { emoji: '👍', count: 2, users: [BOB, ME] },
      { emoji: '🎉', count: 1, users: [ME] },
    ]);
    expect(stored.content).toBe('message 1');

    const unthumb = newChange('r3', 'lobby', { kind: 'react', target: stored.id, emoji: '👍', on: false }, AT);
    expect(withChanges(stored, [thumbs, unthumb], ME).reactions).toEqual([{ emoji: '👍', count: 1, users: [BOB] }]);
    // Already so: nothing to lay over.
    expect(withChanges(stored, [unthumb], ME)).toBe(stored);

    const del = newChange('d1', 'lobby', { kind: 'delete', target: stored.id }, AT);
    expect(withChanges(stored, [edit, del, party], ME)).toMatchObject({ content: '', deleted: true });
    expect(withChanges(stored, [edit, del, party], ME)).not.toHaveProperty('reactions');
  });
});
