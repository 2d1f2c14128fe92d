import { useEffect, useRef } from 'react';

/** The picker's emoji: the handful people use most. The server takes any emoji; the list is the client's. */
export const COMMON_EMOJI = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '👀'] as const;

/**
 * A row of common emoji to react with. Escape (or picking one) closes it; focus
 * starts on the first emoji so a keyboard user can pick at once.
 */
export function ReactionPicker({ onPick, onClose }: { onPick: (emoji: string) => void; onClose: () => void }) {
  const first = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    first.current?.focus();
  }, []);
  return (
    <div
      role="group"
      aria-label="Pick a reaction"
      data-testid="reaction-picker"
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.stopPropagation();
          onClose();
        }
      }}
      className="flex items-center gap-0.5 rounded-lg border border-zinc-200 bg-white p-1 shadow-lg dark:border-zinc-700 dark:bg-zinc-800"
    >
      {COMMON_EMOJI.map((emoji, i) => (
        <button
          key={emoji}
          ref={i === 0 ? first : undefined}
          type="button"
          aria-label={`React with ${emoji}`}
          title={`React with ${emoji}`}
          onClick={() => onPick(emoji)}
          className="inline-flex size-8 items-center justify-center rounded-md text-lg leading-none transition hover:scale-110 hover:bg-zinc-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500/50 dark:hover:bg-zinc-700"
        >
          {emoji}
        </button>
      ))}
    </div>
  );
}
