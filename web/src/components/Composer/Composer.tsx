import { useLayoutEffect, useState, type KeyboardEvent } from 'react';
import type { ReplyPreview } from '../../core/chat';
import { contentLength } from '../../core/protocol';
import { Icon } from '../Icon';
import { ReplyingTo } from '../ReplyQuote';
import { useAutoGrow } from '../../hooks/use-auto-grow';

/**
 * The message box. Enter sends, Shift+Enter starts a new line; in an empty box
 * Up edits your last message (as in Slack), and Escape drops the reply being
 * written. Mount one per room (`key={room}`): it starts from that room's saved
 * draft.
 */
export function Composer({
  room,
  label = `#${room}`,
  initialDraft,
  maxChars,
  replyTo = null,
  focusKey = 0,
  onDraftChange,
  onSend,
  onTyping,
  onEditLast,
  onCancelReply,
}: {
  room: string;
  /** How the room is named ("#lobby", a private room's title, the other person of a direct one). */
  label?: string;
  initialDraft: string;
  maxChars: number;
  /** The message this one answers, quoted above the box. */
  replyTo?: ReplyPreview | null;
  /** Changed to take the focus back (after an edit in place ends). */
  focusKey?: number;
  onDraftChange: (text: string) => void;
  /** Returns why the text cannot be sent, or null once it is on its way. */
  onSend: (text: string) => string | null;
  onTyping: () => void;
  /** Starts editing your last message; whether there was one. */
  onEditLast?: () => boolean;
  onCancelReply?: () => void;
}) {
  const [value, setValue] = useState(initialDraft);
  const [error, setError] = useState<string | null>(null);
  const area = useAutoGrow(value);
  const length = contentLength(value);
  const over = length > maxChars;

  useLayoutEffect(() => {
    area.current?.focus();
  }, [area, room, focusKey, replyTo?.id]);

  const change = (text: string) => {
    setValue(text);
    setError(null);
    onDraftChange(text);
    if (text.trim()) onTyping();
  };

  const send = () => {
    if (!value.trim()) return;
    const problem = onSend(value);
    if (problem) {
      setError(problem);
      return;
    }
    setValue('');
    onDraftChange('');
    area.current?.focus();
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.nativeEvent.isComposing) return;
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      send();
    } else if (e.key === 'ArrowUp' && !value && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey) {
      if (onEditLast?.()) e.preventDefault();
    } else if (e.key === 'Escape' && replyTo && onCancelReply) {
      e.preventDefault();
      onCancelReply();
    }
  };

  return (
    <div className="px-4 pb-4 sm:px-6">
      {replyTo && onCancelReply && <ReplyingTo preview={replyTo} onCancel={onCancelReply} />}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          send();
        }}
        className={`flex items-end gap-2 rounded-xl border bg-white p-1.5 pl-3 shadow-sm transition focus-within:ring-2 dark:bg-zinc-800/60 ${
          over || error
            ? 'border-rose-300 focus-within:ring-rose-500/30 dark:border-rose-500/50'
            : 'border-zinc-300 focus-within:border-indigo-400 focus-within:ring-indigo-500/20 dark:border-zinc-700 dark:focus-within:border-indigo-500'
        }`}
      >
        <textarea
          ref={area}
          value={value}
          rows={1}
          onChange={(e) => change(e.target.value)}
          onKeyDown={onKeyDown}
          placeholder={replyTo ? `Reply to ${replyTo.name ?? 'message'}` : `Message ${label}`}
          aria-label={`Message ${label}`}
          className="max-h-60 min-h-[36px] flex-1 resize-none bg-transparent py-1.5 text-[15px] leading-6 text-zinc-900 placeholder:text-zinc-400 focus:outline-none dark:text-zinc-100 dark:placeholder:text-zinc-500"
        />
        <button
          type="submit"
          disabled={!value.trim() || over}
          aria-label="Send message"
          title="Send (Enter)"
          className="inline-flex size-9 shrink-0 items-center justify-center rounded-lg bg-indigo-600 text-white shadow-sm transition hover:bg-indigo-500 disabled:cursor-not-allowed disabled:bg-zinc-200 disabled:text-zinc-400 disabled:shadow-none dark:disabled:bg-zinc-700 dark:disabled:text-zinc-500"
        >
          <Icon name="send" className="size-[18px]" />
        </button>
      </form>
      <div className="mt-1.5 flex h-4 items-center justify-between gap-3 px-1 text-[11px] text-zinc-400 dark:text-zinc-500">
        {error ? (
          <span role="alert" className="text-rose-600 dark:text-rose-400">
            {error}
          </span>
        ) : (
          <span className="hidden sm:inline">
            <kbd className="font-sans font-semibold">Enter</kbd> to send ·{' '}
            <kbd className="font-sans font-semibold">Shift + Enter</kbd> for a new line
          </span>
        )}
        {length > maxChars * 0.8 && (
          <span className={`tabular-nums ${over ? 'font-semibold text-rose-600 dark:text-rose-400' : ''}`}>
            {length} / {maxChars}
          </span>
        )}
      </div>
    </div>
  );
}
