import { describe, expect, it } from 'vitest';
import { newEntry } from '../../src/core/outbox';
import {
  StoredMessageViews,
  firstLine,
  firstUnread,
  messageExtras,
  pendingMessageView,
  storedMessageView,
  unreadCount,
  type MessageContext,
} from '../../src/core/views';
import { BOB, CAROL, ME, message } from '../helpers/fixtures';

describe('message views', () => {
  it('keys your own stored message by client_id, like its optimistic copy', () => {
    const mine = message('lobby', 1, { user_id: ME, client_id: 'c1' });
    expect(storedMessageView(mine, ME)).toMatchObject({ key: 'c:c1', own: true, status: 'sent' });
    expect(storedMessageView(mine, BOB)).toMatchObject({ key: `i:${mine.id}`, own: false, status: null });
    const pending = pendingMessageView(newEntry('c1', 'lobby', 'hi', 'now'), ME, 'Ada', 'guest');
    expect(pending).toMatchObject({ key: 'c:c1', seq: null, own: true, status: 'sending', name: 'Ada', userId: ME });
  });

  it("carries the kind of identity that posted a message; a message that says none is a guest's", () => {
    // As the server sends them: the field left out for a guest, and cached messages from before it had one.
    expect(storedMessageView(message('lobby', 1), ME).principal).toBe('guest');
    expect(storedMessageView(message('lobby', 2, { principal: 'account' }), ME).principal).toBe('account');
    expect(storedMessageView(message('lobby', 3, { principal: 'bot' }), ME).principal).toBe('bot');
    const external = message('lobby', 4, { principal: 'external', external_id: 'app-user-7' });
    expect(storedMessageView(external, ME).principal).toBe('external');
    // Yours not stored yet: whoever you are now is who will post it.
    const entry = newEntry('c1', 'lobby', 'hi', 'now');
    expect(pendingMessageView(entry, ME, 'Ada', 'account').principal).toBe('account');
    expect(pendingMessageView(entry, ME, 'Ada', 'guest').principal).toBe('guest');
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
    expect(unreadCount([...stored, message('lobby', 5, { deleted: true, content: '' })], 1, ME)).toBe(2);
  });

  it('puts the "New messages" line above the first message by someone else after the watermark', () => {
    const stored = [
      message('lobby', 1),
      message('lobby', 2),
      message('lobby', 4, { user_id: ME }), // seq 3 was an event
      message('lobby', 5, { deleted: true, content: '' }),
      message('lobby', 6),
      message('lobby', 7),
    ];
    expect(firstUnread(stored, 2, ME)?.seq).toBe(6);
    expect(firstUnread(stored, 1, ME)?.seq).toBe(2);
    expect(firstUnread(stored, 7, ME)).toBeNull();
    // Unknown, or a first visit (everything is new): no line.
    expect(firstUnread(stored, null, ME)).toBeNull();
    expect(firstUnread(stored, 0, ME)).toBeNull();
  });
});

describe('message extras', () => {
  const original = message('lobby', 1, { name: 'Bob', content: 'Lunch?\nAt noon' });
  const ctx: MessageContext = {
    nameOf: (id) => ({ [BOB]: 'Bob', [CAROL]: 'Carol', [ME]: 'You' })[id] ?? id,
    original: (id) => (id === original.id ? original : undefined),
    readersOf: (seq) => (seq <= 2 ? [BOB, CAROL] : [BOB]),
  };

  it("shows a reply's original by its first line, who read your messages, and who reacted", () => {
    const reply = message('lobby', 2, {
      user_id: ME,
      reply_to: original.id,
      reactions: [{ emoji: '👍', count: 2, users: [CAROL, ME] }],
    });
    const view = storedMessageView(reply, ME, messageExtras(reply, ME, ctx));
    expect(view.replyTo).toEqual({ id: original.id, loaded: true, name: 'Bob', excerpt: 'Lunch?', deleted: false });
    expect(view.readBy).toEqual(['Bob', 'Carol']);
    expect(view.reactions).toEqual([{ emoji: '👍', count: 2, mine: true, names: ['Carol', 'You'] }]);
    // Not yours: no receipts shown. A reply to something not loaded says so.
    const theirs = message('lobby', 3, { reply_to: 'NOT-HELD' });
    expect(storedMessageView(theirs, ME, messageExtras(theirs, ME, ctx))).toMatchObject({
      readBy: [],
      replyTo: { id: 'NOT-HELD', loaded: false },
    });
    expect(firstLine('x'.repeat(200), 10)).toBe(`${'x'.repeat(9)}…`);
  });

  it('keeps the same view while nothing it shows changed', () => {
    const views = new StoredMessageViews();
    views.setOwner(ME);
    const mine = message('lobby', 2, { user_id: ME });
    const first = views.get(mine, messageExtras(mine, ME, ctx));
    expect(views.get(mine, messageExtras(mine, ME, ctx))).toBe(first);
    const carolLeft = { ...ctx, readersOf: () => [BOB] };
    expect(views.get(mine, messageExtras(mine, ME, carolLeft)).readBy).toEqual(['Bob']);
  });
});
