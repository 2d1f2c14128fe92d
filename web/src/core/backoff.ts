/** Reconnect delays: exponential from `initialMs` to `maxMs`, with jitter. */
export interface BackoffOptions {
  /** The first delay. Default 1 s. */
  initialMs: number;
  /** The largest delay. Default 30 s. */
  maxMs: number;
  /**
   * How much of each delay is random, 0..1. With 0.2 a 10 s step waits 8–10 s,
   * so clients cut off together do not all come back in the same instant.
   */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 30_000, jitter: 0.2 };

/**
 * The delay before reconnect attempt `attempt` (0 for the first retry).
 * `random` returns a number in [0, 1), like `Math.random`.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random = Math.random): number {
  const { initialMs, maxMs, jitter } = options;
  const step = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(step * (1 - jitter * random()));
}
