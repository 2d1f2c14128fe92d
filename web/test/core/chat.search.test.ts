import type WS from 'jest-websocket-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ChatClient } from '../../src/core/chat';
import type { ClientFrame, Message } from '../../src/core/protocol';
import { FakeHistory, event, makeClient, message, mockServer, welcome, type TestClient } from '../helpers/fixtures';

const running: { t: TestClient; server: WS }[] = [];

afterEach(() => {
  for (const { t, server } of running.splice(0)) {
    t.client.stop();
    server.close();
  }
});

function view(client: ChatClient, name = 'lobby') {
  const v = client.getSnapshot().rooms[name];
  if (!v) throw new Error(`no room ${name}`);
  return v;
}

const seqs = (client: ChatClient, name = 'lobby') => view(client, name).messages.map((m) => m.seq);

/** `lobby` with messages 1..=`head`; the client online in it with its latest page (50) loaded. */
async function lobbyOf(head: number, options: { pageSize?: number } = {}) {
  const history = new FakeHistory();
  const all: Message[] = [];
  for (let seq = 1; seq <= head; seq++) all.push(message('lobby', seq, { content: `message ${seq}` }));
  history.add('lobby', ...all);
  let n = 0;
  const t = makeClient({ history, identity: { name: 'Ada' }, newClientId: () => `c-${++n}`, ...options });
  const server = mockServer();
  running.push({ t, server });
  t.client.start();
  await server.connected;
  server.send(welcome());
  server.send({ type: 'joined', room: 'lobby', seq: head, epoch: 1, recovered: false });
  t.client.openRoom('lobby');
  await vi.waitFor(() => expect(view(t.client).messages).toHaveLength(Math.min(head, 50)));
  return { ...t, server, all };
}

describe('ChatClient: opening a room at a message (a search result)', () => {
  it('scrolls to a message the latest messages hold, reading nothing', async () => {
    const { client, history, all } = await lobbyOf(80);
    const before = history.historyCalls('lobby').length;
    const target = all[69]!;
    await client.openMessage('lobby', { id: target.id, seq: target.seq });
    const v = view(client);
    expect(v.jump).toMatchObject({ id: target.id, seq: 70, detached: false });
    expect(v.messages).toHaveLength(50);
    expect(history.historyCalls('lobby')).toHaveLength(before);
    // Again: a new jump (the list scrolls again).
    const token = v.jump!.token;
    await client.openMessage('lobby', { id: target.id, seq: target.seq });
    expect(view(client).jump!.token).toBeGreaterThan(token);
  });

  it('shows an old message with its neighbours apart from the latest, and goes back to the latest', async () => {
    const { client, history, all } = await lobbyOf(200);
    const target = all[29]!;
    const opening = client.openMessage('lobby', { id: target.id, seq: 30 });
    // At once: the room waits for the stretch, rather than show the latest and then jump.
    expect(view(client)).toMatchObject({ loading: true, jump: { id: target.id, detached: true } });
    await opening;
    expect(history.historyCalls('lobby')).toEqual(expect.arrayContaining(['before_seq=31', 'after_seq=30']));
    const v = view(client);
    expect(v.loading).toBe(false);
    expect(v.jump).toMatchObject({ detached: true, hasMoreAfter: true, loadingNewer: false });
    expect(v.messages.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 6));
    expect(v.messages.find((m) => m.id === target.id)).toBeDefined();
    expect(v.hasMoreBefore).toBe(true);
    expect(v.newMessagesKey).toBeNull();

    client.jumpToLatest('lobby');
    expect(view(client).jump).toBeNull();
    expect(seqs(client)).toEqual(Array.from({ length: 50 }, (_, i) => i + 151));
    expect(view(client).hasMoreBefore).toBe(true);
  });

  it('reads the stretch further both ways, and joins the latest once nothing lies between', async () => {
    const { client, history } = await lobbyOf(200);
    const target = history.rooms.get('lobby')![99]!;
    await client.openMessage('lobby', { id: target.id, seq: 100 });
    expect(view(client).jump?.detached).toBe(true);
    expect(seqs(client)[0]).toBe(76);
    expect(seqs(client).at(-1)).toBe(125);

    await client.loadOlder('lobby');
    expect(history.historyCalls('lobby').at(-1)).toBe('before_seq=76');
    expect(seqs(client)[0]).toBe(26);

    await client.loadNewer('lobby');
    expect(history.historyCalls('lobby').at(-1)).toBe('after_seq=125');
    // The stretch now ends at 150 and the latest page starts at 151: the room is one list.
    const v = view(client);
    expect(v.jump).toMatchObject({ id: target.id, detached: false });
    expect(seqs(client)).toEqual(Array.from({ length: 175 }, (_, i) => i + 26));
    expect(v.hasMoreBefore).toBe(true);
    // Still the room's live history: older pages go on from the stretch's oldest.
    await client.loadOlder('lobby');
    expect(history.historyCalls('lobby').at(-1)).toBe('before_seq=26');
    expect(seqs(client)[0]).toBe(1);
    expect(view(client).hasMoreBefore).toBe(false);
  });

  it('joins the latest at once when the stretch around the message reaches them', async () => {
    const { client, all } = await lobbyOf(70);
    // The latest page is 21..=70; the stretch around 10 is 1..=35.
    await client.openMessage('lobby', { id: all[9]!.id, seq: 10 });
    const v = view(client);
    expect(v.jump).toMatchObject({ id: all[9]!.id, detached: false });
    expect(seqs(client)).toEqual(Array.from({ length: 70 }, (_, i) => i + 1));
    expect(v.hasMoreBefore).toBe(false);
  });

  it('keeps the live tail whole while a stretch is shown: new messages go to it, edits reach the stretch', async () => {
    const { client, server, all } = await lobbyOf(200);
    const target = all[29]!;
    await client.openMessage('lobby', { id: target.id, seq: 30 });
    server.send({ type: 'messages', room: 'lobby', data: [message('lobby', 201, { content: 'live one' })] });
    server.send({ type: 'events', room: 'lobby', data: [event(202, target, { kind: 'edit', content: 'edited now' })] });
    await vi.waitFor(() => expect(view(client).messages.find((m) => m.id === target.id)?.content).toBe('edited now'));
    expect(seqs(client)).not.toContain(201);
    client.jumpToLatest('lobby');
    expect(seqs(client).at(-1)).toBe(201);
    // The tail is still whole and resumable: a reconnect would ask from 202.
    expect(seqs(client)).toEqual(Array.from({ length: 51 }, (_, i) => i + 151));
  });

  it('lets you react to a message of the stretch', async () => {
    const { client, server, all } = await lobbyOf(200);
    const target = all[29]!;
    await client.openMessage('lobby', { id: target.id, seq: 30 });
    expect(client.react('lobby', target.id, '👍', true)).toBeNull();
    await vi.waitFor(() =>
      expect((server.messages as ClientFrame[]).filter((f) => f.type === 'react')).toHaveLength(1),
    );
    const shown = view(client).messages.find((m) => m.id === target.id);
    expect(shown?.reactions.map((r) => [r.emoji, r.count, r.mine])).toEqual([['👍', 1, true]]);
  });

  it('sending a message goes back to the latest, where it shows', async () => {
    const { client, all } = await lobbyOf(200);
    await client.openMessage('lobby', { id: all[29]!.id, seq: 30 });
    expect(view(client).jump?.detached).toBe(true);
    expect(client.send('lobby', 'back to now')).toBeNull();
    expect(view(client).jump).toBeNull();
    expect(view(client).messages.at(-1)?.content).toBe('back to now');
  });

  it('opening another room lets go of the jump: the room opens at its latest next time', async () => {
    const { client, history, all } = await lobbyOf(200);
    history.add('other', message('other', 1));
    await client.openMessage('lobby', { id: all[29]!.id, seq: 30 });
    client.openRoom('other');
    expect(view(client).jump).toBeNull();
    expect(seqs(client).at(-1)).toBe(200);
  });

  it('opens a room you are not in at a message: it joins it, reads its latest page, then the stretch', async () => {
    const { client, history, server } = await lobbyOf(10);
    const elsewhere: Message[] = [];
    for (let seq = 1; seq <= 120; seq++) elsewhere.push(message('elsewhere', seq, { content: `there ${seq}` }));
    history.add('elsewhere', ...elsewhere);
    const opening = client.openMessage('elsewhere', { id: elsewhere[4]!.id, seq: 5 });
    expect(client.getSnapshot().myRooms).toContain('elsewhere');
    expect(client.getSnapshot().currentRoom).toBe('elsewhere');
    await vi.waitFor(() =>
      expect(server.messages as ClientFrame[]).toContainEqual(
        expect.objectContaining({ type: 'join', room: 'elsewhere' }),
      ),
    );
    await opening;
    expect(history.historyCalls('elsewhere')).toEqual(['latest', 'before_seq=6', 'after_seq=5']);
    expect(view(client, 'elsewhere').jump?.detached).toBe(true);
    expect(seqs(client, 'elsewhere')).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    client.jumpToLatest('elsewhere');
    expect(seqs(client, 'elsewhere').at(-1)).toBe(120);
  });

  it('a stretch that cannot be read says so, and is read again on "Try again"', async () => {
    const { client, history, all } = await lobbyOf(200);
    history.down = true;
    await client.openMessage('lobby', { id: all[29]!.id, seq: 30 });
    expect(view(client)).toMatchObject({ loading: false, error: 'Could not reach the server.' });
    history.down = false;
    client.retryHistory('lobby');
    await vi.waitFor(() => expect(view(client).messages.some((m) => m.id === all[29]!.id)).toBe(true));
    expect(view(client).error).toBeNull();
  });

  it('searches through the client’s search API', async () => {
    const { client } = await lobbyOf(10);
    const search = client.createSearch({ debounceMs: 0 });
    search.setQuery('message');
    await vi.waitFor(() => expect(search.getSnapshot().status).toBe('ready'));
    expect(search.getSnapshot().hits.map((h) => h.message.seq)).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(search.getSnapshot().hits[0]!.marks).toEqual([{ start: 0, end: 7 }]);
    search.dispose();
  });
});
