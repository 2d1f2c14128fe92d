import type WS from 'jest-websocket-mock';
import { describe, expect, it, vi } from 'vitest';
import type { ChatClient, ChatSnapshot } from '../../src/core/chat';
import { MemoryKeyValue, loadIdentity, saveRoomList } from '../../src/core/prefs';
import type { ClientFrame } from '../../src/core/protocol';
import { MemoryStore } from '../../src/core/store';
import {
  BOB,
  CAROL,
  FakeHistory,
  ME,
  makeClient,
  message,
  mockServer,
  restartServer,
  welcome,
} from '../helpers/fixtures';

/** Everything the mock server has received so far, as frames. */
function received(server: WS): ClientFrame[] {
  return server.messages as ClientFrame[];
}

function lobby(client: ChatClient) {
  const room = client.getSnapshot().rooms.lobby;
  if (!room) throw new Error('no lobby');
  return room;
}

/** Starts the client against `server` and completes the handshake for `rooms`. */
async function connect(client: ChatClient, server: WS, joined: Record<string, { seq: number; epoch?: number }> = {}) {
  client.start();
  await server.connected;
  server.send(welcome());
  for (const [room, j] of Object.entries(joined)) {
    server.send({ type: 'joined', room, seq: j.seq, epoch: j.epoch ?? 1, recovered: false });
  }
  await vi.waitFor(() => expect(client.getSnapshot().status.state).toBe('online'));
}

describe('ChatClient: joining and history', () => {
  it('shows the latest page of history at once, then joins from where it ends', async () => {
    const history = new FakeHistory();
    history.add('lobby', message('lobby', 1), message('lobby', 2, { content: 'hi' }));
    const { client } = makeClient({ history, identity: { name: 'Ada' } });
    client.openRoom('lobby');
    await vi.waitFor(() => expect(lobby(client).messages.map((m) => m.content)).toEqual(['message 1', 'hi']));
    expect(lobby(client).loaded).toBe(true);

    const server = mockServer();
    await connect(client, server);
    await expect(server).toReceiveMessage({ type: 'join', room: 'lobby', since_seq: 2 });
    server.send({ type: 'joined', room: 'lobby', seq: 3, epoch: 5, recovered: true });
    server.send({ type: 'messages', room: 'lobby', recovered: true, data: [message('lobby', 3)] });
    await vi.waitFor(() => expect(lobby(client).messages.map((m) => m.seq)).toEqual([1, 2, 3]));
    expect(lobby(client).joined).toBe(true);
    client.stop();
  });

  it('joins without since_seq when it has no history yet, and loads it after joined', async () => {
    const history = new FakeHistory();
    history.down = true;
    const { client } = makeClient({ history, identity: { name: 'Ada' } });
    await client.whenReady();
    await vi.waitFor(() => expect(lobby(client).error).toMatch(/reach the server/));
    history.down = false;
    history.add('lobby', message('lobby', 1, { content: 'first' }));
    const server = mockServer();
    await connect(client, server);
    await expect(server).toReceiveMessage({ type: 'join', room: 'lobby' });
    server.send({ type: 'joined', room: 'lobby', seq: 1, epoch: 1, recovered: false });
    await vi.waitFor(() => expect(lobby(client).messages.map((m) => m.content)).toEqual(['first']));
    expect(lobby(client).error).toBeNull();
    client.stop();
  });

  it('reads older pages with before_seq', async () => {
    const history = new FakeHistory();
    history.add('lobby', ...Array.from({ length: 70 }, (_, i) => message('lobby', i + 1)));
    const { client } = makeClient({ history, identity: { name: 'Ada' } });
    await client.whenReady();
    await vi.waitFor(() => expect(lobby(client).messages).toHaveLength(50));
    expect(lobby(client).hasMoreBefore).toBe(true);
    await client.loadOlder('lobby');
    expect(lobby(client).messages.map((m) => m.seq)).toEqual(Array.from({ length: 70 }, (_, i) => i + 1));
    expect(lobby(client).hasMoreBefore).toBe(false);
    expect(history.historyCalls('lobby')).toEqual(['latest', 'before_seq=21']);
  });
});

describe('ChatClient: sending', () => {
  it('shows a message at once as sending, then sent with its id, and once only after the broadcast', async () => {
    const { client } = makeClient({ identity: { name: 'Ada' }, newClientId: () => 'c-1' });
    const server = mockServer();
    await connect(client, server, { lobby: { seq: 0 } });
    client.openRoom('lobby');

    expect(client.send('lobby', '  hello  ')).toBeNull();
    expect(lobby(client).messages).toMatchObject([{ content: 'hello', status: 'sending', own: true, id: null }]);
    await vi.waitFor(() =>
      expect(received(server)).toContainEqual({
        type: 'messages',
        data: [{ content: 'hello', client_id: 'c-1', room: 'lobby' }],
      }),
    );

    server.send({ type: 'message_ids', status: 'success', message_ids: ['01ID'], client_ids: ['c-1'] });
    await vi.waitFor(() => expect(lobby(client).messages).toMatchObject([{ status: 'sent', id: '01ID' }]));

    server.send({
      type: 'messages',
      room: 'lobby',
      data: [message('lobby', 1, { id: '01ID', user_id: ME, name: 'Ada', content: 'hello', client_id: 'c-1' })],
    });
    await vi.waitFor(() => expect(lobby(client).messages[0]?.seq).toBe(1));
    expect(lobby(client).messages).toHaveLength(1);
    expect(lobby(client).messages[0]).toMatchObject({ key: 'c:c-1', status: 'sent', own: true });
    client.stop();
  });

  it('marks a refused message failed with the reason, and resends it with the same client_id', async () => {
    const { client } = makeClient({ identity: { name: 'Ada' }, newClientId: () => 'c-9' });
    const server = mockServer();
    await connect(client, server, { lobby: { seq: 0 } });
    client.send('lobby', 'try me');
    await vi.waitFor(() => expect(received(server).filter((f) => f.type === 'messages')).toHaveLength(1));

    server.send({
      type: 'message_ids',
      status: 'error',
      message_ids: [],
      client_ids: ['c-9'],
      error: { code: 'storage_unavailable', message: 'the store is unavailable; nothing was stored, retry later' },
    });
    await vi.waitFor(() => expect(lobby(client).messages[0]?.status).toBe('failed'));
    expect(lobby(client).messages[0]?.error).toBe(
      'The server could not save it just now. Nothing was stored. It will be sent again by itself in a moment.',
    );

    client.retry('c-9');
    expect(lobby(client).messages[0]?.status).toBe('sending');
    await vi.waitFor(() => expect(received(server).filter((f) => f.type === 'messages')).toHaveLength(2));
    const resent = received(server).filter((f) => f.type === 'messages')[1];
    expect(resent).toEqual({ type: 'messages', data: [{ content: 'try me', client_id: 'c-9', room: 'lobby' }] });
    client.stop();
  });

  it('keeps messages written offline and sends them once connected', async () => {
    const { client } = makeClient({ identity: { name: 'Ada' }, newClientId: () => 'offline-1' });
    client.send('lobby', 'written on the train');
    expect(lobby(client).messages).toMatchObject([{ status: 'sending' }]);
    const server = mockServer();
    await connect(client, server);
    await vi.waitFor(() =>
      expect(received(server)).toContainEqual({
        type: 'messages',
        data: [{ content: 'written on the train', client_id: 'offline-1', room: 'lobby' }],
      }),
    );
    client.stop();
  });

  it('after a reconnect resends what was not acked, with the same client_id, and shows it once', async () => {
    const store = new MemoryStore();
    const history = new FakeHistory();
    history.add('lobby', ...[1, 2, 3, 4].map((seq) => message('lobby', seq)));
    const { client } = makeClient({ store, history, identity: { name: 'Ada' }, newClientId: () => 'c-lost' });
    let server = mockServer();
    await connect(client, server, { lobby: { seq: 4 } });
    client.openRoom('lobby');
    await vi.waitFor(() => expect(lobby(client).messages).toHaveLength(4));
    client.send('lobby', 'did this arrive?');
    await vi.waitFor(() => expect(received(server).some((f) => f.type === 'messages')).toBe(true));
    expect([...store.outbox.keys()]).toEqual(['c-lost']);

    // The connection drops before the ack: the message may or may not be stored.
    server = await restartServer(server);
    await server.connected;
    server.send(welcome());
    await expect(server).toReceiveMessage({ type: 'join', room: 'lobby', since_seq: 4, epoch: 1 });
    await expect(server).toReceiveMessage({
      type: 'messages',
      data: [{ content: 'did this arrive?', client_id: 'c-lost', room: 'lobby' }],
    });

    // It was stored before the drop: the replay brings it, the ack repeats its id.
    server.send({ type: 'joined', room: 'lobby', seq: 5, epoch: 1, recovered: true });
    server.send({
      type: 'messages',
      room: 'lobby',
      recovered: true,
      data: [
        message('lobby', 5, {
          id: '01ORIG',
          user_id: ME,
          name: 'Ada',
          content: 'did this arrive?',
          client_id: 'c-lost',
        }),
      ],
    });
    server.send({ type: 'message_ids', status: 'success', message_ids: ['01ORIG'], client_ids: ['c-lost'] });
    await vi.waitFor(() => expect(store.outbox.size).toBe(0));
    const mine = lobby(client).messages.filter((m) => m.content === 'did this arrive?');
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ id: '01ORIG', seq: 5, status: 'sent' });
    client.stop();
  });

  it('resends the outbox of an earlier visit (reload) on connect', async () => {
    const store = new MemoryStore();
    await store.saveOutbox({
      client_id: 'from-before',
      room: 'lobby',
      content: 'sent just before the reload',
      created_at: new Date().toISOString(),
      status: 'sending',
    });
    const { client } = makeClient({ store, identity: { name: 'Ada', userId: ME, token: 't' } });
    await client.whenReady();
    expect(lobby(client).messages).toMatchObject([{ content: 'sent just before the reload', status: 'sending' }]);
    const server = mockServer();
    await connect(client, server);
    await vi.waitFor(() =>
      expect(received(server)).toContainEqual({
        type: 'messages',
        data: [{ content: 'sent just before the reload', client_id: 'from-before', room: 'lobby' }],
      }),
    );
    client.stop();
  });

  it('refuses empty and over-long messages without sending', () => {
    const { client } = makeClient({ identity: { name: 'Ada' } });
    expect(client.send('lobby', '   ')).toMatch(/empty/);
    expect(client.send('lobby', 'x'.repeat(4001))).toMatch(/4000/);
    expect(lobby(client).messages).toHaveLength(0);
  });
});

describe('ChatClient: recovery', () => {
  it('joins with since_seq and epoch after a reconnect and drops replayed duplicates by seq', async () => {
    const history = new FakeHistory();
    history.add('lobby', message('lobby', 1), message('lobby', 2));
    const { client } = makeClient({ history, identity: { name: 'Ada' } });
    let server = mockServer();
    await connect(client, server, { lobby: { seq: 2, epoch: 77 } });
    await vi.waitFor(() => expect(lobby(client).messages).toHaveLength(2));

    server = await restartServer(server);
    await server.connected;
    server.send(welcome());
    await expect(server).toReceiveMessage({ type: 'join', room: 'lobby', since_seq: 2, epoch: 77 });
    server.send({ type: 'joined', room: 'lobby', seq: 4, epoch: 77, recovered: true });
    server.send({ type: 'messages', room: 'lobby', recovered: true, data: [message('lobby', 3), message('lobby', 4)] });
    // A duplicate (e.g. a live copy racing the replay) is ignored.
    server.send({ type: 'messages', room: 'lobby', data: [message('lobby', 4, { content: 'dup' })] });
    await vi.waitFor(() => expect(lobby(client).messages.map((m) => m.seq)).toEqual([1, 2, 3, 4]));
    expect(lobby(client).messages.some((m) => m.content === 'dup')).toBe(false);
    expect(history.historyCalls('lobby')).toEqual(['latest']);
    client.stop();
  });

  it('reads the gap over HTTP with after_seq when the server could not recover', async () => {
    const history = new FakeHistory();
    history.add('lobby', message('lobby', 1), message('lobby', 2));
    const { client } = makeClient({ history, identity: { name: 'Ada' } });
    let server = mockServer();
    await connect(client, server, { lobby: { seq: 2 } });
    await vi.waitFor(() => expect(lobby(client).messages).toHaveLength(2));

    history.add('lobby', message('lobby', 3), message('lobby', 4), message('lobby', 5));
    server = await restartServer(server);
    await server.connected;
    server.send(welcome());
    server.send({ type: 'joined', room: 'lobby', seq: 5, epoch: 1, recovered: false });
    await vi.waitFor(() => expect(lobby(client).messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]));
    // The held messages are read again too: no replay told of their edits and reactions.
    await vi.waitFor(() => expect(history.historyCalls('lobby')).toEqual(['latest', 'after_seq=2', 'before_seq=3']));
    client.stop();
  });

  it('starts over from the latest page when the room history was reset (new epoch)', async () => {
    const history = new FakeHistory();
    history.add('lobby', message('lobby', 1, { content: 'old 1' }), message('lobby', 2, { content: 'old 2' }));
    const { client } = makeClient({ history, identity: { name: 'Ada' } });
    let server = mockServer();
    await connect(client, server, { lobby: { seq: 2, epoch: 1 } });
    await vi.waitFor(() => expect(lobby(client).messages).toHaveLength(2));

    history.rooms.set('lobby', [message('lobby', 1, { content: 'new 1' })]);
    server = await restartServer(server);
    await server.connected;
    server.send(welcome());
    server.send({ type: 'joined', room: 'lobby', seq: 1, epoch: 2, recovered: false });
    await vi.waitFor(() => expect(lobby(client).messages.map((m) => m.content)).toEqual(['new 1']));
    client.stop();
  });
});

describe('ChatClient: presence, typing, unread', () => {
  it('lists the online users of a room from presence frames', async () => {
    const { client } = makeClient({ identity: { name: 'Ada' } });
    const server = mockServer();
    await connect(client, server, { lobby: { seq: 0 } });
    server.send({
      type: 'presence',
      room: 'lobby',
      users: [
        { user_id: ME, name: 'Ada' },
        { user_id: BOB, name: 'Bob' },
      ],
    });
    await vi.waitFor(() => expect(lobby(client).presence.map((u) => u.name)).toEqual(['Ada', 'Bob']));
    client.stop();
    expect(lobby(client).presence).toEqual([]);
  });

  it('applies presence_changes to the list, and a full presence replaces it', async () => {
    const { client } = makeClient({ identity: { name: 'Ada' } });
    const server = mockServer();
    await connect(client, server, { lobby: { seq: 0 } });
    server.send({ type: 'presence', room: 'lobby', users: [{ user_id: ME, name: 'Ada' }] });
    await vi.waitFor(() => expect(lobby(client).presence.map((u) => u.name)).toEqual(['Ada']));
    server.send({ type: 'presence_changes', room: 'lobby', joined: [{ user_id: BOB, name: 'Bob' }], left: [] });
    await vi.waitFor(() => expect(lobby(client).presence.map((u) => u.name)).toEqual(['Ada', 'Bob']));
    server.send({ type: 'presence_changes', room: 'lobby', joined: [{ user_id: BOB, name: 'Abe' }], left: [] });
    await vi.waitFor(() => expect(lobby(client).presence.map((u) => u.name)).toEqual(['Abe', 'Ada']));
    server.send({ type: 'presence_changes', room: 'lobby', joined: [], left: [BOB] });
    await vi.waitFor(() => expect(lobby(client).presence.map((u) => u.name)).toEqual(['Ada']));
    server.send({ type: 'presence_changes', room: 'elsewhere', joined: [{ user_id: BOB, name: 'Bob' }], left: [] });
    server.send({ type: 'presence', room: 'lobby', users: [{ user_id: BOB, name: 'Bob' }] });
    await vi.waitFor(() => expect(lobby(client).presence.map((u) => u.name)).toEqual(['Bob']));
    client.stop();
  });

  it('sends a join refused as rate_limited again after retry_after_ms, without a notice', async () => {
    const { client } = makeClient({ identity: { name: 'Ada' } });
    const server = mockServer();
    await connect(client, server);
    await expect(server).toReceiveMessage({ type: 'join', room: 'lobby', since_seq: 0 });
    server.send({ type: 'error', code: 'rate_limited', message: 'slow down', room: 'lobby', retry_after_ms: 5 });
    await expect(server).toReceiveMessage({ type: 'join', room: 'lobby', since_seq: 0 });
    expect(client.getSnapshot().notice).toBeNull();
    server.send({ type: 'joined', room: 'lobby', seq: 0, epoch: 0, recovered: false });
    await vi.waitFor(() => expect(lobby(client).joined).toBe(true));
    client.stop();
  });

  it('shows who is typing for a few seconds, and sends typing at most every 2 s', async () => {
    let now = 1_000_000;
    const { client } = makeClient({ identity: { name: 'Ada' }, now: () => now, typingShowMs: 30 });
    const server = mockServer();
    await connect(client, server, { lobby: { seq: 0 } });
    await vi.waitFor(() => expect(lobby(client).joined).toBe(true));

    client.notifyTyping('lobby');
    client.notifyTyping('lobby');
    now += 1999;
    client.notifyTyping('lobby');
    now += 1;
    client.notifyTyping('lobby');
    await vi.waitFor(() => expect(received(server).filter((f) => f.type === 'typing')).toHaveLength(2));

    // A guest's frame says no kind; an account's says so.
    server.send({ type: 'typing', room: 'lobby', user_id: BOB, name: 'Bob' });
    server.send({ type: 'typing', room: 'lobby', user_id: CAROL, name: 'Carol', principal: 'account' });
    await vi.waitFor(() =>
      expect(lobby(client).typing).toEqual([
        { userId: BOB, name: 'Bob', principal: 'guest' },
        { userId: CAROL, name: 'Carol', principal: 'account' },
      ]),
    );
    now += 31;
    await vi.waitFor(() => expect(lobby(client).typing).toEqual([]));
    client.stop();
  });

  it('counts unread messages from others in rooms other than the open one', async () => {
    const prefs = new MemoryKeyValue();
    saveRoomList(prefs, ['lobby', 'acme/general']);
    const { client } = makeClient({ prefs, identity: { name: 'Ada' } });
    const server = mockServer();
    await connect(client, server, { lobby: { seq: 0 }, 'acme/general': { seq: 0 } });
    client.openRoom('lobby');
    await vi.waitFor(() => expect(client.getSnapshot().rooms['acme/general']?.loaded).toBe(true));

    server.send({
      type: 'messages',
      room: 'acme/general',
      data: [message('acme/general', 1), message('acme/general', 2), message('acme/general', 3, { user_id: ME })],
    });
    server.send({ type: 'messages', room: 'lobby', data: [message('lobby', 1)] });
    const general = (s: ChatSnapshot) => s.rooms['acme/general'];
    await vi.waitFor(() => expect(general(client.getSnapshot())?.unread).toBe(2));
    expect(lobby(client).unread).toBe(0);

    client.openRoom('acme/general');
    expect(general(client.getSnapshot())?.unread).toBe(0);
    client.stop();
  });

  it('takes read state from the server, tells it what was read, and follows its other devices', async () => {
    const prefs = new MemoryKeyValue();
    saveRoomList(prefs, ['lobby', 'acme/general']);
    const history = new FakeHistory();
    history.add('acme/general', message('acme/general', 1), message('acme/general', 2), message('acme/general', 3));
    const { client } = makeClient({ prefs, history, identity: { name: 'Ada' } });
    const server = mockServer();
    await connect(client, server, { lobby: { seq: 0 } });
    client.openRoom('lobby');
    // Another device of Ada's read up to 2: one unread here too.
    server.send({ type: 'joined', room: 'acme/general', seq: 3, epoch: 1, recovered: false, read_seq: 2, unread: 1 });
    const general = () => client.getSnapshot().rooms['acme/general'];
    await vi.waitFor(() => expect(general()?.unread).toBe(1));

    // Reading it here tells the server.
    client.openRoom('acme/general');
    await vi.waitFor(() => expect(received(server)).toContainEqual({ type: 'read', room: 'acme/general', seq: 3 }));

    // Back in the lobby, a new message is unread until another device reads it.
    client.openRoom('lobby');
    server.send({ type: 'messages', room: 'acme/general', data: [message('acme/general', 4)] });
    await vi.waitFor(() => expect(general()?.unread).toBe(1));
    server.send({ type: 'receipt', room: 'acme/general', user_id: BOB, seq: 4 });
    server.send({ type: 'receipt', room: 'acme/general', user_id: ME, seq: 4 });
    await vi.waitFor(() => expect(general()?.unread).toBe(0));
    client.stop();
  });
});

describe('ChatClient: identity and local cache', () => {
  it('keeps the token from welcome, and forgets it when the server refuses it', async () => {
    const prefs = new MemoryKeyValue();
    const { client, history } = makeClient({ prefs, identity: { name: 'Ada', token: 'forged', userId: 'x' } });
    client.start();
    // No server at the URL: the attempt with the token fails before opening, and /healthz answers.
    await vi.waitFor(() => expect(loadIdentity(prefs).token).toBeNull());
    expect(history.requests.some((u) => u.pathname === '/healthz')).toBe(true);

    const server = mockServer();
    const socket = await server.connected;
    expect(new URL(socket.url).searchParams.has('token')).toBe(false);
    server.send(welcome(ME, 'fresh-token'));
    await vi.waitFor(() => expect(loadIdentity(prefs)).toEqual({ userId: ME, token: 'fresh-token', name: 'Ada' }));
    client.stop();
  });

  it('shows cached messages before the network answers, and recovers from where the cache ends', async () => {
    const store = new MemoryStore();
    const prefs = new MemoryKeyValue();
    const history = new FakeHistory();
    history.add(
      'lobby',
      message('lobby', 1, { content: 'cached one' }),
      message('lobby', 2, { content: 'cached two' }),
    );
    const first = makeClient({ store, prefs, history, identity: { name: 'Ada' } });
    let server = mockServer();
    await connect(first.client, server, { lobby: { seq: 2, epoch: 9 } });
    await vi.waitFor(() => expect(store.rooms.get('lobby')?.contiguousSeq).toBe(2));
    first.client.stop();

    // "Reload": a new client on the same storage, with the network down.
    history.down = true;
    const second = makeClient({ store, prefs, history: new FakeHistory() });
    await second.client.whenReady();
    expect(lobby(second.client).messages.map((m) => m.content)).toEqual(['cached one', 'cached two']);

    server = await restartServer(server);
    second.client.start();
    await server.connected;
    server.send(welcome());
    await expect(server).toReceiveMessage({ type: 'join', room: 'lobby', since_seq: 2, epoch: 9 });
    second.client.stop();
  });

  it('keeps a draft per room', async () => {
    const store = new MemoryStore();
    const { client } = makeClient({ store });
    client.openRoom('random');
    client.setDraft('lobby', 'for lobby');
    client.setDraft('random', 'for random');
    expect(client.getSnapshot().rooms.lobby?.draft).toBe('for lobby');
    expect(client.getSnapshot().rooms.random?.draft).toBe('for random');
    await vi.waitFor(() =>
      expect(Object.fromEntries(store.drafts)).toEqual({ lobby: 'for lobby', random: 'for random' }),
    );

    const again = makeClient({ store });
    again.client.openRoom('random');
    await again.client.whenReady();
    expect(again.client.getSnapshot().rooms.random?.draft).toBe('for random');
  });
});
