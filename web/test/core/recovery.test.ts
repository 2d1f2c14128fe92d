import { describe, expect, it } from 'vitest';
import { FILL_MAX, afterJoined, catchUpStep } from '../../src/core/recovery';

describe('afterJoined', () => {
  it('waits for the replay when the server recovered, keeping the new epoch', () => {
    expect(afterJoined({ contiguousSeq: 4, epoch: 1 }, { recovered: true, seq: 9, epoch: 1 })).toEqual({
      action: 'replay',
      epoch: 1,
    });
    expect(afterJoined({ contiguousSeq: null, epoch: 0 }, { recovered: true, seq: 0, epoch: 7 })).toEqual({
      action: 'replay',
      epoch: 7,
    });
  });

  it('keeps the epoch it had when the server sends none', () => {
    expect(afterJoined({ contiguousSeq: 4, epoch: 3 }, { recovered: true, seq: 4, epoch: 0 })).toMatchObject({
      epoch: 3,
    });
    expect(afterJoined({ contiguousSeq: 4, epoch: 3 }, { recovered: false, seq: 6, epoch: 0 })).toMatchObject({
      epoch: 3,
      reset: false,
    });
  });

  it('reads the gap when nothing changed under it', () => {
    expect(afterJoined({ contiguousSeq: 10, epoch: 2 }, { recovered: false, seq: 40, epoch: 2 })).toEqual({
      action: 'catch-up',
      reset: false,
      epoch: 2,
      head: 40,
    });
  });

  it('loads the latest page when it held nothing', () => {
    expect(afterJoined({ contiguousSeq: null, epoch: 0 }, { recovered: false, seq: 12, epoch: 5 })).toEqual({
      action: 'catch-up',
      reset: false,
      epoch: 5,
      head: 12,
    });
  });

  it('starts over on another epoch, a seq above the head, or a gap too large', () => {
    const reset = (held: { contiguousSeq: number; epoch: number }, seq: number, epoch: number) =>
      afterJoined(held, { recovered: false, seq, epoch });
    expect(reset({ contiguousSeq: 10, epoch: 1 }, 12, 2)).toMatchObject({ reset: true, epoch: 2 });
    expect(reset({ contiguousSeq: 10, epoch: 1 }, 9, 1)).toMatchObject({ reset: true });
    expect(reset({ contiguousSeq: 10, epoch: 1 }, 10 + FILL_MAX + 1, 1)).toMatchObject({ reset: true });
    expect(reset({ contiguousSeq: 10, epoch: 1 }, 10 + FILL_MAX, 1)).toMatchObject({ reset: false });
  });

  it('does not take an unknown epoch on either side for a change', () => {
    expect(afterJoined({ contiguousSeq: 10, epoch: 0 }, { recovered: false, seq: 12, epoch: 4 })).toMatchObject({
      reset: false,
      epoch: 4,
    });
    expect(afterJoined({ contiguousSeq: 10, epoch: 4 }, { recovered: false, seq: 12, epoch: 0 })).toMatchObject({
      reset: false,
      epoch: 4,
    });
  });
});

describe('catchUpStep', () => {
  it('loads the latest page when nothing is held, fills forward below the head, else nothing', () => {
    expect(catchUpStep(null, 5)).toBe('load-latest');
    expect(catchUpStep(3, 5)).toBe('fill-forward');
    expect(catchUpStep(5, 5)).toBe('none');
    expect(catchUpStep(6, 5)).toBe('none');
  });
});
