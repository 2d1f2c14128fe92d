import { describe, expect, it } from 'vitest';
import {
  Attention,
  attentionCount,
  documentTitle,
  loadAttentionPrefs,
  notifyReason,
  unreadMentions,
  type AttentionEnv,
  type AttentionNotice,
  type Permission,
} from '../../src/core/attention';
import type { ChatMessage, ChatSnapshot, RoomView } from '../../src/core/chat';
import { MemoryKeyValue } from '../../src/core/prefs';

const NOW = Date.parse('2026-11-22T20:00:00.000Z');

function msg(seq: number, fields: Partial<ChatMessage> = {}): ChatMessage {
  return {
    key: `i:${seq}`,
    id: `01ID${seq}`,
    seq,
    room: 'lobby',
    userId: 'bob',
    name: 'Bob',
    principal: 'guest',
    content: `message ${seq}`,
    clientId: null,
    createdAt: new Date(NOW - 1000).toISOString(),
    own: false,
    status: null,
    error: null,
    retryable: false,
    replyTo: null,
    editedAt: null,
    deleted: false,
    reactions: [],
    readBy: [],
    change: null,
    attachments: [],
    ...fields,
  };
}

function room(name: string, messages: ChatMessage[], unread = 0): RoomView {
  return { name, messages, unread, loaded: true, jump: null } as unknown as RoomView;
}

/** A source of snapshots the test moves on by hand. */
class Source {
  private listeners = new Set<() => void>();
  snapshot: ChatSnapshot;
  constructor(rooms: RoomView[], current = 'lobby') {
    this.snapshot = this.make(rooms, current);
  }
  private make(rooms: RoomView[], current: string): ChatSnapshot {
    return {
      identity: { userId: 'me', token: null, name: 'Ada' },
      currentRoom: current,
      rooms: Object.fromEntries(rooms.map((r) => [r.name, r])),
      roomMeta: {},
    } as unknown as ChatSnapshot;
  }
  set(rooms: RoomView[], current = 'lobby'): void {
    this.snapshot = this.make(rooms, current);
    for (const l of [...this.listeners]) l();
  }
  getSnapshot = () => this.snapshot;
  subscribe = (l: () => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
}

class FakeEnv implements AttentionEnv {
  isHidden = false;
  perm: Permission = 'granted';
  shown: AttentionNotice[] = [];
  clicks: (() => void)[] = [];
  tones = 0;
  asked = 0;
  private visibility = new Set<() => void>();
  hidden = () => this.isHidden;
  onVisibilityChange = (l: () => void) => {
    this.visibility.add(l);
    return () => this.visibility.delete(l);
  };
  permission = () => this.perm;
  requestPermission = async () => {
    this.asked += 1;
    this.perm = 'granted';
    return this.perm;
  };
  notify = (n: AttentionNotice, onClick: () => void) => {
    this.shown.push(n);
    this.clicks.push(onClick);
  };
  playSound = () => {
    this.tones += 1;
  };
  now = () => NOW;
  setHidden(hidden: boolean) {
    this.isHidden = hidden;
    for (const l of [...this.visibility]) l();
  }
}

describe('the rules', () => {
  const base = { visibility: 'public' as const, myName: 'Ada', muted: false, hidden: true };

  it('notifies of a mention of you, or any direct message, only while hidden and not muted', () => {
    expect(notifyReason(msg(1, { content: 'hi @Ada' }), base)).toBe('mention');
    expect(notifyReason(msg(1, { content: 'hi all' }), base)).toBeNull();
    expect(notifyReason(msg(1, { content: 'hi' }), { ...base, visibility: 'direct' })).toBe('direct');
    expect(notifyReason(msg(1, { content: 'hi @Ada' }), { ...base, hidden: false })).toBeNull();
    expect(notifyReason(msg(1, { content: 'hi @Ada' }), { ...base, muted: true })).toBeNull();
    expect(notifyReason(msg(1, { content: 'hi' }), { ...base, visibility: 'direct', muted: true })).toBeNull();
    // Never your own, a deleted one, or one not stored.
    expect(notifyReason(msg(1, { content: 'hi @Ada', own: true }), base)).toBeNull();
    expect(notifyReason(msg(1, { content: '', deleted: true }), { ...base, visibility: 'direct' })).toBeNull();
    expect(notifyReason(msg(1, { content: 'hi @Ada', seq: null }), base)).toBeNull();
  });

  it('counts in the title the other rooms’ unread and what arrived hidden, muted rooms left out', () => {
    const rooms = { lobby: { unread: 0 }, random: { unread: 3 }, noisy: { unread: 9 } };
    expect(attentionCount(rooms, new Set(['noisy']), 2)).toBe(5);
    expect(attentionCount(rooms, new Set(), 0)).toBe(12);
    expect(documentTitle(5, '#lobby')).toBe('(5) #lobby · WhisperChat');
    expect(documentTitle(0, '#lobby')).toBe('#lobby · WhisperChat');
    expect(documentTitle(3, null)).toBe('(3) WhisperChat');
    expect(documentTitle(120, null)).toBe('(99+) WhisperChat');
  });

  it('counts the unread messages that mention you among the last `unread` by others', () => {
    const messages = [
      msg(1, { content: '@Ada old' }),
      msg(2, { content: 'hi @Ada' }),
      msg(3, { content: 'mine @Ada', own: true }),
      msg(4, { content: 'no mention' }),
      msg(5, { content: '@ada again' }),
    ];
    expect(unreadMentions({ messages, unread: 3 }, 'Ada')).toBe(2);
    expect(unreadMentions({ messages, unread: 0 }, 'Ada')).toBe(0);
    expect(unreadMentions({ messages, unread: 3 }, null)).toBe(0);
  });

  it('reads back what was saved, and defaults for anything else', () => {
    const kv = new MemoryKeyValue();
    expect(loadAttentionPrefs(kv)).toEqual({ sound: false, muted: [], offerDismissed: false });
    kv.set('whisperchat.attention', '{"sound":true,"muted":["lobby",3]}');
    expect(loadAttentionPrefs(kv)).toEqual({ sound: true, muted: ['lobby'], offerDismissed: false });
    kv.set('whisperchat.attention', 'not json');
    expect(loadAttentionPrefs(kv).sound).toBe(false);
  });
});

describe('Attention', () => {
  function setup(rooms: RoomView[] = [room('lobby', [msg(1)]), room('random', [msg(1, { room: 'random' })])]) {
    const source = new Source(rooms);
    const env = new FakeEnv();
    const kv = new MemoryKeyValue();
    const attention = new Attention(source, env, kv);
    const opened: string[] = [];
    attention.start((r) => opened.push(r));
    return { source, env, kv, attention, opened };
  }

  it('notifies of a mention that arrives while hidden, and a click opens its room', () => {
    const { source, env, opened } = setup();
    env.setHidden(true);
    source.set([room('lobby', [msg(1), msg(2, { content: 'hey @Ada, lunch?', name: 'Bob' })]), room('random', [])]);
    expect(env.shown).toEqual([
      {
        title: 'Bob mentioned you in #lobby',
        body: 'hey @Ada, lunch?',
        tag: 'whisperchat:01ID2',
        room: 'lobby',
        reason: 'mention',
      },
    ]);
    env.clicks[0]?.();
    expect(opened).toEqual(['lobby']);
    // Sound is off by default.
    expect(env.tones).toBe(0);
  });

  it('raises nothing for what a room held when first seen, nor for older pages read, nor while visible', () => {
    const { source, env } = setup([room('lobby', [msg(5, { content: '@Ada old news' })])]);
    env.setHidden(true);
    // Older messages read above: not new.
    source.set([room('lobby', [msg(3, { content: '@Ada older' }), msg(5, { content: '@Ada old news' })])]);
    expect(env.shown).toEqual([]);
    env.setHidden(false);
    source.set([room('lobby', [msg(5), msg(6, { content: '@Ada visible' })])]);
    expect(env.shown).toEqual([]);
    // A room seen for the first time, already with messages: its history, not news.
    source.set([room('lobby', [msg(6)]), room('other', [msg(9, { room: 'other', content: '@Ada' })])]);
    expect(env.shown).toEqual([]);
  });

  it('counts what arrives in the open room while hidden, until the tab is shown again', () => {
    const { source, env, attention } = setup();
    env.setHidden(true);
    source.set([room('lobby', [msg(1), msg(2), msg(3, { own: true }), msg(4)]), room('random', [])]);
    expect(attention.getState().hiddenNew).toBe(2);
    env.setHidden(false);
    expect(attention.getState().hiddenNew).toBe(0);
  });

  it('plays the tone with the sound on; a muted room raises nothing; prefs are kept', () => {
    const { source, env, attention, kv } = setup();
    attention.setSound(true);
    expect(env.tones).toBe(1);
    attention.setMuted('random', true);
    env.setHidden(true);
    source.set([
      room('lobby', [msg(1), msg(2, { content: '@Ada one' })]),
      room('random', [msg(1, { room: 'random' }), msg(2, { room: 'random', content: '@Ada two' })]),
    ]);
    expect(env.shown.map((n) => n.room)).toEqual(['lobby']);
    expect(env.tones).toBe(2);
    expect(attention.isMuted('random')).toBe(true);
    expect(loadAttentionPrefs(kv)).toEqual({ sound: true, muted: ['random'], offerDismissed: false });
    // Muted, the open room counts nothing either.
    attention.setMuted('lobby', true);
    source.set([room('lobby', [msg(1), msg(2), msg(3)]), room('random', [])]);
    expect(attention.getState().hiddenNew).toBe(0);
  });

  it('shows nothing without the permission (but still the tone), and asks for it only when told', async () => {
    const { source, env, attention } = setup();
    env.perm = 'default';
    attention.refreshPermission();
    attention.setSound(true);
    env.setHidden(true);
    source.set([room('lobby', [msg(1), msg(2, { content: '@Ada' })]), room('random', [])]);
    expect(env.shown).toEqual([]);
    expect(env.tones).toBe(2);
    expect(env.asked).toBe(0);
    await attention.requestPermission();
    expect(env.asked).toBe(1);
    expect(attention.getState().permission).toBe('granted');
  });

  it('raises nothing for a catch-up of old messages, and at most three at once', () => {
    const { source, env } = setup();
    env.setHidden(true);
    const old = new Date(NOW - 60 * 60 * 1000).toISOString();
    source.set([
      room('lobby', [msg(1), msg(2, { content: '@Ada from an hour ago', createdAt: old })]),
      room('random', []),
    ]);
    expect(env.shown).toEqual([]);
    source.set([
      room('lobby', [msg(2), ...[3, 4, 5, 6, 7].map((s) => msg(s, { content: `@Ada ${s}` }))]),
      room('random', []),
    ]);
    expect(env.shown.map((n) => n.body)).toEqual(['@Ada 3', '@Ada 4', '@Ada 5 (and 2 more)']);
  });

  it('says a direct message by its author, and a message of files by its files', () => {
    const { source, env } = setup([room('dm/me/bob', [])]);
    env.setHidden(true);
    const file = { id: 'f', name: 'a.png' } as unknown as ChatMessage['attachments'][number];
    source.set([room('dm/me/bob', [msg(1, { room: 'dm/me/bob', content: '', attachments: [file, file] })])]);
    expect(env.shown).toMatchObject([{ title: 'Bob', body: 'Sent 2 files', reason: 'direct' }]);
  });
});
