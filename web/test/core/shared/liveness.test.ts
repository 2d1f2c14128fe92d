/**
 * Liveness, with fake timers: a connection pings after a silence and drops a
 * socket that does not answer; an attempt not welcomed in time is dropped;
 * `/healthz` polled while waiting brings it back as soon as the server is;
 * and the hub sends again what goes unanswered.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { vi } from 'vitest';
import { Connection, DEAD_CLOSE_CODE, type ConnectionStatus } from '../../../src/core/connection';
import type { ServerFrame } from '../../../src/core/protocol';
import { SharedTransport } from '../../../src/core/shared/tab';
import { MiniServer, TIMERS, linkTo, memoryHub, settle } from '../../helpers/shared';

const LIVENESS = { idleMs: 15_000, deadMs: 10_000 };

function connection(server: MiniServer, extra: Partial<ConstructorParameters<typeof Connection>[0]> = {}) {
  const conn = new Connection({
    url: 'ws://chat.test/v1/chat/ws',
    credentials: () => ({ name: 'Ada' }),
    WebSocket: server.WebSocket,
    backoff: { initialMs: 1000, maxMs: 30_000, jitter: 0 },
    liveness: LIVENESS,
    ...extra,
  });
  const statuses: ConnectionStatus['state'][] = [];
  const frames: ServerFrame[] = [];
  conn.on('status', (s) => statuses.push(s.state));
  conn.on('frame', (f) => frames.push(f));
  return { conn, statuses, frames };
}

/** Moves the clock on by `ms`, letting every message in flight arrive on the way. */
async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  await settle();
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: [...TIMERS] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('liveness', () => {
  it('pings after 15 s of silence; with a pong it stays on the same socket', async () => {
    const server = new MiniServer();
    const { conn, frames } = connection(server);
    conn.start();
    await settle();
    expect(conn.isOnline).toBe(true);
    await advance(14_999);
    expect(server.received('ping')).toHaveLength(0);
    await advance(1);
    expect(server.received('ping')).toHaveLength(1);
    // Answered: the next ping waits for another silence; still one socket, a minute on.
    await advance(60_000);
    expect(server.received('ping').length).toBeGreaterThanOrEqual(4);
    expect(server.sockets).toHaveLength(1);
    expect(conn.isOnline).toBe(true);
    // The pongs are the connection's own business: the owner never sees them.
    expect(frames.map((f) => f.type)).toEqual(['welcome']);
    conn.stop();
  });

  it('no pong: a second ping halfway, then the socket is dropped and another opened at once', async () => {
    const server = new MiniServer();
    const { conn, statuses } = connection(server);
    conn.start();
    await settle();
    server.answerPings = false;
    await advance(15_000);
    expect(server.received('ping')).toHaveLength(1);
    await advance(5_000);
    expect(server.received('ping')).toHaveLength(2);
    expect(conn.isOnline).toBe(true);
    await advance(5_000);
    // Dead: closed by the client (a dead socket sends no close), and a new one is open.
    expect(server.sockets[0]?.closedByClient?.code).toBe(DEAD_CLOSE_CODE);
    expect(server.sockets).toHaveLength(2);
    expect(conn.isOnline).toBe(true);
    expect(statuses).toEqual(['connecting', 'online', 'connecting', 'online']);
    conn.stop();
  });

  it('any frame counts as life: a busy socket is never pinged', async () => {
    const server = new MiniServer();
    const { conn } = connection(server);
    conn.start();
    await settle();
    for (let i = 0; i < 10; i++) {
      server.post('lobby', `busy ${i}`);
      server.sockets[0]?.push({ type: 'typing', room: 'lobby', user_id: 'x', name: 'Bob' });
      await advance(10_000);
    }
    expect(server.received('ping')).toHaveLength(0);
    expect(server.sockets).toHaveLength(1);
    conn.stop();
  });

  it('a hung server (open, silent): the attempt is dropped after the connect timeout and retried', async () => {
    const server = new MiniServer();
    server.silent = true;
    const { conn, statuses } = connection(server, { connectTimeoutMs: 10_000 });
    conn.start();
    await advance(9_999);
    expect(statuses).toEqual(['connecting']);
    await advance(1);
    expect(statuses).toEqual(['connecting', 'reconnecting']);
    expect(server.sockets[0]?.closedByClient?.code).toBe(DEAD_CLOSE_CODE);
    server.silent = false;
    await advance(1000);
    expect(conn.isOnline).toBe(true);
    conn.stop();
  });

  it('while waiting to reconnect, /healthz is polled: the server back, it reconnects at once, backoff reset', async () => {
    const server = new MiniServer();
    let probes = 0;
    const { conn } = connection(server, {
      probe: async () => {
        probes += 1;
        return server.up;
      },
      probeIntervalMs: 1000,
    });
    conn.start();
    await settle();
    server.up = false;
    server.sockets[0]?.drop(1006);
    // Down for 45 s: the backoff grows to 16 s and more.
    await advance(45_000);
    expect(conn.status.state).toBe('reconnecting');
    const status = conn.status;
    expect(status.state === 'reconnecting' && status.attempt).toBeGreaterThanOrEqual(4);
    const waits = status.state === 'reconnecting' ? status.retryAt - Date.now() : 0;
    expect(waits).toBeGreaterThan(2000);
    expect(probes).toBeGreaterThan(10);
    // Back: within the next probe (1 s), not after the backoff.
    server.up = true;
    await advance(1000);
    await advance(0);
    expect(conn.isOnline).toBe(true);
    conn.stop();
  });

  it('a server that answers /healthz while the socket fails keeps the backoff (no retry every second)', async () => {
    const server = new MiniServer();
    server.up = false; // the WebSocket is refused...
    const { conn } = connection(server, { probe: async () => true, probeIntervalMs: 1000 }); // ...but HTTP answers
    conn.start();
    await advance(10_000);
    // 1 s, 2 s, 4 s: four attempts in 10 s, not ten.
    expect(server.sockets.length).toBeLessThanOrEqual(4);
    conn.stop();
  });
});

describe('the hub: unanswered sends', () => {
  it('a send unanswered for 10 s goes again with the same client_id, and the socket is pinged', async () => {
    const server = new MiniServer();
    const host = memoryHub(server, { connection: { WebSocket: server.WebSocket, liveness: LIVENESS } });
    const tab = new SharedTransport({ credentials: () => ({ name: 'Ada' }) }, linkTo(host));
    const frames: ServerFrame[] = [];
    tab.on('frame', (f) => frames.push(f));
    tab.start();
    await settle();
    expect(tab.isOnline).toBe(true);
    server.holdAnswers = true;
    tab.send({ type: 'messages', data: [{ content: 'slow', client_id: 'c-1', room: 'lobby' }] });
    await advance(9_999);
    expect(server.draftsSeen.get('c-1')).toBe(1);
    await advance(1);
    expect(server.draftsSeen.get('c-1')).toBe(2);
    expect(server.received('ping')).toHaveLength(1);
    // Answered at last (both copies, with the same id): the tab hears one answer.
    server.release();
    await settle();
    const acks = frames.filter((f) => f.type === 'message_ids');
    expect(acks).toHaveLength(1);
    expect(server.stored()).toHaveLength(1);
    tab.stop();
  });

  it('a send into a dead socket: retried, the ping unanswered, the socket replaced, sent once on the new one', async () => {
    const server = new MiniServer();
    const host = memoryHub(server, {
      connection: {
        WebSocket: server.WebSocket,
        liveness: LIVENESS,
        backoff: { initialMs: 1000, maxMs: 1000, jitter: 0 },
      },
    });
    const tab = new SharedTransport({ credentials: () => ({ name: 'Ada' }) }, linkTo(host));
    const statuses: string[] = [];
    tab.on('status', (s) => statuses.push(s.state));
    tab.start();
    await settle();
    // The socket dies silently: frames go in, nothing comes out.
    const first = server.sockets[0];
    if (first) first.dead = true;
    tab.send({ type: 'messages', data: [{ content: 'into the void', client_id: 'c-2', room: 'lobby' }] });
    await advance(10_000); // unanswered: sent again, and pinged
    expect(first?.sent.filter((f) => f.type === 'ping')).toHaveLength(1);
    await advance(10_000); // no pong within 10 s: dropped, a new socket opened
    expect(server.sockets[0]?.closedByClient?.code).toBe(DEAD_CLOSE_CODE);
    await advance(0);
    expect(tab.isOnline).toBe(true);
    const second = server.sockets[1];
    expect(second?.sent.filter((f) => f.type === 'messages').flatMap((f) => f.data.map((d) => d.client_id))).toEqual([
      'c-2',
    ]);
    expect(server.stored().map((m) => m.content)).toEqual(['into the void']);
    expect(statuses).toContain('connecting');
    tab.stop();
  });
});
