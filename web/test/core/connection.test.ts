import WS from 'jest-websocket-mock';
import { describe, expect, it, vi } from 'vitest';
import { Connection, websocketUrl, type ConnectionStatus, type Credentials } from '../../src/core/connection';
import type { ServerFrame } from '../../src/core/protocol';
import { mockServer, welcome, WS_URL } from '../helpers/fixtures';

function connection(credentials: () => Credentials = () => ({ token: null, name: 'Ada' }), probe = async () => true) {
  const conn = new Connection({
    url: WS_URL,
    credentials,
    probe,
    backoff: { initialMs: 5, maxMs: 20, jitter: 0 },
  });
  const statuses: ConnectionStatus['state'][] = [];
  const history: ConnectionStatus[] = [];
  const frames: ServerFrame[] = [];
  conn.on('status', (s) => {
    statuses.push(s.state);
    history.push(s);
  });
  conn.on('frame', (f) => frames.push(f));
  return { conn, statuses, history, frames };
}

describe('Connection', () => {
  it('connects with an empty room, the name and the token, and is online after welcome', async () => {
    const server = mockServer();
    const { conn, statuses, frames } = connection(() => ({ token: 'tok', name: 'Ada L' }));
    conn.start();
    const socket = await server.connected;
    const url = new URL(socket.url);
    expect(url.searchParams.get('room')).toBe('');
    expect(url.searchParams.get('name')).toBe('Ada L');
    expect(url.searchParams.get('token')).toBe('tok');
    expect(conn.isOnline).toBe(false);
    expect(conn.send({ type: 'typing', room: 'lobby' })).toBe(false);

    server.send(welcome());
    await vi.waitFor(() => expect(conn.isOnline).toBe(true));
    expect(frames[0]?.type).toBe('welcome');
    expect(statuses).toEqual(['connecting', 'online']);

    expect(conn.send({ type: 'join', room: 'lobby', since_seq: 3 })).toBe(true);
    await expect(server).toReceiveMessage({ type: 'join', room: 'lobby', since_seq: 3 });
    conn.stop();
  });

  it('reconnects with backoff after the server closes, 1013 included', async () => {
    let server = mockServer();
    const { conn, statuses, history } = connection();
    conn.start();
    const first = await server.connected;
    server.send(welcome());
    await vi.waitFor(() => expect(conn.isOnline).toBe(true));

    first.close({ code: 1013, reason: 'slow consumer: reconnect and join with since_seq', wasClean: true });
    await vi.waitFor(() => expect(statuses).toContain('reconnecting'));
    const status = history.find((s) => s.state === 'reconnecting');
    expect(status?.state === 'reconnecting' && status.lastClose?.code).toBe(1013);

    // The server is gone for a while: attempts fail and are retried.
    server.close();
    WS.clean();
    await vi.waitFor(() => expect(statuses.filter((s) => s === 'connecting').length).toBeGreaterThanOrEqual(3));

    server = mockServer();
    await server.connected;
    server.send(welcome());
    await vi.waitFor(() => expect(conn.isOnline).toBe(true));
    conn.stop();
  });

  it('stays closed after stop', async () => {
    const server = mockServer();
    const { conn, statuses } = connection();
    conn.start();
    await server.connected;
    conn.stop();
    await server.closed.catch(() => {});
    expect(conn.status.state).toBe('stopped');
    await new Promise((r) => setTimeout(r, 50));
    expect(statuses.at(-1)).toBe('stopped');
  });

  it('reports a refused token when attempts with it fail before opening while the server is up', async () => {
    const { conn } = connection(
      () => ({ token: 'forged', name: null }),
      async () => true,
    );
    const rejected = vi.fn();
    conn.on('tokenRejected', rejected);
    conn.start(); // no server at the URL: the socket fails before it opens
    await vi.waitFor(() => expect(rejected).toHaveBeenCalled());
    conn.stop();
  });

  it('keeps the token when the server is simply down', async () => {
    let probes = 0;
    const { conn, statuses } = connection(
      () => ({ token: 'good', name: null }),
      async () => {
        probes += 1;
        return false;
      },
    );
    const rejected = vi.fn();
    conn.on('tokenRejected', rejected);
    conn.start();
    await vi.waitFor(() => expect(statuses.filter((s) => s === 'reconnecting').length).toBeGreaterThanOrEqual(2));
    await vi.waitFor(() => expect(probes).toBeGreaterThanOrEqual(2));
    expect(rejected).not.toHaveBeenCalled();
    conn.stop();
  });

  it('signed in, connects with neither token nor name (the cookie rides the upgrade)', async () => {
    const server = mockServer();
    const { conn } = connection(() => ({ token: 'left-over', name: 'Ada', cookie: true }));
    conn.start();
    const url = new URL((await server.connected).url);
    expect(url.searchParams.get('room')).toBe('');
    expect(url.searchParams.has('token')).toBe(false);
    expect(url.searchParams.has('name')).toBe(false);
    conn.stop();
  });

  it('reports a refused cookie like a refused token: the upgrade fails before opening while the server is up', async () => {
    const { conn } = connection(() => ({ cookie: true }));
    const rejected = vi.fn();
    conn.on('tokenRejected', rejected);
    conn.start();
    await vi.waitFor(() => expect(rejected).toHaveBeenCalled());
    conn.stop();
  });

  it('stops for good on close code 4001 (the session was revoked) and says so', async () => {
    const server = mockServer();
    const { conn, statuses } = connection(() => ({ cookie: true }));
    const revoked = vi.fn();
    conn.on('revoked', revoked);
    conn.start();
    const socket = await server.connected;
    server.send(welcome(undefined, ''));
    await vi.waitFor(() => expect(conn.isOnline).toBe(true));
    socket.close({ code: 4001, reason: 'the session was revoked', wasClean: true });
    await vi.waitFor(() => expect(revoked).toHaveBeenCalledWith({ code: 4001, reason: 'the session was revoked' }));
    expect(conn.status.state).toBe('stopped');
    await new Promise((r) => setTimeout(r, 50));
    // No attempt after it: the same cookie would only be refused.
    expect(statuses.filter((s) => s === 'connecting')).toHaveLength(1);
    expect(statuses).not.toContain('reconnecting');
  });
});

describe('websocketUrl', () => {
  it('follows the page scheme', () => {
    expect(websocketUrl('http://127.0.0.1:8080')).toBe('ws://127.0.0.1:8080/v1/chat/ws');
    expect(websocketUrl('https://chat.example.com')).toBe('wss://chat.example.com/v1/chat/ws');
  });
});
