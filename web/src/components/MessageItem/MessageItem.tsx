import { memo, useEffect, useRef, useState } from 'react';
import type { ChatMessage } from '../../core/chat';
import { formatFull, formatTime } from '../../lib/format';
import { Attachments } from '../Attachments';
import { Avatar } from '../Avatar';
import { DeleteConfirm } from '../DeleteConfirm';
import { Icon } from '../Icon';
import { IdTag } from '../IdTag';
import { MessageActions } from '../MessageActions';
import { MessageEditor } from '../MessageEditor';
import { PrincipalTag } from '../PrincipalTag';
import { Reactions } from '../Reactions';
import { ReplyQuote } from '../ReplyQuote';

/** What a message row can ask of the page; one stable object, so rows stay memoized. */
export interface MessageHandlers {
  retry: (clientId: string) => void;
  discard: (clientId: string) => void;
  startEdit: (key: string) => void;
  /** Returns why the text cannot be saved, or null once it is on its way. */
  saveEdit: (id: string, text: string) => string | null;
  cancelEdit: () => void;
  remove: (id: string) => void;
  react: (id: string, emoji: string, on: boolean) => void;
  reply: (message: ChatMessage) => void;
  /** Scrolls to a message of the room and marks it for a moment. */
  showOriginal: (id: string) => void;
  /** Opens a direct conversation with an author (given only to someone signed in). */
  openDirect?: (userId: string) => void;
}

const CHANGE_FAILED = { edit: "Couldn't edit", delete: "Couldn't delete", react: "Couldn't react" } as const;

/**
 * One message. The content is rendered as a text node only (never as HTML), with
 * its newlines kept by `white-space: pre-wrap`.
 */
export const MessageItem = memo(function MessageItem({
  message,
  continued,
  sharedName = false,
  editing = false,
  highlighted = false,
  canModerate = false,
  handlers,
}: {
  message: ChatMessage;
  /** Someone else in view shows the same name: tag it with the user id. */
  sharedName?: boolean;
  /** Follows a message by the same person a moment earlier: no avatar or name. */
  continued: boolean;
  /** Shown as an editor instead of its text. */
  editing?: boolean;
  /** Just jumped to (from a reply's quote). */
  highlighted?: boolean;
  /** You may delete it though it is not yours: you are an owner or a moderator of the room. */
  canModerate?: boolean;
  handlers: MessageHandlers;
}) {
  const [confirmingDelete, setConfirmingDelete] = useState(false);
  const row = useRef<HTMLLIElement>(null);
  const failed = message.status === 'failed';
  const id = message.id;
  // Only a stored message can be changed; a deleted one is only a tombstone.
  const actionable = id !== null && message.seq !== null && !message.deleted && !editing;

  useEffect(() => {
    // Editing from the composer (Up arrow) may start off screen.
    if (editing) row.current?.scrollIntoView?.({ block: 'nearest' });
  }, [editing]);

  return (
    <li
      ref={row}
      data-testid="message"
      data-message-id={id ?? undefined}
      data-own={message.own ? 'true' : undefined}
      data-status={message.status ?? undefined}
      data-deleted={message.deleted ? 'true' : undefined}
      data-highlighted={highlighted ? 'true' : undefined}
      className={`group relative flex gap-3 px-4 ring-inset transition-[background-color,box-shadow] duration-700 sm:px-6 ${
        highlighted
          ? 'bg-amber-100/70 ring-2 ring-amber-400 dark:bg-amber-400/10 dark:ring-amber-400/70'
          : editing
            ? 'bg-indigo-50/60 dark:bg-indigo-500/5'
            : 'hover:bg-zinc-50 dark:hover:bg-white/[0.025]'
      } ${continued ? 'py-0.5' : 'mt-1.5 pt-2 pb-0.5'} ${failed ? 'bg-rose-50/60 dark:bg-rose-500/5' : ''}`}
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
            {handlers.openDirect && !message.own && message.principal === 'account' && message.userId ? (
              <button
                type="button"
                data-testid="message-author"
                onClick={() => handlers.openDirect?.(message.userId)}
                title={`Send ${message.name} a direct message`}
                aria-label={`${message.name}: send a direct message`}
                className="truncate rounded text-left text-[15px] font-semibold text-zinc-900 underline-offset-2 hover:underline focus-visible:ring-2 focus-visible:ring-indigo-500/50 focus-visible:outline-none dark:text-zinc-100"
              >
                {message.name}
                {sharedName && <IdTag userId={message.userId} />}
              </button>
            ) : (
              <span
                data-testid="message-author"
                className="truncate text-[15px] font-semibold text-zinc-900 dark:text-zinc-100"
              >
                {message.name}
                {sharedName && <IdTag userId={message.userId} />}
              </span>
            )}
            <PrincipalTag kind={message.principal} />
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
        {message.replyTo && <ReplyQuote preview={message.replyTo} onShow={handlers.showOriginal} />}
        {editing && id ? (
          <>
            <MessageEditor
              initial={message.content}
              onSave={(text) => handlers.saveEdit(id, text)}
              onCancel={handlers.cancelEdit}
            />
            <Attachments files={message.attachments} />
          </>
        ) : (
          <div className="flex items-end gap-2">
            <div className="min-w-0 flex-1 text-[15px] leading-relaxed">
              {message.deleted ? (
                <span data-testid="message-deleted" className="text-zinc-400 italic dark:text-zinc-500">
                  message deleted
                </span>
              ) : (
                // A message of files alone has no text to show.
                (message.content || message.attachments.length === 0) && (
                  <span
                    data-testid="message-content"
                    className={`[overflow-wrap:anywhere] whitespace-pre-wrap ${
                      message.status === 'sending'
                        ? 'text-zinc-500 dark:text-zinc-400'
                        : 'text-zinc-800 dark:text-zinc-200'
                    }`}
                  >
                    {message.content}
                  </span>
                )
              )}
              {message.editedAt && (
                <span
                  data-testid="message-edited"
                  title={`Edited ${formatFull(message.editedAt)}`}
                  className="ml-1.5 text-[11px] text-zinc-400 dark:text-zinc-500"
                >
                  (edited)
                </span>
              )}
              {!message.deleted && <Attachments files={message.attachments} />}
            </div>
            {message.own && message.status && message.status !== 'failed' && !message.deleted && (
              <SendStatus message={message} />
            )}
          </div>
        )}
        {!message.deleted && id && (
          <Reactions reactions={message.reactions} onToggle={(emoji, on) => handlers.react(id, emoji, on)} />
        )}
        {message.change?.state === 'failed' && (
          <div
            data-testid="change-failed"
            className="mt-1 flex flex-wrap items-center gap-x-3 gap-y-1 text-xs text-rose-700 dark:text-rose-400"
          >
            <span className="inline-flex items-center gap-1" title={message.change.error ?? undefined}>
              <Icon name="alert" className="size-3.5" />
              {CHANGE_FAILED[message.change.kind]}
            </span>
            <button
              type="button"
              onClick={() => message.change && handlers.retry(message.change.clientId)}
              className="rounded font-semibold text-rose-700 underline-offset-2 hover:underline dark:text-rose-300"
            >
              Retry
            </button>
            <button
              type="button"
              onClick={() => message.change && handlers.discard(message.change.clientId)}
              className="rounded text-zinc-500 underline-offset-2 hover:underline dark:text-zinc-400"
            >
              Undo
            </button>
          </div>
        )}
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
              onClick={() => message.clientId && handlers.retry(message.clientId)}
              className="rounded font-semibold text-rose-700 underline-offset-2 hover:underline dark:text-rose-300"
            >
              Resend
            </button>
            <button
              type="button"
              onClick={() => message.clientId && handlers.discard(message.clientId)}
              className="rounded text-zinc-500 underline-offset-2 hover:underline dark:text-zinc-400"
            >
              Discard
            </button>
          </div>
        )}
        {confirmingDelete && id && !message.deleted && (
          <DeleteConfirm
            onConfirm={() => {
              setConfirmingDelete(false);
              handlers.remove(id);
            }}
            onCancel={() => setConfirmingDelete(false)}
          />
        )}
      </div>
      {actionable && id && (
        <MessageActions
          own={message.own}
          canDelete={message.own || canModerate}
          onReact={(emoji) => {
            const current = message.reactions.find((r) => r.emoji === emoji);
            handlers.react(id, emoji, !current?.mine);
          }}
          onReply={() => handlers.reply(message)}
          onEdit={() => handlers.startEdit(message.key)}
          onDelete={() => setConfirmingDelete(true)}
        />
      )}
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
  const seenBy = message.readBy.length > 0 ? `Seen by ${message.readBy.join(', ')}` : null;
  return (
    <span
      data-testid="message-status"
      data-status="sent"
      data-read={seenBy ? 'true' : undefined}
      title={title}
      aria-label={seenBy ? `${title} · ${seenBy}` : title}
      className="mb-1 inline-flex shrink-0 items-center gap-1 text-[11px] text-zinc-400 dark:text-zinc-500"
    >
      <span className="hidden font-mono text-[10px] group-hover:inline">{message.id ?? ''}</span>
      {seenBy ? (
        <span data-testid="message-receipt" title={seenBy} className="inline-flex items-center gap-1">
          <span className="hidden group-hover:inline">Seen by {message.readBy.length}</span>
          <Icon name="checkDouble" className="size-4 text-indigo-500 dark:text-indigo-400" />
        </span>
      ) : (
        <Icon name="check" className="size-3.5 text-indigo-500 dark:text-indigo-400" />
      )}
    </span>
  );
}
