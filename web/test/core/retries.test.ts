import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RetrySchedule } from '../../src/core/retries';

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

function schedule(online = { value: true }) {
  const resent: string[][] = [];
  const retries = new RetrySchedule({
    resend: (ids) => resent.push(ids),
    canSend: () => online.value,
    random: () => 0,
  });
  return { retries, resent, online };
}

describe('RetrySchedule', () => {
  it('waits retry_after_ms when given, else doubles from 1 s up to 30 s', () => {
    const { retries, resent } = schedule();
    retries.refused(['a'], 1500);
    vi.advanceTimersByTime(1499);
    expect(resent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(resent).toEqual([['a']]);

    // The refusal above counted: the backoff goes on from its second step.
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      const before = resent.length;
      retries.refused(['a']);
      let waited = 0;
      while (resent.length === before) {
        vi.advanceTimersByTime(100);
        waited += 100;
      }
      waits.push(waited);
    }
    expect(waits).toEqual([2000, 4000, 8000, 16_000, 30_000, 30_000]);
  });

  it('jitters the backoff down by at most a fifth', () => {
    const resent: string[][] = [];
    const retries = new RetrySchedule({ resend: (ids) => resent.push(ids), canSend: () => true, random: () => 0.999 });
    retries.refused(['a']);
    vi.advanceTimersByTime(799);
    expect(resent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(resent).toEqual([['a']]);
  });

  it('resends a refused batch together, without those forgotten meanwhile', () => {
    const { retries, resent } = schedule();
    retries.refused(['a', 'b', 'c']);
    retries.forget('b');
    expect(retries.isWaiting('b')).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(resent).toEqual([['a', 'c']]);
    retries.refused(['a']);
    retries.forget('a');
    vi.advanceTimersByTime(60_000);
    expect(resent).toHaveLength(1);
  });

  it('holds what falls due offline, or while stopped, until resumed', () => {
    const { retries, resent, online } = schedule();
    online.value = false;
    retries.refused(['a']);
    retries.refused(['b']);
    vi.advanceTimersByTime(1000);
    expect(resent).toEqual([]);
    expect(retries.isWaiting('a')).toBe(true);
    retries.resume();
    expect(resent).toEqual([]);

    online.value = true;
    retries.refused(['c']);
    retries.pause();
    vi.advanceTimersByTime(60_000);
    expect(resent).toEqual([]);
    retries.resume();
    expect(resent).toEqual([['a', 'b', 'c']]);
    expect(retries.isWaiting('a')).toBe(false);
  });

  it('starts the backoff over once forgotten (a retry by hand)', () => {
    const { retries, resent } = schedule();
    retries.refused(['a']);
    vi.advanceTimersByTime(1000);
    retries.refused(['a']); // 2 s next
    retries.forget('a');
    retries.refused(['a']);
    vi.advanceTimersByTime(1000);
    expect(resent).toEqual([['a'], ['a']]);
  });
});
