/**
 * Automatic resends of outbox entries the server refused for a reason that may
 * pass (`rate_limited`, `storage_unavailable`, `internal`: `RETRYABLE_CODES`).
 * An entry so refused stays `failed`, with its Retry button, and is sent again
 * by itself: when the refusal says (`retry_after_ms`), else after a backoff
 * that doubles with each refusal in a row (1 s, 2 s, 4 s … 30 s), so a server
 * that is struggling is not hammered. A resend falling due while offline waits
 * for the next connection. The schedule knows only `client_id`s; the owner
 * resends (with the same `client_id`, so the server stores it once) and says
 * when an entry is done with (`forget`).
 */
import { backoffDelay, type BackoffOptions } from './backoff';

/** The waits between resends; jittered, so clients refused together do not all come back at once. */
export const RETRY_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 30_000, jitter: 0.2 };

export interface RetryScheduleOptions {
  /** Sends the entries `clientIds` again (those still failed; the rest are done with). */
  resend: (clientIds: string[]) => void;
  /** Whether a resend can go out now (the connection is online). */
  canSend: () => boolean;
  backoff?: BackoffOptions;
  random?: () => number;
}

type Timer = ReturnType<typeof setTimeout>;

export class RetrySchedule {
  private readonly options: RetryScheduleOptions;
  /** Refusals in a row, per `client_id`: each one doubles the next wait. */
  private readonly attempts = new Map<string, number>();
  /** The resend each entry waits for: one timer per refused frame, so a batch goes again together. */
  private readonly timers = new Map<string, Timer>();
  /** Fell due while offline: resent on the next connection. */
  private readonly due = new Set<string>();

  constructor(options: RetryScheduleOptions) {
    this.options = options;
  }

  /**
   * The frame that carried `clientIds` was refused for a reason that may pass:
   * they go again after `retryAfterMs` when the server said, else after the
   * backoff of their next attempt.
   */
  refused(clientIds: readonly string[], retryAfterMs?: number): void {
    if (clientIds.length === 0) return;
    const attempt = Math.max(...clientIds.map((id) => this.attempts.get(id) ?? 0));
    for (const id of clientIds) {
      this.cancel(id);
      this.attempts.set(id, attempt + 1);
    }
    const delay =
      retryAfterMs !== undefined && Number.isFinite(retryAfterMs)
        ? Math.max(1, retryAfterMs)
        : backoffDelay(attempt, this.options.backoff ?? RETRY_BACKOFF, this.options.random);
    const ids = [...clientIds];
    const timer = setTimeout(() => this.fire(ids, timer), delay);
    for (const id of ids) this.timers.set(id, timer);
  }

  /** An entry refused on an earlier visit: it goes again on the first connection. */
  resendOnConnect(clientId: string): void {
    this.cancel(clientId);
    this.due.add(clientId);
  }

  /** Connected again: what fell due meanwhile goes now. */
  resume(): void {
    if (this.due.size === 0 || !this.options.canSend()) return;
    const ids = [...this.due];
    this.due.clear();
    this.options.resend(ids);
  }

  /**
   * No wait pending for `clientId`, and the backoff starts over: it was
   * settled, undone, or sent again by hand.
   */
  forget(clientId: string): void {
    this.cancel(clientId);
    this.attempts.delete(clientId);
  }

  /** Whether `clientId` waits for a resend (timed, or for the next connection). */
  isWaiting(clientId: string): boolean {
    return this.timers.has(clientId) || this.due.has(clientId);
  }

  /** The client stops: nothing fires any more; what waited goes on the next connection. */
  pause(): void {
    for (const [id, timer] of this.timers) {
      clearTimeout(timer);
      this.due.add(id);
    }
    this.timers.clear();
  }

  private fire(clientIds: readonly string[], timer: Timer): void {
    // Those refused again or forgotten meanwhile have another timer, or none.
    const ids = clientIds.filter((id) => this.timers.get(id) === timer);
    for (const id of ids) this.timers.delete(id);
    if (ids.length === 0) return;
    if (!this.options.canSend()) {
      for (const id of ids) this.due.add(id);
      return;
    }
    this.options.resend(ids);
  }

  private cancel(clientId: string): void {
    const timer = this.timers.get(clientId);
    if (timer !== undefined) {
      this.timers.delete(clientId);
      // A batch's timer is shared: it stays while others of the batch wait on it.
      if (![...this.timers.values()].includes(timer)) clearTimeout(timer);
    }
    this.due.delete(clientId);
  }
}
