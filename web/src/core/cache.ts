/**
 * A room's snapshot in the local cache (`RoomCache` in the local store): the
 * tail of its timeline that ends at `contiguousSeq`, its epoch and how far the
 * user has read, so that a reload shows the room before the network answers
 * and resumes from where the cache ends (docs/protocol.md §8). Pure: these
 * functions only convert; `ChatClient` decides when to save.
 */
import type { Message, RoomEvent } from './protocol';
import type { RoomCache } from './store';

/** What to save for a room: at most `size` messages, none past `contiguousSeq`. */
export function roomCacheOf(
  room: string,
  epoch: number,
  messages: readonly Message[],
  contiguousSeq: number,
  readSeq: number | null,
  size: number,
  notices: readonly RoomEvent[] = [],
): RoomCache {
  const kept = messages.filter((m) => m.seq <= contiguousSeq).slice(-size);
  // The notices among the messages kept (or, with none, the latest): none from before the oldest.
  const from = kept[0]?.seq ?? 0;
  const keptNotices = notices.filter((n) => n.seq <= contiguousSeq && n.seq >= from).slice(-size);
  return {
    room,
    epoch,
    contiguousSeq,
    readSeq: readSeq ?? contiguousSeq,
    messages: kept,
    ...(keptNotices.length ? { notices: keptNotices } : {}),
  };
}

/** A room as read back from the cache. */
export interface RestoredRoom {
  epoch: number;
  readSeq: number;
  contiguousSeq: number;
  /** In seq order. */
  messages: Message[];
  /** Member and room events, in seq order. */
  notices: RoomEvent[];
  /** Whether older messages exist than the cached ones. */
  hasMoreBefore: boolean;
}

export function restoreRoomCache(cache: RoomCache): RestoredRoom {
  const messages = [...cache.messages].sort((a, b) => a.seq - b.seq);
  return {
    epoch: cache.epoch,
    readSeq: cache.readSeq,
    contiguousSeq: cache.contiguousSeq,
    messages,
    notices: [...(cache.notices ?? [])].sort((a, b) => a.seq - b.seq),
    hasMoreBefore: (messages[0]?.seq ?? cache.contiguousSeq + 1) > 1,
  };
}
