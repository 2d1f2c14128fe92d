/**
 * A stretch of a room's history around one message (a search result jumped
 * to), held apart from the room's live timeline.
 *
 * A room's `Timeline` is the live tail: every entry from its oldest message
 * loaded up to `contiguousSeq` is accounted for, which is where a `join`
 * resumes and what the local cache keeps (timeline.ts). A message far older
 * than the tail cannot go into it: the seqs between would read as accounted
 * for, and the gap would never be filled. So an old message is shown in a
 * window of its own: two history pages either side of it (`aroundQueries`),
 * read further older (`olderQuery`) and newer (`newerQuery`) as the reader
 * scrolls, each page adjoining the window — so the window, too, holds every
 * message between its lowest and highest seq.
 *
 * Once nothing lies between the window and the live tail (`meets`: its newest
 * page reaches the tail's oldest message, or there is nothing newer at all),
 * the window is no stretch apart any more: its messages below the tail
 * (`below`) join the live timeline, as an older page would (`loadOlder`), and
 * the room shows one list again. Until then the UI offers "Jump to latest".
 *
 * Edits, deletes and reactions of the window's messages arrive live as for
 * any message: those whose target the live tail does not hold are applied
 * here too (`applyEvents`), and one that arrives while a page is on its way is
 * held for the message, so a page read before it cannot bring back the old
 * text. Pure data: no I/O, no timers (`ChatClient` reads the pages).
 */
import type { HistoryQuery } from './history';
import type { HistoryPage, Message, RoomEvent } from './protocol';
import { Timeline } from './timeline';

/** The message jumped to. */
export interface JumpTarget {
  id: string;
  seq: number;
}

/**
 * The two first pages of a window around `seq`, of `size` messages in all:
 * the message and those before it (`before_seq = seq + 1`), and those after it.
 */
export function aroundQueries(room: string, seq: number, size: number): { before: HistoryQuery; after: HistoryQuery } {
  const total = Math.max(2, Math.floor(size));
  const newer = Math.floor(total / 2);
  return {
    before: { room, beforeSeq: seq + 1, limit: total - newer },
    after: { room, afterSeq: seq, limit: newer },
  };
}

export class MessageWindow {
  readonly target: JumpTarget;
  /** Only messages: its `contiguousSeq` stays unknown, so it never claims what lies between pages. */
  readonly timeline = new Timeline();
  /** The first two pages are on their way. */
  loading = true;
  loadingOlder = false;
  loadingNewer = false;
  /** Older messages than the window's exist. */
  hasMoreBefore = false;
  /** Newer messages than the window's exist (as of its newest page). */
  hasMoreAfter = true;
  /** Why a page could not be read, for people. */
  error: string | null = null;

  constructor(target: JumpTarget) {
    this.target = target;
  }

  messages(): readonly Message[] {
    return this.timeline.messages();
  }

  lowestSeq(): number | undefined {
    return this.timeline.lowestSeq();
  }

  highestSeq(): number | undefined {
    return this.timeline.highestSeq();
  }

  hasId(id: string): boolean {
    return this.timeline.hasId(id);
  }

  byId(id: string): Message | undefined {
    return this.timeline.byId(id);
  }

  /** The first two pages (`aroundQueries`): the message, what came before it, what came after. */
  takeAround(before: HistoryPage, after: HistoryPage): void {
    this.timeline.add(before.data);
    this.timeline.add(after.data);
    this.hasMoreBefore = before.has_more;
    this.hasMoreAfter = after.has_more;
    this.loading = false;
    this.error = null;
  }

  /** The page before the window's oldest message, or `null` when there is none to read. */
  olderQuery(room: string, limit: number): HistoryQuery | null {
    const lowest = this.lowestSeq();
    if (!this.hasMoreBefore || lowest === undefined) return null;
    return { room, beforeSeq: lowest, limit };
  }

  takeOlder(page: HistoryPage): void {
    this.timeline.add(page.data);
    this.hasMoreBefore = page.has_more;
    this.error = null;
  }

  /** The page after the window's newest message, or `null` when there is none to read. */
  newerQuery(room: string, limit: number): HistoryQuery | null {
    const highest = this.highestSeq();
    if (!this.hasMoreAfter) return null;
    return { room, afterSeq: highest ?? this.target.seq, limit };
  }

  takeNewer(page: HistoryPage): void {
    this.timeline.add(page.data);
    this.hasMoreAfter = page.has_more;
    this.error = null;
  }

  /**
   * Whether nothing lies between the window and a live tail whose oldest
   * message is `liveLowest`: the window reaches it (or the message just
   * before), or no message is newer than the window's (so none lies between
   * it and the tail either). An empty tail (`undefined`) meets nothing.
   */
  meets(liveLowest: number | undefined): boolean {
    if (liveLowest === undefined || this.loading) return false;
    const highest = this.highestSeq();
    if (highest !== undefined && highest >= liveLowest - 1) return true;
    return !this.hasMoreAfter;
  }

  /** The messages that join a live tail whose oldest message is `liveLowest`: those older than it. */
  below(liveLowest: number): Message[] {
    return this.messages().filter((m) => m.seq < liveLowest);
  }

  /**
   * Applies the room's events to the window's messages: those the live tail
   * does not hold (`liveHolds`), since the tail applies its own. An event for
   * a message not here yet is held for it (a page may be on its way).
   * Returns whether a message of the window changed.
   */
  applyEvents(events: readonly RoomEvent[], liveHolds: (id: string) => boolean): boolean {
    const mine = events.filter((e) => e.target !== undefined && !liveHolds(e.target));
    return mine.length > 0 && this.timeline.applyEvents(mine);
  }
}
