import { useRef, type MouseEvent } from 'react';
import type { RoomView } from '../../core/chat';
import { LOBBY, splitRoomName, type RoomSummary } from '../../core/protocol';
import type { Identity } from '../../core/prefs';
import { Avatar } from '../Avatar';
import { ConnectionBadge } from '../ConnectionBadge';
import { Icon } from '../Icon';
import { JoinRoomForm } from '../JoinRoomForm';

interface Group {
  space: string | null;
  rooms: string[];
}

/** Rooms without a space first (lobby leading), then each space's channels. */
export function groupRooms(rooms: readonly string[]): Group[] {
  const bySpace = new Map<string | null, string[]>();
  for (const room of rooms) {
    const { space } = splitRoomName(room);
    const list = bySpace.get(space) ?? [];
    list.push(room);
    bySpace.set(space, list);
  }
  const order = (a: string, b: string) => (a === LOBBY ? -1 : b === LOBBY ? 1 : a.localeCompare(b));
  const groups: Group[] = [];
  const plain = bySpace.get(null);
  if (plain) groups.push({ space: null, rooms: plain.sort(order) });
  for (const space of [...bySpace.keys()].filter((s): s is string => s !== null).sort()) {
    groups.push({ space, rooms: (bySpace.get(space) ?? []).sort(order) });
  }
  return groups;
}

export function RoomSidebar({
  myRooms,
  rooms,
  current,
  directory,
  directoryHasMore = false,
  identity,
  online,
  onSelect,
  onLeave,
  onEditName,
}: {
  myRooms: readonly string[];
  rooms: Readonly<Record<string, RoomView>>;
  current: string | null;
  directory: readonly RoomSummary[];
  /** The server has more rooms than `directory` (its first page). */
  directoryHasMore?: boolean;
  identity: Identity;
  online: boolean;
  onSelect: (room: string) => void;
  onLeave: (room: string) => void;
  onEditName: () => void;
}) {
  const mine = new Set(myRooms);
  const discover = directory.filter((r) => !mine.has(r.name)).slice(0, 8);
  const nav = useRef<HTMLElement>(null);

  // Leaving takes the row away, and the focus with it: from the keyboard, the
  // focus goes on to the row next to it rather than back to the page's start.
  const leave = (room: string, byKeyboard: boolean) => {
    const rows = [...(nav.current?.querySelectorAll<HTMLButtonElement>('button[data-room]') ?? [])];
    const i = rows.findIndex((row) => row.dataset.room === room);
    const neighbour = rows[i + 1] ?? rows[i - 1];
    onLeave(room);
    if (byKeyboard) neighbour?.focus();
  };

  return (
    <div className="flex h-full min-h-0 flex-col">
      <div className="flex items-center justify-between gap-2 px-4 pt-4 pb-3">
        <div className="min-w-0">
          <h2 className="truncate text-[15px] font-semibold text-zinc-900 dark:text-zinc-50">Rooms</h2>
          <p className="text-xs text-zinc-500 dark:text-zinc-400">
            {myRooms.length} joined
            {directory.length ? ` · ${directory.length}${directoryHasMore ? '+' : ''} on this server` : ''}
          </p>
        </div>
      </div>
      <JoinRoomForm onJoin={onSelect} />
      <nav ref={nav} aria-label="Your rooms" className="mt-3 min-h-0 flex-1 space-y-4 overflow-y-auto px-2 pb-4">
        {groupRooms(myRooms).map((group) => (
          <section key={group.space ?? ''} aria-label={group.space ? `Space ${group.space}` : 'Rooms'}>
            <h3 className="px-2 pb-1 text-[11px] font-semibold tracking-wider text-zinc-500 uppercase dark:text-zinc-500">
              {group.space ?? 'Channels'}
            </h3>
            <ul className="space-y-px">
              {group.rooms.map((room) => (
                <RoomRow
                  key={room}
                  room={room}
                  view={rooms[room]}
                  active={room === current}
                  onSelect={onSelect}
                  onLeave={myRooms.length > 1 ? leave : undefined}
                />
              ))}
            </ul>
          </section>
        ))}
        {discover.length > 0 && (
          <section aria-label="Discover rooms">
            <h3 className="px-2 pb-1 text-[11px] font-semibold tracking-wider text-zinc-500 uppercase dark:text-zinc-500">
              Discover
            </h3>
            <ul className="space-y-px">
              {discover.map((r) => (
                <li key={r.name}>
                  <button
                    type="button"
                    onClick={() => onSelect(r.name)}
                    className="group flex w-full items-center gap-2 rounded-md px-2 py-1.5 text-left text-sm text-zinc-500 hover:bg-zinc-200/60 hover:text-zinc-900 dark:text-zinc-400 dark:hover:bg-zinc-800 dark:hover:text-zinc-100"
                  >
                    <Icon name="compass" className="size-4 shrink-0 opacity-70" />
                    <span className="min-w-0 flex-1 truncate">{r.name}</span>
                    {r.online > 0 && (
                      <span className="text-[11px] text-emerald-600 dark:text-emerald-400">{r.online} online</span>
                    )}
                  </button>
                </li>
              ))}
            </ul>
          </section>
        )}
      </nav>
      <div className="border-t border-zinc-200 p-3 dark:border-zinc-800">
        <div className="flex items-center gap-2.5">
          <Avatar name={identity.name ?? '?'} userId={identity.userId ?? ''} size="md" online={online} />
          <div className="min-w-0 flex-1">
            <p className="truncate text-sm font-semibold text-zinc-900 dark:text-zinc-50" data-testid="my-name">
              {identity.name ?? 'Anonymous'}
            </p>
            <ConnectionBadge compact />
          </div>
          <button
            type="button"
            onClick={onEditName}
            aria-label="Change display name"
            title="Change display name"
            className="inline-flex size-8 items-center justify-center rounded-md text-zinc-400 hover:bg-zinc-200/70 hover:text-zinc-700 dark:hover:bg-zinc-800 dark:hover:text-zinc-200"
          >
            <Icon name="pencil" className="size-4" />
          </button>
        </div>
      </div>
    </div>
  );
}

/**
 * One of your rooms: the row opens it; the × beside it leaves it. The × shows
 * on hover, whenever the row has the focus (so the keyboard reaches it: it is
 * always in the tab order, only see-through), and always where there is no
 * hover to show it — touch screens, and the narrow layout's drawer.
 */
function RoomRow({
  room,
  view,
  active,
  onSelect,
  onLeave,
}: {
  room: string;
  view: RoomView | undefined;
  active: boolean;
  onSelect: (room: string) => void;
  /** `byKeyboard`: Enter or Space on the ×, not a pointer (a click from the keyboard has no `detail`). */
  onLeave: ((room: string, byKeyboard: boolean) => void) | undefined;
}) {
  const { channel } = splitRoomName(room);
  const unread = view?.unread ?? 0;
  // Where the × is shown without a hover, the row makes room for it beside the unread count.
  const roomForLeave = onLeave ? 'group-focus-within:pr-9 max-md:pr-9 [@media(hover:none)]:pr-9' : '';
  return (
    <li className="group relative">
      <button
        type="button"
        onClick={() => onSelect(room)}
        aria-current={active ? 'page' : undefined}
        data-room={room}
        className={`flex w-full items-center gap-2 rounded-md px-2 py-1.5 text-left text-sm transition ${roomForLeave} ${
          active
            ? 'bg-indigo-600 text-white shadow-sm dark:bg-indigo-500'
            : unread > 0
              ? 'font-semibold text-zinc-900 hover:bg-zinc-200/60 dark:text-zinc-50 dark:hover:bg-zinc-800'
              : 'text-zinc-600 hover:bg-zinc-200/60 hover:text-zinc-900 dark:text-zinc-400 dark:hover:bg-zinc-800 dark:hover:text-zinc-100'
        }`}
      >
        <Icon name="hash" className={`size-4 shrink-0 ${active ? 'opacity-90' : 'opacity-60'}`} />
        <span className="min-w-0 flex-1 truncate">{channel}</span>
        {unread > 0 && !active && (
          <span
            className="rounded-full bg-indigo-600 px-1.5 py-px text-[11px] leading-4 font-semibold text-white group-hover:invisible dark:bg-indigo-500"
            aria-label={`${unread} unread`}
            data-testid={`unread-${room}`}
          >
            {unread > 99 ? '99+' : unread}
          </span>
        )}
      </button>
      {onLeave && (
        <button
          type="button"
          onClick={(e: MouseEvent) => onLeave(room, e.detail === 0)}
          aria-label={`Leave #${room}`}
          title={`Leave #${room}`}
          className={`absolute top-1/2 right-1 inline-flex size-7 -translate-y-1/2 items-center justify-center rounded opacity-0 transition-opacity group-focus-within:opacity-100 group-hover:opacity-100 focus-visible:opacity-100 max-md:opacity-100 [@media(hover:none)]:opacity-100 ${
            active
              ? 'text-white/80 hover:bg-white/20 hover:text-white'
              : 'text-zinc-400 hover:bg-zinc-300/60 hover:text-zinc-700 dark:hover:bg-zinc-700 dark:hover:text-zinc-200'
          }`}
        >
          <Icon name="x" className="size-3.5" />
        </button>
      )}
    </li>
  );
}
