import { describe, expect, it } from 'vitest';
import { restoreRoomCache, roomCacheOf } from '../../src/core/cache';
import { message } from '../helpers/fixtures';

describe('room cache', () => {
  it('keeps at most `size` messages, none past contiguousSeq, and the read position', () => {
    const messages = [1, 2, 3, 4, 6].map((seq) => message('lobby', seq));
    const cache = roomCacheOf('lobby', 7, messages, 4, 2, 3);
    expect(cache).toMatchObject({ room: 'lobby', epoch: 7, contiguousSeq: 4, readSeq: 2 });
    expect(cache.messages.map((m) => m.seq)).toEqual([2, 3, 4]);
    expect(roomCacheOf('lobby', 7, messages, 4, null, 3).readSeq).toBe(4);
  });

  it('reads a cache back in seq order, with older messages when it does not start at 1', () => {
    const restored = restoreRoomCache({
      room: 'lobby',
      epoch: 3,
      contiguousSeq: 5,
      readSeq: 4,
      messages: [message('lobby', 5), message('lobby', 4)],
    });
    expect(restored).toMatchObject({ epoch: 3, contiguousSeq: 5, readSeq: 4, hasMoreBefore: true });
    expect(restored.messages.map((m) => m.seq)).toEqual([4, 5]);
    const fromStart = restoreRoomCache({
      room: 'a',
      epoch: 1,
      contiguousSeq: 1,
      readSeq: 1,
      messages: [message('a', 1)],
    });
    expect(fromStart.hasMoreBefore).toBe(false);
    const empty = restoreRoomCache({ room: 'a', epoch: 1, contiguousSeq: 0, readSeq: 0, messages: [] });
    expect(empty.hasMoreBefore).toBe(false);
    expect(restoreRoomCache({ room: 'a', epoch: 1, contiguousSeq: 9, readSeq: 0, messages: [] }).hasMoreBefore).toBe(
      true,
    );
  });
});
