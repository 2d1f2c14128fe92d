import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF } from '../../src/core/backoff';

describe('backoffDelay', () => {
  it('doubles from 1 s and stops at 30 s', () => {
    const noJitter = { ...DEFAULT_BACKOFF, jitter: 0 };
    expect([0, 1, 2, 3, 4, 5, 6, 10].map((a) => backoffDelay(a, noJitter))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ]);
  });

  it('takes up to the jitter share off each step', () => {
    expect(backoffDelay(0, DEFAULT_BACKOFF, () => 0)).toBe(1000);
    expect(backoffDelay(0, DEFAULT_BACKOFF, () => 0.999)).toBe(800);
    expect(backoffDelay(9, DEFAULT_BACKOFF, () => 0.5)).toBe(27000);
  });

  it('never exceeds the cap, whatever the attempt count', () => {
    for (const attempt of [20, 100, 10_000]) {
      expect(backoffDelay(attempt, DEFAULT_BACKOFF)).toBeLessThanOrEqual(30_000);
    }
  });
});
