/**
 * What an edit, a delete or a reaction does to the message it targets
 * (docs/protocol.md §13), as pure functions of the message. Member and room
 * events (someone added, the room renamed) target no message: the timeline
 * keeps them as notices (`isNoticeEvent`).
 *
 * A message reaches the client in more than one state: "as posted" in a
 * recovery replay, followed by the events that changed it; or already
 * "current" from an HTTP history page, possibly followed by a replay of events
 * it already reflects. So every event *sets* what it says rather than adding to
 * it — an edit sets the text, a reaction sets its emoji's count to the count the
 * server sent — and applying a suffix of the room's log that reaches the present
 * lands on the same state whichever state it started from.
 */
import type { Message, Reactions, RoomEvent } from './protocol';

/** An event about the room or its members (no message is its target): shown as a one-line notice. */
export type NoticeEvent = Extract<RoomEvent, { kind: 'member' | 'room' }>;

/** Whether `event` is about the room or its members rather than a message (it has no `target`). */
export function isNoticeEvent(event: RoomEvent): event is NoticeEvent {
  return event.kind === 'member' || event.kind === 'room';
}

/**
 * `message` after `event` (a new object when anything changed, `message`
 * itself otherwise). A member or room event changes no message.
 */
export function applyEvent(message: Message, event: RoomEvent): Message {
  switch (event.kind) {
    case 'member':
    case 'room':
      return message;
    case 'edit':
      // An edit never follows a delete on the server; a stale one after a tombstone changes nothing.
      if (message.deleted) return message;
      if (message.content === event.content && message.edited_at === event.created_at) return message;
      return { ...message, content: event.content, edited_at: event.created_at };
    case 'delete':
      return tombstone(message);
    case 'reaction': {
      if (message.deleted) return message;
      const reactions = setReaction(message.reactions ?? [], event.emoji, event.user_id, event.on, event.count);
      return reactions === message.reactions ? message : withReactions(message, reactions);
    }
  }
}

/** What a delete leaves: no text, no edit, no reactions, no files. */
export function tombstone(message: Message): Message {
  if (
    message.deleted &&
    !message.content &&
    !message.reactions?.length &&
    !message.edited_at &&
    !message.attachments?.length
  ) {
    return message;
  }
  const { edited_at: _edited, reactions: _reactions, attachments: _attachments, ...rest } = message;
  return { ...rest, content: '', deleted: true };
}

/**
 * `reactions` with `user` added to (or taken from) `emoji`'s users and its count
 * set to `count`; an emoji nobody reacts with any more goes. Each emoji keeps its
 * place; a new one goes last (the server orders by earliest standing reaction).
 * Returns `reactions` itself when nothing changes.
 */
export function setReaction(
  reactions: readonly Reactions[],
  emoji: string,
  user: string,
  on: boolean,
  count: number,
): Reactions[] {
  const i = reactions.findIndex((r) => r.emoji === emoji);
  const current = i >= 0 ? reactions[i] : undefined;
  if (count <= 0) {
    return current ? reactions.filter((_, j) => j !== i) : (reactions as Reactions[]);
  }
  const had = current?.users.includes(user) ?? false;
  // `users` is who the client knows of: the server lists the first ten, live
  // events may add more. Never more names than the count.
  let users = current?.users ?? [];
  if (on && !had) users = [...users, user];
  if (!on && had) users = users.filter((u) => u !== user);
  if (users.length > count) users = users.slice(0, count);
  if (current && current.count === count && users === current.users) return reactions as Reactions[];
  const next: Reactions = { emoji, count, users };
  return current ? reactions.map((r, j) => (j === i ? next : r)) : [...reactions, next];
}

function withReactions(message: Message, reactions: Reactions[]): Message {
  if (reactions.length > 0) return { ...message, reactions };
  const { reactions: _gone, ...rest } = message;
  return rest;
}
