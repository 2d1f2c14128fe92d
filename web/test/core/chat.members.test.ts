import type WS from 'jest-websocket-mock';
import { describe, expect, it, vi } from 'vitest';
import type { ChatClient, ChatEvents } from '../../src/core/chat';
import { MemoryKeyValue, loadRoomList } from '../../src/core/prefs';
import type { ClientFrame } from '../../src/core/protocol';
import { MemoryStores } from '../../src/core/stores';
import {
  BOB,
  CAROL,
  FakeHistory,
  ME,
  makeClient,
  makeSignedInClient,
  message,
  mockServer,
  notice,
  welcome,
} from '../helpers/fixtures';

const PLANS = 'p/0123456789abcdef0123456789abcdef';
const DM = 'dm/0123456789abcdef0123456789abcdef';

function received(server: WS): ClientFrame[] {
  return server.messages as ClientFrame[];
}

function joins(server: WS): string[] {
  return received(server).flatMap((f) => (f.type === 'join' ? [f.room] : []));
}

function removedEvents(client: ChatClient): ChatEvents['removed'][] {
  const seen: ChatEvents['removed'][] = [];
  client.on('removed', (e) => seen.push(e));
  return seen;
}

/** Ada, signed in, connected, in the lobby; `setup` fills the fake server first. */
async function online(setup: (history: FakeHistory) => void = () => {}, options: { prefs?: MemoryKeyValue } = {}) {
  const history = new FakeHistory();
  setup(history);
  const stores = new MemoryStores();
  const t = makeSignedInClient({ history, stores, prefs: options.prefs ?? new MemoryKeyValue() });
  const server = mockServer();
  t.client.start();
  await server.connected;
  server.send(welcome());
  await vi.waitFor(() => expect(t.client.getSnapshot().status.state).toBe('online'));
  return { ...t, server, stores };
}

function roomsRequests(history: FakeHistory): number {
  return history.requests.filter((u) => u.pathname === '/v1/rooms').length;
}

describe('ChatClient: your private and direct rooms', () => {
  it('adds and joins the private and direct rooms GET /v1/rooms lists, by their titles and peers', async () => {
    const { client, server } = await online((h) => {
      h.roomsApi.addRoom(PLANS, { title: 'Plans', topic: 'Q3' }, [{ user_id: ME, name: 'Ada', role: 'owner' }]);
      h.roomsApi.addRoom(DM, {}, [
        { user_id: ME, name: 'Ada', role: 'member' },
        { user_id: BOB, name: 'Bob', role: 'member' },
      ]);
      // Not Ada's: never listed to her.
      h.roomsApi.addRoom('p/ffffffffffffffffffffffffffffffff', { title: 'Secret' }, [
        { user_id: BOB, name: 'Bob', role: 'owner' },
      ]);
    });
    await vi.waitFor(() => expect(client.getSnapshot().myRooms).toEqual(['lobby', DM, PLANS]));
    await vi.waitFor(() => expect(joins(server)).toEqual(expect.arrayContaining([PLANS, DM])));
    const { roomMeta, directory } = client.getSnapshot();
    expect(roomMeta[PLANS]).toMatchObject({ visibility: 'private', title: 'Plans', topic: 'Q3', role: 'owner' });
    expect(roomMeta[DM]).toMatchObject({ visibility: 'direct', peer: { user_id: BOB, name: 'Bob' } });
    expect(directory.map((r) => r.name)).not.toContain('p/ffffffffffffffffffffffffffffffff');
    expect(client.roleIn(PLANS)).toBe('owner');
    client.stop();
  });

  it('on `added` shows the room at once, joins it, and reads the directory for its title', async () => {
    const { client, server, history } = await online();
    await vi.waitFor(() => expect(roomsRequests(history)).toBe(1));
    history.roomsApi.addRoom(PLANS, { title: 'Plans' }, [
      { user_id: BOB, name: 'Bob', role: 'owner' },
      { user_id: ME, name: 'Ada', role: 'member' },
    ]);
    server.send({ type: 'room', room: PLANS, change: 'added' });
    await vi.waitFor(() => expect(client.getSnapshot().myRooms).toContain(PLANS));
    await vi.waitFor(() => expect(joins(server)).toContain(PLANS));
    await vi.waitFor(() => expect(client.getSnapshot().roomMeta[PLANS]?.title).toBe('Plans'));
    expect(roomsRequests(history)).toBe(2);
    client.stop();
  });

  it('on `renamed` reads the directory again, once, at a moment of its own', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      const { client, server, history } = await online();
      await vi.waitFor(() => expect(roomsRequests(history)).toBe(1));
      server.send({ type: 'room', room: 'lobby', change: 'renamed' });
      server.send({ type: 'room', room: 'lobby', change: 'renamed' });
      await vi.advanceTimersByTimeAsync(3100);
      await vi.waitFor(() => expect(roomsRequests(history)).toBe(2));
      await vi.advanceTimersByTimeAsync(3100);
      expect(roomsRequests(history)).toBe(2);
      client.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('shows member and room events as notices, keeps your role and the title they leave', async () => {
    const { client, server } = await online((h) => {
      h.roomsApi.addRoom(PLANS, { title: 'Plans' }, [{ user_id: ME, name: 'Ada', role: 'member' }]);
      h.add(PLANS, message(PLANS, 1));
    });
    await vi.waitFor(() => expect(client.getSnapshot().rooms[PLANS]).toBeDefined());
    server.send({ type: 'joined', room: PLANS, seq: 1, epoch: 1, recovered: false });
    await vi.waitFor(() => expect(client.getSnapshot().rooms[PLANS]?.messages).toHaveLength(1));
    server.send({
      type: 'events',
      room: PLANS,
      data: [
        notice(PLANS, 2, { kind: 'member', member: CAROL, member_name: 'Carol', action: 'added', role: 'member' }),
        notice(PLANS, 3, { kind: 'member', member: ME, member_name: 'Ada', action: 'role', role: 'moderator' }),
        notice(PLANS, 4, { kind: 'room', created: false, visibility: 'private', title: 'Launch', topic: 'Q3' }),
        notice(PLANS, 5, { kind: 'member', member: CAROL, member_name: 'Carol', action: 'kicked', reason: 'spam' }),
      ],
    });
    await vi.waitFor(() => expect(client.getSnapshot().rooms[PLANS]?.notices).toHaveLength(4));
    const view = client.getSnapshot().rooms[PLANS];
    expect(view?.notices.map((n) => n.text)).toEqual([
      'Bob added Carol',
      'Bob made you a moderator',
      'Bob renamed the room to Launch and changed the topic to “Q3”',
      'Bob removed Carol: spam',
    ]);
    // New to this client, the room is all news: Bob's message, but none of the notices.
    expect(view?.unread).toBe(1);
    expect(client.getSnapshot().roomMeta[PLANS]).toMatchObject({ title: 'Launch', topic: 'Q3', role: 'moderator' });
    expect(client.roleIn(PLANS)).toBe('moderator');
    client.stop();
  });

  it('keeps notices in the local cache: a reload shows them before the network answers', async () => {
    const prefs = new MemoryKeyValue();
    const history = new FakeHistory();
    history.roomsApi.addRoom(PLANS, { title: 'Plans' }, [{ user_id: ME, name: 'Ada', role: 'owner' }]);
    history.add(PLANS, message(PLANS, 1));
    const stores = new MemoryStores();
    const first = makeSignedInClient({ history, stores, prefs });
    const server = mockServer();
    first.client.start();
    await server.connected;
    server.send(welcome());
    await vi.waitFor(() => expect(first.client.getSnapshot().rooms[PLANS]).toBeDefined());
    server.send({ type: 'joined', room: PLANS, seq: 1, epoch: 1, recovered: false });
    await vi.waitFor(() => expect(first.client.getSnapshot().rooms[PLANS]?.messages).toHaveLength(1));
    server.send({
      type: 'events',
      room: PLANS,
      data: [notice(PLANS, 2, { kind: 'member', member: CAROL, member_name: 'Carol', action: 'added' })],
    });
    await vi.waitFor(() => expect(first.client.getSnapshot().rooms[PLANS]?.notices).toHaveLength(1));
    await new Promise((r) => setTimeout(r, 300));
    first.client.stop();
    server.close();

    const again = makeSignedInClient({ history, stores, prefs });
    await again.client.whenReady();
    expect(again.client.getSnapshot().rooms[PLANS]?.notices.map((n) => n.text)).toEqual(['Bob added Carol']);
  });
});

describe('ChatClient: a room new to you is read from its start', () => {
  it('joins a small room you were added to with since_seq 0, so its first notices are replayed', async () => {
    const { client, server, history } = await online();
    history.roomsApi.addRoom(PLANS, { title: 'Plans', last_seq: 3 }, [
      { user_id: BOB, name: 'Bob', role: 'owner' },
      { user_id: ME, name: 'Ada', role: 'member' },
    ]);
    server.send({ type: 'room', room: PLANS, change: 'added' });
    await vi.waitFor(() => expect(received(server)).toContainEqual({ type: 'join', room: PLANS, since_seq: 0 }));
    server.send({ type: 'joined', room: PLANS, seq: 3, epoch: 7, recovered: true });
    server.send({
      type: 'events',
      room: PLANS,
      recovered: true,
      data: [
        notice(PLANS, 1, { kind: 'room', created: true, visibility: 'private', title: 'Plans', topic: '' }),
        notice(PLANS, 2, { kind: 'member', member: BOB, member_name: 'Bob', action: 'added', role: 'owner' }),
        notice(PLANS, 3, { kind: 'member', member: ME, member_name: 'Ada', action: 'added', role: 'member' }),
      ],
    });
    await vi.waitFor(() =>
      expect(client.getSnapshot().rooms[PLANS]?.notices.map((n) => n.text)).toEqual([
        'Bob created the room',
        'Bob joined',
        'Bob added you',
      ]),
    );
    // No page of history was needed.
    expect(history.historyCalls(PLANS)).toEqual([]);
    client.stop();
  });

  it('a direct room’s beginning (made, the two of you added) shows no notices', async () => {
    const { client, server } = await online();
    const opened = await client.openDirect(BOB);
    const room = opened.ok ? opened.room : '';
    server.send({ type: 'joined', room, seq: 3, epoch: 7, recovered: true });
    server.send({
      type: 'events',
      room,
      recovered: true,
      data: [
        notice(room, 1, { kind: 'room', created: true, visibility: 'direct', topic: '' }, { user_id: ME, name: 'Ada' }),
        notice(room, 2, { kind: 'member', member: ME, member_name: 'Ada', action: 'added', role: 'member' }),
        notice(room, 3, { kind: 'member', member: BOB, member_name: 'Bob', action: 'added', role: 'member' }),
      ],
    });
    server.send({ type: 'messages', room, data: [message(room, 4)] });
    await vi.waitFor(() => expect(client.getSnapshot().rooms[room]?.messages).toHaveLength(1));
    expect(client.getSnapshot().rooms[room]?.notices).toEqual([]);
    client.stop();
  });

  it('reads a large one as any other: its latest page', async () => {
    const { client, server, history } = await online((h) => {
      h.roomsApi.addRoom(PLANS, { title: 'Plans', last_seq: 5000 }, [{ user_id: ME, name: 'Ada', role: 'member' }]);
    });
    await vi.waitFor(() => expect(joins(server)).toContain(PLANS));
    expect(received(server)).toContainEqual({ type: 'join', room: PLANS });
    await vi.waitFor(() => expect(history.historyCalls(PLANS)).toEqual(['latest']));
    client.stop();
  });
});

describe('ChatClient: creating rooms and opening conversations', () => {
  it('creates a private room with members: in your rooms at once, joined, you its owner', async () => {
    const { client, server, history } = await online();
    const result = await client.createPrivateRoom({ title: '  Plans ', topic: 'Q3', members: [BOB, BOB, ME] });
    expect(result.ok).toBe(true);
    const room = result.ok ? result.room : '';
    expect(room).toMatch(/^p\//);
    expect(history.roomsApi.calls.at(-1)?.body).toEqual({
      visibility: 'private',
      title: 'Plans',
      topic: 'Q3',
      members: [BOB],
    });
    expect(client.getSnapshot().myRooms).toContain(room);
    expect(client.getSnapshot().roomMeta[room]).toMatchObject({ title: 'Plans', role: 'owner' });
    await vi.waitFor(() => expect(joins(server)).toContain(room));
    client.stop();
  });

  it('says what is wrong before asking, and the server’s sentence after', async () => {
    const { client, history } = await online();
    expect(await client.createPrivateRoom({ title: '  ' })).toEqual({ ok: false, error: 'Give the room a title.' });
    expect(await client.createPrivateRoom({ title: 'x'.repeat(81) })).toEqual({
      ok: false,
      error: 'A title has at most 80 characters.',
    });
    const calls = history.roomsApi.calls.length;
    expect(calls).toBe(0);
    const missing = '7d1c0c7e-2d41-4c55-9a53-7b2f4f9e6a10';
    expect(await client.createPrivateRoom({ title: 'Plans', members: [missing] })).toEqual({
      ok: false,
      error: `No such account (members: ${missing}).`,
    });
    client.stop();
  });

  it('a guest creates no room and opens no conversation, and asks nothing', async () => {
    const { client, history } = makeClient({ identity: { name: 'Guesty' } });
    await client.whenReady();
    expect(await client.createPrivateRoom({ title: 'Plans' })).toEqual({
      ok: false,
      error: 'Sign in to create a private room.',
    });
    expect(await client.openDirect(BOB)).toEqual({ ok: false, error: 'Sign in to send direct messages.' });
    expect(history.roomsApi.calls).toEqual([]);
  });

  it('opens a direct conversation, the same one the next time, named by the other person', async () => {
    const { client, history } = await online();
    const first = await client.openDirect(BOB);
    expect(first.ok).toBe(true);
    const room = first.ok ? first.room : '';
    expect(client.getSnapshot().roomMeta[room]).toMatchObject({ visibility: 'direct', peer: { name: 'Bob' } });
    expect(await client.openDirect(BOB)).toEqual({ ok: true, room });
    expect(history.roomsApi.calls.filter((c) => c.path === '/v1/dm')).toHaveLength(1);
    client.stop();
  });

  it('finds people by name, and says so when nobody has that name', async () => {
    const { client } = await online();
    expect(await client.lookupUser('bob')).toEqual({ ok: true, user: { user_id: BOB, name: 'Bob' } });
    expect(await client.lookupUser('Zed')).toEqual({ ok: false, error: 'Nobody has an account called “Zed”.' });
    client.stop();
  });
});

describe('ChatClient: members and moderation', () => {
  async function ownerOfPlans() {
    const t = await online((h) => {
      h.roomsApi.addRoom(PLANS, { title: 'Plans' }, [
        { user_id: ME, name: 'Ada', role: 'owner' },
        { user_id: BOB, name: 'Bob', role: 'member' },
      ]);
      h.add(PLANS, message(PLANS, 1, { user_id: BOB, name: 'Bob', content: 'spam spam' }));
    });
    await vi.waitFor(() => expect(t.client.getSnapshot().roomMeta[PLANS]?.role).toBe('owner'));
    t.server.send({ type: 'joined', room: PLANS, seq: 1, epoch: 1, recovered: false });
    await vi.waitFor(() => expect(t.client.getSnapshot().rooms[PLANS]?.messages).toHaveLength(1));
    return t;
  }

  it('reads the members, and reads them again after a change', async () => {
    const { client } = await ownerOfPlans();
    await client.loadRoomDetails(PLANS);
    expect(client.getSnapshot().roomMembers[PLANS]).toMatchObject({
      loading: false,
      error: null,
      banned: [],
      members: [
        { user_id: ME, role: 'owner' },
        { user_id: BOB, role: 'member' },
      ],
    });
    expect(await client.inviteMember(PLANS, CAROL)).toBeNull();
    await vi.waitFor(() => expect(client.getSnapshot().roomMembers[PLANS]?.members).toHaveLength(3));
    expect(await client.setMemberRole(PLANS, CAROL, 'moderator')).toBeNull();
    await vi.waitFor(() =>
      expect(client.getSnapshot().roomMembers[PLANS]?.members.find((m) => m.user_id === CAROL)?.role).toBe('moderator'),
    );
    expect(await client.banMember(PLANS, BOB, 'spam')).toBeNull();
    await vi.waitFor(() =>
      expect(client.getSnapshot().roomMembers[PLANS]?.banned).toEqual([{ user_id: BOB, name: 'Bob' }]),
    );
    expect(await client.unbanMember(PLANS, BOB)).toBeNull();
    await vi.waitFor(() => expect(client.getSnapshot().roomMembers[PLANS]?.banned).toEqual([]));
    client.stop();
  });

  it('an owner deletes anyone’s message; a member only their own', async () => {
    const { client, server } = await ownerOfPlans();
    const bobs = client.getSnapshot().rooms[PLANS]?.messages[0];
    expect(client.deleteMessage(PLANS, bobs?.id ?? '')).toBeNull();
    await vi.waitFor(() =>
      expect(received(server)).toContainEqual(expect.objectContaining({ type: 'delete', room: PLANS, id: bobs?.id })),
    );
    // Shown at once, as your own deletes are.
    expect(client.getSnapshot().rooms[PLANS]?.messages[0]?.deleted).toBe(true);

    server.send({
      type: 'events',
      room: PLANS,
      data: [notice(PLANS, 2, { kind: 'member', member: ME, member_name: 'Ada', action: 'role', role: 'member' })],
    });
    await vi.waitFor(() => expect(client.roleIn(PLANS)).toBe('member'));
    server.send({ type: 'messages', room: PLANS, data: [message(PLANS, 3, { user_id: BOB, name: 'Bob' })] });
    await vi.waitFor(() => expect(client.getSnapshot().rooms[PLANS]?.messages).toHaveLength(2));
    const next = client.getSnapshot().rooms[PLANS]?.messages[1];
    expect(client.deleteMessage(PLANS, next?.id ?? '')).toBe('Only its author or a moderator can delete a message.');
    client.stop();
  });

  it('leaving a private room takes it out of your rooms without a removal notice; its `left` tells nothing more', async () => {
    const { client, server, prefs } = await ownerOfPlans();
    const removed = removedEvents(client);
    // The last owner, with Bob still in: the server says what to do.
    expect(await client.leaveMembership(PLANS)).toEqual({ ok: false, error: 'Make another member owner first.' });
    expect(client.getSnapshot().myRooms).toContain(PLANS);
    expect(await client.setMemberRole(PLANS, BOB, 'owner')).toBeNull();
    expect(await client.leaveMembership(PLANS)).toEqual({ ok: true, next: 'lobby' });
    expect(client.getSnapshot().myRooms).toEqual(['lobby']);
    expect(client.getSnapshot().roomMeta[PLANS]).toBeUndefined();
    expect(loadRoomList(prefs, ME)).toEqual(['lobby']);
    server.send({ type: 'left', room: PLANS, reason: 'left' });
    await new Promise((r) => setTimeout(r, 20));
    expect(client.getSnapshot().removals).toEqual([]);
    expect(removed).toEqual([]);
    // A directory read after it does not bring it back.
    await client.refreshDirectory();
    expect(client.getSnapshot().myRooms).toEqual(['lobby']);
    client.stop();
  });

  it('removed by a moderator: the notice names the room by its title, and the directory forgets it', async () => {
    const { client, server } = await ownerOfPlans();
    const removed = removedEvents(client);
    client.openRoom(PLANS);
    server.send({ type: 'left', room: PLANS, reason: 'removed by Carol: spam' });
    await vi.waitFor(() =>
      expect(client.getSnapshot().removals).toEqual([
        { room: PLANS, text: 'You were removed from Plans: removed by Carol: spam.' },
      ]),
    );
    expect(removed).toEqual([{ room: PLANS, next: 'lobby' }]);
    expect(client.getSnapshot().directory.map((r) => r.name)).not.toContain(PLANS);
    client.stop();
  });
});

describe('ChatClient: a private room you are not in', () => {
  it('a refused join takes the room away with the server’s reason, and the page is told to move on', async () => {
    const { client, server, history } = await online();
    const removed = removedEvents(client);
    // Someone else's room, opened by its address.
    history.roomsApi.addRoom(PLANS, { title: 'Secret' }, [{ user_id: BOB, name: 'Bob', role: 'owner' }]);
    client.openRoom(PLANS);
    await vi.waitFor(() => expect(joins(server)).toContain(PLANS));
    server.send({ type: 'error', code: 'forbidden', message: `not a member of room ${PLANS}`, room: PLANS });
    await vi.waitFor(() => expect(client.getSnapshot().myRooms).toEqual(['lobby']));
    expect(client.getSnapshot().removals).toEqual([
      { room: PLANS, text: `You can't open this private room: not a member of room ${PLANS}.` },
    ]);
    expect(client.getSnapshot().notice).toBeNull();
    expect(removed).toEqual([{ room: PLANS, next: 'lobby' }]);
    // Nor is it joined again on the next connection.
    expect(joins(server).filter((r) => r === PLANS)).toHaveLength(1);
    client.stop();
  });

  it('a 403 on its history does the same, even before the socket says', async () => {
    const history = new FakeHistory();
    history.roomsApi.addRoom(PLANS, {}, [{ user_id: BOB, name: 'Bob', role: 'owner' }]);
    const original = history.fetch.getMockImplementation();
    history.fetch.mockImplementation(async (input, init) => {
      const url = new URL(String(input), 'http://chat.test');
      if (url.pathname === '/v1/chat/messages' && url.searchParams.get('room') === PLANS) {
        return {
          ok: false,
          status: 403,
          headers: new Headers(),
          json: () => Promise.resolve({ error: 'forbidden', message: `not a member of room ${PLANS}` }),
        } as Response;
      }
      return original!(input, init);
    });
    const { client } = makeSignedInClient({ history });
    await client.whenReady();
    client.openRoom(PLANS);
    await vi.waitFor(() => expect(client.getSnapshot().removals).toHaveLength(1));
    expect(client.getSnapshot().myRooms).toEqual(['lobby']);
    expect(client.getSnapshot().rooms[PLANS]).toBeUndefined();
  });
});
