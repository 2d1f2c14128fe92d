/**
 * Your changes still in the outbox, shown at once: a stored message as the
 * server has it, with your pending edits, deletes and reactions laid over it in
 * the order made. The timeline keeps only what the server stored, so rolling a
 * change back is dropping its outbox entry, and confirming it is the event
 * arriving (after which the overlay and the stored state agree).
 */
import { applyEvent, setReaction, tombstone } from './events';
import type { ChangeEntry } from './outbox';
import type { Message } from './protocol';

/** `message` as it will be once `changes` (all of its room, in the order made) are stored. */
export function withChanges(message: Message, changes: readonly ChangeEntry[], me: string | null): Message {
  let shown = message;
  for (const change of changes) shown = withChange(shown, change, me);
  return shown;
}

function withChange(message: Message, change: ChangeEntry, me: string | null): Message {
  switch (change.kind) {
    case 'edit':
      return applyEvent(message, {
        kind: 'edit',
        content: change.content,
        seq: 0,
        id: change.client_id,
        room: change.room,
        target: change.target,
        user_id: me ?? '',
        name: '',
        created_at: change.created_at,
      });
    case 'delete':
      return tombstone(message);
    case 'react': {
      if (message.deleted || !me || !change.emoji) return message;
      const on = change.on ?? true;
      const current = message.reactions?.find((r) => r.emoji === change.emoji);
      const had = current?.users.includes(me) ?? false;
      if (on === had) return message;
      const count = Math.max(0, (current?.count ?? 0) + (on ? 1 : -1));
      const reactions = setReaction(message.reactions ?? [], change.emoji, me, on, count);
      if (reactions.length > 0) return { ...message, reactions };
      const { reactions: _gone, ...rest } = message;
      return rest;
    }
  }
}
