/**
 * The fallback without SharedWorker: one tab holds the Web Lock and runs the
 * hub, the others reach it over a BroadcastChannel, and another takes over
 * when it goes — with fakes for `navigator.locks` and the channel.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatClient, ChatMessage } from '../../../src/core/chat';
import { MemoryKeyValue, saveIdentity } from '../../../src/core/prefs';
import { LeaderElection } from '../../../src/core/shared/election';
import { SharedTransport } from '../../../src/core/shared/tab';
import { MemoryStore } from '../../../src/core/store';
import { FakeHistory, makeClient } from '../../helpers/fixtures';
import { FakeBroadcast, FakeLocks, MiniServer, memoryHub, settle, until } from '../../helpers/shared';

interface Tab {
  id: string;
  client: ChatClient;
  election: LeaderElection;
  /** The page goes away (`pagehide`): its lock and its hub (with the socket, if it led) go with it. */
  close(): void;
}

/** One browser without SharedWorker: tabs share its store, prefs, locks and channel. */
function browser() {
  const history = new FakeHistory();
  const server = new MiniServer(history.rooms);
  const locks = new FakeLocks();
  const channel = new FakeBroadcast();
  const store = new MemoryStore();
  const prefs = new MemoryKeyValue();
  saveIdentity(prefs, { userId: null, token: null, name: 'Ada' });
  const tabs: Tab[] = [];
  const open = (): Tab => {
    const id = `tab-${tabs.length + 1}`;
    let transport: SharedTransport | null = null;
    const { client } = makeClient({
      history,
      store,
      prefs,
      transport: (options) => (transport = new SharedTransport(options)),
    });
    const election = new LeaderElection({
      tabId: id,
      locks,
      bus: channel.channel(),
      createHub: () => memoryHub(server),
      onPort: (port) => transport?.usePort(port),
    });
    election.start();
    client.start();
    const tab: Tab = {
      id,
      client,
      election,
      close: () => {
        transport?.leave();
        election.stop();
        client.stop();
      },
    };
    tabs.push(tab);
    return tab;
  };
  return { history, server, store, tabs, open };
}

let browsers: ReturnType<typeof browser>[] = [];
afterEach(() => {
  for (const b of browsers) for (const tab of b.tabs) tab.close();
  browsers = [];
});

function open() {
  const b = browser();
  browsers.push(b);
  return b;
}

function lobby(tab: Tab): readonly ChatMessage[] {
  return tab.client.getSnapshot().rooms.lobby?.messages ?? [];
}

function shown(tab: Tab): string[] {
  return lobby(tab).map((m) => `${m.content}:${m.status ?? 'other'}`);
}

async function joined(...tabs: Tab[]): Promise<void> {
  for (const tab of tabs) await until(() => expect(tab.client.getSnapshot().rooms.lobby?.joined).toBe(true));
}

describe('leader election (Web Locks + BroadcastChannel)', () => {
  it('elects one leader; three tabs share its one socket', async () => {
    const b = open();
    const [one, two, three] = [b.open(), b.open(), b.open()];
    await joined(one, two, three);
    expect(one.election.isLeader).toBe(true);
    expect(two.election.isLeader).toBe(false);
    expect(two.election.leader).toBe('tab-1');
    expect(b.server.sockets).toHaveLength(1);
    expect(b.server.received('join')).toHaveLength(1);

    b.server.post('lobby', 'hello tabs');
    for (const tab of [one, two, three]) await until(() => expect(shown(tab)).toEqual(['hello tabs:other']));
  });

  it('a follower closing changes nothing; the last tab closing closes the socket', async () => {
    const b = open();
    const [one, two] = [b.open(), b.open()];
    await joined(one, two);
    two.close();
    await settle();
    expect(b.server.open).toHaveLength(1);
    one.close();
    await settle();
    expect(b.server.open).toHaveLength(0);
  });

  it('the leader goes away mid-send: the new leader sends the unacked message again, with its client_id, once', async () => {
    const b = open();
    const [one, two, three] = [b.open(), b.open(), b.open()];
    await joined(one, two, three);
    // The leader's own tab writes; the server takes the frame but never gets to store it.
    b.server.holdAnswers = true;
    expect(one.client.send('lobby', 'written in the leader')).toBeNull();
    await until(() => expect(shown(three)).toEqual(['written in the leader:sending']));
    await until(() => expect(b.server.received('messages')).toHaveLength(1));
    const clientId = lobby(one)[0]?.clientId ?? '';
    const first = b.server.sockets[0];

    // The leader's page closes: its socket goes, unanswered (the server drops what it held).
    b.server.holdAnswers = false;
    one.close();
    await until(() => expect(two.election.isLeader).toBe(true));
    expect(first?.open).toBe(false);
    await joined(two, three);
    for (const tab of [two, three]) await until(() => expect(shown(tab)).toEqual(['written in the leader:sent']));

    // The new socket carried it once, though both tabs had it pending; it is stored once.
    const second = b.server.sockets[1];
    const sent = second?.sent.flatMap((f) => (f.type === 'messages' ? f.data.map((d) => d.client_id) : []));
    expect(sent).toEqual([clientId]);
    expect(b.server.stored().map((m) => m.content)).toEqual(['written in the leader']);
    expect(b.server.sockets.filter((s) => s.open)).toHaveLength(1);
    await settle();
    for (const tab of [two, three]) expect(shown(tab)).toEqual(['written in the leader:sent']);
  });

  it('a follower writes, the leader goes before the ack: stored once, shown once', async () => {
    const b = open();
    const [one, two, three] = [b.open(), b.open(), b.open()];
    await joined(one, two, three);
    // This time the server stores it, but the ack is lost with the leader's socket.
    b.server.holdAnswers = true;
    three.client.send('lobby', 'written in a follower');
    await until(() => expect(b.server.received('messages')).toHaveLength(1));
    const clientId = lobby(three)[0]?.clientId ?? '';
    b.server.release(); // stored and answered on the old socket...
    one.close(); // ...which is gone before the answer arrives
    await until(() => expect(two.election.isLeader).toBe(true));
    await joined(two, three);
    for (const tab of [two, three]) await until(() => expect(shown(tab)).toEqual(['written in a follower:sent']));
    // Idempotent: a second copy at most, answered with the first's id, never stored twice.
    expect(b.server.draftsSeen.get(clientId)).toBeLessThanOrEqual(2);
    expect(b.server.stored()).toHaveLength(1);
    const second = b.server.sockets[1];
    const sent = second?.sent.flatMap((f) => (f.type === 'messages' ? f.data.map((d) => d.client_id) : []));
    expect(sent?.filter((c) => c === clientId).length).toBeLessThanOrEqual(1);
  });

  it('a tab opened after a hand-over finds the new leader', async () => {
    const b = open();
    const [one, two] = [b.open(), b.open()];
    await joined(one, two);
    one.close();
    await until(() => expect(two.election.isLeader).toBe(true));
    const three = b.open();
    await joined(two, three);
    expect(three.election.leader).toBe('tab-2');
    expect(b.server.open).toHaveLength(1);
  });
});
