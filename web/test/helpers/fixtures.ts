/**
 * Test doubles for the chat client: a fake WebSocket server URL, frames with
 * fixed user ids, and a mocked `fetch` that serves history and the account API
 * like whisper-server.
 */
import WS from 'jest-websocket-mock';
import { vi } from 'vitest';
import { AccountsApi, type DeviceSession } from '../../src/core/accounts';
import type { BackoffOptions } from '../../src/core/backoff';
import { ChatClient, type ChatClientOptions } from '../../src/core/chat';
import { HistoryApi } from '../../src/core/history';
import { MemoryKeyValue, saveIdentity, type Identity, type KeyValue } from '../../src/core/prefs';
import {
  DEFAULT_LIMITS,
  type Change,
  type HistoryPage,
  type Member,
  type Message,
  type Person,
  type Role,
  type RoomEvent,
  type RoomSummary,
  type ServerFrameOf,
} from '../../src/core/protocol';
import { RoomsApi } from '../../src/core/rooms-api';
import { SearchApi } from '../../src/core/search';
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

/** A member or room event at `seq` of `room` (by default Bob's doing). */
export function notice(
  room: string,
  seq: number,
  change: Extract<Change, { kind: 'member' | 'room' }>,
  fields: Partial<Omit<RoomEvent, 'kind'>> = {},
): RoomEvent {
  return {
    seq,
    id: nextId(),
    room,
    user_id: BOB,
    name: 'Bob',
    created_at: new Date(Date.UTC(2026, 10, 22, 20, 5, seq)).toISOString(),
    ...fields,
    ...change,
  } as RoomEvent;
}

interface FakeUser {
  user_id: string;
  name: string;
  email: string;
  password: string;
  created_at: number;
}

/**
 * The account API in memory, with whisper-server's rules: accounts by email,
 * unique names (case-insensitively), sessions per account, and the one cookie
 * of the browser under test (`cookie`, a session id) that `credentials:
 * 'same-origin'` would send.
 */
export class FakeAccounts {
  readonly users: FakeUser[] = [];
  readonly sessions: (DeviceSession & { user_id: string })[] = [];
  /** The browser's `whisper_session` cookie: a session id, or `null`. */
  cookie: string | null = null;
  /** The guest tokens the fake WebSocket hands out (`welcome()`), to their user ids. */
  readonly guestTokens = new Map<string, string>([[welcome().token, ME]]);
  /** Every account request: method, path, JSON body and `credentials`. */
  readonly calls: { method: string; path: string; body: unknown; credentials: RequestCredentials | undefined }[] = [];
  /** Set to refuse sign-up and sign-in with 429 and `Retry-After: 30`. */
  rateLimited = false;
  now = Date.UTC(2026, 10, 22, 20, 0, 0);
  private ids = 0;

  /** An account that exists already. */
  addUser(fields: Partial<FakeUser> & { email: string }): FakeUser {
    this.ids += 1;
    const user: FakeUser = {
      user_id: `00000000-0000-4000-8000-${String(this.ids).padStart(12, '0')}`,
      name: `User ${this.ids}`,
      password: 'correct horse battery',
      created_at: this.now,
      ...fields,
    };
    this.users.push(user);
    return user;
  }

  /** A session of `user` on some device; `here` makes it this browser's cookie. */
  addSession(user: FakeUser, options: { here?: boolean; userAgent?: string | null; lastUsedAt?: number } = {}) {
    this.ids += 1;
    const session = {
      id: `sess-${this.ids}`,
      user_id: user.user_id,
      created_at: this.now,
      last_used_at: options.lastUsedAt ?? this.now,
      expires_at: this.now + 30 * 86_400_000,
      user_agent: options.userAgent === undefined ? 'Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0' : options.userAgent,
      current: false,
    };
    this.sessions.push(session);
    if (options.here) this.cookie = session.id;
    return session;
  }

  /** The user the cookie is a live session of. */
  signedIn(): FakeUser | undefined {
    const session = this.sessions.find((s) => s.id === this.cookie);
    return session && this.users.find((u) => u.user_id === session.user_id);
  }

  /** Answers an account request, or `null` when `url` is not one. */
  handle(method: string, url: URL, init: RequestInit | undefined): Response | null {
    const path = url.pathname;
    if (!path.startsWith('/v1/auth/') && path !== '/v1/me' && !path.startsWith('/v1/me/')) return null;
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : undefined;
    this.calls.push({ method, path, body, credentials: init?.credentials });
    const me = this.signedIn();
    if (method === 'POST' && path === '/v1/auth/register') return this.register(body ?? {});
    if (method === 'POST' && path === '/v1/auth/login') {
      if (this.rateLimited) return refusal(429, 'rate_limited', 'too many attempts', { 'Retry-After': '30' });
      const user = this.users.find((u) => u.email === String(body?.email).toLowerCase());
      if (!user || user.password !== body?.password) {
        return refusal(401, 'invalid_credentials', 'the email or the password is wrong');
      }
      return json(200, this.startSession(user));
    }
    if (method === 'POST' && path === '/v1/auth/logout') {
      this.sessions.splice(0, this.sessions.length, ...this.sessions.filter((s) => s.id !== this.cookie));
      this.cookie = null;
      return json(204, null);
    }
    if (!me) return refusal(401, 'unauthorized', 'not signed in');
    if (method === 'GET' && path === '/v1/me') return json(200, profile(me));
    if (method === 'PATCH' && path === '/v1/me') {
      const name = String(body?.name ?? '');
      if (!name.trim()) return refusal(400, 'invalid_request', 'name: must not be empty');
      if (this.users.some((u) => u !== me && u.name.toLowerCase() === name.toLowerCase())) {
        return refusal(409, 'name_taken', 'that name is taken');
      }
      me.name = name;
      return json(200, profile(me));
    }
    if (method === 'GET' && path === '/v1/me/sessions') {
      const mine = this.sessions.filter((s) => s.user_id === me.user_id);
      return json(200, {
        sessions: mine.map(({ user_id: _, ...s }) => ({ ...s, current: s.id === this.cookie })),
      });
    }
    if (method === 'DELETE' && path.startsWith('/v1/me/sessions/')) {
      const id = decodeURIComponent(path.slice('/v1/me/sessions/'.length));
      const i = this.sessions.findIndex((s) => s.id === id && s.user_id === me.user_id);
      if (i < 0) return refusal(404, 'not_found', 'no such session');
      this.sessions.splice(i, 1);
      return json(204, null);
    }
    return refusal(404, 'not_found', 'no such endpoint');
  }

  private register(body: Record<string, unknown>): Response {
    if (this.rateLimited) return refusal(429, 'rate_limited', 'too many attempts', { 'Retry-After': '30' });
    const email = String(body.email ?? '').toLowerCase();
    const name = String(body.name ?? '');
    const password = String(body.password ?? '');
    if (!email) return refusal(400, 'invalid_request', 'email: must not be empty');
    if (password.length < 10 || password === email || password === name) {
      return refusal(400, 'weak_password', 'the password needs at least 10 characters, and not the email or name');
    }
    if (this.users.some((u) => u.email === email)) return refusal(409, 'email_taken', 'an account has that email');
    if (this.users.some((u) => u.name.toLowerCase() === name.toLowerCase())) {
      return refusal(409, 'name_taken', 'an account has that name');
    }
    const guest = typeof body.guest_token === 'string' ? this.guestTokens.get(body.guest_token) : undefined;
    const user = this.addUser({ email, name, password, ...(guest ? { user_id: guest } : {}) });
    return json(201, this.startSession(user));
  }

  private startSession(user: FakeUser) {
    const session = this.addSession(user, { here: true });
    return { user_id: user.user_id, name: user.name, email: user.email, session_id: session.id };
  }
}

function profile(user: FakeUser) {
  return { user_id: user.user_id, name: user.name, email: user.email, created_at: user.created_at };
}

interface FakeRoom {
  summary: RoomSummary;
  members: Member[];
  banned: Person[];
}

/**
 * The rooms API in memory, as whisper-server answers it for the caller `me`:
 * private and direct rooms (`p/…`, `dm/…`) with members and roles, accounts
 * found by name, and the errors' flat body (`{"error","message","details"}`).
 */
export class FakeRooms {
  me = ME;
  myName = 'Ada';
  /** The accounts there are, for `GET /v1/users` and as members. */
  readonly users: Person[] = [
    { user_id: BOB, name: 'Bob' },
    { user_id: CAROL, name: 'Carol' },
  ];
  readonly rooms = new Map<string, FakeRoom>();
  readonly calls: { method: string; path: string; body: unknown; credentials: RequestCredentials | undefined }[] = [];
  private ids = 0;

  /** A private (or direct) room that exists, with `members` by role. */
  addRoom(name: string, fields: Partial<RoomSummary> = {}, members: Member[] = []): FakeRoom {
    const room: FakeRoom = {
      summary: {
        name,
        online: 0,
        last_seq: 0,
        epoch: 1,
        last_message_at: null,
        visibility: name.startsWith('dm/') ? 'direct' : 'private',
        topic: '',
        ...fields,
      },
      members,
      banned: [],
    };
    this.rooms.set(name, room);
    return room;
  }

  /** The summaries the caller may see, as `GET /v1/rooms` lists them. */
  visible(): RoomSummary[] {
    return [...this.rooms.values()].filter((r) => this.roleOf(r) !== null).map((r) => this.summaryFor(r));
  }

  handle(method: string, url: URL, init: RequestInit | undefined): Response | null {
    const path = url.pathname;
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : undefined;
    const record = () => this.calls.push({ method, path: path + url.search, body, credentials: init?.credentials });
    if (method === 'POST' && path === '/v1/rooms') {
      record();
      const title = String(body?.title ?? '').trim();
      if (!title) return flat(400, 'invalid_request', 'a private room needs a title');
      const ids = (body?.members as string[] | undefined) ?? [];
      const unknown = ids.filter((id) => !this.users.some((u) => u.user_id === id));
      if (unknown.length)
        return flat(
          404,
          'not_found',
          'no such account',
          unknown.map((id) => `members: ${id}`),
        );
      this.ids += 1;
      const name = `p/${String(this.ids).padStart(32, '0')}`;
      const room = this.addRoom(name, { title, topic: String(body?.topic ?? '') }, [
        { user_id: this.me, name: this.myName, role: 'owner' },
        ...ids.map((id) => ({ user_id: id, name: this.nameOf(id), role: 'member' as Role })),
      ]);
      return json(201, { room: this.summaryFor(room) });
    }
    if (method === 'POST' && path === '/v1/dm') {
      record();
      const peer = String(body?.user_id ?? '');
      if (peer === this.me) return flat(400, 'invalid_request', 'you cannot open a conversation with yourself');
      if (!this.users.some((u) => u.user_id === peer)) return flat(404, 'not_found', 'no such account');
      const existing = [...this.rooms.values()].find(
        (r) =>
          r.summary.visibility === 'direct' &&
          r.members.some((m) => m.user_id === peer) &&
          r.members.some((m) => m.user_id === this.me),
      );
      if (existing) return json(200, { room: this.summaryFor(existing) });
      this.ids += 1;
      const room = this.addRoom(`dm/${String(this.ids).padStart(32, '0')}`, {}, [
        { user_id: this.me, name: this.myName, role: 'member' },
        { user_id: peer, name: this.nameOf(peer), role: 'member' },
      ]);
      return json(201, { room: this.summaryFor(room) });
    }
    if (method === 'GET' && path === '/v1/users') {
      record();
      const name = (url.searchParams.get('name') ?? '').toLowerCase();
      const user = this.users.find((u) => u.name.toLowerCase() === name);
      return user ? json(200, user) : flat(404, 'not_found', 'no account has that name');
    }
    const match = /^\/v1\/rooms\/([^/]+)(\/.*)?$/.exec(path);
    if (!match) return null;
    record();
    const name = decodeURIComponent(match[1] ?? '');
    const rest = match[2] ?? '';
    const room = this.rooms.get(name);
    const role = room ? this.roleOf(room) : null;
    if (!room || role === null) return flat(403, 'forbidden', `not a member of room ${name}`);
    const manager = role === 'owner' || role === 'moderator';
    if (method === 'GET' && rest === '') {
      return json(200, {
        room: this.summaryFor(room),
        members: room.members,
        ...(manager ? { banned: room.banned } : {}),
      });
    }
    if (method === 'PATCH' && rest === '') {
      if (!manager) return flat(403, 'forbidden', 'only owners and moderators change the room');
      if (typeof body?.title === 'string') room.summary.title = body.title;
      if (typeof body?.topic === 'string') room.summary.topic = body.topic;
      return json(200, {
        event: this.event(name, {
          kind: 'room',
          created: false,
          visibility: room.summary.visibility,
          topic: room.summary.topic,
          ...(room.summary.title ? { title: room.summary.title } : {}),
        }),
      });
    }
    if (method === 'POST' && rest === '/members') {
      if (!manager) return flat(403, 'forbidden', 'only owners and moderators add members');
      const id = String(body?.user_id ?? '');
      if (!room.members.some((m) => m.user_id === id))
        room.members.push({ user_id: id, name: this.nameOf(id), role: 'member' });
      return json(200, { event: this.memberEvent(name, id, 'added', 'member') });
    }
    const member = /^\/members\/([^/]+)$/.exec(rest);
    if (member) {
      const id = decodeURIComponent(member[1] ?? '');
      if (method === 'DELETE') {
        if (id === this.me) {
          if (room.summary.visibility === 'direct')
            return flat(409, 'conflict', 'a direct conversation cannot be left');
          const owners = room.members.filter((m) => m.role === 'owner');
          if (role === 'owner' && owners.length === 1 && room.members.length > 1) {
            return flat(409, 'conflict', 'make another member owner first');
          }
        } else if (!manager) return flat(403, 'forbidden', 'only owners and moderators remove members');
        room.members = room.members.filter((m) => m.user_id !== id);
        const reason = url.searchParams.get('reason') ?? undefined;
        return json(200, { event: this.memberEvent(name, id, id === this.me ? 'left' : 'kicked', undefined, reason) });
      }
      if (method === 'PATCH') {
        if (role !== 'owner') return flat(403, 'forbidden', 'only owners change roles');
        const next = body?.role as Role;
        room.members = room.members.map((m) => (m.user_id === id ? { ...m, role: next } : m));
        return json(200, { event: this.memberEvent(name, id, 'role', next) });
      }
    }
    if (method === 'POST' && rest === '/bans') {
      if (!manager) return flat(403, 'forbidden', 'only owners and moderators ban');
      const id = String(body?.user_id ?? '');
      room.members = room.members.filter((m) => m.user_id !== id);
      room.banned.push({ user_id: id, name: this.nameOf(id) });
      return json(200, { event: this.memberEvent(name, id, 'banned', undefined, body?.reason as string | undefined) });
    }
    const ban = /^\/bans\/([^/]+)$/.exec(rest);
    if (method === 'DELETE' && ban) {
      if (!manager) return flat(403, 'forbidden', 'only owners and moderators unban');
      const id = decodeURIComponent(ban[1] ?? '');
      room.banned = room.banned.filter((b) => b.user_id !== id);
      return json(200, { event: this.memberEvent(name, id, 'unbanned') });
    }
    return flat(404, 'not_found', 'no such endpoint');
  }

  private roleOf(room: FakeRoom): Role | null {
    return room.members.find((m) => m.user_id === this.me)?.role ?? null;
  }

  private nameOf(userId: string): string {
    return this.users.find((u) => u.user_id === userId)?.name ?? (userId === this.me ? this.myName : 'Someone');
  }

  private summaryFor(room: FakeRoom): RoomSummary {
    const role = this.roleOf(room);
    const peer = room.summary.visibility === 'direct' ? room.members.find((m) => m.user_id !== this.me) : undefined;
    return {
      ...room.summary,
      ...(role ? { role } : {}),
      ...(peer ? { peer: { user_id: peer.user_id, name: peer.name } } : {}),
    };
  }

  private event(room: string, change: Change): RoomEvent {
    return {
      seq: 0,
      id: nextId(),
      room,
      user_id: this.me,
      name: this.myName,
      created_at: new Date().toISOString(),
      ...change,
    } as RoomEvent;
  }

  private memberEvent(
    room: string,
    member: string,
    action: Extract<Change, { kind: 'member' }>['action'],
    role?: Role,
    reason?: string,
  ): RoomEvent {
    return this.event(room, {
      kind: 'member',
      member,
      member_name: this.nameOf(member),
      action,
      ...(role ? { role } : {}),
      ...(reason ? { reason } : {}),
    });
  }
}

/**
 * A history server in memory, answering `GET /v1/chat/messages`, `/v1/rooms`
 * and `/healthz` with whisper-server's paging rules, and the account API
 * (`accounts`: nobody signed in until a test says).
 */
export class FakeHistory {
  readonly rooms = new Map<string, Message[]>();
  readonly requests: URL[] = [];
  readonly accounts = new FakeAccounts();
  /** The rooms API: private and direct rooms, members (the caller is `ME` unless a test says). */
  readonly roomsApi = new FakeRooms();
  /** Set to make every request fail like a network error. */
  down = false;
  /**
   * What `GET /v1/search` answers (its query's parameters given): by default
   * every message holding the query's first word (whole, any case), newest
   * first, marked, `limit` at a time — enough of the server's rules for a test.
   */
  searchWith: ((params: URLSearchParams) => Response) | null = null;
  readonly fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input), ORIGIN);
    this.requests.push(url);
    if (this.down) throw new TypeError('Failed to fetch');
    const account = this.accounts.handle(init?.method ?? 'GET', url, init);
    if (account) return account;
    const rooms = this.roomsApi.handle(init?.method ?? 'GET', url, init);
    if (rooms) return rooms;
    if (url.pathname === '/healthz') return json(200, { status: 'ok' });
    if (url.pathname === '/v1/rooms') {
      // By name (byte order), after `after`, at most `limit` (default 100).
      const after = url.searchParams.get('after') ?? '';
      const limit = Number(url.searchParams.get('limit') ?? 100);
      const all: RoomSummary[] = [
        ...[...this.rooms]
          .filter(([name]) => !this.roomsApi.rooms.has(name))
          .map(([name, list]) => ({
            name,
            online: 1,
            last_seq: list.at(-1)?.seq ?? 0,
            epoch: 1,
            last_message_at: list.at(-1)?.created_at ?? null,
            visibility: 'public' as const,
            topic: '',
          })),
        ...this.roomsApi.visible(),
      ]
        .filter(({ name }) => name > after)
        .sort(({ name: a }, { name: b }) => (a < b ? -1 : a > b ? 1 : 0));
      const rooms = all.slice(0, limit);
      const has_more = all.length > limit;
      return json(200, { rooms, has_more, next: has_more ? (rooms.at(-1)?.name ?? null) : null });
    }
    if (url.pathname === '/v1/chat/messages') {
      const room = url.searchParams.get('room') ?? 'lobby';
      return json(200, this.page(room, url.searchParams));
    }
    if (url.pathname === '/v1/search') return this.searchWith?.(url.searchParams) ?? this.search(url.searchParams);
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

  private search(q: URLSearchParams): Response {
    const word = (q.get('q') ?? '').trim().split(/\s+/)[0]?.toLowerCase() ?? '';
    if (!word) return json(400, { error: { code: 'invalid_request', message: 'q: type a word to search for' } });
    const room = q.get('room');
    const limit = Number(q.get('limit') ?? 20);
    const before = q.has('before') ? Number(q.get('before')) : Infinity;
    const found = [...this.rooms.values()]
      .flat()
      .filter((m) => (!room || m.room === room) && !m.deleted)
      .map((m, order) => ({ m, order }))
      .filter(({ order }) => order < before)
      .map(({ m, order }) => {
        const marks = [...m.content.matchAll(/[\p{L}\p{N}]+/gu)]
          .filter((w) => w[0].toLowerCase() === word)
          .map((w) => ({ start: w.index, end: w.index + w[0].length }));
        return { m, order, marks };
      })
      .filter(({ marks }) => marks.length > 0)
      .reverse();
    const page = found.slice(0, limit);
    const next = found.length > limit ? String(page.at(-1)?.order) : null;
    return json(200, { results: page.map(({ m, marks }) => ({ message: m, marks })), next });
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

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return {
    ok: status >= 200 && status < 300,
    status,
    headers: new Headers(headers),
    json: () => Promise.resolve(body),
  } as Response;
}

function refusal(status: number, code: string, message: string, headers: Record<string, string> = {}): Response {
  return json(status, { error: { code, message } }, headers);
}

/** An error as the rooms API words it: `{"error":"<code>","message","details"?}`. */
function flat(status: number, code: string, message: string, details?: string[]): Response {
  return json(status, { error: code, message, ...(details ? { details } : {}) });
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
  const { history: givenHistory, identity, store: givenStore, stores, prefs: givenPrefs, ...rest } = options;
  const history = givenHistory ?? new FakeHistory();
  const prefs = givenPrefs ?? new MemoryKeyValue();
  if (identity) saveIdentity(prefs, { userId: null, token: null, name: null, ...identity });
  const store = givenStore ?? new MemoryStore();
  const client = new ChatClient({
    wsUrl: WS_URL,
    api: new HistoryApi(ORIGIN, history.fetch as unknown as typeof fetch),
    accounts: new AccountsApi(ORIGIN, history.fetch as unknown as typeof fetch),
    rooms: new RoomsApi(ORIGIN, history.fetch as unknown as typeof fetch),
    search: new SearchApi(ORIGIN, history.fetch as unknown as typeof fetch),
    backoff: { initialMs: 5, maxMs: 20, jitter: 0 },
    ...rest,
    ...(stores ? { stores } : { store }),
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

/**
 * Ada signed in to her account (user id `ME`, the same as the fake socket's
 * `welcome()`), with a `FakeRooms` answering for her: a client that can
 * create rooms and open direct conversations.
 */
export function makeSignedInClient(
  options: Partial<ChatClientOptions> & { history?: FakeHistory; identity?: Partial<Identity> } = {},
): TestClient {
  const history = options.history ?? new FakeHistory();
  const ada =
    history.accounts.users.find((u) => u.user_id === ME) ??
    history.accounts.addUser({ email: 'ada@example.com', name: 'Ada', user_id: ME });
  if (!history.accounts.signedIn()) history.accounts.addSession(ada, { here: true });
  history.roomsApi.me = ME;
  history.roomsApi.myName = ada.name;
  return makeClient({ ...options, history });
}
