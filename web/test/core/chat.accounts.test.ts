import type WS from 'jest-websocket-mock';
import { describe, expect, it, vi } from 'vitest';
import type { ChatClient } from '../../src/core/chat';
import { MemoryKeyValue, loadAccount, loadIdentity, saveAccount, type KeyValue } from '../../src/core/prefs';
import type { ClientFrame } from '../../src/core/protocol';
import { MemoryStores } from '../../src/core/stores';
import { BOB, FakeHistory, ME, makeClient, message, mockServer, welcome } from '../helpers/fixtures';

const GUEST = { userId: ME, token: welcome().token, name: 'Guesty' };
const PASSWORD = 'correct horse battery';

/** Every socket the mock server accepts, in order (a switch of principal opens a new one). */
function sockets(server: WS): { url: URL; close: (o: { code: number; reason: string; wasClean: boolean }) => void }[] {
  const list: { url: URL; close: (o: { code: number; reason: string; wasClean: boolean }) => void }[] = [];
  server.on('connection', (socket) => list.push({ url: new URL(socket.url), close: (o) => socket.close(o) }));
  return list;
}

function lobby(client: ChatClient) {
  const room = client.getSnapshot().rooms.lobby;
  if (!room) throw new Error('no lobby');
  return room;
}

/** A WebSocket whose upgrades without a token (signed in: the cookie) fail before opening, as a 401 does. */
function refusingCookies(): typeof WebSocket {
  return function (url: string) {
    return new globalThis.WebSocket(new URL(url).searchParams.has('token') ? url : 'ws://refused.test/v1/chat/ws');
  } as unknown as typeof WebSocket;
}

function frames(server: WS, type: ClientFrame['type']): ClientFrame[] {
  return (server.messages as ClientFrame[]).filter((f) => f.type === type);
}

/** A browser on which Ada's account exists; `here` signs this browser in to it. */
function browser(options: { here?: boolean; prefs?: KeyValue; stores?: MemoryStores; history?: FakeHistory } = {}) {
  const history = options.history ?? new FakeHistory();
  const ada =
    history.accounts.users.find((u) => u.email === 'ada@example.com') ??
    history.accounts.addUser({ email: 'ada@example.com', name: 'Ada', password: PASSWORD });
  if (options.here) history.accounts.addSession(ada, { here: true });
  const prefs = options.prefs ?? new MemoryKeyValue();
  const stores = options.stores ?? new MemoryStores();
  return { history, ada, prefs, stores };
}

describe('ChatClient: guest or account', () => {
  it('a guest is asked about first (GET /v1/me: 401), then connects with its token as before', async () => {
    const { history, prefs, stores } = browser();
    const server = mockServer();
    const { client } = makeClient({ history, prefs, stores, identity: GUEST });
    expect(client.getSnapshot().accountChecked).toBe(false);
    await client.whenReady();
    expect(client.getSnapshot()).toMatchObject({ account: null, accountChecked: true, signedOut: null });
    expect(history.accounts.calls[0]).toMatchObject({ method: 'GET', path: '/v1/me', credentials: 'same-origin' });

    client.start();
    const socket = await server.connected;
    const url = new URL(socket.url);
    expect(url.searchParams.get('token')).toBe(GUEST.token);
    expect(url.searchParams.get('name')).toBe('Guesty');
    server.send(welcome(ME, 'renewed-token'));
    await vi.waitFor(() => expect(loadIdentity(prefs)).toEqual({ ...GUEST, token: 'renewed-token' }));
    client.stop();
  });

  it('signed in, connects without token or name, keeps no token, and leaves the guest identity alone', async () => {
    const { history, ada, prefs, stores } = browser({ here: true });
    const server = mockServer();
    const { client } = makeClient({ history, prefs, stores, identity: GUEST });
    await client.whenReady();
    const account = { userId: ada.user_id, name: 'Ada', email: 'ada@example.com' };
    expect(client.getSnapshot().account).toEqual(account);
    expect(client.getSnapshot().identity).toEqual({ userId: ada.user_id, token: null, name: 'Ada' });
    expect(loadAccount(prefs)).toEqual(account);

    client.start();
    const url = new URL((await server.connected).url);
    expect(url.searchParams.get('room')).toBe('');
    expect(url.searchParams.has('token')).toBe(false);
    expect(url.searchParams.has('name')).toBe(false);
    server.send(welcome(ada.user_id, ''));
    await vi.waitFor(() => expect(client.getSnapshot().status.state).toBe('online'));
    expect(client.getSnapshot().identity.token).toBeNull();
    expect(loadIdentity(prefs)).toEqual(GUEST);
    client.stop();
  });

  it('offline at the start, a remembered account stays signed in and shows its own cache', async () => {
    const { history, ada, prefs, stores } = browser();
    const account = { userId: ada.user_id, name: 'Ada', email: 'ada@example.com' };
    saveAccount(prefs, account);
    await stores.open(ada.user_id).saveRoom({
      room: 'lobby',
      epoch: 1,
      contiguousSeq: 1,
      readSeq: 1,
      messages: [message('lobby', 1, { user_id: ada.user_id, content: 'from the cache' })],
    });
    history.down = true;
    const { client } = makeClient({ history, prefs, stores, identity: GUEST });
    await client.whenReady();
    expect(client.getSnapshot()).toMatchObject({ account, accountChecked: true, signedOut: null });
    expect(lobby(client).messages.map((m) => [m.content, m.own])).toEqual([['from the cache', true]]);
  });

  it('a remembered account whose session is over is a guest at the start, and is told so', async () => {
    const { history, ada, prefs, stores } = browser();
    saveAccount(prefs, { userId: ada.user_id, name: 'Ada', email: 'ada@example.com' });
    const { client } = makeClient({ history, prefs, stores, identity: GUEST });
    await client.whenReady();
    expect(client.getSnapshot()).toMatchObject({ account: null, signedOut: 'You were signed out.' });
    expect(client.getSnapshot().identity).toEqual(GUEST);
    expect(loadAccount(prefs)).toBeNull();
    client.dismissSignedOut();
    expect(client.getSnapshot().signedOut).toBeNull();
  });
});

describe('ChatClient: signing in and out', () => {
  it('keeps two people on one browser apart: neither sees the other’s messages, drafts or unsent messages', async () => {
    const { history, ada, prefs, stores } = browser();
    const bob = history.accounts.addUser({ email: 'bob@example.com', name: 'Bob', password: 'bob password 1' });
    history.add('lobby', message('lobby', 1, { user_id: BOB, content: 'hello all' }));
    const { client } = makeClient({ history, prefs, stores, identity: GUEST, newClientId: vi.fn(() => 'c-ada') });
    await client.whenReady();
    client.openRoom('lobby');
    client.setDraft('lobby', 'guest draft');

    expect(await client.signIn({ email: 'ada@example.com', password: PASSWORD })).toBeNull();
    expect(client.getSnapshot().account?.userId).toBe(ada.user_id);
    expect(lobby(client).draft).toBe('');
    client.openRoom('lobby');
    client.openRoom('ada-only');
    client.setDraft('lobby', 'ada’s secret draft');
    expect(client.send('lobby', 'ada’s unsent message')).toBeNull();
    await vi.waitFor(() => expect(lobby(client).messages.map((m) => m.content)).toContain('hello all'));

    expect(await client.signOut({ forget: false })).toBeNull();
    expect(client.getSnapshot().account).toBeNull();
    await client.whenReady();
    // The guest again, with its own draft and rooms: nothing of Ada's.
    expect(lobby(client).draft).toBe('guest draft');
    expect(lobby(client).messages.map((m) => m.content)).toEqual(['hello all']);
    expect(client.getSnapshot().myRooms).toEqual(['lobby']);

    expect(await client.signIn({ email: 'bob@example.com', password: 'bob password 1' })).toBeNull();
    await client.whenReady();
    expect(client.getSnapshot().identity.userId).toBe(bob.user_id);
    expect(lobby(client).draft).toBe('');
    await vi.waitFor(() => expect(lobby(client).messages.map((m) => m.content)).toEqual(['hello all']));
    expect(client.getSnapshot().myRooms).toEqual(['lobby']);
    client.setDraft('lobby', 'bob’s draft');
    expect(await client.signOut({ forget: true })).toBeNull();
    expect(stores.stores.has(bob.user_id)).toBe(false);

    // Ada comes back: what she left is hers still.
    expect(await client.signIn({ email: 'ada@example.com', password: PASSWORD })).toBeNull();
    await client.whenReady();
    expect(lobby(client).draft).toBe('ada’s secret draft');
    expect(
      lobby(client)
        .messages.filter((m) => m.status === 'sending')
        .map((m) => m.content),
    ).toEqual(['ada’s unsent message']);
    expect(client.getSnapshot().myRooms).toEqual(['lobby', 'ada-only']);
    // And the guest's store never held any of it.
    const guest = await stores.open(null).load();
    expect(guest.drafts).toEqual({ lobby: 'guest draft' });
    expect(guest.outbox).toEqual([]);
  });

  it('signing out can delete the account’s copy on this browser: cache, drafts, unsent messages, rooms', async () => {
    const { history, ada, prefs, stores } = browser({ here: true });
    history.add('lobby', message('lobby', 1, { content: 'cached' }));
    const { client } = makeClient({ history, prefs, stores });
    await client.whenReady();
    client.openRoom('lobby');
    client.openRoom('team');
    client.setDraft('lobby', 'draft');
    client.send('lobby', 'unsent');
    await vi.waitFor(() => expect(stores.open(ada.user_id).rooms.get('lobby')).toBeDefined());

    expect(await client.signOut({ forget: true })).toBeNull();
    expect(history.accounts.calls.at(-1)).toMatchObject({ method: 'POST', path: '/v1/auth/logout' });
    expect(history.accounts.cookie).toBeNull();
    expect(stores.stores.has(ada.user_id)).toBe(false);
    expect(prefs.get(`whisperchat.rooms.${ada.user_id}`)).toBeNull();
    expect(loadAccount(prefs)).toBeNull();
    expect(client.getSnapshot().signedOut).toBeNull();

    expect(await client.signIn({ email: 'ada@example.com', password: PASSWORD })).toBeNull();
    await client.whenReady();
    expect(lobby(client).draft).toBe('');
    expect(lobby(client).messages.filter((m) => m.status === 'sending')).toEqual([]);
    expect(client.getSnapshot().myRooms).toEqual(['lobby']);
  });

  it('a guest who signs up keeps its user id, its messages as its own, its drafts and its unsent messages', async () => {
    const { history, prefs, stores } = browser();
    history.add('lobby', message('lobby', 1, { user_id: ME, name: 'Guesty', content: 'posted as a guest' }));
    const server = mockServer();
    const opened = sockets(server);
    const { client } = makeClient({ history, prefs, stores, identity: GUEST, newClientId: () => 'c-pending' });
    client.start();
    await server.connected;
    server.send(welcome(ME, GUEST.token));
    server.send({ type: 'joined', room: 'lobby', seq: 1, epoch: 1, recovered: false });
    client.openRoom('lobby');
    await vi.waitFor(() => expect(lobby(client).messages.map((m) => m.own)).toEqual([true]));
    client.setDraft('lobby', 'half a thought');
    client.send('lobby', 'not acked yet');
    await vi.waitFor(() => expect(frames(server, 'messages')).toHaveLength(1));
    expect(lobby(client).messages.map((m) => m.principal)).toEqual(['guest', 'guest']);

    const problem = await client.register({ email: 'grace@example.com', password: 'a long password', name: 'Grace' });
    expect(problem).toBeNull();
    expect(history.accounts.calls.find((c) => c.path === '/v1/auth/register')?.body).toEqual({
      email: 'grace@example.com',
      password: 'a long password',
      name: 'Grace',
      guest_token: GUEST.token,
    });
    expect(client.getSnapshot().account).toEqual({ userId: ME, name: 'Grace', email: 'grace@example.com' });
    // No guest left to come back to: its identity and its store went to the account.
    expect(loadIdentity(prefs)).toEqual({ userId: null, token: null, name: null });
    expect(stores.stores.has(null)).toBe(false);

    await vi.waitFor(() => expect(opened).toHaveLength(2));
    expect(opened[1]?.url.searchParams.has('token')).toBe(false);
    server.send(welcome(ME, ''));
    server.send({ type: 'joined', room: 'lobby', seq: 1, epoch: 1, recovered: true });
    client.openRoom('lobby');
    // The unsent message goes again with the same client_id: stored once.
    await vi.waitFor(() => expect(frames(server, 'messages')).toHaveLength(2));
    expect(frames(server, 'messages')[1]).toEqual({
      type: 'messages',
      data: [{ content: 'not acked yet', client_id: 'c-pending', room: 'lobby' }],
    });
    expect(lobby(client).draft).toBe('half a thought');
    // Posted as a guest stays a guest's (the server stored it so); the unsent one goes as the account.
    expect(lobby(client).messages.map((m) => [m.content, m.own, m.principal])).toEqual([
      ['posted as a guest', true, 'guest'],
      ['not acked yet', true, 'account'],
    ]);
    client.stop();
  });

  it('a refused sign-in or sign-up says why, and changes nothing', async () => {
    const { history, prefs, stores } = browser();
    const { client } = makeClient({ history, prefs, stores, identity: GUEST });
    await client.whenReady();
    expect(await client.signIn({ email: 'ada@example.com', password: 'wrong password' })).toEqual({
      code: 'invalid_credentials',
      field: null,
      message: 'The email or the password is wrong.',
    });
    expect(
      await client.register({ email: 'ADA@example.com', password: 'long enough!', name: 'Someone' }),
    ).toMatchObject({ code: 'email_taken', field: 'email' });
    expect(await client.register({ email: 'new@example.com', password: 'long enough!', name: 'ada' })).toMatchObject({
      code: 'name_taken',
      field: 'name',
    });
    history.accounts.rateLimited = true;
    expect((await client.signIn({ email: 'ada@example.com', password: PASSWORD }))?.message).toBe(
      'Too many attempts. Try again in 30 seconds.',
    );
    expect(client.getSnapshot().account).toBeNull();
    expect(loadIdentity(prefs)).toEqual(GUEST);
  });

  it('signing out while the server cannot be reached keeps you signed in, and connected', async () => {
    const { history, prefs, stores } = browser({ here: true });
    const server = mockServer();
    const opened = sockets(server);
    const { client } = makeClient({ history, prefs, stores });
    client.start();
    await server.connected;
    history.down = true;
    expect(await client.signOut({ forget: true })).toMatchObject({ code: 'network' });
    expect(client.getSnapshot().account?.email).toBe('ada@example.com');
    await vi.waitFor(() => expect(opened).toHaveLength(2));
    expect(opened[1]?.url.searchParams.has('token')).toBe(false);
    client.stop();
  });
});

describe('ChatClient: signed out by the server', () => {
  it('on close code 4001 goes on as the guest, says so, and does not reconnect as the account', async () => {
    const { history, ada, prefs, stores } = browser({ here: true });
    const server = mockServer();
    const opened = sockets(server);
    const { client } = makeClient({ history, prefs, stores, identity: GUEST });
    client.start();
    await server.connected;
    server.send(welcome(ada.user_id, ''));
    await vi.waitFor(() => expect(client.getSnapshot().status.state).toBe('online'));
    client.openRoom('lobby');
    client.setDraft('lobby', 'ada’s draft');

    opened[0]?.close({ code: 4001, reason: 'the session was revoked', wasClean: true });
    await vi.waitFor(() => expect(client.getSnapshot().account).toBeNull());
    expect(client.getSnapshot().signedOut).toBe('You were signed out: the session was revoked.');
    expect(loadAccount(prefs)).toBeNull();
    await vi.waitFor(() => expect(opened).toHaveLength(2));
    expect(opened[1]?.url.searchParams.get('token')).toBe(GUEST.token);
    expect(opened[1]?.url.searchParams.get('name')).toBe('Guesty');
    // The copy stays, shown again only to whoever signs in to the account.
    expect(stores.open(ada.user_id).drafts.get('lobby')).toBe('ada’s draft');
    expect(client.getSnapshot().rooms.lobby?.draft).toBe('');
    client.stop();
  });

  it('an upgrade refused while signed in is checked with GET /v1/me: a 401 means signed out', async () => {
    const { history, prefs, stores } = browser({ here: true });
    const server = mockServer();
    const { client } = makeClient({ history, prefs, stores, identity: GUEST, WebSocket: refusingCookies() });
    await client.whenReady();
    expect(client.getSnapshot().account).not.toBeNull();
    history.accounts.cookie = null; // the session ended while the page was open
    client.start(); // the upgrade fails before opening, and /healthz answers
    await vi.waitFor(() => expect(client.getSnapshot().signedOut).toBe('You were signed out.'));
    expect(client.getSnapshot().account).toBeNull();

    // The guest connects as itself.
    const url = new URL((await server.connected).url);
    expect(url.searchParams.get('token')).toBe(GUEST.token);
    client.stop();
  });

  it('an upgrade refused while the session is still live changes nothing', async () => {
    const { history, prefs, stores } = browser({ here: true });
    mockServer();
    const { client } = makeClient({ history, prefs, stores, identity: GUEST, WebSocket: refusingCookies() });
    client.start();
    // Refused twice with /healthz up, yet GET /v1/me still answers the account: it stays, and tries again.
    await vi.waitFor(() =>
      expect(history.accounts.calls.filter((c) => c.path === '/v1/me').length).toBeGreaterThanOrEqual(3),
    );
    expect(client.getSnapshot().account?.email).toBe('ada@example.com');
    expect(client.getSnapshot().signedOut).toBeNull();
    client.stop();
  });
});

describe('ChatClient: the account', () => {
  it('renames with PATCH /v1/me, never with a profile frame; a taken name is said under the field', async () => {
    const { history, ada, prefs, stores } = browser({ here: true });
    history.accounts.addUser({ email: 'bob@example.com', name: 'Bob' });
    const server = mockServer();
    const { client } = makeClient({ history, prefs, stores });
    client.start();
    await server.connected;
    server.send(welcome(ada.user_id, ''));
    await vi.waitFor(() => expect(client.getSnapshot().status.state).toBe('online'));

    expect(client.setName('Sneaky')).toEqual({ ok: false, reason: 'Change your name on your account page.' });
    expect(await client.renameAccount('bob')).toMatchObject({ code: 'name_taken', field: 'name' });
    expect(await client.renameAccount('   ')).toMatchObject({ field: 'name', message: 'Enter a name.' });
    expect(await client.renameAccount('Ada Lovelace')).toBeNull();
    expect(client.getSnapshot().account?.name).toBe('Ada Lovelace');
    expect(client.getSnapshot().identity.name).toBe('Ada Lovelace');
    expect(loadAccount(prefs)?.name).toBe('Ada Lovelace');
    expect(history.accounts.calls.filter((c) => c.method === 'PATCH').map((c) => c.body)).toEqual([
      { name: 'bob' },
      { name: 'Ada Lovelace' },
    ]);
    await new Promise((r) => setTimeout(r, 20));
    expect(frames(server, 'profile')).toEqual([]);
    client.stop();
  });

  it('lists the devices signed in and revokes one; one gone already is no error', async () => {
    const { history, ada, prefs, stores } = browser();
    const phone = history.accounts.addSession(ada, { userAgent: 'Mozilla/5.0 (iPhone) Safari/605.1' });
    history.accounts.addSession(ada, { here: true });
    const { client } = makeClient({ history, prefs, stores });
    await client.whenReady();

    const devices = await client.devices();
    expect(devices.map((d) => [d.id, d.current])).toEqual([
      [phone.id, false],
      [history.accounts.cookie, true],
    ]);
    expect(await client.revokeDevice(phone.id)).toBeNull();
    expect((await client.devices()).map((d) => d.id)).toEqual([history.accounts.cookie]);
    expect(await client.revokeDevice(phone.id)).toBeNull();
    expect(history.accounts.calls.filter((c) => c.method === 'DELETE').map((c) => c.path)).toEqual([
      `/v1/me/sessions/${phone.id}`,
      `/v1/me/sessions/${phone.id}`,
    ]);
  });

  it('a 401 from the account API means the session is over: the client becomes the guest', async () => {
    const { history, prefs, stores } = browser({ here: true });
    const { client } = makeClient({ history, prefs, stores, identity: GUEST });
    await client.whenReady();
    history.accounts.cookie = null;
    await expect(client.devices()).rejects.toMatchObject({ status: 401 });
    await vi.waitFor(() => expect(client.getSnapshot().account).toBeNull());
    expect(client.getSnapshot().signedOut).toBe('You were signed out.');
  });
});
