import { useRef, type MouseEvent, type ReactNode } from 'react';
import { Link } from 'react-router';
import type { RoomMeta, RoomView, SidebarRoom } from '../../core/chat';
import type { RoomSummary } from '../../core/protocol';
import type { Identity } from '../../core/prefs';
import { unreadMentions } from '../../core/attention';
import { metaOf, roomSections } from '../../core/rooms';
import { Avatar } from '../Avatar';
import { ConnectionBadge } from '../ConnectionBadge';
import { Icon } from '../Icon';
import { JoinRoomForm } from '../JoinRoomForm';

const NO_META: Readonly<Record<string, RoomMeta>> = {};
const NO_MUTED: ReadonlySet<string> = new Set();

/**
 * Your rooms in the sidebar's sections: channels (public rooms without a
 * space, the lobby leading, and private rooms by title), each space's
 * channels, then direct messages — with unread counts — and rooms to discover.
 * A signed-in user can create a private room from here; a guest is told to
 * sign in for it (`signInHint`).
 *
 * Beside a room's unread count, how many of those unread mention you (`@2`:
 * counted from the messages this client holds of the room, so a room whose
 * unread part is not all loaded may count fewer). A muted room shows a
 * crossed-out bell, its count in grey.
 */
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
  roomMeta = NO_META,
  onCreateRoom,
  onNotificationSettings,
  muted = NO_MUTED,
  signInHint = false,
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
  /** What each room is and is called (`ChatSnapshot.roomMeta`). */
  roomMeta?: Readonly<Record<string, RoomMeta>>;
  /** Offers "New private room" (signed in). */
  onCreateRoom?: () => void;
  /** Says that signing in makes private rooms and direct messages (a guest). */
  signInHint?: boolean;
  /** Opens the notification settings (a bell beside your name). */
  onNotificationSettings?: () => void;
  /** Rooms muted: no notifications or sounds. */
  muted?: ReadonlySet<string>;
}) {
  const mine = new Set(myRooms);
  // Only public rooms are there to discover: the private and direct ones listed are yours.
  const discover = directory.filter((r) => !mine.has(r.name) && metaOf(r).visibility === 'public').slice(0, 8);
  const publicCount = directory.filter((r) => metaOf(r).visibility === 'public').length;
  const sections = roomSections(myRooms, roomMeta, (room) => rooms[room]?.unread ?? 0);
  const canLeave = myRooms.length > 1;
  const mentionsIn = (room: string) => {
    const view = rooms[room];
    return view ? unreadMentions(view, identity.name) : 0;
  };
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
            {publicCount ? ` · ${publicCount}${directoryHasMore ? '+' : ''} on this server` : ''}
          </p>
        </div>
        {onCreateRoom && (
          <button
            type="button"
            onClick={onCreateRoom}
            aria-label="New private room"
            title="New private room"
            data-testid="new-private-room"
            className="inline-flex size-8 shrink-0 items-center justify-center rounded-md text-zinc-500 hover:bg-zinc-200/70 hover:text-zinc-800 dark:text-zinc-400 dark:hover:bg-zinc-800 dark:hover:text-zinc-100"
          >
            <Icon name="lock" className="size-4" />
          </button>
        )}
      </div>
      <JoinRoomForm onJoin={onSelect} />
      {signInHint && (
        <p className="mx-3 mt-2 rounded-lg bg-zinc-100 px-3 py-2 text-xs text-zinc-600 dark:bg-zinc-800/60 dark:text-zinc-400">
          <Link
            to="/signin"
            aria-label="Sign in to create private rooms and send direct messages"
            className="font-semibold text-indigo-600 hover:underline dark:text-indigo-400"
          >
            Sign in
          </Link>{' '}
          to create private rooms and send direct messages.
        </p>
      )}
      <nav ref={nav} aria-label="Your rooms" className="mt-3 min-h-0 flex-1 space-y-4 overflow-y-auto px-2 pb-4">
        {sections.channels.length > 0 && (
          <RoomGroup label="Rooms" heading="Channels">
            {sections.channels.map((room) => (
              <RoomRow
                key={room.name}
                room={room}
                active={room.name === current}
                muted={muted.has(room.name)}
                mentions={mentionsIn(room.name)}
                onSelect={onSelect}
                onLeave={canLeave && room.visibility === 'public' ? leave : undefined}
              />
            ))}
          </RoomGroup>
        )}
        {sections.spaces.map((group) => (
          <RoomGroup key={group.space} label={`Space ${group.space}`} heading={group.space}>
            {group.rooms.map((room) => (
              <RoomRow
                key={room.name}
                room={room}
                active={room.name === current}
                muted={muted.has(room.name)}
                mentions={mentionsIn(room.name)}
                onSelect={onSelect}
                onLeave={canLeave ? leave : undefined}
              />
            ))}
          </RoomGroup>
        ))}
        {(sections.direct.length > 0 || onCreateRoom) && (
          <RoomGroup label="Direct messages" heading="Direct messages">
            {sections.direct.map((room) => (
              <RoomRow
                key={room.name}
                room={room}
                active={room.name === current}
                muted={muted.has(room.name)}
                mentions={mentionsIn(room.name)}
                onSelect={onSelect}
                onLeave={undefined}
              />
            ))}
            {sections.direct.length === 0 && (
              <li className="px-2 py-1 text-xs text-zinc-500 dark:text-zinc-400">
                Pick someone's name in the member list or on a message.
              </li>
            )}
          </RoomGroup>
        )}
        {discover.length > 0 && (
          <section aria-label="Discover rooms">
            <h3 className="px-2 pb-1 text-[11px] font-semibold tracking-wider text-zinc-500 uppercase dark:text-zinc-400">
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
          {onNotificationSettings && (
            <button
              type="button"
              onClick={onNotificationSettings}
              aria-label="Notification settings"
              title="Notifications and sounds"
              data-testid="notification-settings-button"
              className="inline-flex size-8 items-center justify-center rounded-md text-zinc-500 hover:bg-zinc-200/70 hover:text-zinc-700 dark:text-zinc-400 dark:hover:bg-zinc-800 dark:hover:text-zinc-200"
            >
              <Icon name="bell" className="size-4" />
            </button>
          )}
          <button
            type="button"
            onClick={onEditName}
            aria-label="Change display name"
            title="Change display name"
            className="inline-flex size-8 items-center justify-center rounded-md text-zinc-500 hover:bg-zinc-200/70 hover:text-zinc-700 dark:hover:bg-zinc-800 dark:hover:text-zinc-200"
          >
            <Icon name="pencil" className="size-4" />
          </button>
        </div>
      </div>
    </div>
  );
}

function RoomGroup({ label, heading, children }: { label: string; heading: string; children: ReactNode }) {
  return (
    <section aria-label={label}>
      <h3 className="px-2 pb-1 text-[11px] font-semibold tracking-wider text-zinc-500 uppercase dark:text-zinc-400">
        {heading}
      </h3>
      <ul className="space-y-px">{children}</ul>
    </section>
  );
}

/**
 * One of your rooms: the row opens it; the × beside it leaves it (public rooms:
 * a private room is left from its settings, a direct one not at all). The ×
 * shows on hover, whenever the row has the focus (so the keyboard reaches it:
 * it is always in the tab order, only see-through), and always where there is
 * no hover to show it — touch screens, and the narrow layout's drawer.
 */
function RoomRow({
  room,
  active,
  muted = false,
  mentions = 0,
  onSelect,
  onLeave,
}: {
  room: SidebarRoom;
  active: boolean;
  /** No notifications or sounds from it. */
  muted?: boolean;
  /** Its unread messages that mention you. */
  mentions?: number;
  onSelect: (room: string) => void;
  /** `byKeyboard`: Enter or Space on the ×, not a pointer (a click from the keyboard has no `detail`). */
  onLeave: ((room: string, byKeyboard: boolean) => void) | undefined;
}) {
  const { name, label, unread } = room;
  // Where the × is shown without a hover, the row makes room for it beside the unread count.
  const roomForLeave = onLeave ? 'group-focus-within:pr-9 max-md:pr-9 [@media(hover:none)]:pr-9' : '';
  const iconClass = `size-4 shrink-0 ${active ? 'opacity-90' : 'opacity-60'}`;
  return (
    <li className="group relative">
      <button
        type="button"
        onClick={() => onSelect(name)}
        aria-current={active ? 'page' : undefined}
        data-room={name}
        data-visibility={room.visibility}
        className={`flex w-full items-center gap-2 rounded-md px-2 py-1.5 text-left text-sm transition ${roomForLeave} ${
          active
            ? 'bg-indigo-600 text-white shadow-sm'
            : unread > 0
              ? 'font-semibold text-zinc-900 hover:bg-zinc-200/60 dark:text-zinc-50 dark:hover:bg-zinc-800'
              : 'text-zinc-600 hover:bg-zinc-200/60 hover:text-zinc-900 dark:text-zinc-400 dark:hover:bg-zinc-800 dark:hover:text-zinc-100'
        }`}
      >
        {room.visibility === 'direct' ? (
          <Avatar name={label} userId={room.peer?.user_id ?? name} size="xs" />
        ) : room.visibility === 'private' ? (
          <Icon name="lock" className={iconClass} aria-label="Private" role="img" aria-hidden={undefined} />
        ) : (
          <Icon name="hash" className={iconClass} />
        )}
        <span className="min-w-0 flex-1 truncate" dir="auto">
          {label}
        </span>
        {muted && (
          <Icon
            name="bellOff"
            className={`size-3.5 shrink-0 ${active ? 'text-white/90' : 'text-zinc-500 dark:text-zinc-400'}`}
            aria-label="Muted"
            role="img"
            aria-hidden={undefined}
            data-testid={`muted-${name}`}
          />
        )}
        {mentions > 0 && !active && (
          <span
            className="rounded-full bg-rose-700 px-1.5 py-px text-[11px] leading-4 font-bold text-white group-hover:invisible"
            aria-label={mentions === 1 ? '1 mention' : `${mentions} mentions`}
            title={mentions === 1 ? '1 unread message mentions you' : `${mentions} unread messages mention you`}
            data-testid={`mentions-${name}`}
          >
            @{mentions > 99 ? '99+' : mentions}
          </span>
        )}
        {unread > 0 && !active && (
          <span
            className={`rounded-full px-1.5 py-px text-[11px] leading-4 font-semibold group-hover:invisible ${
              muted ? 'bg-zinc-200 text-zinc-700 dark:bg-zinc-700 dark:text-zinc-200' : 'bg-indigo-600 text-white'
            }`}
            aria-label={`${unread} unread`}
            data-testid={`unread-${name}`}
          >
            {unread > 99 ? '99+' : unread}
          </span>
        )}
      </button>
      {onLeave && (
        <button
          type="button"
          onClick={(e: MouseEvent) => onLeave(name, e.detail === 0)}
          aria-label={`Leave #${name}`}
          title={`Leave #${name}`}
          className={`absolute top-1/2 right-1 inline-flex size-7 -translate-y-1/2 items-center justify-center rounded opacity-0 transition-opacity group-focus-within:opacity-100 group-hover:opacity-100 focus-visible:opacity-100 max-md:opacity-100 [@media(hover:none)]:opacity-100 ${
            active
              ? 'text-white/80 hover:bg-white/20 hover:text-white'
              : 'text-zinc-500 hover:bg-zinc-300/60 hover:text-zinc-700 dark:hover:bg-zinc-700 dark:hover:text-zinc-200'
          }`}
        >
          <Icon name="x" className="size-3.5" />
        </button>
      )}
    </li>
  );
}
