/**
 * The WebSocket to whisper-server: connects, reconnects with backoff, and
 * decodes frames. It knows nothing about rooms or messages; `ChatClient` (or,
 * with one connection per browser, the hub of `shared/`) listens to its events
 * and decides what to send.
 *
 * Liveness (`liveness`): a socket can die without a close (a laptop's sleep, a
 * dropped Wi-Fi, a server that hangs) and still look open. After `idleMs`
 * without a frame the connection sends a `ping` (docs/protocol.md §3), and a
 * second one halfway through `deadMs`; when `deadMs` pass after the first with
 * no frame at all, the socket is dropped and a new one opened at once. An
 * attempt not welcomed within `connectTimeoutMs` is dropped the same way.
 *
 * While it waits to reconnect it asks `probe` (`GET /healthz`) every
 * `probeIntervalMs`: once the server answers after not answering, it has come
 * back, and the connection reconnects at once with its backoff reset, rather
 * than sleep out a wait that grew while the server was down.
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
import type { ShareOp } from './transport';

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
  /** Every decoded frame, `welcome` included, in arrival order (not the answers to its own pings). */
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
  /**
   * Outbox changes other tabs made (`transport.ts`). Only a shared transport
   * (`shared/tab.ts`) emits it; a `Connection` never does.
   */
  shared: ShareOp[];
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
/** The code this client closes a socket with when it took it for dead (no frame after its pings). */
export const DEAD_CLOSE_CODE = 4000;

/** How a connection tells a live socket from a dead one. */
export interface LivenessOptions {
  /** Silence (no frame at all) after which a `ping` is sent. */
  idleMs: number;
  /** After the first unanswered ping, how long without any frame until the socket is taken for dead. */
  deadMs: number;
}

/** Ping after 15 s of silence; dead 10 s later (two pings unanswered). */
export const DEFAULT_LIVENESS: LivenessOptions = { idleMs: 15_000, deadMs: 10_000 };

/**
 * What a browser's connection uses (the hub's, `shared/`): liveness, a
 * connect timeout, and `/healthz` polled while it waits to reconnect. Tests of
 * the chat model leave them out, so that their fake timers see no pings.
 */
export const BROWSER_CONNECTION: Pick<
  ConnectionOptions,
  'liveness' | 'connectTimeoutMs' | 'probeIntervalMs' | 'probeTimeoutMs'
> = {
  liveness: DEFAULT_LIVENESS,
  connectTimeoutMs: 10_000,
  probeIntervalMs: 1000,
  probeTimeoutMs: 3000,
};

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
   * refused. With `probeIntervalMs`, it also tells when the server is back.
   */
  probe?: () => Promise<boolean>;
  now?: () => number;
  /** Pings, and drops a socket that does not answer. Off when left out. */
  liveness?: LivenessOptions;
  /** An attempt not welcomed within this long is dropped and retried. Off when left out. */
  connectTimeoutMs?: number;
  /** While waiting to reconnect, `probe` is asked this often; off when left out. */
  probeIntervalMs?: number;
  /** A probe that takes longer counts as "not answering". Default 3 s. */
  probeTimeoutMs?: number;
}

/** The WebSocket `readyState` of an open socket (a constant, so mocks need not define it). */
const OPEN = 1;

type Timer = ReturnType<typeof setTimeout>;

export class Connection extends Emitter<ConnectionEvents> {
  private readonly options: ConnectionOptions;
  private socket: WebSocket | null = null;
  private timer: Timer | null = null;
  /** Failed attempts since the last `welcome`. */
  private attempt = 0;
  private current: ConnectionStatus = { state: 'idle' };
  private running = false;
  /** Attempts with a token or cookie that failed before opening while the server was up. */
  private tokenStrikes = 0;
  /** Bumped by `start`: a probe begun before a stop does not count against what comes after. */
  private runs = 0;
  /** Liveness of the current socket: the next ping when idle, and the deadline once pinged. */
  private idleTimer: Timer | null = null;
  private secondPing: Timer | null = null;
  private deadTimer: Timer | null = null;
  private connectTimer: Timer | null = null;
  private pings = 0;
  /** Polling `probe` while waiting to reconnect: the timer, its chain, and whether the server was seen down. */
  private probeTimer: Timer | null = null;
  private probeChain = 0;
  private seenDown = false;

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
    this.drop(1000, 'client closed');
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
    this.drop(1000, 'reconnecting');
    this.open();
  }

  /**
   * Asks the server at once whether the socket is alive (a `ping`), e.g. when
   * a send went unanswered: no frame within `deadMs` and it is dropped. Does
   * nothing without `liveness`, while offline, or while a ping is out already.
   */
  checkAlive(): void {
    if (!this.options.liveness || !this.isOnline || this.deadTimer !== null) return;
    this.ping();
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

    this.stopProbing();
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
    const connectMs = this.options.connectTimeoutMs;
    if (connectMs) {
      // Neither welcomed nor closed in time (a server that hangs, a network that drops the handshake).
      this.connectTimer = setTimeout(() => {
        this.connectTimer = null;
        if (this.socket !== socket || welcomed) return;
        this.drop(DEAD_CLOSE_CODE, 'no welcome');
        this.scheduleRetry(null);
      }, connectMs);
    }

    socket.onopen = () => {
      opened = true;
    };
    socket.onmessage = (event: MessageEvent) => {
      if (this.socket !== socket || typeof event.data !== 'string') return;
      // Any frame at all says the socket is alive, one this client cannot read too.
      this.heard();
      const frame = decodeServerFrame(event.data);
      if (!frame) return;
      if (frame.type === 'pong' || isRefusedPing(frame)) return;
      if (frame.type === 'welcome') {
        welcomed = true;
        this.attempt = 0;
        this.tokenStrikes = 0;
        this.seenDown = false;
        this.clearConnectTimer();
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
      this.clearLiveness();
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

  /** Lets go of the current socket without waiting for its close (which a dead one may never send). */
  private drop(code: number, reason: string): void {
    const socket = this.socket;
    this.socket = null;
    this.clearLiveness();
    if (!socket) return;
    detach(socket);
    try {
      socket.close(code, reason);
    } catch {
      // Closing a socket that never opened may throw in some browsers: it is gone either way.
    }
  }

  /** A frame arrived: the socket is alive; the next ping waits for `idleMs` of silence. */
  private heard(): void {
    const liveness = this.options.liveness;
    if (!liveness) return;
    if (this.deadTimer !== null) clearTimeout(this.deadTimer);
    if (this.secondPing !== null) clearTimeout(this.secondPing);
    this.deadTimer = null;
    this.secondPing = null;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      this.ping();
    }, liveness.idleMs);
  }

  /** Sends a ping and arms the deadline: a second ping halfway, the socket dropped at the end. */
  private ping(): void {
    const liveness = this.options.liveness;
    const socket = this.socket;
    if (!liveness || !socket || !this.isOnline) return;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.sendPing();
    this.secondPing = setTimeout(() => {
      this.secondPing = null;
      if (this.socket === socket) this.sendPing();
    }, liveness.deadMs / 2);
    this.deadTimer = setTimeout(() => {
      this.deadTimer = null;
      if (this.socket !== socket || !this.running) return;
      // No close will come from a dead socket: drop it and open another at once.
      this.drop(DEAD_CLOSE_CODE, 'no answer to pings');
      this.open();
    }, liveness.deadMs);
  }

  private sendPing(): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN) return;
    this.pings += 1;
    try {
      socket.send(encodeClientFrame({ type: 'ping', id: `ping-${this.pings}` }));
    } catch {
      // A socket that cannot send is as good as dead: the deadline takes it.
    }
  }

  private clearLiveness(): void {
    for (const timer of [this.idleTimer, this.secondPing, this.deadTimer]) if (timer !== null) clearTimeout(timer);
    this.idleTimer = null;
    this.secondPing = null;
    this.deadTimer = null;
    this.clearConnectTimer();
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
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
    this.startProbing();
  }

  /**
   * Polls `probe` while waiting to reconnect. A server that answers while the
   * socket keeps failing (a limit, a refusal) keeps the backoff; one that
   * answers after it was seen not answering has come back: the backoff starts
   * over and the attempt is made now (once: another shortcut needs the server
   * seen down again, so a socket that fails for another reason is not retried
   * every second).
   */
  private startProbing(): void {
    const interval = this.options.probeIntervalMs;
    const probe = this.options.probe;
    if (!interval || !probe) return;
    this.stopProbing();
    const chain = ++this.probeChain;
    const tick = () => {
      this.probeTimer = setTimeout(() => {
        void this.askProbe(probe).then((up) => {
          if (chain !== this.probeChain || !this.running || this.current.state !== 'reconnecting') return;
          if (!up) this.seenDown = true;
          else if (this.seenDown) {
            this.seenDown = false;
            this.attempt = 0;
            this.reconnectNow();
            return;
          }
          tick();
        });
      }, interval);
    };
    tick();
  }

  private askProbe(probe: () => Promise<boolean>): Promise<boolean> {
    const timeout = this.options.probeTimeoutMs ?? 3000;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeout);
      probe().then(
        (up) => {
          clearTimeout(timer);
          resolve(up);
        },
        () => {
          clearTimeout(timer);
          resolve(false);
        },
      );
    });
  }

  private stopProbing(): void {
    this.probeChain += 1;
    if (this.probeTimer !== null) clearTimeout(this.probeTimer);
    this.probeTimer = null;
  }

  private clearTimer(): void {
    this.stopProbing();
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

/** An old server's answer to a ping it does not know (`unknown_type`): no refusal of the user's. */
function isRefusedPing(frame: ServerFrame): boolean {
  if (frame.type !== 'error') return false;
  const refusal = frame as { code?: string; message?: string };
  return refusal.code === 'unknown_type' && /"ping"/.test(refusal.message ?? '');
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
