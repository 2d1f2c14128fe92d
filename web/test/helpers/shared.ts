/**
 * Fakes for the shared connection (src/core/shared): a WebSocket class whose
 * sockets a test drives by hand, a small whisper-server behind it
 * (`MiniServer`: welcome, join with replay, idempotent sends by `client_id`,
 * broadcasts, pings), and Web Locks and a BroadcastChannel bus in memory for
 * the leader election. Everything is delivered on microtasks, so fake timers
 * (`vi.useFakeTimers({ toFake: TIMERS })`) leave delivery alone.
 */
import { vi } from 'vitest';
import type { Credentials } from '../../src/core/connection';
import type { Bus, LockManagerLike, Wire } from '../../src/core/shared/election';
import { localPair, type TabPort, type ToHub, type ToTab } from '../../src/core/shared/protocol';
import { HubHost, type HubOptions } from '../../src/core/shared/hub';
import { SharedTransport } from '../../src/core/shared/tab';
import type { ClientFrame, Message, ServerFrame } from '../../src/core/protocol';
import { ME, welcome } from './fixtures';

/** The timers to fake: not `queueMicrotask`, which carries every message. */
export const TIMERS = ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] as const;

/** Lets every message in flight (microtasks, and what they post in turn) arrive. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

export class FakeSocket {
  readyState = 0;
  readonly url: string;
  readonly sent: ClientFrame[] = [];
  /** The rooms this socket joined, as the server sees it. */
  readonly rooms = new Set<string>();
  closedByClient: { code: number; reason: string } | null = null;
  /** Dead without a close (a dropped Wi-Fi): what is sent is lost, nothing comes back. */
  dead = false;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  private readonly server: MiniServer;

  constructor(url: string, server: MiniServer) {
    this.url = url;
    this.server = server;
  }

  send(text: string): void {
    if (this.readyState !== 1) throw new Error('not open');
    const frame = JSON.parse(text) as ClientFrame;
    this.sent.push(frame);
    queueMicrotask(() => this.server.onFrame(this, frame));
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.closedByClient = { code, reason };
    queueMicrotask(() => this.onclose?.({ code, reason }));
  }

  // ---- the server's side ----

  accept(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  push(frame: ServerFrame): void {
    if (this.readyState !== 1 || this.dead) return;
    queueMicrotask(() => {
      if (this.readyState === 1) this.onmessage?.({ data: JSON.stringify(frame) });
    });
  }

  /** The connection breaks (the server's end closes). */
  drop(code = 1006, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  get open(): boolean {
    return this.readyState === 1;
  }
}

/** Just enough of whisper-server for several tabs on one socket, and resends. */
export class MiniServer {
  readonly sockets: FakeSocket[] = [];
  /** Stored messages per room, in seq order (give `FakeHistory.rooms`, and history over HTTP reads them). */
  readonly rooms: Map<string, Message[]>;
  /** Every `messages` draft received, by `client_id`: how often it arrived. */
  readonly draftsSeen = new Map<string, number>();
  /** Accepts connections. */
  up = true;
  /** Answers pings. */
  answerPings = true;
  /** Takes frames and answers none (a hung server): the socket looks open. */
  silent = false;
  /** `messages` frames are not answered (nor stored) until `release()`. */
  holdAnswers = false;
  /** The next `messages` frame is refused with this code (nothing stored). */
  refuseNext: 'invalid_frame' | 'storage_unavailable' | null = null;
  private held: { socket: FakeSocket; frame: Extract<ClientFrame, { type: 'messages' }> }[] = [];
  private readonly byClientId = new Map<string, Message>();
  private ids = 0;
  readonly WebSocket: typeof WebSocket;

  constructor(rooms: Map<string, Message[]> = new Map()) {
    this.rooms = rooms;
    this.WebSocket = socketClassOf(this);
  }

  /** The sockets open now. */
  get open(): FakeSocket[] {
    return this.sockets.filter((s) => s.open);
  }

  /** Every frame of `type` received, on any socket. */
  received<T extends ClientFrame['type']>(type: T): Extract<ClientFrame, { type: T }>[] {
    return this.sockets.flatMap((s) => s.sent.filter((f): f is Extract<ClientFrame, { type: T }> => f.type === type));
  }

  stored(room = 'lobby'): Message[] {
    return this.rooms.get(room) ?? [];
  }

  /** Stores a message by someone else, and broadcasts it. */
  post(room: string, content: string, userId = '5948830d-8f95-4fb0-ab18-728248fa24e7'): Message {
    const message = this.store(room, content, userId, undefined);
    this.broadcast(room, [message]);
    return message;
  }

  /** Answers the `messages` frames held back. */
  release(): void {
    this.holdAnswers = false;
    const held = this.held;
    this.held = [];
    for (const { socket, frame } of held) this.answerMessages(socket, frame);
  }

  onConnect(socket: FakeSocket): void {
    if (!this.up) {
      socket.readyState = 3;
      socket.onerror?.({});
      socket.onclose?.({ code: 1006, reason: '' });
      return;
    }
    socket.accept();
    if (this.silent) return;
    socket.push(welcome());
  }

  onFrame(socket: FakeSocket, frame: ClientFrame): void {
    if (!socket.open || this.silent || socket.dead) return;
    switch (frame.type) {
      case 'ping':
        if (this.answerPings) socket.push({ type: 'pong', ...(frame.id ? { id: frame.id } : {}) });
        return;
      case 'join': {
        socket.rooms.add(frame.room);
        const log = this.stored(frame.room);
        const head = log.at(-1)?.seq ?? 0;
        const since = frame.since_seq;
        const recovered = since !== undefined && since <= head;
        socket.push({ type: 'joined', room: frame.room, seq: head, epoch: 1, recovered, read_seq: 0 });
        const replay = recovered ? log.filter((m) => m.seq > since) : [];
        if (replay.length) socket.push({ type: 'messages', room: frame.room, data: replay, recovered: true });
        socket.push({ type: 'presence', room: frame.room, users: [{ user_id: ME, name: 'Ada' }] });
        return;
      }
      case 'leave':
        socket.rooms.delete(frame.room);
        return;
      case 'messages':
        for (const draft of frame.data) {
          if (draft.client_id) this.draftsSeen.set(draft.client_id, (this.draftsSeen.get(draft.client_id) ?? 0) + 1);
        }
        if (this.holdAnswers) this.held.push({ socket, frame });
        else this.answerMessages(socket, frame);
        return;
      default:
        return;
    }
  }

  private answerMessages(socket: FakeSocket, frame: Extract<ClientFrame, { type: 'messages' }>): void {
    const refusal = this.refuseNext;
    if (refusal) {
      this.refuseNext = null;
      socket.push({
        type: 'message_ids',
        status: 'error',
        message_ids: [],
        client_ids: frame.data.map((d) => d.client_id ?? null),
        error: { code: refusal, message: refusal === 'invalid_frame' ? 'the messages frame is invalid' : 'down' },
      });
      return;
    }
    const fresh: Message[] = [];
    const ids = frame.data.map((draft) => {
      const known = draft.client_id ? this.byClientId.get(draft.client_id) : undefined;
      if (known) return known.id;
      const message = this.store(draft.room ?? 'lobby', draft.content, ME, draft.client_id);
      fresh.push(message);
      return message.id;
    });
    socket.push({
      type: 'message_ids',
      status: 'success',
      message_ids: ids,
      client_ids: frame.data.map((d) => d.client_id ?? null),
    });
    for (const message of fresh) this.broadcast(message.room, [message]);
  }

  private store(room: string, content: string, userId: string, clientId: string | undefined): Message {
    const log = this.stored(room);
    this.ids += 1;
    const message: Message = {
      id: `01M82E00CQEX49YV97FX${String(this.ids).padStart(6, '0')}`,
      room,
      seq: (log.at(-1)?.seq ?? 0) + 1,
      user_id: userId,
      name: userId === ME ? 'Ada' : 'Bob',
      content,
      created_at: new Date(Date.UTC(2026, 10, 22, 20, 0, this.ids)).toISOString(),
      ...(clientId ? { client_id: clientId } : {}),
    };
    this.rooms.set(room, [...log, message]);
    if (clientId) this.byClientId.set(clientId, message);
    return message;
  }

  private broadcast(room: string, data: Message[]): void {
    for (const socket of this.open) if (socket.rooms.has(room)) socket.push({ type: 'messages', room, data });
  }
}

/** The `WebSocket` class whose sockets connect to `server`. */
function socketClassOf(server: MiniServer): typeof WebSocket {
  class Socket extends FakeSocket {
    constructor(url: string) {
      super(url, server);
      server.sockets.push(this);
      queueMicrotask(() => server.onConnect(this));
    }
  }
  return Socket as unknown as typeof WebSocket;
}

/** A hub in memory, and a way to link tabs to it as a SharedWorker would. */
export function memoryHub(server: MiniServer, options: Partial<HubOptions> = {}): HubHost {
  return new HubHost({
    url: 'ws://chat.test/v1/chat/ws',
    probe: async () => server.up,
    connection: { WebSocket: server.WebSocket, backoff: { initialMs: 5, maxMs: 20, jitter: 0 } },
    ...options,
  });
}

/** A tab's port to `host` (what `new SharedWorker(…).port` is in a page). */
export function linkTo(host: HubHost): TabPort {
  const [hubEnd, tabEnd] = localPair<ToHub, ToTab>();
  host.connect(hubEnd);
  return tabEnd;
}

/** A transport for `ChatClient` on `host`; `ports` collects the links made. */
export function sharedTransport(host: HubHost) {
  return (options: { credentials: () => Credentials }) => new SharedTransport(options, linkTo(host));
}

/** `navigator.locks` in memory: one holder per name; the others wait their turn, in order. */
export class FakeLocks implements LockManagerLike {
  private readonly queues = new Map<string, (() => void)[]>();
  private readonly held = new Set<string>();

  request(
    name: string,
    options: { mode: 'exclusive'; signal?: AbortSignal },
    callback: (lock: unknown) => Promise<unknown>,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let granted = false;
      const grant = () => {
        granted = true;
        this.held.add(name);
        void callback({ name }).then(
          (value) => {
            this.free(name);
            resolve(value);
          },
          (error: unknown) => {
            this.free(name);
            reject(error instanceof Error ? error : new Error(String(error)));
          },
        );
      };
      options.signal?.addEventListener('abort', () => {
        if (granted) return;
        const queue = this.queues.get(name) ?? [];
        this.queues.set(
          name,
          queue.filter((g) => g !== grant),
        );
        reject(new DOMException('aborted', 'AbortError'));
      });
      if (!this.held.has(name)) grant();
      else this.queues.set(name, [...(this.queues.get(name) ?? []), grant]);
    });
  }

  private free(name: string): void {
    this.held.delete(name);
    const queue = this.queues.get(name) ?? [];
    const next = queue.shift();
    this.queues.set(name, queue);
    if (next) queueMicrotask(next);
  }
}

/** BroadcastChannels of one name, in memory: a message goes to every other member, by copy. */
export class FakeBroadcast {
  private readonly members = new Set<{ handler: ((message: Wire) => void) | null; open: boolean }>();

  /** A new member (one tab's `new BroadcastChannel(name)`). */
  channel(): Bus {
    const member = { handler: null as ((message: Wire) => void) | null, open: true };
    this.members.add(member);
    return {
      post: (message) => {
        if (!member.open) throw new DOMException('closed', 'InvalidStateError');
        for (const other of this.members) {
          if (other === member) continue;
          const copy = structuredClone(message);
          queueMicrotask(() => {
            if (other.open) other.handler?.(copy);
          });
        }
      },
      listen: (handler) => {
        member.handler = handler;
      },
      close: () => {
        member.open = false;
        this.members.delete(member);
      },
    };
  }
}

/** Waits, on real timers, until `check` holds (a `vi.waitFor` that also lets microtasks run). */
export async function until(check: () => void, timeout = 2000): Promise<void> {
  await vi.waitFor(check, { timeout, interval: 5 });
}
