import { useEffect, useId, useLayoutEffect, useRef, useState, type ClipboardEvent, type KeyboardEvent } from 'react';
import type { DraftFile, ReplyPreview, Settled } from '../../core/chat';
import { contentLength } from '../../core/protocol';
import { completeMention, insertMention, mentionQuery, suggestMentions, type MentionCandidate } from '../../core/text';
import { Avatar } from '../Avatar';
import { filesOf } from '../../lib/transfer';
import { ComposerFiles } from '../ComposerFiles';
import { Icon } from '../Icon';
import { ReplyingTo } from '../ReplyQuote';
import { useAutoGrow } from '../../hooks/use-auto-grow';

const NO_FILES: readonly DraftFile[] = [];
const NO_CANDIDATES: readonly MentionCandidate[] = [];

/** Text put back into the box from outside (a message the server refused for good), with why. */
export interface ComposerRestore {
  text: string;
  error: string;
  /** New for every restore: the same text restored twice is put back twice. */
  token: number;
}

/**
 * The message box. Enter sends, Shift+Enter starts a new line; in an empty box
 * Up edits your last message (as in Slack), and Escape drops the reply being
 * written. Mount one per room (`key={room}`): it starts from that room's saved
 * draft.
 *
 * Files are attached with the paperclip (a file picker, several at once), by
 * pasting (an image copied), or by a drop on the room (the page's): each
 * uploads at once, and shows above the box with its progress, or why it was
 * refused. A message may be files alone. Sent while files are uploading, it
 * goes once they are all uploaded (with the text as it is then); a refusal
 * among them stops it, and says so.
 *
 * Typing `@` offers the room's people (`mentionCandidates`) in a listbox under
 * the box: ↑ ↓ move (the box keeps the focus, `aria-activedescendant` says
 * which), Enter or Tab picks, Escape closes. The box writes in the direction
 * of its text (`dir="auto"`). A message the server refused for good comes
 * back into it (`restore`), with the reason under it, to be fixed.
 */
export function Composer({
  room,
  label = `#${room}`,
  initialDraft,
  maxChars,
  replyTo = null,
  focusKey = 0,
  files = NO_FILES,
  onDraftChange,
  onSend,
  onTyping,
  onEditLast,
  onCancelReply,
  onAttach,
  onRemoveFile,
  onRetryFile,
  waitForFiles,
  attachError = null,
  mentionCandidates = NO_CANDIDATES,
  me = null,
  restore = null,
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
  /** The files of the message: uploading, uploaded or refused. */
  files?: readonly DraftFile[];
  onDraftChange: (text: string) => void;
  /** Returns why the text cannot be sent, or null once it is on its way (with the files). */
  onSend: (text: string) => string | null;
  onTyping: () => void;
  /** Starts editing your last message; whether there was one. */
  onEditLast?: () => boolean;
  onCancelReply?: () => void;
  /** Attaches files (picked or pasted); returns why some could not be, or null. Without it, no files. */
  onAttach?: (files: File[]) => string | null;
  onRemoveFile?: (key: string) => void;
  onRetryFile?: (key: string) => void;
  /** Resolves once no file is uploading: a message sent meanwhile waits for it. */
  waitForFiles?: () => Promise<Settled>;
  /** Why files dropped on the room could not all be attached (the drop is the page's). */
  attachError?: string | null;
  /** Who `@` offers: the room's members and who is online in it. */
  mentionCandidates?: readonly MentionCandidate[];
  /** Your user id: not offered. */
  me?: string | null;
  /** Text to put back into the box, with why (`token` new each time). */
  restore?: ComposerRestore | null;
}) {
  const [value, setValue] = useState(initialDraft);
  const [ownError, setError] = useState<string | null>(null);
  const error = ownError ?? attachError;
  /** Sent while files upload: it goes when they are done. */
  const [waiting, setWaiting] = useState(false);
  const area = useAutoGrow(value);
  const picker = useRef<HTMLInputElement>(null);
  // What a send that waited for its files sends once they are done: the text and the page's `onSend` as they are then.
  const latest = useRef({ value, onSend });
  const mounted = useRef(true);
  const length = contentLength(value);
  const over = length > maxChars;
  const hasFiles = files.length > 0;
  const uploading = files.some((f) => f.state === 'uploading');
  const sendable = (Boolean(value.trim()) || hasFiles) && !over && !waiting;

  // The mention being typed at the caret, and who it may be.
  const [caret, setCaret] = useState<number | null>(null);
  const [activeIndex, setActiveIndex] = useState(0);
  const [dismissedAt, setDismissedAt] = useState<number | null>(null);
  const listId = useId();
  const errorId = useId();
  const query = caret === null ? null : mentionQuery(value, caret, mentionCandidates);
  // A name typed (or pasted) whole offers nothing more: Enter sends.
  const suggestions =
    query && !completeMention(query.query, mentionCandidates)
      ? suggestMentions(query.query, mentionCandidates, me)
      : [];
  const suggesting = query !== null && suggestions.length > 0 && dismissedAt !== query.start;
  const active = suggesting ? Math.min(activeIndex, suggestions.length - 1) : -1;
  const optionId = (i: number) => `${listId}-option-${i}`;

  const trackCaret = () => {
    const el = area.current;
    setCaret(el && el.selectionStart === el.selectionEnd ? el.selectionStart : null);
  };

  const pick = (who: MentionCandidate) => {
    const el = area.current;
    if (!query || caret === null) return;
    const next = insertMention(value, query, caret, who.name);
    setValue(next.text);
    setError(null);
    onDraftChange(next.text);
    setCaret(next.caret);
    setActiveIndex(0);
    requestAnimationFrame(() => {
      el?.focus();
      el?.setSelectionRange(next.caret, next.caret);
    });
  };

  // Text put back from outside (refused for good): in the box again, caret at its end, and why under it.
  const restored = useRef(0);
  useEffect(() => {
    if (!restore || restore.token === restored.current) return;
    restored.current = restore.token;
    setValue(restore.text);
    setError(restore.error);
    onDraftChange(restore.text);
    const el = area.current;
    el?.focus();
    requestAnimationFrame(() => el?.setSelectionRange(restore.text.length, restore.text.length));
    // Only a new token restores; the callbacks are the page's.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [restore?.token]);

  useLayoutEffect(() => {
    area.current?.focus();
  }, [area, room, focusKey, replyTo?.id]);

  useEffect(() => {
    latest.current = { value, onSend };
  });

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const change = (text: string, at: number | null) => {
    setValue(text);
    setError(null);
    setCaret(at);
    setActiveIndex(0);
    onDraftChange(text);
    if (text.trim()) onTyping();
  };

  /** Sends `text` now (with the files): the box empties, or says why not. */
  const sendNow = (text: string, send: (text: string) => string | null) => {
    const problem = send(text);
    if (problem) {
      setError(problem);
      return;
    }
    setValue('');
    onDraftChange('');
    area.current?.focus();
  };

  const send = () => {
    if (waiting || (!value.trim() && !hasFiles)) return;
    if (uploading && waitForFiles) {
      setWaiting(true);
      setError(null);
      void waitForFiles().then((settled) => {
        if (!mounted.current) return;
        setWaiting(false);
        if (settled.problem) {
          setError(`Not sent: ${settled.problem.charAt(0).toLowerCase()}${settled.problem.slice(1)}`);
          return;
        }
        const { value: text, onSend: sendLatest } = latest.current;
        // Everything was taken out meanwhile: nothing to send.
        if (!text.trim() && settled.count === 0) return;
        sendNow(text, sendLatest);
      });
      return;
    }
    sendNow(value, onSend);
  };

  const attach = (list: File[]) => {
    if (!onAttach || list.length === 0) return;
    setError(onAttach(list));
    area.current?.focus();
  };

  const onPaste = (e: ClipboardEvent<HTMLTextAreaElement>) => {
    if (!onAttach) return;
    const pasted = filesOf(e.clipboardData);
    if (pasted.length === 0) return;
    // An image copied: it is attached, not pasted as text (its name, a path).
    e.preventDefault();
    attach(pasted);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.nativeEvent.isComposing) return;
    if (suggesting) {
      const chosen = suggestions[active];
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        const step = e.key === 'ArrowDown' ? 1 : -1;
        setActiveIndex((active + step + suggestions.length) % suggestions.length);
        return;
      }
      if ((e.key === 'Enter' || e.key === 'Tab') && !e.shiftKey && chosen) {
        e.preventDefault();
        pick(chosen);
        return;
      }
      if (e.key === 'Escape' && query) {
        e.preventDefault();
        e.stopPropagation();
        setDismissedAt(query.start);
        return;
      }
    }
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      send();
    } else if (e.key === 'ArrowUp' && !value && !hasFiles && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey) {
      if (onEditLast?.()) e.preventDefault();
    } else if (e.key === 'Escape' && replyTo && onCancelReply) {
      e.preventDefault();
      onCancelReply();
    }
  };

  return (
    <div className="relative px-4 pb-4 sm:px-6">
      {suggesting && (
        <ul
          id={listId}
          role="listbox"
          aria-label="People to mention"
          data-testid="mention-suggestions"
          className="absolute right-4 bottom-full left-4 z-20 mb-1 max-h-64 overflow-y-auto rounded-xl border border-zinc-200 bg-white p-1 shadow-lg sm:right-auto sm:left-6 sm:w-80 dark:border-zinc-700 dark:bg-zinc-800"
        >
          {suggestions.map((who, i) => (
            <li
              key={who.userId}
              id={optionId(i)}
              role="option"
              aria-selected={i === active}
              // The box keeps the focus (and the caret): a click picks without taking it.
              onMouseDown={(e) => e.preventDefault()}
              onClick={() => pick(who)}
              onMouseMove={() => i !== active && setActiveIndex(i)}
              className={`flex cursor-pointer items-center gap-2 rounded-lg px-2 py-1.5 text-sm ${
                i === active
                  ? 'bg-indigo-600 text-white'
                  : 'text-zinc-800 hover:bg-zinc-100 dark:text-zinc-100 dark:hover:bg-zinc-700'
              }`}
            >
              <Avatar name={who.name} userId={who.userId} size="sm" />
              <span className="min-w-0 flex-1 truncate" dir="auto" data-testid="mention-option-name">
                {who.name}
              </span>
            </li>
          ))}
        </ul>
      )}
      {replyTo && onCancelReply && <ReplyingTo preview={replyTo} onCancel={onCancelReply} />}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          send();
        }}
        className={`rounded-xl border bg-white p-1.5 shadow-sm transition focus-within:ring-2 dark:bg-zinc-800/60 ${
          onAttach ? '' : 'pl-3'
        } ${
          over || error
            ? 'border-rose-300 focus-within:ring-rose-500/30 dark:border-rose-500/50'
            : 'border-zinc-300 focus-within:border-indigo-400 focus-within:ring-indigo-500/20 dark:border-zinc-700 dark:focus-within:border-indigo-500'
        }`}
      >
        {onRemoveFile && (
          <ComposerFiles files={files} onRemove={onRemoveFile} {...(onRetryFile ? { onRetry: onRetryFile } : {})} />
        )}
        <div className="flex items-end gap-2">
          {onAttach && (
            <>
              <input
                ref={picker}
                type="file"
                multiple
                hidden
                tabIndex={-1}
                aria-label="Choose files to attach"
                data-testid="composer-file-input"
                onChange={(e) => {
                  const picked = Array.from(e.target.files ?? []);
                  // The same file can be picked again after it is removed.
                  e.target.value = '';
                  attach(picked);
                }}
              />
              <button
                type="button"
                onClick={() => picker.current?.click()}
                aria-label="Attach files"
                title="Attach files (or paste or drop them here)"
                className="inline-flex size-9 shrink-0 items-center justify-center rounded-lg text-zinc-500 transition hover:bg-zinc-100 hover:text-zinc-700 focus-visible:ring-2 focus-visible:ring-indigo-500 focus-visible:outline-none dark:text-zinc-400 dark:hover:bg-zinc-700/60 dark:hover:text-zinc-200"
              >
                <Icon name="paperclip" className="size-5" />
              </button>
            </>
          )}
          <textarea
            ref={area}
            value={value}
            rows={1}
            dir="auto"
            data-composer=""
            onChange={(e) =>
              change(e.target.value, e.target.selectionStart === e.target.selectionEnd ? e.target.selectionStart : null)
            }
            onKeyDown={onKeyDown}
            onKeyUp={(e) => {
              // The caret moved (↑ ↓ move through the list instead while it is open).
              const vertical = e.key === 'ArrowUp' || e.key === 'ArrowDown';
              if (['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(e.key) || (vertical && !suggesting)) trackCaret();
            }}
            onClick={trackCaret}
            onBlur={() => setCaret(null)}
            onPaste={onPaste}
            aria-autocomplete="list"
            aria-controls={suggesting ? listId : undefined}
            aria-activedescendant={suggesting && active >= 0 ? optionId(active) : undefined}
            aria-describedby={error ? errorId : undefined}
            placeholder={
              replyTo
                ? `Reply to ${replyTo.name ?? 'message'}`
                : hasFiles
                  ? 'Add a message, or just send'
                  : `Message ${label}`
            }
            aria-label={`Message ${label}`}
            className="max-h-60 min-h-[36px] flex-1 resize-none bg-transparent py-1.5 text-[15px] leading-6 text-zinc-900 placeholder:text-zinc-500 focus:outline-none dark:text-zinc-100 dark:placeholder:text-zinc-400"
          />
          <button
            type="submit"
            disabled={!sendable}
            aria-label={waiting ? 'Sending once the files are uploaded' : 'Send message'}
            title={waiting ? 'Sending once the files are uploaded' : 'Send (Enter)'}
            data-waiting={waiting ? 'true' : undefined}
            className="inline-flex size-9 shrink-0 items-center justify-center rounded-lg bg-indigo-600 text-white shadow-sm transition hover:bg-indigo-500 disabled:cursor-not-allowed disabled:bg-zinc-200 disabled:text-zinc-400 disabled:shadow-none data-[waiting=true]:cursor-wait data-[waiting=true]:bg-indigo-400 data-[waiting=true]:text-white dark:disabled:bg-zinc-700 dark:disabled:text-zinc-500 dark:data-[waiting=true]:bg-indigo-500/60"
          >
            <Icon name={waiting ? 'clock' : 'send'} className={`size-[18px] ${waiting ? 'animate-pulse' : ''}`} />
          </button>
        </div>
      </form>
      <div className="mt-1.5 flex min-h-4 items-center justify-between gap-3 px-1 text-[11px] text-zinc-500 dark:text-zinc-400">
        {error ? (
          <span role="alert" id={errorId} data-testid="composer-error" className="text-rose-700 dark:text-rose-400">
            {error}
          </span>
        ) : waiting ? (
          <span role="status" className="text-indigo-600 dark:text-indigo-300">
            Sending once the files are uploaded…
          </span>
        ) : (
          <span className="hidden sm:inline">
            <kbd className="font-sans font-semibold">Enter</kbd> to send ·{' '}
            <kbd className="font-sans font-semibold">Shift + Enter</kbd> for a new line
            {onAttach && <> · paste or drop files to attach them</>}
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
