import type WS from 'jest-websocket-mock';
import { describe, expect, it, vi } from 'vitest';
import type { ChatClient, ChatEvents } from '../../src/core/chat';
import { describeRemoval } from '../../src/core/describe';
import { MemoryKeyValue, loadRoomList, saveRoomList } from '../../src/core/prefs';
import type { ClientFrame } from '../../src/core/protocol';
import { MemoryStore } from '../../src/core/store';
import { MemoryStores } from '../../src/core/stores';
import { FakeHistory, makeClient, message, mockServer, restartServer, welcome } from '../helpers/fixtures';

const GENERAL = 'acme/general';

/** Everything the mock server has received so far, as frames. */
function received(server: WS): ClientFrame[] {
  return server.messages as ClientFrame[];
}

/** The rooms of the `join` frames received, in order. */
function joins(server: WS): string[] {
  return received(server).flatMap((f) => (f.type === 'join' ? [f.room] : []));
}

/** Starts the client against `server` and completes the handshake, `rooms` joined (at `heads`, else empty). */
async function connect(client: ChatClient, server: WS, rooms: string[], heads: Record<string, number> = {}) {
  client.start();
  await server.connected;
  server.send(welcome());
  for (const room of rooms) {
    server.send({ type: 'joined', room, seq: heads[room] ?? 0, epoch: 1, recovered: false });
  }
  await vi.waitFor(() => expect(client.getSnapshot().rooms[rooms.at(-1) ?? 'lobby']?.joined).toBe(true));
}

/** A guest in the lobby and #acme/general, online, with #acme/general open. */
async function inTwoRooms(options: { prefs?: MemoryKeyValue; store?: MemoryStore } = {}) {
  const prefs = options.prefs ?? new MemoryKeyValue();
  saveRoomList(prefs, ['lobby', GENERAL]);
  const t = makeClient({ prefs, identity: { name: 'Ada' }, ...(options.store ? { store: options.store } : {}) });
  const server = mockServer();
  await connect(t.client, server, ['lobby', GENERAL]);
  t.client.openRoom(GENERAL);
  return { ...t, server };
}

/** Every `removed` event the client emits. */
function removedEvents(client: ChatClient): ChatEvents['removed'][] {
  const seen: ChatEvents['removed'][] = [];
  client.on('removed', (e) => seen.push(e));
  return seen;
}

describe('ChatClient: taken out of a room by the server (`left`)', () => {
  it('drops the room from the list and the prefs, says why, and tells the page to move on', async () => {
    const { client, server, prefs } = await inTwoRooms();
    const removed = removedEvents(client);

    server.send({ type: 'left', room: GENERAL, reason: 'removed by a moderator' });
    await vi.waitFor(() => expect(client.getSnapshot().myRooms).toEqual(['lobby']));
    const snapshot = client.getSnapshot();
    expect(snapshot.rooms[GENERAL]).toBeUndefined();
    expect(snapshot.currentRoom).toBeNull();
    expect(snapshot.removals).toEqual([
      { room: GENERAL, text: 'You were removed from #acme/general: removed by a moderator.' },
    ]);
    expect(loadRoomList(prefs)).toEqual(['lobby']);
    expect(removed).toEqual([{ room: GENERAL, next: 'lobby' }]);
    // The server took the connection out already: a `leave` would only be refused.
    expect(received(server).some((f) => f.type === 'leave')).toBe(false);
    client.stop();
  });

  it('does not join the room again after a reconnect, nor after a reload', async () => {
    const store = new MemoryStore();
    const prefs = new MemoryKeyValue();
    const { client, server } = await inTwoRooms({ prefs, store });
    await vi.waitFor(() => expect(joins(server)).toEqual(['lobby', GENERAL]));
    server.send({ type: 'left', room: GENERAL, reason: 'removed by a moderator' });
    await vi.waitFor(() => expect(client.getSnapshot().removals).toHaveLength(1));

    const next = await restartServer(server);
    await next.connected;
    next.send(welcome());
    await expect(next).toReceiveMessage({ type: 'join', room: 'lobby', since_seq: 0, epoch: 1 });
    // A frame sent after every join of the handshake: whatever was to be joined has been asked for.
    client.setName('Ada L');
    await expect(next).toReceiveMessage({ type: 'profile', name: 'Ada L' });
    expect(joins(next)).toEqual(['lobby']);
    expect(client.getSnapshot().removals).toHaveLength(1);
    client.stop();

    const reloaded = makeClient({ prefs, store });
    await reloaded.client.whenReady();
    expect(reloaded.client.getSnapshot().myRooms).toEqual(['lobby']);
  });

  it('forgets the room here: its cache, its draft and a read held back', async () => {
    const store = new MemoryStore();
    const history = new FakeHistory();
    history.add(GENERAL, message(GENERAL, 1), message(GENERAL, 2));
    const prefs = new MemoryKeyValue();
    saveRoomList(prefs, ['lobby', GENERAL]);
    // The client's clock stands still until the room is gone: a `read` after the first is held back.
    let clock = 10_000;
    const { client } = makeClient({ prefs, store, history, identity: { name: 'Ada' }, now: () => clock });
    const server = mockServer();
    await connect(client, server, ['lobby', GENERAL], { [GENERAL]: 2 });
    client.openRoom(GENERAL);
    client.setDraft(GENERAL, 'half a thought');
    await vi.waitFor(() => expect(store.rooms.get(GENERAL)?.contiguousSeq).toBe(2));
    await vi.waitFor(() => expect(received(server)).toContainEqual({ type: 'read', room: GENERAL, seq: 2 }));
    // Read further within the second: that `read` waits, and would be refused once out of the room.
    server.send({ type: 'messages', room: GENERAL, data: [message(GENERAL, 3)] });
    await vi.waitFor(() => expect(client.getSnapshot().rooms[GENERAL]?.messages).toHaveLength(3));

    server.send({ type: 'left', room: GENERAL, reason: '' });
    await vi.waitFor(() =>
      expect(client.getSnapshot().removals).toEqual([{ room: GENERAL, text: 'You were removed from #acme/general.' }]),
    );
    await vi.waitFor(() => expect(store.rooms.has(GENERAL)).toBe(false));
    expect(store.drafts.get(GENERAL) ?? '').toBe('');
    clock += 10_000;
    await new Promise((r) => setTimeout(r, 1100));
    expect(received(server).filter((f) => f.type === 'read' && f.room === GENERAL)).toHaveLength(1);
    client.stop();
  });

  it('keeps one notice per room until dismissed, and none once the room is opened again', async () => {
    const prefs = new MemoryKeyValue();
    saveRoomList(prefs, ['lobby', GENERAL, 'random']);
    const { client } = makeClient({ prefs, identity: { name: 'Ada' } });
    const server = mockServer();
    await connect(client, server, ['lobby', GENERAL, 'random']);
    const removed = removedEvents(client);
    client.openRoom('lobby');

    server.send({ type: 'left', room: GENERAL, reason: 'spam' });
    server.send({ type: 'left', room: 'random', reason: 'the room was closed' });
    await vi.waitFor(() => expect(client.getSnapshot().removals.map((r) => r.room)).toEqual([GENERAL, 'random']));
    // The open room stays open.
    expect(removed).toEqual([
      { room: GENERAL, next: 'lobby' },
      { room: 'random', next: 'lobby' },
    ]);
    expect(client.getSnapshot().currentRoom).toBe('lobby');

    client.dismissRemoval('random');
    expect(client.getSnapshot().removals.map((r) => r.room)).toEqual([GENERAL]);

    // Opening it again is the person's own choice: it joins, and the notice has done its job.
    client.openRoom(GENERAL);
    expect(client.getSnapshot().removals).toEqual([]);
    await vi.waitFor(() => expect(joins(server).filter((r) => r === GENERAL)).toHaveLength(2));
    client.stop();
  });

  it('names no next room when the last one is taken away, and has none after a reload either', async () => {
    const prefs = new MemoryKeyValue();
    const { client } = makeClient({ prefs, identity: { name: 'Ada' } });
    const server = mockServer();
    await connect(client, server, ['lobby']);
    client.openRoom('lobby');
    const removed = removedEvents(client);
    server.send({ type: 'left', room: 'lobby', reason: 'banned' });
    await vi.waitFor(() => expect(removed).toEqual([{ room: 'lobby', next: null }]));
    expect(client.getSnapshot().myRooms).toEqual([]);
    client.stop();

    // Not the lobby of a first visit: that is the room taken away.
    const reloaded = makeClient({ prefs });
    await reloaded.client.whenReady();
    expect(reloaded.client.getSnapshot().myRooms).toEqual([]);
    expect(makeClient().client.getSnapshot().myRooms).toEqual(['lobby']);
  });

  it('ignores a `left` for a room it has no more', async () => {
    const { client } = makeClient({ identity: { name: 'Ada' } });
    const server = mockServer();
    await connect(client, server, ['lobby']);
    const removed = removedEvents(client);
    server.send({ type: 'left', room: 'elsewhere', reason: 'removed by a moderator' });
    // A frame after it, to know it was read.
    server.send({ type: 'presence', room: 'lobby', users: [] });
    await new Promise((r) => setTimeout(r, 20));
    expect(client.getSnapshot().removals).toEqual([]);
    expect(client.getSnapshot().myRooms).toEqual(['lobby']);
    expect(removed).toEqual([]);
    client.stop();
  });

  it("drops the account's room from the account's own list, and the notice goes with the account", async () => {
    const history = new FakeHistory();
    const ada = history.accounts.addUser({ email: 'ada@example.com', name: 'Ada' });
    history.accounts.addSession(ada, { here: true });
    const prefs = new MemoryKeyValue();
    saveRoomList(prefs, ['lobby', GENERAL], ada.user_id);
    saveRoomList(prefs, ['lobby', GENERAL]); // the guest's, untouched
    const { client } = makeClient({ history, prefs, stores: new MemoryStores(), identity: { name: 'Guesty' } });
    await client.whenReady();
    expect(client.getSnapshot().account?.userId).toBe(ada.user_id);
    const server = mockServer();
    client.start();
    await server.connected;
    server.send(welcome(ada.user_id, ''));
    server.send({ type: 'left', room: GENERAL, reason: 'removed by a moderator' });
    await vi.waitFor(() => expect(client.getSnapshot().removals).toHaveLength(1));
    expect(loadRoomList(prefs, ada.user_id)).toEqual(['lobby']);
    expect(loadRoomList(prefs)).toEqual(['lobby', GENERAL]);

    // Whoever comes next is not told about Ada's rooms.
    await client.signOut({ forget: false });
    expect(client.getSnapshot().account).toBeNull();
    expect(client.getSnapshot().removals).toEqual([]);
    expect(client.getSnapshot().myRooms).toEqual(['lobby', GENERAL]);
    client.stop();
  });
});

describe('describeRemoval', () => {
  it("quotes the server's reason as one sentence", () => {
    expect(describeRemoval('lobby', 'removed by a moderator')).toBe(
      'You were removed from #lobby: removed by a moderator.',
    );
    expect(describeRemoval('lobby', 'Spam.')).toBe('You were removed from #lobby: Spam.');
    expect(describeRemoval('lobby', 'why?')).toBe('You were removed from #lobby: why?');
    expect(describeRemoval('lobby', '  two\n  lines ')).toBe('You were removed from #lobby: two lines.');
    expect(describeRemoval('acme/general', '   ')).toBe('You were removed from #acme/general.');
  });

  it('cuts a very long reason', () => {
    const text = describeRemoval('lobby', 'x'.repeat(1000));
    expect(text).toBe(`You were removed from #lobby: ${'x'.repeat(300)}…`);
  });
});
