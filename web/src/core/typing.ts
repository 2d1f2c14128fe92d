/**
 * "X is typing…": who is typing in one room and until when, and how often the
 * client may say that you are (docs/protocol.md §9). A `typing` frame shows its
 * sender for a few seconds; their next stored message ends it at once. Pure
 * data: the one timer that sweeps expired entries lives in `ChatClient`.
 */
import type { PrincipalKind } from './protocol';

export interface TypingUser {
  userId: string;
  name: string;
  /** A guest's name is self-chosen: it is said so beside the name, here as anywhere. */
  principal: PrincipalKind;
}

export class RoomTyping {
  private readonly byUser = new Map<string, { user: TypingUser; until: number }>();

  get size(): number {
    return this.byUser.size;
  }

  /** `user` is typing, shown until `until` (ms). */
  show(user: TypingUser, until: number): void {
    this.byUser.set(user.userId, { user, until });
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
    return [...this.byUser.values()].map((t) => t.user);
  }
}

/** Whether a `typing` frame may go out now, `intervalMs` after the last one. */
export function typingDue(lastSentAt: number, now: number, intervalMs: number): boolean {
  return now - lastSentAt >= intervalMs;
}
