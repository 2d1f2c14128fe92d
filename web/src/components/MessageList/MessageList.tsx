import { Fragment, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type Ref } from 'react';
import type { ChatMessage, JumpView, RoomNotice } from '../../core/chat';
import type { Visibility } from '../../core/protocol';
import { sharedNames } from '../../core/names';
import { dayKey, dayLabel } from '../../lib/format';
import { Icon } from '../Icon';
import { MessageItem, type MessageHandlers } from '../MessageItem';
import { MentionContext, type MentionScope } from '../MessageText';
import { filesExcerpt } from '../../core/views';
import { RoomNoticeItem } from '../RoomNotice';

const NO_NOTICES: readonly RoomNotice[] = [];

/** Messages closer than this, by the same person, share one header. */
const GROUP_MS = 5 * 60 * 1000;
/** How near the bottom (px) still counts as "at the bottom". */
const STICKY_PX = 120;
/** How long a message jumped to from a reply stays marked. */
const HIGHLIGHT_MS = 1600;
/** How long a message the room was opened at (a search result) stays marked. */
const JUMP_HIGHLIGHT_MS = 3000;
/** How near the bottom (px) of a stretch of older messages reads the next newer page. */
const NEWER_PX = 200;

export function isContinuation(prev: ChatMessage | undefined, msg: ChatMessage): boolean {
  if (!prev || prev.userId !== msg.userId || prev.name !== msg.name) return false;
  // Posted as a guest, then as the account it became (the same user id): the header says which.
  if (prev.principal !== msg.principal) return false;
  // A reply's quote reads as a new turn: it gets its header.
  if (msg.replyTo) return false;
  if (prev.status === 'failed') return false;
  if (dayKey(prev.createdAt) !== dayKey(msg.createdAt)) return false;
  const gap = new Date(msg.createdAt).getTime() - new Date(prev.createdAt).getTime();
  return gap >= 0 && gap < GROUP_MS;
}

/** A row of the list: a message, or a member or room event's notice. */
export type ListItem =
  { kind: 'message'; key: string; message: ChatMessage } | { kind: 'notice'; key: string; notice: RoomNotice };

/**
 * The messages and notices in one list, by seq: each notice goes before the
 * first stored message after it; those after every stored message go before
 * your messages still on their way (which have no seq yet).
 */
export function interleave(messages: readonly ChatMessage[], notices: readonly RoomNotice[]): ListItem[] {
  if (notices.length === 0) return messages.map((message) => ({ kind: 'message', key: message.key, message }));
  const items: ListItem[] = [];
  let i = 0;
  for (const message of messages) {
    const bound = message.seq ?? Infinity;
    for (let n = notices[i]; n && n.seq < bound; n = notices[++i])
      items.push({ kind: 'notice', key: n.key, notice: n });
    items.push({ kind: 'message', key: message.key, message });
  }
  for (let n = notices[i]; n; n = notices[++i]) items.push({ kind: 'notice', key: n.key, notice: n });
  return items;
}

function createdAtOf(item: ListItem): string {
  return item.kind === 'message' ? item.message.createdAt : item.notice.createdAt;
}

/** The row of stored message `id` in `root`, if it is shown. */
function rowOf(root: HTMLElement, id: string): HTMLElement | undefined {
  const rows = root.querySelectorAll<HTMLElement>('[data-message-id]');
  return [...rows].find((row) => row.dataset.messageId === id);
}

/** The highest seq among `messages` (stored ones), or 0. */
function highestSeq(messages: readonly ChatMessage[]): number {
  let max = 0;
  for (const m of messages) if (m.seq !== null && m.seq > max) max = m.seq;
  return max;
}

/** How many messages the live region holds at once: the latest few, each said once. */
const ANNOUNCED = 3;

/** A message as the live region says it: who, and what (its first 200 characters, or its files). */
export function announcement(m: ChatMessage): string {
  if (m.deleted) return `${m.name} deleted a message`;
  const text = m.content.trim();
  const what = text
    ? [...text].length > 200
      ? `${[...text].slice(0, 199).join('')}…`
      : text
    : filesExcerpt(m.attachments);
  return `${m.name}: ${what}`;
}

const NO_SCOPE: MentionScope = { names: [], myName: null };

/** Whether the list is scrolled to (near) its end. */
function isAtBottom(el: HTMLElement): boolean {
  return el.scrollHeight - el.scrollTop - el.clientHeight < STICKY_PX;
}

/**
 * The scrolling list of a room's messages: opens where the unread part begins
 * (the "New messages" line) or else at the bottom, sticks to the bottom while
 * you are there, keeps your place when older pages load above, and reads older
 * pages when you scroll to the top. A reply's quote scrolls to its original.
 *
 * Opened at a message (`jump`, a search result), it scrolls the message to the
 * middle and marks it for a moment. When the messages are a stretch around it
 * apart from the latest (`jump.detached`), newer pages are read as you scroll
 * down, and "Jump to latest" goes back to the end.
 *
 * What was there when the room was shown (from the cache, or the first
 * history page) and what arrived live since are told apart by an "Earlier
 * messages" line. Messages from others that arrive live are said by a polite
 * live region (`role="log"`, out of sight): only those, one at a time — not
 * the list as it loads, nor older pages read above.
 */
export function MessageList({
  room,
  messages,
  notices = NO_NOTICES,
  hasMoreBefore,
  loadingOlder,
  loading,
  canModerate = false,
  label = `#${room}`,
  visibility = 'public',
  members = [],
  newMessagesKey = null,
  newMessagesKnown = true,
  editingKey = null,
  jump = null,
  mentionScope = NO_SCOPE,
  handlers,
  onLoadOlder,
  onLoadNewer,
  onJumpToLatest,
}: {
  room: string;
  messages: readonly ChatMessage[];
  /** Member and room events, each shown as a line in its place among the messages. */
  notices?: readonly RoomNotice[];
  /** You may delete anyone's message here (an owner or a moderator of the room). */
  canModerate?: boolean;
  /** How the room is named in sentences ("Welcome to #lobby", "Welcome to Plans"). */
  label?: string;
  /** What kind of room it is: how its start reads. */
  visibility?: Visibility;
  /** Who is online in the room: a name one of them shares with an author is tagged too. */
  members?: readonly { user_id: string; name: string }[];
  hasMoreBefore: boolean;
  loadingOlder: boolean;
  loading: boolean;
  /** The first unread message: the "New messages" line goes above it. */
  newMessagesKey?: string | null;
  /** `newMessagesKey` is final for this visit: until then, where the room opens is not settled. */
  newMessagesKnown?: boolean;
  /** The message being edited in place. */
  editingKey?: string | null;
  /** The message the room was opened at, if any. */
  jump?: JumpView | null;
  /** Who can be @mentioned here, and your name: the mentions marked in the messages. */
  mentionScope?: MentionScope;
  handlers: Omit<MessageHandlers, 'showOriginal'>;
  onLoadOlder: () => void;
  /** Reads the next newer page of a stretch apart from the latest (`jump.detached`). */
  onLoadNewer?: () => void;
  /** Back to the latest messages from such a stretch. */
  onJumpToLatest?: () => void;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const newLine = useRef<HTMLDivElement>(null);
  /**
   * The room was just shown and where it opens is not settled: until its
   * messages and its "New messages" line are known, or the reader scrolls.
   */
  const opening = useRef(true);
  const previous = useRef<{
    room: string;
    first: string | undefined;
    last: string | undefined;
    height: number;
    detached: boolean;
  }>({
    room: '',
    first: undefined,
    last: undefined,
    height: 0,
    detached: false,
  });
  /** The last jump scrolled to (`JumpView.token`). */
  const jumpDone = useRef(0);
  const detached = jump?.detached ?? false;
  const [showJump, setShowJump] = useState(false);
  const [highlighted, setHighlighted] = useState<string | null>(null);
  const highlightTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const shared = useMemo(
    () => sharedNames([...messages, ...members.map((m) => ({ userId: m.user_id, name: m.name }))]),
    [messages, members],
  );

  const flash = useCallback((id: string, ms: number) => {
    setHighlighted(id);
    if (highlightTimer.current) clearTimeout(highlightTimer.current);
    highlightTimer.current = setTimeout(() => setHighlighted(null), ms);
  }, []);
  const showOriginal = useCallback(
    (id: string) => {
      const el = scroller.current && rowOf(scroller.current, id);
      if (!el) return;
      el.scrollIntoView?.({ block: 'center', behavior: 'smooth' });
      flash(id, HIGHLIGHT_MS);
    },
    [flash],
  );
  useEffect(
    () => () => {
      if (highlightTimer.current) clearTimeout(highlightTimer.current);
    },
    [],
  );
  const rowHandlers = useMemo<MessageHandlers>(() => ({ ...handlers, showOriginal }), [handlers, showOriginal]);
  const items = useMemo(() => interleave(messages, notices), [messages, notices]);

  // Where this visit's live part begins: the highest seq shown once the room's messages were first in
  // (set while rendering, the way React adjusts state to new props).
  const latestSeq = highestSeq(messages);
  const [visit, setVisit] = useState<{
    room: string;
    boundary: number;
    said: number;
    spoken: readonly Spoken[];
  } | null>(null);
  const current = visit?.room === room ? visit : null;
  if (!loading && !current && messages.length > 0) {
    setVisit({ room, boundary: latestSeq, said: latestSeq, spoken: [] });
  } else if (current && latestSeq > current.said) {
    // New stored messages below the last said: those from others are told (not while a stretch of older ones is shown).
    const fresh = detached
      ? []
      : messages.filter((m) => m.seq !== null && m.seq > current.said && !m.own && !m.deleted);
    setVisit({
      ...current,
      said: latestSeq,
      spoken: fresh.length
        ? [...current.spoken, ...fresh.map((m) => ({ key: m.key, text: announcement(m) }))].slice(-ANNOUNCED)
        : current.spoken,
    });
  }
  const boundary = current?.boundary ?? null;
  // The "Earlier messages" line: above the first message from someone else that came after the boundary.
  const earlierKey = useMemo(() => {
    if (boundary === null || detached) return null;
    if (!messages.some((m) => m.seq !== null && m.seq <= boundary)) return null;
    const first = messages.find((m) => m.seq !== null && m.seq > boundary && !m.own);
    return first && first.key !== newMessagesKey ? first.key : null;
  }, [messages, boundary, detached, newMessagesKey]);

  const scrollToBottom = useCallback(() => {
    const el = scroller.current;
    if (el) el.scrollTop = el.scrollHeight;
    atBottom.current = true;
    setShowJump(false);
  }, []);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const first = items[0]?.key;
    const lastItem = items.at(-1);
    const lastMsg = lastItem?.kind === 'message' ? lastItem.message : undefined;
    const last = lastItem?.key;
    const prev = previous.current;
    const remember = () => {
      previous.current = { room, first, last, height: el.scrollHeight, detached };
    };
    if (prev.room !== room) {
      opening.current = true;
      setShowJump(false);
    }
    if (jump && jump.token !== jumpDone.current) {
      // Opened at a message: it goes to the middle, marked, once it is shown.
      const target = rowOf(el, jump.id);
      if (target) {
        jumpDone.current = jump.token;
        target.scrollIntoView?.({ block: 'center' });
        opening.current = false;
        atBottom.current = isAtBottom(el);
        setShowJump(false);
        flash(jump.id, JUMP_HIGHLIGHT_MS);
        remember();
        return;
      }
      // Its stretch is on its way: nothing to settle yet.
      if (loading) {
        remember();
        return;
      }
      // Not among them (deleted since): the room opens as it would.
      jumpDone.current = jump.token;
    }
    if (prev.detached && !detached && prev.room === room) {
      if (jump === null) {
        // Back to the latest messages: the end.
        el.scrollTop = el.scrollHeight;
        atBottom.current = true;
      } else {
        // The stretch met the latest messages: they came in below, and the reader stays.
        atBottom.current = isAtBottom(el);
      }
      setShowJump(false);
      remember();
      return;
    }
    if (opening.current) {
      const line = newLine.current;
      if (line) {
        // Unread messages: open where they begin, as Slack and Discord do, not past them.
        line.scrollIntoView?.({ block: 'start' });
        atBottom.current = isAtBottom(el);
        opening.current = false;
      } else {
        el.scrollTop = el.scrollHeight;
        atBottom.current = true;
        // Nothing unread (or a first visit): the bottom it is, once the room's messages are in.
        if (!loading && items.length > 0 && newMessagesKnown) opening.current = false;
      }
    } else if (first !== prev.first && last === prev.last && prev.first !== undefined) {
      // Older messages were added above: keep what the reader was looking at in place.
      el.scrollTop += el.scrollHeight - prev.height;
    } else if (detached) {
      // A stretch of older messages: newer pages come in below the reader, who stays.
    } else if (last !== prev.last) {
      if (atBottom.current || lastMsg?.own) {
        el.scrollTop = el.scrollHeight;
        atBottom.current = true;
        setShowJump(false);
      } else {
        setShowJump(true);
      }
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
    remember();
  }, [items, room, loading, newMessagesKey, newMessagesKnown, jump, detached, flash]);

  // A short history does not fill the pane, so nobody can scroll up: read on.
  useEffect(() => {
    const el = scroller.current;
    if (!el || !hasMoreBefore || loadingOlder) return;
    if (el.scrollHeight <= el.clientHeight + 40 && items.length > 0) onLoadOlder();
  }, [hasMoreBefore, loadingOlder, items.length, onLoadOlder]);
  // The same for a short stretch apart from the latest: read newer.
  const wantsNewer = detached && Boolean(jump?.hasMoreAfter) && !jump?.loadingNewer && !loading;
  useEffect(() => {
    const el = scroller.current;
    if (!el || !wantsNewer) return;
    if (el.scrollHeight <= el.clientHeight + 40 && items.length > 0) onLoadNewer?.();
  }, [wantsNewer, items.length, onLoadNewer]);

  const settleOpening = () => {
    opening.current = false;
  };

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = isAtBottom(el);
    if (atBottom.current) setShowJump(false);
    if (el.scrollTop < 200 && hasMoreBefore && !loadingOlder) onLoadOlder();
    if (wantsNewer && el.scrollHeight - el.scrollTop - el.clientHeight < NEWER_PX) onLoadNewer?.();
  };

  return (
    <div className="relative min-h-0 flex-1">
      <div
        role="log"
        aria-live="polite"
        aria-label={`New messages in ${label}`}
        className="sr-only"
        data-testid="announcer"
      >
        {(current?.spoken ?? []).map((s) => (
          <p key={s.key}>{s.text}</p>
        ))}
      </div>
      <div
        ref={scroller}
        onScroll={onScroll}
        // The reader moved (scroll events also follow our own scrolling, so they cannot tell):
        // where the room opened is theirs to change now, and a late "New messages" line does not pull them back.
        onWheel={settleOpening}
        onTouchMove={settleOpening}
        onPointerDown={settleOpening}
        onKeyDown={settleOpening}
        data-testid="message-scroller"
        className="h-full overflow-y-auto overscroll-contain"
      >
        {loading ? (
          <LoadingRows />
        ) : items.length === 0 ? (
          <EmptyRoom label={label} />
        ) : (
          <MentionContext value={mentionScope}>
            <ol aria-label={`Messages in ${room}`} className="flex min-h-full flex-col justify-end pb-3">
              <li aria-hidden={!loadingOlder} className="flex justify-center py-3">
                {loadingOlder ? (
                  <span className="text-xs text-zinc-500 dark:text-zinc-400">Loading older messages…</span>
                ) : hasMoreBefore ? (
                  <button
                    type="button"
                    onClick={onLoadOlder}
                    className="text-xs font-medium text-indigo-600 hover:underline dark:text-indigo-400"
                  >
                    Load older messages
                  </button>
                ) : (
                  <RoomStart label={label} visibility={visibility} />
                )}
              </li>
              {items.map((item, i) => {
                const before = items[i - 1];
                const newDay = !before || dayKey(createdAtOf(before)) !== dayKey(createdAtOf(item));
                if (item.kind === 'notice') {
                  return (
                    <Fragment key={item.key}>
                      {newDay && <DaySeparator iso={item.notice.createdAt} />}
                      <RoomNoticeItem notice={item.notice} />
                    </Fragment>
                  );
                }
                const msg = item.message;
                // A notice between two messages starts a new turn: the next one gets its header.
                const prev = before?.kind === 'message' ? before.message : undefined;
                return (
                  <Fragment key={msg.key}>
                    {newDay && <DaySeparator iso={msg.createdAt} />}
                    {msg.key === newMessagesKey && <NewMessagesLine ref={newLine} />}
                    {msg.key === earlierKey && <EarlierMessagesLine />}
                    <MessageItem
                      message={msg}
                      continued={!newDay && msg.key !== newMessagesKey && isContinuation(prev, msg)}
                      sharedName={shared.has(msg.userId)}
                      editing={msg.key === editingKey}
                      highlighted={msg.id !== null && msg.id === highlighted}
                      canModerate={canModerate}
                      handlers={rowHandlers}
                    />
                  </Fragment>
                );
              })}
              {detached && (
                <li aria-hidden={!jump?.loadingNewer} className="flex justify-center py-3">
                  {jump?.loadingNewer ? (
                    <span className="text-xs text-zinc-500 dark:text-zinc-400">Loading newer messages…</span>
                  ) : jump?.hasMoreAfter ? (
                    <button
                      type="button"
                      onClick={onLoadNewer}
                      className="text-xs font-medium text-indigo-600 hover:underline dark:text-indigo-400"
                    >
                      Load newer messages
                    </button>
                  ) : null}
                </li>
              )}
            </ol>
          </MentionContext>
        )}
      </div>
      {detached ? (
        <button
          type="button"
          onClick={onJumpToLatest}
          data-testid="jump-to-latest"
          className="absolute bottom-3 left-1/2 inline-flex -translate-x-1/2 items-center gap-1.5 rounded-full bg-indigo-600 px-3.5 py-1.5 text-xs font-semibold text-white shadow-lg shadow-indigo-600/30 hover:bg-indigo-500 focus-visible:ring-2 focus-visible:ring-indigo-300 focus-visible:ring-offset-2 focus-visible:outline-none dark:focus-visible:ring-offset-zinc-900"
        >
          <Icon name="arrowDown" className="size-3.5" />
          Jump to latest
        </button>
      ) : (
        showJump && (
          <button
            type="button"
            onClick={scrollToBottom}
            className="absolute bottom-3 left-1/2 inline-flex -translate-x-1/2 items-center gap-1.5 rounded-full bg-indigo-600 px-3.5 py-1.5 text-xs font-semibold text-white shadow-lg shadow-indigo-600/30 hover:bg-indigo-500"
          >
            <Icon name="arrowDown" className="size-3.5" />
            New messages
          </button>
        )
      )}
    </div>
  );
}

/** Where the unread part of the room began when it was opened; the room opens with it near the top. */
function NewMessagesLine({ ref }: { ref: Ref<HTMLDivElement> }) {
  // A list item holding the separator: a list holds only items (its `role` on the `<li>` would not be one).
  return (
    <li>
      <div
        ref={ref}
        role="separator"
        aria-label="New messages"
        data-testid="new-messages"
        // Room above it for a glimpse of the last message read.
        className="relative my-2 flex scroll-mt-16 items-center px-6"
      >
        <span className="h-px flex-1 bg-rose-400/70 dark:bg-rose-500/60" />
        <span className="ml-2 rounded-full bg-rose-700 px-2 py-px text-[10px] font-bold tracking-wide text-white uppercase">
          New
        </span>
      </div>
    </li>
  );
}

/** A message of the live part of this visit said by the live region. */
interface Spoken {
  key: string;
  text: string;
}

/**
 * Between what was there when the room was shown (the cache, the history read)
 * and what arrived live since: the messages above it are the earlier ones.
 */
function EarlierMessagesLine() {
  return (
    <li>
      <div
        role="separator"
        aria-label="Earlier messages above, new ones below"
        data-testid="earlier-messages"
        className="relative my-2 flex items-center gap-2 px-6"
      >
        <span className="h-px flex-1 border-t border-dashed border-zinc-300 dark:border-zinc-700" />
        <span className="text-[11px] font-medium text-zinc-600 dark:text-zinc-400">Earlier messages above</span>
        <span className="h-px flex-1 border-t border-dashed border-zinc-300 dark:border-zinc-700" />
      </div>
    </li>
  );
}

function DaySeparator({ iso }: { iso: string }) {
  return (
    <li>
      <div role="separator" className="relative my-3 flex items-center px-6" aria-label={dayLabel(iso)}>
        <span className="h-px flex-1 bg-zinc-200 dark:bg-zinc-800" />
        <span className="mx-3 rounded-full border border-zinc-200 bg-white px-3 py-0.5 text-[11px] font-semibold text-zinc-500 dark:border-zinc-800 dark:bg-zinc-900 dark:text-zinc-400">
          {dayLabel(iso)}
        </span>
        <span className="h-px flex-1 bg-zinc-200 dark:bg-zinc-800" />
      </div>
    </li>
  );
}

const START_ICON = { public: 'hash', private: 'lock', direct: 'user' } as const;

function RoomStart({ label, visibility }: { label: string; visibility: Visibility }) {
  return (
    <div className="w-full px-6 pt-4 pb-2">
      <div className="flex size-12 items-center justify-center rounded-2xl bg-indigo-50 text-indigo-600 dark:bg-indigo-500/10 dark:text-indigo-400">
        <Icon name={START_ICON[visibility]} className="size-6" />
      </div>
      {visibility === 'direct' ? (
        <>
          <p className="mt-3 text-lg font-bold text-zinc-900 dark:text-zinc-50">{label}</p>
          <p className="text-sm text-zinc-500 dark:text-zinc-400">
            This is the very beginning of your conversation with {label}. Only the two of you can read it.
          </p>
        </>
      ) : (
        <>
          <p className="mt-3 text-lg font-bold text-zinc-900 dark:text-zinc-50">Welcome to {label}</p>
          <p className="text-sm text-zinc-500 dark:text-zinc-400">
            {visibility === 'private'
              ? 'This is the very beginning of the room. Only its members can see it.'
              : 'This is the very beginning of the room.'}
          </p>
        </>
      )}
    </div>
  );
}

function EmptyRoom({ label }: { label: string }) {
  return (
    <div className="flex h-full flex-col items-center justify-center px-6 text-center">
      <div className="flex size-16 items-center justify-center rounded-2xl bg-indigo-50 text-indigo-600 dark:bg-indigo-500/10 dark:text-indigo-400">
        <Icon name="chat" className="size-8" />
      </div>
      <p className="mt-4 text-lg font-semibold text-zinc-900 dark:text-zinc-50">No messages in {label} yet</p>
      <p className="mt-1 max-w-sm text-sm text-zinc-500 dark:text-zinc-400">
        Be the first to say something. Everyone in the room sees it the moment you press Enter.
      </p>
    </div>
  );
}

function LoadingRows() {
  return (
    <div aria-label="Loading messages" className="flex h-full flex-col justify-end gap-5 px-6 pb-6">
      {[60, 80, 45, 70].map((w, i) => (
        <div key={i} className="flex animate-pulse gap-3">
          <div className="size-9 rounded-lg bg-zinc-200 dark:bg-zinc-800" />
          <div className="flex-1 space-y-2 pt-1">
            <div className="h-3 w-28 rounded bg-zinc-200 dark:bg-zinc-800" />
            <div className="h-3 rounded bg-zinc-100 dark:bg-zinc-800/60" style={{ width: `${w}%` }} />
          </div>
        </div>
      ))}
    </div>
  );
}
