import { memo, useContext, useEffect, useId, useRef, useState } from 'react';
import type { ChatMessage } from '../../core/chat';
import { mentions } from '../../core/text';
import { formatFull, formatTime } from '../../lib/format';
import { Attachments } from '../Attachments';
import { Avatar } from '../Avatar';
import { DeleteConfirm } from '../DeleteConfirm';
import { Icon } from '../Icon';
import { IdTag } from '../IdTag';
import { MessageActions } from '../MessageActions';
import { MessageEditor } from '../MessageEditor';
import { MentionContext, MessageText } from '../MessageText';
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
  /** Takes a message refused for good back into the composer, to be fixed and sent again. */
  editFailed?: (message: ChatMessage) => void;
}

const CHANGE_FAILED = { edit: "Couldn't edit", delete: "Couldn't delete", react: "Couldn't react" } as const;

/**
 * One message. The content is rendered as text nodes only (never as HTML),
 * links and mentions marked (`MessageText`), its newlines kept by
 * `white-space: pre-wrap`, laid out in its own direction (`dir="auto"`: an
 * Arabic or Hebrew message reads right to left). Its time (and your
 * message's tick) is a button: a tap, a click or Enter shows its details —
 * the id, when it was sent, where delivery stands — where there is no hover.
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
  const [showDetails, setShowDetails] = useState(false);
  const detailsId = useId();
  const { myName } = useContext(MentionContext);
  const mentionsMe = !message.own && !message.deleted && mentions(message.content, myName);
  const toggleDetails = () => setShowDetails((v) => !v);
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
      data-mentions-me={mentionsMe ? 'true' : undefined}
      className={`group relative flex gap-3 px-4 ring-inset transition-[background-color,box-shadow] duration-700 sm:px-6 ${
        highlighted
          ? 'bg-amber-100/70 ring-2 ring-amber-400 dark:bg-amber-400/10 dark:ring-amber-400/70'
          : editing
            ? 'bg-indigo-50/60 dark:bg-indigo-500/5'
            : mentionsMe
              ? 'bg-amber-50 shadow-[inset_3px_0_0_var(--color-amber-400)] hover:bg-amber-100/60 dark:bg-amber-400/[0.07] dark:hover:bg-amber-400/10'
              : 'hover:bg-zinc-50 dark:hover:bg-white/[0.025]'
      } ${continued ? 'py-0.5' : 'mt-1.5 pt-2 pb-0.5'} ${failed ? 'bg-rose-50/60 dark:bg-rose-500/5' : ''}`}
    >
      <div className="w-9 shrink-0">
        {continued ? (
          <button
            type="button"
            onClick={toggleDetails}
            aria-expanded={showDetails}
            aria-controls={showDetails ? detailsId : undefined}
            aria-label={`${formatTime(message.createdAt)}: message details`}
            title={formatFull(message.createdAt)}
            data-testid="message-time"
            className="absolute left-0 w-[4.25rem] rounded pt-[3px] text-center text-[10px] leading-5 whitespace-nowrap text-zinc-500 tabular-nums opacity-0 group-hover:opacity-100 focus-visible:opacity-100 aria-expanded:opacity-100 sm:w-[5.25rem] dark:text-zinc-400 [@media(hover:none)]:opacity-100"
          >
            <time dateTime={message.createdAt}>{formatTime(message.createdAt)}</time>
          </button>
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
              <span className="rounded bg-zinc-100 px-1 py-px text-[10px] font-medium tracking-wide text-zinc-600 uppercase dark:bg-zinc-800 dark:text-zinc-400">
                you
              </span>
            )}
            <button
              type="button"
              onClick={toggleDetails}
              aria-expanded={showDetails}
              aria-controls={showDetails ? detailsId : undefined}
              aria-label={`${formatTime(message.createdAt)}: message details`}
              title={formatFull(message.createdAt)}
              data-testid="message-time"
              className="shrink-0 rounded text-xs text-zinc-500 tabular-nums hover:text-zinc-800 hover:underline dark:text-zinc-400 dark:hover:text-zinc-200"
            >
              <time dateTime={message.createdAt}>{formatTime(message.createdAt)}</time>
            </button>
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
              {/* The paragraph takes the direction of its first strong letter: right to left for Arabic or Hebrew. */}
              <div dir="auto" className="[overflow-wrap:anywhere] whitespace-pre-wrap">
                {message.deleted ? (
                  <span data-testid="message-deleted" className="text-zinc-500 italic dark:text-zinc-400">
                    message deleted
                  </span>
                ) : (
                  // A message of files alone has no text to show.
                  (message.content || message.attachments.length === 0) && (
                    <span
                      data-testid="message-content"
                      className={
                        message.status === 'sending'
                          ? 'text-zinc-600 dark:text-zinc-400'
                          : 'text-zinc-800 dark:text-zinc-200'
                      }
                    >
                      <MessageText text={message.content} />
                    </span>
                  )
                )}
                {message.editedAt && (
                  <span
                    data-testid="message-edited"
                    title={`Edited ${formatFull(message.editedAt)}`}
                    className="ms-1.5 text-[11px] text-zinc-500 dark:text-zinc-400"
                  >
                    (edited)
                  </span>
                )}
              </div>
              {!message.deleted && <Attachments files={message.attachments} />}
            </div>
            {message.own && message.status && message.status !== 'failed' && !message.deleted && (
              <SendStatus message={message} expanded={showDetails} detailsId={detailsId} onToggle={toggleDetails} />
            )}
          </div>
        )}
        {showDetails && <MessageDetails id={detailsId} message={message} />}
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
            <span className="inline-flex items-start gap-1">
              <Icon name="alert" className="mt-px size-3.5 shrink-0" />
              <span>Not sent{message.error ? `: ${message.error}` : ''}</span>
            </span>
            {!message.retryable && handlers.editFailed && message.attachments.length === 0 && (
              <button
                type="button"
                onClick={() => handlers.editFailed?.(message)}
                className="rounded font-semibold text-rose-700 underline-offset-2 hover:underline dark:text-rose-300"
              >
                Edit
              </button>
            )}
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

/** Where your message stands: a tick (or a clock), a button that shows the message's details. */
function SendStatus({
  message,
  expanded,
  detailsId,
  onToggle,
}: {
  message: ChatMessage;
  expanded: boolean;
  detailsId: string;
  onToggle: () => void;
}) {
  const base =
    'mb-1 inline-flex shrink-0 items-center gap-1 rounded text-[11px] text-zinc-500 hover:text-zinc-800 dark:text-zinc-400 dark:hover:text-zinc-200';
  if (message.status === 'sending') {
    return (
      <button
        type="button"
        onClick={onToggle}
        aria-expanded={expanded}
        aria-controls={expanded ? detailsId : undefined}
        data-testid="message-status"
        data-status="sending"
        title="Sending…"
        className={base}
      >
        <Icon name="clock" className="size-3.5 animate-pulse" />
        Sending…
      </button>
    );
  }
  const title = message.id ? `Sent · id ${message.id}` : 'Sent';
  const seenBy = message.readBy.length > 0 ? `Seen by ${message.readBy.join(', ')}` : null;
  return (
    <span className="mb-1 inline-flex shrink-0 items-center gap-1 text-[11px] text-zinc-500 dark:text-zinc-400">
      {/* On hover, in passing: the same as the details (which the tick opens) say. */}
      <span aria-hidden="true" className="hidden font-mono text-[10px] group-hover:inline">
        {message.id ?? ''}
      </span>
      {seenBy && (
        <span aria-hidden="true" className="hidden group-hover:inline">
          Seen by {message.readBy.length}
        </span>
      )}
      <button
        type="button"
        onClick={onToggle}
        aria-expanded={expanded}
        aria-controls={expanded ? detailsId : undefined}
        data-testid="message-status"
        data-status="sent"
        data-read={seenBy ? 'true' : undefined}
        title={title}
        aria-label={seenBy ? `${title} · ${seenBy}` : title}
        className="inline-flex items-center rounded hover:text-zinc-800 dark:hover:text-zinc-200"
      >
        {seenBy ? (
          <span data-testid="message-receipt" title={seenBy} className="inline-flex items-center">
            <Icon name="checkDouble" className="size-4 text-indigo-600 dark:text-indigo-400" />
          </span>
        ) : (
          <Icon name="check" className="size-3.5 text-indigo-600 dark:text-indigo-400" />
        )}
      </button>
    </span>
  );
}

/** A message's details, shown from its time or its tick: the id, when, and where delivery stands. */
function MessageDetails({ id, message }: { id: string; message: ChatMessage }) {
  const status =
    message.status === 'sending'
      ? 'Sending…'
      : message.status === 'failed'
        ? 'Not sent'
        : message.own
          ? message.readBy.length > 0
            ? `Sent · seen by ${message.readBy.join(', ')}`
            : 'Sent'
          : null;
  return (
    <dl
      id={id}
      data-testid="message-details"
      className="mt-1 mb-0.5 grid w-fit grid-cols-[auto_1fr] gap-x-3 gap-y-0.5 rounded-md bg-zinc-100 px-2.5 py-1.5 text-[11px] text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300"
    >
      <dt className="font-medium">Id</dt>
      <dd className="font-mono break-all select-all" data-testid="message-details-id">
        {message.id ?? 'not assigned yet'}
      </dd>
      <dt className="font-medium">Sent</dt>
      <dd>{formatFull(message.createdAt)}</dd>
      {status && (
        <>
          <dt className="font-medium">Status</dt>
          <dd data-testid="message-details-status">{status}</dd>
        </>
      )}
    </dl>
  );
}
