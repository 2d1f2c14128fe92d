import WS from 'jest-websocket-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ChatClient } from '../../src/core/chat';
import type { ClientFrame } from '../../src/core/protocol';
import { MemoryStore } from '../../src/core/store';
import { FakeHistory, ME, makeClient, message, mockServer, welcome } from '../helpers/fixtures';

// The connection is made with real timers (the mock socket delivers on timers
// too), then the clock is faked to step through the waits between resends.
afterEach(() => {
  vi.useRealTimers();
});

// As on the wire (JSON numbers).
const RATE_LIMITED = { code: 'rate_limited', message: 'slow down', retry_after_ms: 1500 };
const UNAVAILABLE = { code: 'storage_unavailable', message: 'the store is unavailable' };

function received(server: WS): ClientFrame[] {
  return server.messages as ClientFrame[];
}

/** The `messages` and change frames received for `clientId`. */
function sendsOf(server: WS, clientId: string): ClientFrame[] {
  return received(server).filter(
    (f) =>
      (f.type === 'messages' && f.data.some((m) => m.client_id === clientId)) ||
      ((f.type === 'edit' || f.type === 'delete' || f.type === 'react') && f.client_id === clientId),
  );
}

function lobby(client: ChatClient) {
  const view = client.getSnapshot().rooms.lobby;
  if (!view) throw new Error('no lobby');
  return view;
}

function counter(): () => string {
  let n = 0;
  return () => `c-${++n}`;
}

/** A client online in a joined lobby holding Bob's message, with the clock faked from here on. */
async function online() {
  const history = new FakeHistory();
  const bobs = message('lobby', 1, { content: 'from Bob' });
  history.add('lobby', bobs);
  const store = new MemoryStore();
  // No jitter: the waits are exactly 1 s, 2 s, …
  const t = makeClient({ history, store, identity: { name: 'Ada' }, newClientId: counter(), random: () => 0 });
  const server = mockServer();
  t.client.start();
  await server.connected;
  server.send(welcome());
  server.send({ type: 'joined', room: 'lobby', seq: 1, epoch: 1, recovered: false });
  await vi.waitFor(() => expect(lobby(t.client).joined).toBe(true));
  t.client.openRoom('lobby');
  await vi.waitFor(() => expect(lobby(t.client).messages).toHaveLength(1));
  vi.useFakeTimers();
  return { ...t, store, server, bobs };
}

/** Lets the mock socket deliver what was sent (it does so a few ms later). */
async function deliver() {
  await vi.advanceTimersByTimeAsync(10);
}

function refuseMessages(server: WS, clientIds: string[], error: object) {
  server.send({ type: 'message_ids', status: 'error', message_ids: [], client_ids: clientIds, error });
}

function refuseChange(server: WS, clientId: string, error: object) {
  server.send({ type: 'ack', client_id: clientId, status: 'error', error });
}

describe('ChatClient: resending what was refused for a reason that may pass', () => {
  it('resends a message refused as rate_limited after retry_after_ms, not before, with the same client_id', async () => {
    const { client, server } = await online();
    client.send('lobby', 'too fast');
    await deliver();
    expect(sendsOf(server, 'c-1')).toHaveLength(1);

    refuseMessages(server, ['c-1'], RATE_LIMITED);
    expect(lobby(client).messages[1]).toMatchObject({
      status: 'failed',
      retryable: true,
      error: expect.stringMatching(/faster than the server allows\. It will be sent again by itself/),
    });

    await vi.advanceTimersByTimeAsync(1499);
    expect(lobby(client).messages[1]?.status).toBe('failed');
    await vi.advanceTimersByTimeAsync(1);
    expect(lobby(client).messages[1]?.status).toBe('sending');
    await deliver();
    expect(sendsOf(server, 'c-1')).toEqual([
      { type: 'messages', data: [{ content: 'too fast', client_id: 'c-1', room: 'lobby' }] },
      { type: 'messages', data: [{ content: 'too fast', client_id: 'c-1', room: 'lobby' }] },
    ]);

    // Stored this time: nothing more goes.
    server.send({ type: 'message_ids', status: 'success', message_ids: ['01ID'], client_ids: ['c-1'] });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sendsOf(server, 'c-1')).toHaveLength(2);
    client.stop();
  });

  it('backs off 1 s, then 2 s, while a change is refused as storage_unavailable', async () => {
    const { client, server, bobs } = await online();
    client.react('lobby', bobs.id, '👍', true);
    await deliver();
    expect(sendsOf(server, 'c-1')).toHaveLength(1);

    refuseChange(server, 'c-1', UNAVAILABLE);
    expect(lobby(client).messages[0]?.change?.state).toBe('failed');
    await vi.advanceTimersByTimeAsync(999);
    expect(lobby(client).messages[0]?.change?.state).toBe('failed');
    await vi.advanceTimersByTimeAsync(1);
    expect(lobby(client).messages[0]?.change?.state).toBe('sending');
    await deliver();
    expect(sendsOf(server, 'c-1')).toHaveLength(2);

    refuseChange(server, 'c-1', UNAVAILABLE);
    await vi.advanceTimersByTimeAsync(1999);
    expect(lobby(client).messages[0]?.change?.state).toBe('failed');
    await vi.advanceTimersByTimeAsync(1);
    expect(lobby(client).messages[0]?.change?.state).toBe('sending');
    await deliver();
    expect(sendsOf(server, 'c-1')).toEqual([
      ...Array.from({ length: 3 }, () => ({
        type: 'react',
        room: 'lobby',
        id: bobs.id,
        emoji: '👍',
        on: true,
        client_id: 'c-1',
      })),
    ]);
    // Still shown as made throughout.
    expect(lobby(client).messages[0]?.reactions).toMatchObject([{ emoji: '👍', mine: true }]);
    client.stop();
  });

  it('sends at once on Retry, without a second resend when the wait ends, and starts the backoff over', async () => {
    const { client, server } = await online();
    client.send('lobby', 'hello');
    await deliver();
    refuseMessages(server, ['c-1'], UNAVAILABLE);
    await vi.advanceTimersByTimeAsync(1000);
    await deliver();
    refuseMessages(server, ['c-1'], UNAVAILABLE); // the next wait would be 2 s
    expect(sendsOf(server, 'c-1')).toHaveLength(2);

    client.retry('c-1');
    client.retry('c-1'); // already on its way: not sent twice
    await deliver();
    expect(sendsOf(server, 'c-1')).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(5000);
    expect(sendsOf(server, 'c-1')).toHaveLength(3);

    // Refused again: 1 s, as after a first refusal.
    refuseMessages(server, ['c-1'], UNAVAILABLE);
    await vi.advanceTimersByTimeAsync(1000);
    await deliver();
    expect(sendsOf(server, 'c-1')).toHaveLength(4);
    client.stop();
  });

  it('does not resend what was undone or settled meanwhile', async () => {
    const { client, server, bobs, store } = await online();
    client.react('lobby', bobs.id, '🎉', true);
    client.send('lobby', 'stored after all');
    await deliver();
    refuseChange(server, 'c-1', UNAVAILABLE);
    refuseMessages(server, ['c-2'], UNAVAILABLE);

    // The reaction is undone; the message turns out stored (an earlier send got through).
    client.discard('c-1');
    server.send({
      type: 'messages',
      room: 'lobby',
      data: [message('lobby', 2, { user_id: ME, name: 'Ada', content: 'stored after all', client_id: 'c-2' })],
    });
    expect(lobby(client).messages.map((m) => m.status)).toEqual([null, 'sent']);

    await vi.advanceTimersByTimeAsync(60_000);
    expect(sendsOf(server, 'c-1')).toHaveLength(1);
    expect(sendsOf(server, 'c-2')).toHaveLength(1);
    expect(store.outbox.size).toBe(0);
    client.stop();
  });

  it('holds resends while offline and sends them on the next connection', async () => {
    const { client, server, bobs } = await online();
    client.send('lobby', 'written before the drop');
    client.react('lobby', bobs.id, '👀', true);
    await deliver();
    refuseMessages(server, ['c-1'], UNAVAILABLE);
    refuseChange(server, 'c-2', UNAVAILABLE);

    server.close();
    await deliver();
    WS.clean();
    expect(client.getSnapshot().status.state).not.toBe('online');
    await vi.advanceTimersByTimeAsync(5000);
    // Due long ago, but there is nowhere to send them.
    expect(lobby(client).messages[1]?.status).toBe('failed');
    expect(lobby(client).messages[0]?.change?.state).toBe('failed');

    const next = mockServer();
    await vi.advanceTimersByTimeAsync(50);
    expect(received(next)).toEqual([]);
    next.send(welcome());
    await deliver();
    expect(sendsOf(next, 'c-1')).toEqual([
      { type: 'messages', data: [{ content: 'written before the drop', client_id: 'c-1', room: 'lobby' }] },
    ]);
    // A change waits for the room to be joined again.
    expect(sendsOf(next, 'c-2')).toEqual([]);
    next.send({ type: 'joined', room: 'lobby', seq: 1, epoch: 1, recovered: true });
    await deliver();
    expect(sendsOf(next, 'c-2')).toEqual([
      { type: 'react', room: 'lobby', id: bobs.id, emoji: '👀', on: true, client_id: 'c-2' },
    ]);
    client.stop();
  });

  it('resends after a reload what an earlier visit had refused for a reason that may pass', async () => {
    const store = new MemoryStore();
    const at = '2026-01-01T00:00:00.000Z';
    store.outbox.set('old-1', {
      client_id: 'old-1',
      room: 'lobby',
      content: 'try again',
      created_at: at,
      status: 'failed',
      error: 'Busy.',
      retryable: true,
    });
    store.outbox.set('old-2', {
      client_id: 'old-2',
      room: 'lobby',
      content: 'x'.repeat(10),
      created_at: at,
      status: 'failed',
      error: 'Too large.',
    });
    const { client } = makeClient({ store, identity: { name: 'Ada' } });
    await client.whenReady();
    expect(lobby(client).messages.map((m) => m.status)).toEqual(['failed', 'failed']);
    const server = mockServer();
    client.start();
    await server.connected;
    server.send(welcome());
    await vi.waitFor(() => expect(sendsOf(server, 'old-1')).toHaveLength(1));
    // Refused for good last time: it waits for you.
    expect(sendsOf(server, 'old-2')).toEqual([]);
    expect(lobby(client).messages.map((m) => m.status)).toEqual(['sending', 'failed']);
    client.stop();
  });
});
