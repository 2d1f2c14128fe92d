import { describe, expect, it, vi } from 'vitest';
import { describeRoomError } from '../../src/core/describe';
import { ApiError } from '../../src/core/http';
import { RoomsApi } from '../../src/core/rooms-api';
import { BOB, CAROL, FakeHistory, ORIGIN } from '../helpers/fixtures';

const PLANS = 'p/0123456789abcdef0123456789abcdef';

function api() {
  const history = new FakeHistory();
  return { history, rooms: new RoomsApi(ORIGIN, history.fetch as unknown as typeof fetch) };
}

function answering(status: number, body: unknown) {
  const fetch = vi.fn(async () => ({
    ok: status < 300,
    status,
    headers: new Headers(),
    json: () => Promise.resolve(body),
  }));
  return { fetch, rooms: new RoomsApi(ORIGIN, fetch as unknown as typeof globalThis.fetch) };
}

describe('RoomsApi', () => {
  it('creates a private room with its members, signed in (the cookie goes along)', async () => {
    const { history, rooms } = api();
    const room = await rooms.createPrivateRoom({ title: 'Plans', topic: 'Q3', members: [BOB] });
    expect(room).toMatchObject({ visibility: 'private', title: 'Plans', topic: 'Q3', role: 'owner' });
    expect(room.name).toMatch(/^p\/[0-9]{32}$/);
    expect(history.roomsApi.calls[0]).toEqual({
      method: 'POST',
      path: '/v1/rooms',
      body: { visibility: 'private', title: 'Plans', topic: 'Q3', members: [BOB] },
      credentials: 'same-origin',
    });
  });

  it('puts a room name in a path as one segment, and sends each member operation as the API says', async () => {
    const { fetch, rooms } = answering(200, { event: { kind: 'member' } });
    await rooms.invite(PLANS, BOB);
    await rooms.removeMember(PLANS, BOB, 'spam, and more');
    await rooms.removeMember(PLANS, BOB);
    await rooms.setRole(PLANS, BOB, 'moderator');
    await rooms.ban(PLANS, BOB, 'abuse');
    await rooms.unban(PLANS, BOB);
    await rooms.updateRoom(PLANS, { title: 'Launch' });
    const calls = fetch.mock.calls.map((c) => {
      const [url, init] = c as unknown as [string, RequestInit];
      return [init.method ?? 'GET', url.slice(ORIGIN.length), init.body ?? null];
    });
    const room = '/v1/rooms/p%2F0123456789abcdef0123456789abcdef';
    expect(calls).toEqual([
      ['POST', `${room}/members`, JSON.stringify({ user_id: BOB })],
      ['DELETE', `${room}/members/${BOB}?reason=spam%2C+and+more`, null],
      ['DELETE', `${room}/members/${BOB}`, null],
      ['PATCH', `${room}/members/${BOB}`, JSON.stringify({ role: 'moderator' })],
      ['POST', `${room}/bans`, JSON.stringify({ user_id: BOB, reason: 'abuse' })],
      ['DELETE', `${room}/bans/${BOB}`, null],
      ['PATCH', room, JSON.stringify({ title: 'Launch' })],
    ]);
  });

  it('opens a direct room once: the second time it is the same one', async () => {
    const { rooms } = api();
    const first = await rooms.openDirect(BOB);
    expect(first).toMatchObject({ visibility: 'direct', peer: { user_id: BOB, name: 'Bob' } });
    expect((await rooms.openDirect(BOB)).name).toBe(first.name);
  });

  it('finds an account by name (case aside), and answers null when there is none', async () => {
    const { history, rooms } = api();
    expect(await rooms.lookupUser('carol')).toEqual({ user_id: CAROL, name: 'Carol' });
    expect(await rooms.lookupUser('Nobody')).toBeNull();
    expect(history.roomsApi.calls.map((c) => c.path)).toEqual(['/v1/users?name=carol', '/v1/users?name=Nobody']);
  });

  it('reads a room with its members; a room you are not in is a 403 with the server’s sentence', async () => {
    const { history, rooms } = api();
    const created = await rooms.createPrivateRoom({ title: 'Plans', members: [BOB] });
    const details = await rooms.room(created.name);
    expect(details.members.map((m) => [m.name, m.role])).toEqual([
      ['Ada', 'owner'],
      ['Bob', 'member'],
    ]);
    expect(details.banned).toEqual([]);
    history.roomsApi.me = CAROL;
    const refused = await rooms.room(created.name).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 403, code: 'forbidden', message: `not a member of room ${created.name}` });
  });

  it('reads the flat error body with its details, and says it for people with names for user ids', async () => {
    const { rooms } = api();
    const missing = '7d1c0c7e-2d41-4c55-9a53-7b2f4f9e6a10';
    const e = await rooms.createPrivateRoom({ title: 'Plans', members: [missing] }).catch((x: unknown) => x);
    expect(e).toMatchObject({ status: 404, code: 'not_found', details: [`members: ${missing}`] });
    expect(describeRoomError(e)).toBe(`No such account (members: ${missing}).`);
    expect(describeRoomError(e, (id) => (id === missing ? 'Grace' : undefined))).toBe(
      'No such account (members: Grace).',
    );
    const conflict = new ApiError(409, 'conflict', 'make another member owner first');
    expect(describeRoomError(conflict)).toBe('Make another member owner first.');
    expect(describeRoomError(new ApiError(0, 'network', 'Failed to fetch'))).toBe(
      'Could not reach the server. Check your connection and try again.',
    );
    // Nothing for people in the answer: no status, no code.
    expect(describeRoomError(new ApiError(502, 'http_error', 'HTTP 502'))).toBe(
      'The server could not do that just now. Try again.',
    );
  });

  it('still reads the nested error body of the rest of the API', async () => {
    const { rooms } = answering(403, { error: { code: 'forbidden', message: 'sign in to create rooms' } });
    await expect(rooms.createPrivateRoom({ title: 'x' })).rejects.toMatchObject({
      status: 403,
      code: 'forbidden',
      message: 'sign in to create rooms',
      details: [],
    });
  });
});
