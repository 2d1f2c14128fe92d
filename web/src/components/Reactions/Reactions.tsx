import type { ReactionView } from '../../core/chat';

/** "Ada, Bob and 3 others reacted with 👍": who, by name, as far as the client knows them. */
export function reactedBy(reaction: ReactionView): string {
  const { names, count, emoji } = reaction;
  const shown = names.slice(0, count);
  const others = count - shown.length;
  if (shown.length === 0) return `${count} reacted with ${emoji}`;
  const list =
    others > 0
      ? `${shown.join(', ')} and ${others} other${others === 1 ? '' : 's'}`
      : shown.length === 1
        ? shown[0]
        : `${shown.slice(0, -1).join(', ')} and ${shown.at(-1)}`;
  return `${list} reacted with ${emoji}`;
}

/**
 * The reactions under a message: one chip per emoji with its count, marked
 * when one of them is yours; a click adds yours or takes it back. The title
 * says who reacted.
 */
export function Reactions({
  reactions,
  onToggle,
}: {
  reactions: readonly ReactionView[];
  onToggle: (emoji: string, on: boolean) => void;
}) {
  if (reactions.length === 0) return null;
  return (
    <ul aria-label="Reactions" className="mt-1 flex flex-wrap gap-1">
      {reactions.map((r) => (
        <li key={r.emoji}>
          <button
            type="button"
            data-testid="reaction"
            data-emoji={r.emoji}
            aria-pressed={r.mine}
            aria-label={`${r.emoji} ${r.count}`}
            title={reactedBy(r)}
            onClick={() => onToggle(r.emoji, !r.mine)}
            className={`inline-flex h-6 items-center gap-1 rounded-full border px-2 text-xs font-medium tabular-nums transition ${
              r.mine
                ? 'border-indigo-300 bg-indigo-50 text-indigo-700 hover:bg-indigo-100 dark:border-indigo-500/50 dark:bg-indigo-500/15 dark:text-indigo-300 dark:hover:bg-indigo-500/25'
                : 'border-zinc-200 bg-zinc-50 text-zinc-600 hover:border-zinc-300 hover:bg-zinc-100 dark:border-zinc-700 dark:bg-zinc-800/60 dark:text-zinc-300 dark:hover:bg-zinc-800'
            }`}
          >
            <span className="text-sm leading-none">{r.emoji}</span>
            <span>{r.count}</span>
          </button>
        </li>
      ))}
    </ul>
  );
}
