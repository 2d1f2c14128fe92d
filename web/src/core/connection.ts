/**
 * The WebSocket to whisper-server: connects, reconnects with backoff, and
 * decodes frames. It knows nothing about rooms or messages; `ChatClient` listens
 * to its events and decides what to send.
 */
import { DEFAULT_BACKOFF, backoffDelay, type BackoffOptions } from './backoff';
import { Emitter } from './emitter';
import {
  decodeServerFrame,
  encodeClientFrame,
  type ClientFrame,
  type ServerFrame,
  type ServerFrameOf,
} from './protocol';

/** Where the connection stands, for the status badge. */
export type ConnectionStatus =
  | { state: 'idle' }
  | { state: 'connecting'; attempt: number }
  | { state: 'online'; userId: string; serverId: string }
  | {
      state: 'reconnecting';
      attempt: number;
      /** When the next attempt starts (ms since the epoch). */
      retryAt: number;
      /** How the last socket ended, when it was open. */
      lastClose: { code: number; reason: string } | null;
    }
  | { state: 'stopped' };

export interface ConnectionEvents extends Record<string, unknown> {
  status: ConnectionStatus;
  /** Every decoded frame, `welcome` included, in arrival order. */
  frame: ServerFrame;
  /**
   * The server refused the stored token, or the session cookie (or most likely
   * did: see `probe`); the owner should forget the token, or check the session.
   * The next attempt asks `credentials()` again.
   */
  tokenRejected: undefined;
  /**
   * The server closed the socket because its session was revoked (close code
   * 4001, e.g. signed out on another device). The connection stops: the same
   * credentials would only be refused. The owner decides who to be next.
   */
  revoked: { code: number; reason: string };
}

export interface Credentials {
  token?: string | null;
  name?: string | null;
  /**
   * Signed in: the browser's session cookie rides the upgrade by itself (no
   * token, no name). A failure before opening is checked like a refused token.
   */
  cookie?: boolean;
}

/** The close code of a socket whose session was revoked. */
export const REVOKED_CLOSE_CODE = 4001;

export interface ConnectionOptions {
  /** The endpoint, e.g. `ws://127.0.0.1:8080/v1/chat/ws`. */
  url: string;
  /** Read before each attempt, so a new name or a dropped token applies on the next one. */
  credentials: () => Credentials;
  backoff?: BackoffOptions;
  random?: () => number;
  /** Defaults to `globalThis.WebSocket`, looked up at each attempt (tests swap it). */
  WebSocket?: typeof WebSocket;
  /**
   * Whether the server answers plain HTTP. A browser cannot see why a WebSocket
   * failed before it opened: a 401 for a bad token (or a stale session cookie)
   * and a server that is down look the same. When an attempt with a token or a
   * cookie fails that way and the probe says the server is up, it is taken to be
   * refused.
   */
  probe?: () => Promise<boolean>;
  now?: () => number;
}

/** The WebSocket `readyState` of an open socket (a constant, so mocks need not define it). */
const OPEN = 1;

export class Connection extends Emitter<ConnectionEvents> {
  private readonly options: ConnectionOptions;
  private socket: WebSocket | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Failed attempts since the last `welcome`. */
  private attempt = 0;
  private current: ConnectionStatus = { state: 'idle' };
  private running = false;
  /** Attempts with a token or cookie that failed before opening while the server was up. */
  private tokenStrikes = 0;
  /** Bumped by `start`: a probe begun before a stop does not count against what comes after. */
  private runs = 0;

  constructor(options: ConnectionOptions) {
    super();
    this.options = options;
  }

  get status(): ConnectionStatus {
    return this.current;
  }

  /** Whether `welcome` arrived on the current socket, so frames can be sent. */
  get isOnline(): boolean {
    return this.current.state === 'online';
  }

  /** Opens the connection, and keeps reopening it until `stop`. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.runs += 1;
    // Another start, maybe other credentials: earlier strikes were against those.
    this.tokenStrikes = 0;
    this.open();
  }

  /** Closes the connection for good (until `start`). */
  stop(): void {
    this.running = false;
    this.clearTimer();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      detach(socket);
      socket.close(1000, 'client closed');
    }
    this.setStatus({ state: 'stopped' });
  }

  /** Skips the backoff wait (the "Retry now" button, or the browser coming back online). */
  reconnectNow(): void {
    if (!this.running || this.current.state !== 'reconnecting') return;
    this.clearTimer();
    this.open();
  }

  /**
   * Closes the current socket and opens a new one at once, e.g. after the
   * display name changed. Does nothing unless running.
   */
  restart(): void {
    if (!this.running) return;
    this.clearTimer();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      detach(socket);
      socket.close(1000, 'reconnecting');
    }
    this.open();
  }

  /** Sends a frame if the connection is online; returns whether it went out. */
  send(frame: ClientFrame): boolean {
    const socket = this.socket;
    if (!this.isOnline || !socket || socket.readyState !== OPEN) return false;
    socket.send(encodeClientFrame(frame));
    return true;
  }

  private open(): void {
    const WS = this.options.WebSocket ?? globalThis.WebSocket;
    const { token, name, cookie } = this.options.credentials();
    const params = new URLSearchParams();
    // `room=` empty: the client sends its own `join` frames, with `since_seq`.
    params.set('room', '');
    if (name && !cookie) params.set('name', name);
    if (token && !cookie) params.set('token', token);
    const usedCredential = Boolean(token) || Boolean(cookie);

    this.setStatus({ state: 'connecting', attempt: this.attempt });
    let socket: WebSocket;
    try {
      socket = new WS(`${this.options.url}?${params.toString()}`);
    } catch {
      this.scheduleRetry(null);
      return;
    }
    this.socket = socket;
    let opened = false;
    let welcomed = false;

    socket.onopen = () => {
      opened = true;
    };
    socket.onmessage = (event: MessageEvent) => {
      if (this.socket !== socket || typeof event.data !== 'string') return;
      const frame = decodeServerFrame(event.data);
      if (!frame) return;
      if (frame.type === 'welcome') {
        welcomed = true;
        this.attempt = 0;
        this.tokenStrikes = 0;
        const welcome = frame as ServerFrameOf<'welcome'>;
        this.setStatus({ state: 'online', userId: welcome.user_id, serverId: welcome.server_id });
      }
      this.emit('frame', frame);
    };
    // Every failure ends in `close`; `error` carries nothing more.
    socket.onerror = () => {};
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = null;
      detach(socket);
      if (!this.running) return;
      if (event.code === REVOKED_CLOSE_CODE) {
        this.running = false;
        this.clearTimer();
        this.setStatus({ state: 'stopped' });
        this.emit('revoked', { code: event.code, reason: event.reason });
        return;
      }
      if (!opened && usedCredential && !welcomed) void this.checkToken();
      this.scheduleRetry(opened ? { code: event.code, reason: event.reason } : null);
    };
  }

  /**
   * After an attempt with a token (or the cookie) failed before the socket
   * opened: if the server answers HTTP, try again at once; if that fails the
   * same way too, the credential is taken to be refused (401). Two strikes,
   * so that a server that came up between the attempt and the probe does not
   * cost the user their identity.
   */
  private async checkToken(): Promise<void> {
    const probe = this.options.probe;
    if (!probe) return;
    const run = this.runs;
    const up = await probe().catch(() => false);
    if (!this.running || run !== this.runs) return;
    if (!up) {
      this.tokenStrikes = 0;
      return;
    }
    this.tokenStrikes += 1;
    if (this.tokenStrikes >= 2) {
      this.tokenStrikes = 0;
      this.emit('tokenRejected', undefined);
    }
    this.reconnectNow();
  }

  private scheduleRetry(lastClose: { code: number; reason: string } | null): void {
    const delay = backoffDelay(this.attempt, this.options.backoff ?? DEFAULT_BACKOFF, this.options.random);
    const now = (this.options.now ?? Date.now)();
    this.setStatus({ state: 'reconnecting', attempt: this.attempt, retryAt: now + delay, lastClose });
    this.attempt += 1;
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.running) this.open();
    }, delay);
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private setStatus(status: ConnectionStatus): void {
    this.current = status;
    this.emit('status', status);
  }
}

function detach(socket: WebSocket): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onerror = null;
  socket.onclose = null;
}

/** `ws://host/v1/chat/ws` for a page served from `origin` (`http://host`). */
export function websocketUrl(origin: string): string {
  const url = new URL('/v1/chat/ws', origin);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}
