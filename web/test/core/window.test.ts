import { describe, expect, it } from 'vitest';
import type { HistoryPage, Message } from '../../src/core/protocol';
import { MessageWindow, aroundQueries } from '../../src/core/window';
import { event, message } from '../helpers/fixtures';

const room = 'lobby';

function page(messages: Message[], has_more: boolean): HistoryPage {
  return { type: 'messages', room, data: messages, has_more };
}

/** Messages `from..=to` of the room (every seq a message). */
function range(from: number, to: number): Message[] {
  const list: Message[] = [];
  for (let seq = from; seq <= to; seq++) list.push(message(room, seq));
  return list;
}

/** A window around `seq` of a room of messages 1..=`head`, as the server would answer `aroundQueries`. */
function windowAround(seq: number, head: number, size = 10): { window: MessageWindow; all: Message[] } {
  const all = range(1, head);
  const target = all[seq - 1]!;
  const window = new MessageWindow({ id: target.id, seq });
  const { before, after } = aroundQueries(room, seq, size);
  const older = all.filter((m) => m.seq < before.beforeSeq!);
  const newer = all.filter((m) => m.seq > after.afterSeq!);
  window.takeAround(
    page(older.slice(-before.limit!), older.length > before.limit!),
    page(newer.slice(0, after.limit), newer.length > after.limit!),
  );
  return { window, all };
}

describe('aroundQueries', () => {
  it('reads the message with those before it, and those after it, `size` in all', () => {
    expect(aroundQueries(room, 40, 50)).toEqual({
      before: { room, beforeSeq: 41, limit: 25 },
      after: { room, afterSeq: 40, limit: 25 },
    });
    expect(aroundQueries(room, 3, 7)).toEqual({
      before: { room, beforeSeq: 4, limit: 4 },
      after: { room, afterSeq: 3, limit: 3 },
    });
    // Never fewer than the message and one newer.
    expect(aroundQueries(room, 3, 0)).toEqual({
      before: { room, beforeSeq: 4, limit: 1 },
      after: { room, afterSeq: 3, limit: 1 },
    });
  });
});

describe('MessageWindow', () => {
  it('holds the message with its neighbours either side, and says which way more lies', () => {
    const { window } = windowAround(30, 100);
    expect(window.loading).toBe(false);
    expect(window.messages().map((m) => m.seq)).toEqual([26, 27, 28, 29, 30, 31, 32, 33, 34, 35]);
    expect(window.hasId(window.target.id)).toBe(true);
    expect(window.hasMoreBefore).toBe(true);
    expect(window.hasMoreAfter).toBe(true);
  });

  it('at the start of the room, nothing lies before it', () => {
    const { window } = windowAround(2, 100);
    expect(window.messages().map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(window.hasMoreBefore).toBe(false);
    expect(window.olderQuery(room, 10)).toBeNull();
  });

  it('reads on from its edges: older before its oldest, newer after its newest', () => {
    const { window, all } = windowAround(30, 100);
    expect(window.olderQuery(room, 10)).toEqual({ room, beforeSeq: 26, limit: 10 });
    expect(window.newerQuery(room, 10)).toEqual({ room, afterSeq: 35, limit: 10 });
    window.takeOlder(page(all.slice(15, 25), true));
    window.takeNewer(page(all.slice(35, 45), true));
    expect(window.lowestSeq()).toBe(16);
    expect(window.highestSeq()).toBe(45);
    expect(window.messages()).toHaveLength(30);
    window.takeNewer(page(all.slice(45, 100), false));
    expect(window.newerQuery(room, 10)).toBeNull();
  });

  it('does not meet a live tail far newer than it, and meets one it reaches', () => {
    // The live tail holds 51..=100; the window 26..=35.
    const { window, all } = windowAround(30, 100);
    expect(window.meets(51)).toBe(false);
    expect(window.meets(undefined)).toBe(false);
    // Read newer up to 50: the message just before the tail's oldest. Nothing lies between.
    window.takeNewer(page(all.slice(35, 50), true));
    expect(window.highestSeq()).toBe(50);
    expect(window.meets(51)).toBe(true);
    expect(window.below(51).map((m) => m.seq)).toEqual(range(26, 50).map((m) => m.seq));
  });

  it('meets the tail when it overlaps it, and gives only what lies below it', () => {
    const { window } = windowAround(45, 100);
    expect(window.highestSeq()).toBe(50);
    expect(window.meets(48)).toBe(true);
    expect(window.below(48).map((m) => m.seq)).toEqual([41, 42, 43, 44, 45, 46, 47]);
  });

  it('meets a tail when nothing is newer than it, even across seqs that were events', () => {
    // Messages at 1..=10, then seqs 11..=19 were edits and reactions, the tail starts at 20.
    const window = new MessageWindow({ id: 'x', seq: 5 });
    window.takeAround(page(range(1, 5), false), page(range(6, 10), true));
    expect(window.meets(20)).toBe(false);
    // The next newer page (after 10) is the tail's own first message: nothing between.
    window.takeNewer(page([message(room, 20)], true));
    expect(window.meets(20)).toBe(true);
    // Or nothing newer at all.
    const last = new MessageWindow({ id: 'y', seq: 5 });
    last.takeAround(page(range(1, 5), false), page(range(6, 10), false));
    expect(last.meets(20)).toBe(true);
  });

  it('meets nothing while its first pages are on their way', () => {
    const window = new MessageWindow({ id: 'x', seq: 5 });
    expect(window.loading).toBe(true);
    expect(window.meets(6)).toBe(false);
  });

  it('applies the edits of its messages that the live tail does not hold', () => {
    const { window } = windowAround(30, 100);
    const target = window.byId(window.target.id)!;
    const tailMessage = message(room, 99);
    const changed = window.applyEvents(
      [
        event(101, target, { kind: 'edit', content: 'edited while read' }),
        event(102, tailMessage, { kind: 'edit', content: 'the tail’s own' }),
      ],
      (id) => id === tailMessage.id,
    );
    expect(changed).toBe(true);
    expect(window.byId(target.id)?.content).toBe('edited while read');
    expect(window.applyEvents([event(103, tailMessage, { kind: 'delete' })], (id) => id === tailMessage.id)).toBe(
      false,
    );
  });

  it('an edit that arrives while a page is on its way is applied when the page brings the message', () => {
    const all = range(1, 100);
    const window = new MessageWindow({ id: all[29]!.id, seq: 30 });
    // The page was read before the edit was stored: it has the old text.
    window.applyEvents([event(101, all[29]!, { kind: 'edit', content: 'new text' })], () => false);
    window.takeAround(page(all.slice(20, 30), true), page(all.slice(30, 40), true));
    expect(window.byId(all[29]!.id)?.content).toBe('new text');
  });
});
