/**
 * Others' read watermarks in one room (docs/protocol.md §12), from the
 * `receipt` frames of this session: a message of yours is read by everyone whose
 * watermark is at or above its seq. The server sends a receipt when a watermark
 * moves, not the ones standing when you join, so "seen by" counts the reads the
 * client has witnessed.
 */
export class RoomReceipts {
  private readonly seqs = new Map<string, number>();

  /** Moves `userId`'s watermark up to `seq` (watermarks never move down); whether it moved. */
  update(userId: string, seq: number): boolean {
    if ((this.seqs.get(userId) ?? 0) >= seq) return false;
    this.seqs.set(userId, seq);
    return true;
  }

  /** Who has read up to `seq`, `me` left out, in the order their receipts first came. */
  readersOf(seq: number, me: string | null): string[] {
    const readers: string[] = [];
    for (const [userId, upTo] of this.seqs) if (userId !== me && upTo >= seq) readers.push(userId);
    return readers;
  }

  get size(): number {
    return this.seqs.size;
  }

  clear(): void {
    this.seqs.clear();
  }
}
