/**
 * One room's timeline: the stored messages the client holds, in seq order.
 *
 * A room's seqs are gap-free (docs/protocol.md §6), so a message is known by its
 * seq: one that arrives twice (live and replayed, or on two history pages) is
 * dropped. `contiguousSeq` is the highest seq up to which every message is held
 * (down to the oldest loaded); it is where a `join` resumes (`since_seq`) and
 * what the local cache may keep (§8). Pure data: no I/O, no timers.
 */
import type { Message } from './protocol';

export class Timeline {
  private readonly bySeq = new Map<number, Message>();
  private readonly ids = new Set<string>();
  private ordered: Message[] | null = null;
  /** Every message with seq ≤ this (down to the oldest loaded) is held; `null` until known. */
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

  /** Whether the stored message `id` is held. */
  hasId(id: string): boolean {
    return this.ids.has(id);
  }

  /** The lowest seq held, if any. */
  lowestSeq(): number | undefined {
    return this.messages()[0]?.seq;
  }

  /** The highest seq held, if any. */
  highestSeq(): number | undefined {
    return this.messages().at(-1)?.seq;
  }

  /**
   * Adds stored messages (live, replayed or read over HTTP), skipping seqs already
   * held, and moves `contiguousSeq` up over what now follows it. Returns the
   * messages that were new, in the order given.
   */
  add(messages: readonly Message[]): Message[] {
    const added: Message[] = [];
    for (const msg of messages) {
      if (this.bySeq.has(msg.seq)) continue;
      this.bySeq.set(msg.seq, msg);
      this.ids.add(msg.id);
      added.push(msg);
    }
    if (added.length === 0) return added;
    this.ordered = null;
    if (this.contiguousSeq !== null) {
      while (this.bySeq.has(this.contiguousSeq + 1)) this.contiguousSeq += 1;
    }
    return added;
  }

  /** Everything up to `seq` is known (the latest page ends there): `contiguousSeq` is at least `seq`. */
  holdUpTo(seq: number): void {
    this.contiguousSeq = Math.max(this.contiguousSeq ?? 0, seq);
  }

  /** Takes a cached tail as it was saved: `messages` end contiguously at `contiguousSeq`. */
  restore(messages: readonly Message[], contiguousSeq: number): void {
    this.contiguousSeq = contiguousSeq;
    for (const msg of messages) {
      this.bySeq.set(msg.seq, msg);
      this.ids.add(msg.id);
    }
    this.ordered = null;
  }

  /** Drops everything: the history changed under the client. */
  clear(): void {
    this.bySeq.clear();
    this.ids.clear();
    this.ordered = null;
    this.contiguousSeq = null;
  }
}
