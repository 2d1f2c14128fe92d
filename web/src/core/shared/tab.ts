/**
 * A tab's view of the browser's shared connection: a `Transport` for
 * `ChatClient` that talks to the hub (`hub.ts`) over a port instead of owning
 * a socket. It mirrors the hub's status, hands on the frames the hub sends it
 * and sends the client's frames with the credentials of the moment (so the hub
 * reconnects with a name or token changed meanwhile), and tells the outbox
 * changes of this tab (`share`) and hears those of the others (`shared`).
 *
 * The port can change under it: a leader tab going away hands the hub over to
 * another (`usePort`), and a link that went quiet (a SharedWorker that
 * crashed, a page restored from the back-forward cache) is made anew
 * (`reconnectPort`). Each time it attaches again, and `ChatClient` starts over
 * from the hub's `welcome` as after a reconnect: it joins its rooms again and
 * sends what it has pending, which the hub lets through once.
 */
import type { ConnectionEvents, ConnectionStatus, Credentials } from '../connection';
import { Emitter } from '../emitter';
import type { ClientFrame } from '../protocol';
import type { ShareOp, Transport } from '../transport';
import { channelOf, type TabPort, type ToTab } from './protocol';

export interface SharedTransportOptions {
  /** Read at each attach and with each frame. */
  credentials: () => Credentials;
  /** A new link to the hub, when the one there is went quiet; none: the link is kept. */
  reconnectPort?: () => TabPort | null;
  /** The hub beats every few seconds: silent this long, the link is taken for broken. Default 30 s. */
  watchdogMs?: number;
  now?: () => number;
}

export class SharedTransport extends Emitter<ConnectionEvents> implements Transport {
  private readonly options: SharedTransportOptions;
  private port: TabPort | null = null;
  private running = false;
  /** Away (`pagehide`): attached again when the page comes back, if still running. */
  private away = false;
  private current: ConnectionStatus = { state: 'idle' };
  /** Numbers this tab's attaches: what the hub sends before answering the latest is ignored. */
  private attachSeq = 0;
  private accepting = false;
  private heardAt = 0;
  private watchdog: ReturnType<typeof setInterval> | null = null;

  constructor(options: SharedTransportOptions, port: TabPort | null = null) {
    super();
    this.options = options;
    if (port) this.usePort(port);
  }

  get status(): ConnectionStatus {
    return this.current;
  }

  get isOnline(): boolean {
    return this.current.state === 'online';
  }

  /** Whether this tab is attached and wants the connection. */
  get attached(): boolean {
    return this.running && !this.away && this.port !== null;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.attach();
    this.ensureWatchdog();
  }

  stop(): void {
    if (!this.running) {
      this.setStatus({ state: 'stopped' });
      return;
    }
    this.running = false;
    this.detach();
    this.stopWatchdog();
    this.setStatus({ state: 'stopped' });
  }

  reconnectNow(): void {
    if (this.attached) this.port?.post({ t: 'reconnect' });
  }

  /** Has the hub ping the server now (the page is visible again: the socket may have died meanwhile). */
  checkAlive(): void {
    if (this.attached && this.accepting) this.port?.post({ t: 'check' });
  }

  send(frame: ClientFrame): boolean {
    if (!this.attached || !this.isOnline || !this.accepting) return false;
    this.port?.post({ t: 'frame', frame, credentials: this.options.credentials() });
    return true;
  }

  share(op: ShareOp): void {
    if (this.attached && this.accepting) this.port?.post({ t: 'share', op });
  }

  /**
   * The hub is elsewhere now (a new leader), or nowhere yet (`null`: no leader
   * elected). Running, the tab attaches to the new one.
   */
  usePort(port: TabPort | null): void {
    if (this.port === port) return;
    const old = this.port;
    this.port = port;
    if (old) {
      old.listen(() => {});
      old.close();
    }
    this.accepting = false;
    port?.listen((message) => this.onMessage(port, message));
    if (this.running && !this.away) this.attach();
  }

  /** The page is going away (`pagehide`): the hub is told, so that the last tab's going closes the socket. */
  leave(): void {
    if (this.away) return;
    this.away = true;
    this.detach();
  }

  /** The page came back (`pageshow` from the back-forward cache): attached again, on a new link. */
  back(): void {
    if (!this.away) return;
    this.away = false;
    const fresh = this.options.reconnectPort?.();
    if (fresh) this.usePort(fresh);
    else if (this.running) this.attach();
  }

  private attach(): void {
    this.accepting = false;
    // Until the hub says how things stand, this tab has no connection: its rooms are not joined.
    this.setStatus({ state: 'connecting', attempt: 0 });
    const port = this.port;
    if (!port) return;
    this.attachSeq += 1;
    const credentials = this.options.credentials();
    this.heardAt = this.now();
    port.post({ t: 'attach', seq: this.attachSeq, channel: channelOf(credentials), credentials });
  }

  private detach(): void {
    this.accepting = false;
    try {
      this.port?.post({ t: 'detach' });
    } catch {
      // The page is going away with its channel closed already.
    }
  }

  private onMessage(from: TabPort, message: ToTab): void {
    if (from !== this.port) return;
    this.heardAt = this.now();
    if (message.t === 'beat') {
      from.post({ t: 'beat' });
      return;
    }
    if (message.t === 'unknown') {
      // The hub dropped this tab (silent too long: a frozen page): attach again.
      if (this.running && !this.away) this.attach();
      return;
    }
    if (message.t === 'attached') {
      this.accepting = message.seq === this.attachSeq;
      return;
    }
    if (!this.accepting || !this.running || this.away) return;
    switch (message.t) {
      case 'status':
        this.setStatus(message.status);
        return;
      case 'frame':
        this.emit('frame', message.frame);
        return;
      case 'tokenRejected':
        this.emit('tokenRejected', undefined);
        return;
      case 'revoked':
        this.emit('revoked', { code: message.code, reason: message.reason });
        return;
      case 'shared':
        this.emit('shared', message.ops);
        return;
    }
  }

  private ensureWatchdog(): void {
    if (this.watchdog !== null) return;
    const limit = this.options.watchdogMs ?? 30_000;
    this.watchdog = setInterval(
      () => {
        if (!this.running || this.away || this.now() - this.heardAt <= limit) return;
        const fresh = this.options.reconnectPort?.();
        if (fresh) this.usePort(fresh);
        else this.attach();
      },
      Math.max(1000, limit / 3),
    );
  }

  private stopWatchdog(): void {
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  private setStatus(status: ConnectionStatus): void {
    this.current = status;
    this.emit('status', status);
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}
