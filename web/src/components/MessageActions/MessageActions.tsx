import { useState } from 'react';
import { Icon, type IconName } from '../Icon';
import { ReactionPicker } from '../ReactionPicker';

/**
 * A message's actions, shown on hover or keyboard focus of its row: react,
 * reply, and for your own messages edit and delete — delete for anyone's
 * message too where you are an owner or a moderator (`canDelete`). They stay
 * in the page (transparent, not hidden) so a keyboard user can tab to them.
 */
export function MessageActions({
  own,
  canDelete = own,
  onReact,
  onReply,
  onEdit,
  onDelete,
}: {
  own: boolean;
  /** Delete is offered: your own message, or you moderate the room. */
  canDelete?: boolean;
  onReact: (emoji: string) => void;
  onReply: () => void;
  onEdit: () => void;
  onDelete: () => void;
}) {
  const [picking, setPicking] = useState(false);
  return (
    <div
      className={`absolute -top-3.5 right-3 z-10 transition-opacity sm:right-5 ${
        picking
          ? 'opacity-100'
          : // Unseen, it takes no taps or clicks: the row above keeps its own (its time, its tick) under it.
            'pointer-events-none opacity-0 group-focus-within:pointer-events-auto group-focus-within:opacity-100 group-hover:pointer-events-auto group-hover:opacity-100'
      }`}
    >
      <div
        role="toolbar"
        aria-label="Message actions"
        className="flex items-center rounded-lg border border-zinc-200 bg-white p-0.5 shadow-sm dark:border-zinc-700 dark:bg-zinc-800"
      >
        <ActionButton icon="smile" label="React" onClick={() => setPicking((p) => !p)} expanded={picking} />
        <ActionButton icon="reply" label="Reply" onClick={onReply} />
        {own && <ActionButton icon="pencil" label="Edit message" onClick={onEdit} />}
        {canDelete && <ActionButton icon="trash" label="Delete message" onClick={onDelete} danger />}
      </div>
      {picking && (
        <div className="absolute top-full right-0 mt-1">
          <ReactionPicker
            onPick={(emoji) => {
              setPicking(false);
              onReact(emoji);
            }}
            onClose={() => setPicking(false)}
          />
        </div>
      )}
    </div>
  );
}

function ActionButton({
  icon,
  label,
  onClick,
  expanded,
  danger = false,
}: {
  icon: IconName;
  label: string;
  onClick: () => void;
  expanded?: boolean;
  danger?: boolean;
}) {
  return (
    <button
      type="button"
      aria-label={label}
      title={label}
      onClick={onClick}
      {...(expanded !== undefined ? { 'aria-expanded': expanded } : {})}
      className={`inline-flex size-7 items-center justify-center rounded-md text-zinc-500 transition focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50 dark:text-zinc-400 ${
        danger
          ? 'hover:bg-rose-50 hover:text-rose-600 dark:hover:bg-rose-500/10 dark:hover:text-rose-400'
          : 'hover:bg-zinc-100 hover:text-zinc-800 dark:hover:bg-zinc-700 dark:hover:text-zinc-100'
      }`}
    >
      <Icon name={icon} className="size-4" />
    </button>
  );
}
