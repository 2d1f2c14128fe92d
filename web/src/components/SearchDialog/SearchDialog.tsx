import { useEffect, useId, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import type { RoomMeta } from '../../core/rooms';
import { excerpt, markText, resultRoomLabel, type SearchHit } from '../../core/search';
import { useSearch } from '../../hooks/use-search';
import { formatFull, formatWhen } from '../../lib/format';
import { Avatar } from '../Avatar';
import { Dialog } from '../Dialog';
import { Icon } from '../Icon';

/**
 * "Search messages" (Ctrl+K): a query, asked as you type (core/search.ts), in
 * every room you may read or only the one open; the results newest first,
 * each with its room, author, time and the words found marked. The input
 * keeps the focus: ↑ and ↓ move through the results (a listbox, the active
 * one named by `aria-activedescendant`), Enter or a click opens one
 * (`onOpen`). Message text is only ever text: marks cut it, never markup.
 */
export function SearchDialog({
  room,
  roomMeta,
  onClose,
  onOpen,
}: {
  /** The room open: "Only in …" keeps to it. */
  room: string;
  /** What the rooms known are called (`ChatSnapshot.roomMeta`). */
  roomMeta: Readonly<Record<string, RoomMeta>>;
  onClose: () => void;
  onOpen: (hit: SearchHit) => void;
}) {
  const [state, search] = useSearch();
  const input = useRef<HTMLInputElement>(null);
  const list = useRef<HTMLUListElement>(null);
  const listId = useId();
  const hintId = useId();
  const statusId = useId();
  const optionId = (i: number) => `${listId}-option-${i}`;
  const hits = state.hits;
  const query = state.query.trim();
  const shown = hits.length > 0;
  // The active result, of the answer it was chosen in: a new answer starts at its first (what Enter opens).
  const answer = `${state.room ?? ''}\n${state.answered}`;
  const [cursor, setCursor] = useState({ answer: '', index: 0 });
  const active = !shown ? -1 : cursor.answer === answer ? Math.min(cursor.index, hits.length - 1) : 0;
  const setActive = (index: number) => setCursor({ answer, index });

  useEffect(() => {
    if (active >= 0) document.getElementById(`${listId}-option-${active}`)?.scrollIntoView?.({ block: 'nearest' });
  }, [active, listId]);

  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.nativeEvent.isComposing) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (!shown) return;
      const step = e.key === 'ArrowDown' ? 1 : -1;
      setActive(Math.min(hits.length - 1, Math.max(0, active + step)));
    } else if (e.key === 'Home' && e.ctrlKey) {
      if (hits.length) setActive(0);
    } else if (e.key === 'End' && e.ctrlKey) {
      if (hits.length) setActive(hits.length - 1);
    } else if (e.key === 'Enter') {
      e.preventDefault();
      const hit = hits[active];
      if (hit && state.status !== 'error') onOpen(hit);
    }
  };

  const here = resultRoomLabel(room, roomMeta[room]);
  const status =
    state.status === 'loading' && !shown
      ? 'Searching…'
      : state.status === 'ready' && !shown
        ? `No messages match “${state.answered}”.`
        : state.status === 'ready' || (state.status === 'loading' && shown)
          ? `${hits.length}${state.hasMore ? '+' : ''} ${hits.length === 1 ? 'message' : 'messages'}`
          : '';

  return (
    <Dialog
      title="Search messages"
      onClose={onClose}
      initialFocus={input}
      size="xl"
      placement="top"
      testId="search-dialog"
    >
      <div className="mt-4 space-y-3">
        <div className="relative">
          <Icon
            name="search"
            className="pointer-events-none absolute top-1/2 left-3 size-[18px] -translate-y-1/2 text-zinc-500 dark:text-zinc-400"
          />
          <input
            ref={input}
            type="search"
            role="combobox"
            aria-label="Search messages"
            aria-expanded={shown}
            aria-controls={listId}
            aria-autocomplete="list"
            aria-activedescendant={shown && active >= 0 ? optionId(active) : undefined}
            aria-describedby={`${hintId} ${statusId}`}
            aria-invalid={state.status === 'error' ? true : undefined}
            autoComplete="off"
            spellCheck={false}
            enterKeyHint="search"
            placeholder="Search messages"
            value={state.query}
            onChange={(e) => search.setQuery(e.target.value)}
            onKeyDown={onKeyDown}
            data-testid="search-input"
            className="block w-full rounded-lg border-0 bg-white py-2.5 pr-3 pl-10 [&::-webkit-search-cancel-button]:appearance-none text-zinc-900 shadow-sm ring-1 ring-zinc-300 ring-inset placeholder:text-zinc-500 focus:ring-2 focus:ring-indigo-600 focus:outline-none aria-invalid:ring-rose-500 dark:bg-zinc-800 dark:text-zinc-50 dark:ring-zinc-700 dark:placeholder:text-zinc-400 dark:focus:ring-indigo-400"
          />
        </div>
        <div className="flex flex-wrap items-center justify-between gap-x-4 gap-y-1.5">
          <label className="inline-flex cursor-pointer items-center gap-2 text-sm text-zinc-700 dark:text-zinc-300">
            <input
              type="checkbox"
              checked={state.room !== null}
              onChange={(e) => search.setRoom(e.target.checked ? room : null)}
              className="size-4 rounded accent-indigo-600"
            />
            Only in {here}
          </label>
          <p id={hintId} className="text-xs text-zinc-600 dark:text-zinc-400">
            All words match. <kbd className="font-mono">"a phrase"</kbd>, <kbd className="font-mono">-word</kbd> to
            leave out.
          </p>
        </div>

        <p
          id={statusId}
          role="status"
          className="flex min-h-5 items-center gap-2 text-sm text-zinc-600 dark:text-zinc-400"
          data-testid="search-status"
        >
          {state.status === 'loading' && <Spinner />}
          {status}
        </p>

        {state.status === 'error' && state.error && (
          <p
            role="alert"
            data-testid="search-error"
            className="flex items-start gap-2 rounded-lg bg-rose-50 px-3 py-2 text-sm text-rose-800 dark:bg-rose-500/10 dark:text-rose-200"
          >
            <Icon name="alert" className="mt-0.5 size-4 shrink-0" />
            <span className="flex-1">{state.error}</span>
          </p>
        )}

        <ul
          ref={list}
          id={listId}
          role="listbox"
          aria-label="Results"
          hidden={!shown}
          className={`-mx-2 max-h-[min(55vh,28rem)] space-y-0.5 overflow-y-auto overscroll-contain px-2 py-1 transition-opacity ${
            state.status === 'loading' ? 'opacity-60' : ''
          }`}
        >
          {hits.map((hit, i) => (
            <Result
              key={hit.message.id}
              id={optionId(i)}
              hit={hit}
              roomLabel={resultRoomLabel(hit.message.room, roomMeta[hit.message.room])}
              active={i === active}
              onHover={() => setActive(i)}
              onOpen={() => onOpen(hit)}
            />
          ))}
        </ul>

        {shown && (state.hasMore || state.loadingMore || (state.error && state.status === 'ready')) && (
          <div className="flex flex-col items-center gap-1.5">
            {state.error && state.status === 'ready' && (
              <p role="alert" className="text-sm text-rose-700 dark:text-rose-300">
                {state.error}
              </p>
            )}
            {state.hasMore && (
              <button
                type="button"
                onClick={() => void search.loadMore()}
                disabled={state.loadingMore}
                className="inline-flex items-center gap-1.5 rounded-lg px-3 py-1.5 text-sm font-medium text-indigo-700 hover:bg-indigo-50 focus-visible:ring-2 focus-visible:ring-indigo-600 focus-visible:outline-none disabled:opacity-60 dark:text-indigo-300 dark:hover:bg-indigo-500/10 dark:focus-visible:ring-indigo-400"
              >
                {state.loadingMore ? 'Loading…' : 'Load more'}
              </button>
            )}
          </div>
        )}
        {query === '' && (
          <p className="py-6 text-center text-sm text-zinc-600 dark:text-zinc-400">
            Find messages in every room you can read. ↑ ↓ to choose, Enter to open.
          </p>
        )}
      </div>
    </Dialog>
  );
}

/** One result: where and who, when, and the text with the words found marked. */
function Result({
  id,
  hit,
  roomLabel,
  active,
  onHover,
  onOpen,
}: {
  id: string;
  hit: SearchHit;
  roomLabel: string;
  active: boolean;
  onHover: () => void;
  onOpen: () => void;
}) {
  const m = hit.message;
  const parts = useMemo(() => {
    const cut = excerpt(m.content, hit.marks);
    return markText(cut.text, cut.marks);
  }, [m.content, hit.marks]);
  return (
    // Options are chosen from the input (aria-activedescendant); a click opens one too.
    <li
      id={id}
      role="option"
      aria-selected={active}
      onMouseMove={active ? undefined : onHover}
      onClick={onOpen}
      data-testid="search-result"
      data-message-id={m.id}
      className={`flex cursor-pointer gap-3 rounded-lg px-3 py-2.5 ring-inset ${
        active
          ? 'bg-indigo-50 ring-2 ring-indigo-600 dark:bg-indigo-500/15 dark:ring-indigo-400'
          : 'hover:bg-zinc-50 dark:hover:bg-zinc-800/60'
      }`}
    >
      <Avatar name={m.name} userId={m.user_id} size="sm" />
      <div className="min-w-0 flex-1">
        <p className="flex min-w-0 items-baseline gap-1.5 text-xs text-zinc-600 dark:text-zinc-400">
          <span className="truncate font-semibold text-zinc-900 dark:text-zinc-100" data-testid="search-result-author">
            {m.name}
          </span>
          <span aria-hidden="true">·</span>
          <span className="truncate font-medium" data-testid="search-result-room">
            {roomLabel}
          </span>
          <span aria-hidden="true">·</span>
          <time dateTime={m.created_at} title={formatFull(m.created_at)} className="shrink-0 tabular-nums">
            {formatWhen(m.created_at)}
          </time>
        </p>
        <p
          className="mt-0.5 line-clamp-3 text-sm break-words whitespace-pre-wrap text-zinc-800 dark:text-zinc-200"
          data-testid="search-result-content"
        >
          {parts.map((part, i) =>
            part.marked ? (
              <mark
                key={i}
                className="rounded-sm bg-amber-200 px-px text-zinc-950 dark:bg-amber-400/30 dark:text-amber-50"
              >
                {part.text}
              </mark>
            ) : (
              part.text
            ),
          )}
        </p>
      </div>
    </li>
  );
}

function Spinner() {
  return (
    <span
      aria-hidden="true"
      className="size-3.5 animate-spin rounded-full border-2 border-zinc-300 border-t-indigo-600 dark:border-zinc-600 dark:border-t-indigo-400"
    />
  );
}
