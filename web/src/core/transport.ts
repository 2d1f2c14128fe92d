/**
 * What `ChatClient` talks to the server through: a `Transport`. Either the
 * WebSocket itself (`Connection`, one per client: tests, and browsers with
 * neither SharedWorker nor Web Locks), or a view of the one connection the
 * browser shares between its tabs (`shared/tab.ts`: a SharedWorker, or the
 * tab elected leader, owns the socket). Both say the same: a status, the
 * server's frames in order, and `send`.
 *
 * A shared transport also keeps the tabs' outboxes in step (`share`, and the
 * `shared` event): what one tab writes shows as "sending" in every tab, so a
 * tab opened or closed mid-send changes nothing of what is shown or sent.
 */
import type { ConnectionEvents, ConnectionStatus } from './connection';
import type { ClientFrame } from './protocol';
import type { OutboxRecord } from './store';

/** One change to the outbox, told by the tab that made it to the other tabs. */
export type ShareOp =
  /** A message or a change written: every tab shows it as sending until its ack. */
  | { op: 'add'; record: OutboxRecord }
  /** A failed entry sent again by hand: it is sending again. */
  | { op: 'retry'; clientId: string }
  /** A failed entry discarded. */
  | { op: 'discard'; clientId: string };

export interface Transport {
  readonly status: ConnectionStatus;
  /** Whether frames can be sent now (`welcome` arrived). */
  readonly isOnline: boolean;
  /** Connects, and stays connected until `stop`. */
  start(): void;
  stop(): void;
  /** Skips the wait before the next attempt ("Retry now"). */
  reconnectNow(): void;
  /** Sends a frame if online; returns whether it went out. */
  send(frame: ClientFrame): boolean;
  /** Tells the other tabs of an outbox change (shared transports only). */
  share?(op: ShareOp): void;
  on<K extends keyof ConnectionEvents>(type: K, listener: (payload: ConnectionEvents[K]) => void): () => void;
}
