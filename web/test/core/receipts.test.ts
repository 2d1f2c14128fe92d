import { describe, expect, it } from 'vitest';
import { RoomReceipts } from '../../src/core/receipts';
import { BOB, CAROL, ME } from '../helpers/fixtures';

describe('RoomReceipts', () => {
  it('keeps each watermark at its highest and lists who read up to a seq, you left out', () => {
    const r = new RoomReceipts();
    expect(r.update(BOB, 5)).toBe(true);
    expect(r.update(BOB, 3)).toBe(false);
    expect(r.update(CAROL, 2)).toBe(true);
    expect(r.update(ME, 9)).toBe(true);
    expect(r.readersOf(2, ME)).toEqual([BOB, CAROL]);
    expect(r.readersOf(5, ME)).toEqual([BOB]);
    expect(r.readersOf(6, ME)).toEqual([]);
    r.clear();
    expect(r.size).toBe(0);
  });
});
