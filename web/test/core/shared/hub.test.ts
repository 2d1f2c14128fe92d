/**
 * The worker protocol: tabs (each a `ChatClient` on a `SharedTransport`) on
 * one hub, as in one SharedWorker, share one socket to a fake server.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ChatClient, ChatMessage } from '../../../src/core/chat';
import { MemoryKeyValue, saveIdentity } from '../../../src/core/prefs';
import { SharedTransport } from '../../../src/core/shared/tab';
import type { HubHost } from '../../../src/core/shared/hub';
import { MemoryStore } from '../../../src/core/store';
import { FakeHistory, makeClient } from '../../helpers/fixtures';
import { MiniServer, TIMERS, linkTo, memoryHub, settle, sharedTransport, until } from '../../helpers/shared';

/** A browser: its store and localStorage, its history API, a server, and the hub in its SharedWorker. */
function browser(options: { server?: MiniServer } = {}) {
  const history = new FakeHistory();
  const server = options.server ?? new MiniServer(history.rooms);
  const host = memoryHub(server);
  const store = new MemoryStore();
  const prefs = new MemoryKeyValue();
  saveIdentity(prefs, { userId: null, token: null, name: 'Ada' });
  const tabs: ChatClient[] = [];
  const open = (): ChatClient => {
    const { client } = makeClient({ history, store, prefs, transport: sharedTransport(host) });
    tabs.push(client);
    client.start();
    return client;
  };
  return { history, server, host, store, prefs, tabs, open };
}

function lobby(tab: ChatClient): readonly ChatMessage[] {
  return tab.getSnapshot().rooms.lobby?.messages ?? [];
}

function shown(tab: ChatClient): string[] {
  return lobby(tab).map((m) => `${m.content}:${m.status ?? 'other'}`);
}

async function online(...tabs: ChatClient[]): Promise<void> {
  for (const tab of tabs) await until(() => expect(tab.getSnapshot().rooms.lobby?.joined).toBe(true));
}

let opened: { tabs: ChatClient[]; host: HubHost }[] = [];
afterEach(() => {
  for (const b of opened) {
    for (const tab of b.tabs) tab.stop();
    b.host.dispose();
  }
  opened = [];
  vi.useRealTimers();
});

function open(options: { server?: MiniServer } = {}) {
  const b = browser(options);
  opened.push(b);
  return b;
}

describe('the hub: tabs share one socket', () => {
  it('two tabs share one socket: one welcome, one join, each tab joined', async () => {
    const b = open();
    const one = b.open();
    const two = b.open();
    await online(one, two);
    expect(b.server.sockets).toHaveLength(1);
    expect(b.server.received('join')).toHaveLength(1);
    expect(one.getSnapshot().status.state).toBe('online');
    expect(two.getSnapshot().status.state).toBe('online');
    // Both are the same user on the same socket.
    expect(one.getSnapshot().identity.userId).toBe(two.getSnapshot().identity.userId);
    // Presence reached the tab the hub answered itself too.
    expect(two.getSnapshot().rooms.lobby?.presence.map((p) => p.name)).toEqual(['Ada']);
  });

  it('a message from another user reaches every tab once', async () => {
    const b = open();
    const one = b.open();
    const two = b.open();
    await online(one, two);
    b.server.post('lobby', 'hi from Bob');
    await until(() => expect(shown(one)).toEqual(['hi from Bob:other']));
    await until(() => expect(shown(two)).toEqual(['hi from Bob:other']));
  });

  it('the last tab closing closes the socket; until then it stays open', async () => {
    const b = open();
    const one = b.open();
    const two = b.open();
    await online(one, two);
    const socket = b.server.sockets[0];
    one.stop();
    await settle();
    expect(socket?.open).toBe(true);
    expect(b.server.received('leave')).toHaveLength(0);
    two.stop();
    await settle();
    expect(socket?.closedByClient).toEqual({ code: 1000, reason: 'client closed' });
    expect(b.server.open).toHaveLength(0);
  });

  it('a tab leaving a room another tab is in does not leave it on the server; the last one does', async () => {
    const b = open();
    const one = b.open();
    const two = b.open();
    await online(one, two);
    one.openRoom('acme');
    two.openRoom('acme');
    await until(() => expect(two.getSnapshot().rooms.acme?.joined).toBe(true));
    await until(() => expect(one.getSnapshot().rooms.acme?.joined).toBe(true));
    expect(b.server.received('join').filter((j) => j.room === 'acme')).toHaveLength(1);
    one.leaveRoom('acme');
    await settle();
    expect(b.server.received('leave')).toHaveLength(0);
    b.server.post('acme', 'still here');
    await until(() => expect(two.getSnapshot().rooms.acme?.messages.map((m) => m.content)).toEqual(['still here']));
    two.leaveRoom('acme');
    await until(() => expect(b.server.received('leave')).toEqual([{ type: 'leave', room: 'acme' }]));
  });

  it('a message sent in one tab shows as sending in the others, a tab opened mid-send too, and once sent in all', async () => {
    const b = open();
    const one = b.open();
    const two = b.open();
    await online(one, two);
    b.server.holdAnswers = true;
    expect(one.send('lobby', 'hello everyone')).toBeNull();
    await until(() => expect(shown(two)).toEqual(['hello everyone:sending']));
    expect(shown(one)).toEqual(['hello everyone:sending']);
    // A third tab opens while the message is on its way: it shows it too.
    const three = b.open();
    await online(three);
    await until(() => expect(shown(three)).toEqual(['hello everyone:sending']));
    // The key stays the same everywhere: the stored message replaces its pending copy.
    const clientId = lobby(one)[0]?.clientId ?? '';
    expect(lobby(three)[0]?.clientId).toBe(clientId);

    b.server.release();
    for (const tab of [one, two, three]) await until(() => expect(shown(tab)).toEqual(['hello everyone:sent']));
    expect(b.server.draftsSeen.get(clientId)).toBe(1);
    expect(b.server.stored()).toHaveLength(1);
    await settle();
    for (const tab of [one, two, three]) expect(shown(tab)).toEqual(['hello everyone:sent']);
    // Nothing is left in the outbox (IndexedDB) once stored.
    await until(() => expect(b.store.outbox.size).toBe(0));
  });

  it('the tab that sent closes mid-send: the hub still gets the message stored, the others see it once', async () => {
    const b = open();
    const one = b.open();
    const two = b.open();
    await online(one, two);
    b.server.holdAnswers = true;
    one.send('lobby', 'sent, then the tab closed');
    await until(() => expect(shown(two)).toEqual(['sent, then the tab closed:sending']));
    one.stop();
    await settle();
    b.server.release();
    await until(() => expect(shown(two)).toEqual(['sent, then the tab closed:sent']));
    expect(b.server.stored().map((m) => m.content)).toEqual(['sent, then the tab closed']);
  });

  it('after the socket breaks, what is pending goes once on the next one, whichever tabs send it', async () => {
    const b = open();
    const one = b.open();
    const two = b.open();
    await online(one, two);
    b.server.holdAnswers = true;
    one.send('lobby', 'typed before the break');
    await until(() => expect(shown(two)).toEqual(['typed before the break:sending']));
    const clientId = lobby(one)[0]?.clientId ?? '';
    // The server goes away before answering (nothing stored), and comes back.
    b.server.holdAnswers = false;
    b.server.sockets[0]?.drop(1001, 'server shutting down');
    await until(() => expect(b.server.open).toHaveLength(1));
    await online(one, two);
    for (const tab of [one, two]) await until(() => expect(shown(tab)).toEqual(['typed before the break:sent']));
    // Both tabs sent it again on the new socket; the hub let one copy through.
    const second = b.server.sockets[1];
    expect(second?.sent.filter((f) => f.type === 'messages').flatMap((f) => f.data.map((d) => d.client_id))).toEqual([
      clientId,
    ]);
    expect(b.server.stored()).toHaveLength(1);
  });

  it('a tab opened later starts from the cache and the hub’s answer: no second join, no gap', async () => {
    const b = open();
    const one = b.open();
    await online(one);
    for (const n of [1, 2, 3]) b.server.post('lobby', `early ${n}`);
    await until(() => expect(shown(one)).toHaveLength(3));
    // The cache is written (a reload would read it), then more comes while no other tab is open.
    await until(() => expect(b.store.rooms.get('lobby')?.contiguousSeq).toBe(3));
    b.server.post('lobby', 'later');
    await until(() => expect(shown(one)).toHaveLength(4));
    const two = b.open();
    await online(two);
    await until(() => expect(lobby(two).map((m) => m.content)).toEqual(['early 1', 'early 2', 'early 3', 'later']));
    expect(b.server.received('join')).toHaveLength(1);
    b.server.post('lobby', 'live again');
    for (const tab of [one, two]) await until(() => expect(lobby(tab).at(-1)?.content).toBe('live again'));
    expect(lobby(two).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('Resend and Discard in one tab are done in the others too', async () => {
    const b = open();
    const one = b.open();
    const two = b.open();
    await online(one, two);
    b.server.refuseNext = 'invalid_frame';
    one.send('lobby', 'refused once');
    for (const tab of [one, two]) await until(() => expect(shown(tab)).toEqual(['refused once:failed']));
    const clientId = lobby(one)[0]?.clientId ?? '';
    two.retry(clientId);
    await until(() => expect(shown(one)).toEqual(['refused once:sent']));
    await until(() => expect(shown(two)).toEqual(['refused once:sent']));
    expect(b.server.stored().map((m) => m.content)).toEqual(['refused once']);

    b.server.refuseNext = 'invalid_frame';
    two.send('lobby', 'refused, then discarded');
    await until(() => expect(shown(one).at(-1)).toBe('refused, then discarded:failed'));
    one.discard(lobby(one).at(-1)?.clientId ?? '');
    await until(() => expect(shown(two)).toEqual(['refused once:sent']));
    expect(shown(one)).toEqual(['refused once:sent']);
  });

  it('a tab that stops answering the beat is taken for gone; the last one going closes the socket', async () => {
    vi.useFakeTimers({ toFake: [...TIMERS] });
    const history = new FakeHistory();
    const server = new MiniServer(history.rooms);
    const host: HubHost = memoryHub(server, { beatMs: 1000, tabTimeoutMs: 3000 });
    // A tab that attaches and then says nothing more (its page froze or crashed).
    const port = linkTo(host);
    const transport = new SharedTransport({ credentials: () => ({ name: 'Ada' }) }, port);
    transport.start();
    await settle();
    expect(host.hub('guest')?.size).toBe(1);
    port.listen(() => {}); // deaf from now on: no beat is answered
    await vi.advanceTimersByTimeAsync(5000);
    await settle();
    expect(host.hub('guest')).toBeUndefined();
    expect(server.open).toHaveLength(0);
  });

  it('the socket is away only while every tab is; one tab back says back', async () => {
    const b = open();
    const tab = () => new SharedTransport({ credentials: () => ({ name: 'Ada' }) }, linkTo(b.host));
    const [one, two] = [tab(), tab()];
    one.start();
    two.start();
    await until(() => expect(one.isOnline && two.isOnline).toBe(true));
    const said = () => b.server.received('status').map((f) => f.away);
    one.send({ type: 'status', away: true });
    await settle();
    expect(said()).toEqual([]);
    two.send({ type: 'status', away: true });
    await until(() => expect(said()).toEqual([true]));
    one.send({ type: 'status', away: false });
    await until(() => expect(said()).toEqual([true, false]));
    // The active tab closes: only the away one is left.
    one.stop();
    await until(() => expect(said()).toEqual([true, false, true]));
    // A new socket arrives away: it says so before joining.
    b.server.sockets[0]?.drop(1001, 'restart');
    await until(() => expect(b.server.open[0]?.sent.map((f) => f.type)).toEqual(['status']));
    two.stop();
  });

  it('a guest keeps the token the server gave, even if a tab attaches without it', async () => {
    const b = open();
    const one = b.open();
    await online(one);
    const token = one.getSnapshot().identity.token;
    expect(token).toBeTruthy();
    // A late tab with no token yet (it read the prefs before the first welcome).
    const late = new SharedTransport({ credentials: () => ({ token: null, name: 'Ada' }) }, linkTo(b.host));
    late.start();
    await settle();
    b.server.sockets[0]?.drop(1001, 'restart');
    await until(() => expect(b.server.open).toHaveLength(1));
    expect(new URL(b.server.open[0]?.url ?? '').searchParams.get('token')).toBe(token);
    late.stop();
  });
});
