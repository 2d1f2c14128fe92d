import { memo } from 'react';
import type { ChatMessage } from '../../core/chat';
import { formatFull, formatTime } from '../../lib/format';
import { Avatar } from '../Avatar';
import { Icon } from '../Icon';
import { IdTag } from '../IdTag';

/**
 * One message. The content is rendered as a text node only (never as HTML), with
 * its newlines kept by `white-space: pre-wrap`.
 */
export const MessageItem = memo(function MessageItem({
  message,
  continued,
  sharedName = false,
  onRetry,
  onDiscard,
}: {
  message: ChatMessage;
  /** Someone else in view shows the same name: tag it with the user id. */
  sharedName?: boolean;
  /** Follows a message by the same person a moment earlier: no avatar or name. */
  continued: boolean;
  onRetry: (clientId: string) => void;
  onDiscard: (clientId: string) => void;
}) {
  const failed = message.status === 'failed';
  return (
    <li
      data-testid="message"
      data-own={message.own ? 'true' : undefined}
      data-status={message.status ?? undefined}
      className={`group relative flex gap-3 px-4 transition-colors hover:bg-zinc-50 sm:px-6 dark:hover:bg-white/[0.025] ${
        continued ? 'py-0.5' : 'mt-1.5 pt-2 pb-0.5'
      } ${failed ? 'bg-rose-50/60 dark:bg-rose-500/5' : ''}`}
    >
      <div className="w-9 shrink-0">
        {continued ? (
          <time
            dateTime={message.createdAt}
            title={formatFull(message.createdAt)}
            className="invisible absolute left-0 w-[4.25rem] pt-[3px] text-center text-[10px] leading-5 whitespace-nowrap text-zinc-400 tabular-nums group-hover:visible sm:w-[5.25rem] dark:text-zinc-500"
          >
            {formatTime(message.createdAt)}
          </time>
        ) : (
          <Avatar name={message.name} userId={message.userId} />
        )}
      </div>
      <div className="min-w-0 flex-1">
        {!continued && (
          <div className="flex items-baseline gap-2">
            <span
              data-testid="message-author"
              className="truncate text-[15px] font-semibold text-zinc-900 dark:text-zinc-100"
            >
              {message.name}
              {sharedName && <IdTag userId={message.userId} />}
            </span>
            {message.own && (
              <span className="rounded bg-zinc-100 px-1 py-px text-[10px] font-medium tracking-wide text-zinc-500 uppercase dark:bg-zinc-800 dark:text-zinc-400">
                you
              </span>
            )}
            <time
              dateTime={message.createdAt}
              title={formatFull(message.createdAt)}
              className="shrink-0 text-xs text-zinc-400 tabular-nums dark:text-zinc-500"
            >
              {formatTime(message.createdAt)}
            </time>
          </div>
        )}
        <div className="flex items-end gap-2">
          <p
            data-testid="message-content"
            className={`min-w-0 flex-1 text-[15px] leading-relaxed [overflow-wrap:anywhere] whitespace-pre-wrap ${
              message.status === 'sending' ? 'text-zinc-500 dark:text-zinc-400' : 'text-zinc-800 dark:text-zinc-200'
            }`}
          >
            {message.content}
          </p>
          {message.own && message.status && message.status !== 'failed' && <SendStatus message={message} />}
        </div>
        {failed && message.clientId && (
          <div
            data-testid="message-failed"
            className="mt-1 flex flex-wrap items-center gap-x-3 gap-y-1 text-xs text-rose-700 dark:text-rose-400"
          >
            <span className="inline-flex items-center gap-1">
              <Icon name="alert" className="size-3.5" />
              Not sent{message.error ? `: ${message.error}` : ''}
            </span>
            <button
              type="button"
              onClick={() => message.clientId && onRetry(message.clientId)}
              className="rounded font-semibold text-rose-700 underline-offset-2 hover:underline dark:text-rose-300"
            >
              Resend
            </button>
            <button
              type="button"
              onClick={() => message.clientId && onDiscard(message.clientId)}
              className="rounded text-zinc-500 underline-offset-2 hover:underline dark:text-zinc-400"
            >
              Discard
            </button>
          </div>
        )}
      </div>
    </li>
  );
});

function SendStatus({ message }: { message: ChatMessage }) {
  if (message.status === 'sending') {
    return (
      <span
        data-testid="message-status"
        data-status="sending"
        title="Sending…"
        className="mb-1 inline-flex shrink-0 items-center gap-1 text-[11px] text-zinc-400 dark:text-zinc-500"
      >
        <Icon name="clock" className="size-3.5 animate-pulse" />
        Sending…
      </span>
    );
  }
  const title = message.id ? `Sent · id ${message.id}` : 'Sent';
  return (
    <span
      data-testid="message-status"
      data-status="sent"
      title={title}
      aria-label={title}
      className="mb-1 inline-flex shrink-0 items-center gap-1 text-[11px] text-zinc-400 dark:text-zinc-500"
    >
      <span className="hidden font-mono text-[10px] group-hover:inline">{message.id ?? ''}</span>
      <Icon name="check" className="size-3.5 text-indigo-500 dark:text-indigo-400" />
    </span>
  );
}
