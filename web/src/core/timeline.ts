/**
 * One room's timeline: the stored messages the client holds, in seq order, each
 * in the state the room's events (edits, deletes, reactions) have left it in.
 *
 * Messages and events share one gap-free seq space per room (docs/protocol.md
 * §6, §13), so an entry is known by its seq: one that arrives twice (live and
 * replayed, or on two history pages) is dropped. `contiguousSeq` is the highest
 * seq up to which every entry, message or event, is accounted for (down to the
 * oldest loaded); it is where a `join` resumes (`since_seq`) and what the local
 * cache may keep (§8). History pages hold messages only, so a page also says
 * that the seqs between its messages were events (`holdUpTo`).
 *
 * Events are applied with `applyEvent`, which converges whatever order of
 * replay and history a message came through; an event older than the last one
 * applied to its message is skipped, so a replay changes nothing twice. An event
 * whose message is not held yet is kept (a bounded number of them) and applied
 * when the message arrives, since a history page read before the event could
 * otherwise bring it back in its old state.
 *
 * Member and room events ("Ada added Bob", "Ada renamed the room") target no
 * message: they are kept as notices, by seq, for the message list to show in
 * their place (`notices`). History pages do not carry them; the live and
 * replayed `events` frames and the local cache do. Pure data: no I/O, no timers.
 */
import { applyEvent, isNoticeEvent, type NoticeEvent } from './events';
import type { Message, RoomEvent } from './protocol';

/** Events held for messages not loaded yet, at most this many per room. */
const MAX_ORPHANS = 1000;
/** Notices kept per room: the oldest go first. */
const MAX_NOTICES = 500;

export class Timeline {
  private readonly bySeq = new Map<number, Message>();
  private readonly seqOfId = new Map<string, number>();
  /** Seqs above `contiguousSeq` known to be events. */
  private readonly eventSeqs = new Set<number>();
  /** Per message id, the seq of the latest event applied to it. */
  private readonly lastEventOf = new Map<string, number>();
  /** Events whose message is not held, by the message's id, in seq order. */
  private orphans = new Map<string, RoomEvent[]>();
  private orphanCount = 0;
  private latestEvent = 0;
  private ordered: Message[] | null = null;
  /** Member and room events, by seq. */
  private readonly noticeBySeq = new Map<number, NoticeEvent>();
  private orderedNotices: NoticeEvent[] | null = null;
  /** Every entry with seq ≤ this (down to the oldest loaded) is accounted for; `null` until known. */
  contiguousSeq: number | null = null;

  /** How many messages are held. */
  get size(): number {
    return this.bySeq.size;
  }

  /** The messages in seq order (the same array until the next change). */
  messages(): readonly Message[] {
    if (!this.ordered) this.ordered = [...this.bySeq.values()].sort((a, b) => a.seq - b.seq);
    return this.ordered;
  }

  /** The member and room events held, in seq order (the same array until the next change). */
  notices(): readonly NoticeEvent[] {
    if (!this.orderedNotices) this.orderedNotices = [...this.noticeBySeq.values()].sort((a, b) => a.seq - b.seq);
    return this.orderedNotices;
  }

  /** Whether the stored message `id` is held. */
  hasId(id: string): boolean {
    return this.seqOfId.has(id);
  }

  /** The stored message `id`, in its current state, if held. */
  byId(id: string): Message | undefined {
    const seq = this.seqOfId.get(id);
    return seq === undefined ? undefined : this.bySeq.get(seq);
  }

  /** The lowest seq held, if any. */
  lowestSeq(): number | undefined {
    return this.messages()[0]?.seq;
  }

  /** The highest seq of a message held, if any. */
  highestSeq(): number | undefined {
    return this.messages().at(-1)?.seq;
  }

  /** The highest seq seen of any kind, message or event (what the user has been shown). */
  latestSeq(): number | undefined {
    const top = Math.max(this.highestSeq() ?? 0, this.latestEvent, this.contiguousSeq ?? 0);
    return top > 0 || this.contiguousSeq !== null ? top : undefined;
  }

  /** Whether the entry at `seq` has been seen (or is covered by history read since). */
  hasSeen(seq: number): boolean {
    return (this.contiguousSeq !== null && seq <= this.contiguousSeq) || this.eventSeqs.has(seq) || this.bySeq.has(seq);
  }

  /**
   * Adds stored messages (live, replayed or read over HTTP), skipping seqs already
   * held, and moves `contiguousSeq` up over what now follows it. Returns the
   * messages that were new, in the order given (as they arrived, before any held
   * event was applied).
   */
  add(messages: readonly Message[]): Message[] {
    const added: Message[] = [];
    for (const msg of messages) {
      if (this.bySeq.has(msg.seq) || this.eventSeqs.has(msg.seq)) continue;
      this.bySeq.set(msg.seq, this.adoptOrphans(msg));
      this.seqOfId.set(msg.id, msg.seq);
      added.push(msg);
    }
    if (added.length === 0) return added;
    this.ordered = null;
    this.advance();
    return added;
  }

  /**
   * Applies events (live or replayed, in seq order) to the messages they target
   * and accounts for their seqs. Returns whether anything changed.
   */
  applyEvents(events: readonly RoomEvent[]): boolean {
    let changed = false;
    for (const event of events) {
      if (this.bySeq.has(event.seq)) continue; // a message's seq: not an event of this history
      if (this.contiguousSeq === null || event.seq > this.contiguousSeq) {
        if (!this.eventSeqs.has(event.seq)) changed = true;
        this.eventSeqs.add(event.seq);
      }
      this.latestEvent = Math.max(this.latestEvent, event.seq);
      if (isNoticeEvent(event)) {
        if (this.keepNotice(event)) changed = true;
        continue;
      }
      // A change of a message names it; one that does not is not this client's to apply.
      const targetId = event.target;
      if (targetId === undefined) continue;
      const seq = this.seqOfId.get(targetId);
      const target = seq === undefined ? undefined : this.bySeq.get(seq);
      if (!target || seq === undefined) {
        this.keepOrphan(event, targetId);
        continue;
      }
      if ((this.lastEventOf.get(targetId) ?? 0) >= event.seq) continue;
      this.lastEventOf.set(targetId, event.seq);
      const next = applyEvent(target, event);
      if (next !== target) {
        this.bySeq.set(seq, next);
        this.ordered = null;
        changed = true;
      }
    }
    if (changed) this.advance();
    return changed;
  }

  /**
   * Everything up to `seq` is accounted for: a history page that starts at
   * `contiguousSeq` ends there, or the latest page does. `contiguousSeq` is at
   * least `seq`.
   */
  holdUpTo(seq: number): void {
    this.contiguousSeq = Math.max(this.contiguousSeq ?? 0, seq);
    this.advance();
  }

  /**
   * Replaces held messages with their current state from a history page read
   * after `since` (a `joined` head): what was edited or reacted to while the
   * client could not follow the room. A message that got an event after `since`
   * keeps the state those events gave it, which the page may predate.
   */
  refresh(messages: readonly Message[], since: number): boolean {
    let changed = false;
    for (const msg of messages) {
      const held = this.bySeq.get(msg.seq);
      if (!held || held.id !== msg.id || held === msg) continue;
      if ((this.lastEventOf.get(msg.id) ?? 0) > since) continue;
      this.bySeq.set(msg.seq, msg);
      changed = true;
    }
    if (changed) this.ordered = null;
    return changed;
  }

  /** The held events for messages not loaded may miss some (the client could not follow): drop them. */
  forgetOrphans(): void {
    this.orphans = new Map();
    this.orphanCount = 0;
  }

  /** Takes a cached tail as it was saved: `messages` (and `notices`) end at or before `contiguousSeq`. */
  restore(messages: readonly Message[], contiguousSeq: number, notices: readonly RoomEvent[] = []): void {
    this.contiguousSeq = contiguousSeq;
    for (const msg of messages) {
      this.bySeq.set(msg.seq, msg);
      this.seqOfId.set(msg.id, msg.seq);
    }
    for (const notice of notices) if (isNoticeEvent(notice)) this.keepNotice(notice);
    this.ordered = null;
  }

  /** Drops everything: the history changed under the client. */
  clear(): void {
    this.bySeq.clear();
    this.seqOfId.clear();
    this.eventSeqs.clear();
    this.lastEventOf.clear();
    this.forgetOrphans();
    this.noticeBySeq.clear();
    this.orderedNotices = null;
    this.latestEvent = 0;
    this.ordered = null;
    this.contiguousSeq = null;
  }

  private advance(): void {
    if (this.contiguousSeq === null) return;
    let top = this.contiguousSeq;
    for (const seq of this.eventSeqs) if (seq <= top) this.eventSeqs.delete(seq);
    while (this.bySeq.has(top + 1) || this.eventSeqs.delete(top + 1)) top += 1;
    this.contiguousSeq = top;
  }

  private keepOrphan(event: RoomEvent, target: string): void {
    if (this.orphanCount >= MAX_ORPHANS) return;
    const list = this.orphans.get(target) ?? [];
    if (list.some((e) => e.seq === event.seq)) return;
    list.push(event);
    this.orphans.set(target, list);
    this.orphanCount += 1;
  }

  /** Keeps a member or room event; whether it was new. */
  private keepNotice(event: NoticeEvent): boolean {
    if (this.noticeBySeq.has(event.seq) || this.bySeq.has(event.seq)) return false;
    this.noticeBySeq.set(event.seq, event);
    if (this.noticeBySeq.size > MAX_NOTICES) {
      const oldest = Math.min(...this.noticeBySeq.keys());
      this.noticeBySeq.delete(oldest);
    }
    this.orderedNotices = null;
    return true;
  }

  private adoptOrphans(msg: Message): Message {
    const events = this.orphans.get(msg.id);
    if (!events) return msg;
    this.orphans.delete(msg.id);
    this.orphanCount -= events.length;
    let state = msg;
    for (const event of events.sort((a, b) => a.seq - b.seq)) {
      if (event.seq <= msg.seq) continue;
      state = applyEvent(state, event);
      this.lastEventOf.set(msg.id, event.seq);
    }
    return state;
  }
}
