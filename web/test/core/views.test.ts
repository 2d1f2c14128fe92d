import { describe, expect, it } from 'vitest';
import { newEntry } from '../../src/core/outbox';
import { StoredMessageViews, pendingMessageView, storedMessageView, unreadCount } from '../../src/core/views';
import { BOB, ME, message } from '../helpers/fixtures';

describe('message views', () => {
  it('keys your own stored message by client_id, like its optimistic copy', () => {
    const mine = message('lobby', 1, { user_id: ME, client_id: 'c1' });
    expect(storedMessageView(mine, ME)).toMatchObject({ key: 'c:c1', own: true, status: 'sent' });
    expect(storedMessageView(mine, BOB)).toMatchObject({ key: `i:${mine.id}`, own: false, status: null });
    const pending = pendingMessageView(newEntry('c1', 'lobby', 'hi', 'now'), ME, 'Ada');
    expect(pending).toMatchObject({ key: 'c:c1', seq: null, own: true, status: 'sending', name: 'Ada', userId: ME });
  });

  it('keeps one view per message until the identity changes', () => {
    const views = new StoredMessageViews();
    expect(views.setOwner(ME)).toBe(true);
    expect(views.setOwner(ME)).toBe(false);
    const m = message('lobby', 1);
    const first = views.get(m);
    expect(views.get(m)).toBe(first);
    views.setOwner(BOB);
    expect(views.get(m)).not.toBe(first);
    expect(views.get(m).own).toBe(true);
  });

  it('counts messages from others after the read position', () => {
    const stored = [
      message('lobby', 1),
      message('lobby', 2),
      message('lobby', 3, { user_id: ME }),
      message('lobby', 4),
    ];
    expect(unreadCount(stored, 1, ME)).toBe(2);
    expect(unreadCount(stored, 4, ME)).toBe(0);
    expect(unreadCount(stored, null, ME)).toBe(0);
  });
});
