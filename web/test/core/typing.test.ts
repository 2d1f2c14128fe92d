import { describe, expect, it } from 'vitest';
import { RoomTyping, typingDue, type TypingUser } from '../../src/core/typing';

const bob: TypingUser = { userId: 'u1', name: 'Bob', principal: 'guest' };
const cy: TypingUser = { userId: 'u2', name: 'Cy', principal: 'account' };

describe('RoomTyping', () => {
  it('shows users until their time is up, and says when the next one expires', () => {
    const t = new RoomTyping();
    expect(t.nextExpiry()).toBe(Infinity);
    t.show(bob, 4000);
    t.show(cy, 5000);
    expect(t.users()).toEqual([
      { userId: 'u1', name: 'Bob', principal: 'guest' },
      { userId: 'u2', name: 'Cy', principal: 'account' },
    ]);
    expect(t.nextExpiry()).toBe(4000);
    expect(t.expire(3999)).toBe(false);
    expect(t.expire(4000)).toBe(true);
    expect(t.users()).toEqual([cy]);
    expect(t.nextExpiry()).toBe(5000);
  });

  it('extends a user who types again, and stops one whose message arrived', () => {
    const t = new RoomTyping();
    t.show(bob, 1000);
    t.show(bob, 3000);
    expect(t.size).toBe(1);
    expect(t.nextExpiry()).toBe(3000);
    expect(t.stop('u1')).toBe(true);
    expect(t.stop('u1')).toBe(false);
    t.show(cy, 1);
    t.clear();
    expect(t.size).toBe(0);
  });
});

describe('typingDue', () => {
  it('allows one typing frame per interval', () => {
    expect(typingDue(0, 2000, 2000)).toBe(true);
    expect(typingDue(1000, 2999, 2000)).toBe(false);
    expect(typingDue(1000, 3000, 2000)).toBe(true);
  });
});
