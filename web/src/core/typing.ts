/**
 * "X is typing…": who is typing in one room and until when, and how often the
 * client may say that you are (docs/protocol.md §9). A `typing` frame shows its
 * sender for a few seconds; their next stored message ends it at once. Pure
 * data: the one timer that sweeps expired entries lives in `ChatClient`.
 */

export interface TypingUser {
  userId: string;
  name: string;
}

export class RoomTyping {
  private readonly byUser = new Map<string, { name: string; until: number }>();

  get size(): number {
    return this.byUser.size;
  }

  /** `userId` is typing, shown until `until` (ms). */
  show(userId: string, name: string, until: number): void {
    this.byUser.set(userId, { name, until });
  }

  /** `userId` stopped (their message arrived); whether they were shown. */
  stop(userId: string): boolean {
    return this.byUser.delete(userId);
  }

  clear(): void {
    this.byUser.clear();
  }

  /** Drops the entries shown until `now` or earlier; whether any was dropped. */
  expire(now: number): boolean {
    let dropped = false;
    for (const [user, t] of this.byUser) {
      if (t.until <= now) {
        this.byUser.delete(user);
        dropped = true;
      }
    }
    return dropped;
  }

  /** When the first entry expires; `Infinity` when nobody is shown. */
  nextExpiry(): number {
    let next = Infinity;
    for (const t of this.byUser.values()) next = Math.min(next, t.until);
    return next;
  }

  /** Who is shown, in the order they started. */
  users(): TypingUser[] {
    return [...this.byUser].map(([userId, t]) => ({ userId, name: t.name }));
  }
}

/** Whether a `typing` frame may go out now, `intervalMs` after the last one. */
export function typingDue(lastSentAt: number, now: number, intervalMs: number): boolean {
  return now - lastSentAt >= intervalMs;
}
