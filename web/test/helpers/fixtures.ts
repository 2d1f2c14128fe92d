/**
 * Test doubles for the chat client: a fake WebSocket server URL, frames with
 * fixed user ids, and a mocked `fetch` that serves history like whisper-server.
 */
import WS from 'jest-websocket-mock';
import { vi } from 'vitest';
import type { BackoffOptions } from '../../src/core/backoff';
import { ChatClient, type ChatClientOptions } from '../../src/core/chat';
import { HistoryApi } from '../../src/core/history';
import { MemoryKeyValue, saveIdentity, type Identity, type KeyValue } from '../../src/core/prefs';
import {
  DEFAULT_LIMITS,
  type Change,
  type HistoryPage,
  type Message,
  type RoomEvent,
  type RoomSummary,
  type ServerFrameOf,
} from '../../src/core/protocol';
import { MemoryStore, type LocalStore } from '../../src/core/store';

export const WS_URL = 'ws://chat.test/v1/chat/ws';
export const ORIGIN = 'http://chat.test';

/** Automatic resends an hour away (`retryBackoff`): a test that retries by hand is not raced by them. */
export const RETRY_BY_HAND: BackoffOptions = { initialMs: 3_600_000, maxMs: 3_600_000, jitter: 0 };

export const ME = '1a0b53f6-47c1-4091-b7bf-3df0d68f24f8';
export const BOB = '5948830d-8f95-4fb0-ab18-728248fa24e7';
export const CAROL = '0c7d1c7e-2d41-4c55-9a53-7b2f4f9e6a10';

export function welcome(userId = ME, token = `token-${userId.slice(0, 4)}`): ServerFrameOf<'welcome'> {
  return { type: 'welcome', user_id: userId, token, server_id: 'node-test', limits: DEFAULT_LIMITS };
}

let ulid = 0;
/** A distinct, increasing ULID-shaped id. */
export function nextId(): string {
  ulid += 1;
  return `01M82E00CQEX49YV97FX${String(ulid).padStart(6, '0')}`;
}

export function message(room: string, seq: number, fields: Partial<Message> = {}): Message {
  return {
    id: nextId(),
    room,
    seq,
    user_id: BOB,
    name: 'Bob',
    content: `message ${seq}`,
    created_at: new Date(Date.UTC(2026, 10, 22, 20, 0, seq)).toISOString(),
    ...fields,
  };
}

/** An event at `seq` changing message `target` (by default Bob's doing). */
export function event(
  seq: number,
  target: Pick<Message, 'id' | 'room'>,
  change: Change,
  fields: Partial<Omit<RoomEvent, 'kind'>> = {},
): RoomEvent {
  return {
    seq,
    id: nextId(),
    room: target.room,
    target: target.id,
    user_id: BOB,
    name: 'Bob',
    created_at: new Date(Date.UTC(2026, 10, 22, 20, 5, seq)).toISOString(),
    ...fields,
    ...change,
  } as RoomEvent;
}

/**
 * A history server in memory, answering `GET /v1/chat/messages`, `/v1/rooms`
 * and `/healthz` with whisper-server's paging rules.
 */
export class FakeHistory {
  readonly rooms = new Map<string, Message[]>();
  readonly requests: URL[] = [];
  /** Set to make every request fail like a network error. */
  down = false;
  readonly fetch = vi.fn(async (input: RequestInfo | URL): Promise<Response> => {
    const url = new URL(String(input), ORIGIN);
    this.requests.push(url);
    if (this.down) throw new TypeError('Failed to fetch');
    if (url.pathname === '/healthz') return json(200, { status: 'ok' });
    if (url.pathname === '/v1/rooms') {
      // By name (byte order), after `after`, at most `limit` (default 100).
      const after = url.searchParams.get('after') ?? '';
      const limit = Number(url.searchParams.get('limit') ?? 100);
      const all: RoomSummary[] = [...this.rooms]
        .filter(([name]) => name > after)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([name, list]) => ({
          name,
          online: 1,
          last_seq: list.at(-1)?.seq ?? 0,
          epoch: 1,
          last_message_at: list.at(-1)?.created_at ?? null,
        }));
      const rooms = all.slice(0, limit);
      const has_more = all.length > limit;
      return json(200, { rooms, has_more, next: has_more ? (rooms.at(-1)?.name ?? null) : null });
    }
    if (url.pathname === '/v1/chat/messages') {
      const room = url.searchParams.get('room') ?? 'lobby';
      return json(200, this.page(room, url.searchParams));
    }
    return json(404, { error: { code: 'not_found', message: 'no such endpoint' } });
  });

  add(room: string, ...messages: Message[]): void {
    const list = this.rooms.get(room) ?? [];
    list.push(...messages);
    list.sort((a, b) => a.seq - b.seq);
    this.rooms.set(room, list);
  }

  /** Requests for one room's history, as `before_seq=…` / `after_seq=…` / `latest`. */
  historyCalls(room: string): string[] {
    return this.requests
      .filter((u) => u.pathname === '/v1/chat/messages' && u.searchParams.get('room') === room)
      .map((u) =>
        u.searchParams.has('before_seq')
          ? `before_seq=${u.searchParams.get('before_seq')}`
          : u.searchParams.has('after_seq')
            ? `after_seq=${u.searchParams.get('after_seq')}`
            : 'latest',
      );
  }

  private page(room: string, q: URLSearchParams): HistoryPage {
    const all = this.rooms.get(room) ?? [];
    const limit = Math.min(500, Math.max(1, Number(q.get('limit') ?? 50)));
    const before = q.has('before_seq') ? Number(q.get('before_seq')) : null;
    const after = q.has('after_seq') ? Number(q.get('after_seq')) : null;
    if (after !== null) {
      const rest = all.filter((m) => m.seq > after);
      return { type: 'messages', room, data: rest.slice(0, limit), has_more: rest.length > limit };
    }
    const upTo = before === null ? all : all.filter((m) => m.seq < before);
    return { type: 'messages', room, data: upTo.slice(-limit), has_more: upTo.length > limit };
  }
}

function json(status: number, body: unknown): Response {
  return {
    ok: status >= 200 && status < 300,
    status,
    json: () => Promise.resolve(body),
  } as Response;
}

export interface TestClient {
  client: ChatClient;
  history: FakeHistory;
  store: LocalStore;
  prefs: KeyValue;
}

/** A `ChatClient` wired to the fakes, with quick reconnects. */
export function makeClient(
  options: Partial<ChatClientOptions> & { history?: FakeHistory; identity?: Partial<Identity> } = {},
): TestClient {
  const { history: givenHistory, identity, store: givenStore, prefs: givenPrefs, ...rest } = options;
  const history = givenHistory ?? new FakeHistory();
  const prefs = givenPrefs ?? new MemoryKeyValue();
  if (identity) saveIdentity(prefs, { userId: null, token: null, name: null, ...identity });
  const store = givenStore ?? new MemoryStore();
  const client = new ChatClient({
    wsUrl: WS_URL,
    api: new HistoryApi(ORIGIN, history.fetch as unknown as typeof fetch),
    backoff: { initialMs: 5, maxMs: 20, jitter: 0 },
    ...rest,
    store,
    prefs,
  });
  return { client, history, store, prefs };
}

/** A fresh mock WebSocket server at `WS_URL` that speaks JSON. */
export function mockServer(): WS {
  return new WS(WS_URL, { jsonProtocol: true });
}

/** Closes the mock server (dropping every client) and opens a new one at the same URL. */
export async function restartServer(server: WS): Promise<WS> {
  server.close();
  await server.closed;
  WS.clean();
  return mockServer();
}
