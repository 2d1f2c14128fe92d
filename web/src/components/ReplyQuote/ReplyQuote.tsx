import type { ReplyPreview } from '../../core/chat';
import { Icon } from '../Icon';

/** The quoted line of a reply's original: who wrote it and how it starts. */
function QuoteText({ preview }: { preview: ReplyPreview }) {
  if (!preview.loaded)
    return <span className="text-zinc-500 italic dark:text-zinc-400">Original message not loaded</span>;
  return (
    <>
      <span className="shrink-0 font-semibold text-zinc-700 dark:text-zinc-200">{preview.name}</span>
      {preview.deleted ? (
        <span className="truncate text-zinc-500 italic dark:text-zinc-400">message deleted</span>
      ) : (
        <span className="truncate text-zinc-500 dark:text-zinc-400">{preview.excerpt}</span>
      )}
    </>
  );
}

/**
 * Above a reply: a quote of the message it answers. A click scrolls to the
 * original and marks it for a moment, when it is loaded.
 */
export function ReplyQuote({ preview, onShow }: { preview: ReplyPreview; onShow: (id: string) => void }) {
  // Not "Reply…": a test or screen reader looking for the Reply action should find that alone.
  const label = preview.loaded
    ? `Original message by ${preview.name ?? 'someone'}: ${preview.deleted ? 'message deleted' : (preview.excerpt ?? '')}`
    : 'Original message, not loaded';
  return (
    <button
      type="button"
      data-testid="reply-quote"
      aria-label={label}
      title={preview.loaded ? 'Show the original message' : undefined}
      disabled={!preview.loaded}
      onClick={() => onShow(preview.id)}
      className="mb-0.5 flex max-w-full min-w-0 items-center gap-1.5 rounded-md border-l-2 border-indigo-300 py-0.5 pr-2 pl-2 text-left text-[13px] hover:bg-zinc-100 disabled:cursor-default disabled:hover:bg-transparent dark:border-indigo-500/60 dark:hover:bg-white/5"
    >
      <Icon name="reply" className="size-3.5 shrink-0 text-zinc-500" />
      <QuoteText preview={preview} />
    </button>
  );
}

/** Above the composer: the message being answered, with a way out. */
export function ReplyingTo({ preview, onCancel }: { preview: ReplyPreview; onCancel: () => void }) {
  return (
    <div
      data-testid="composer-reply"
      className="mb-1.5 flex min-w-0 items-center gap-2 rounded-lg border-l-2 border-indigo-400 bg-zinc-50 py-1.5 pr-1.5 pl-3 text-[13px] dark:border-indigo-500 dark:bg-zinc-800/60"
    >
      <Icon name="reply" className="size-3.5 shrink-0 text-zinc-500" />
      <span className="shrink-0 text-zinc-500 dark:text-zinc-400">Replying to</span>
      <span className="flex min-w-0 flex-1 items-center gap-1.5">
        <QuoteText preview={preview} />
      </span>
      <button
        type="button"
        onClick={onCancel}
        aria-label="Cancel reply"
        title="Cancel reply (Escape)"
        className="inline-flex size-6 shrink-0 items-center justify-center rounded text-zinc-500 hover:bg-zinc-200 dark:hover:bg-zinc-700"
      >
        <Icon name="x" className="size-4" />
      </button>
    </div>
  );
}
