import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Navigate, useNavigate, useParams } from 'react-router';
import type { ChatMessage, DraftFile, ReplyPreview, SearchHit } from '../core/chat';
import { isValidRoomName, LOBBY, splitRoomName } from '../core/protocol';
import { canManage, guessMeta, roomLabel, roomReference } from '../core/rooms';
import { filesExcerpt, firstLine } from '../core/views';
import { Composer, type ComposerRestore } from '../components/Composer';
import { CreateRoomDialog } from '../components/CreateRoomDialog';
import { Icon } from '../components/Icon';
import { MemberList } from '../components/MemberList';
import { MessageList } from '../components/MessageList';
import type { MessageHandlers } from '../components/MessageItem';
import { NamePrompt } from '../components/NamePrompt';
import { NotificationOffer, NotificationSettings } from '../components/NotificationSettings';
import { RoomSettingsDialog } from '../components/RoomSettingsDialog';
import { RoomSidebar } from '../components/RoomSidebar';
import { SearchDialog } from '../components/SearchDialog';
import { TypingIndicator } from '../components/TypingIndicator';
import { mentionNames, type MentionCandidate } from '../core/text';
import { useAttention, useAttentionState } from '../hooks/use-attention';
import { useChatClient, useChatSelector, useChatSnapshot, useRoom } from '../hooks/use-chat';
import { useFocusTrap } from '../hooks/use-focus-trap';
import { useFileDrop } from '../hooks/use-file-drop';

/**
 * `/chat/<room>`: the rooms, the conversation, and who is online.
 *
 * Each part subscribes to what it shows: the sidebar to every room (it shows
 * their unread counts), the conversation and the member list to the open room
 * alone (`useRoom`), so a message in another room does not re-render them.
 *
 * Signed in, you can create a private room (from the sidebar), open a direct
 * conversation (from a name in the member list or on a message) and see a
 * room's settings (from its header). Each dialog gives the focus back to the
 * composer when it closes.
 *
 * Ctrl+K (⌘K on a Mac), or the search button of the header, opens "Search
 * messages"; a result opens its room at that message (`openMessage`).
 */
export function WhisperChat() {
  const client = useChatClient();
  const navigate = useNavigate();
  const params = useParams();
  const room = params['*'] ?? '';
  const [editingName, setEditingName] = useState(false);
  const [roomsOpen, setRoomsOpen] = useState(false);
  const [membersOpen, setMembersOpen] = useState(false);
  const [dialog, setDialog] = useState<'create' | 'settings' | 'search' | 'notifications' | null>(null);
  /** Bumped to give the composer the focus back (a dialog closed). */
  const [composerFocus, setComposerFocus] = useState(0);
  const identity = useChatSelector((s) => s.identity);
  const fallback = useChatSelector((s) => s.currentRoom ?? s.myRooms[0] ?? LOBBY);
  // Who you are: signing in or out opens nothing for the next one; this page opens the room it shows.
  const accountId = useChatSelector((s) => s.account?.userId ?? null);
  const accountChecked = useChatSelector((s) => s.accountChecked);
  const named = Boolean(identity.name);
  const valid = isValidRoomName(room);

  useEffect(() => {
    if (valid) client.openRoom(room);
  }, [client, room, valid, accountId]);

  const select = useCallback(
    (next: string) => {
      setRoomsOpen(false);
      void navigate(`/chat/${next}`);
    },
    [navigate],
  );
  const leave = useCallback(
    (r: string) => {
      const next = client.leaveRoom(r);
      if (r === room) void navigate(`/chat/${next ?? LOBBY}`, { replace: true });
    },
    [client, navigate, room],
  );
  // Taken out of the open room by the server: on to the next, as after leaving it. Not to the
  // lobby when no room is left — that may be the room taken away, which opening would join again.
  useEffect(
    () =>
      client.on('removed', ({ room: removed, next }) => {
        if (removed === room) void navigate(next ? `/chat/${next}` : '/', { replace: true });
      }),
    [client, navigate, room],
  );
  // An account's name is its profile's, changed on the account page; a guest's, here.
  const editName = useCallback(() => {
    if (accountId) void navigate('/account');
    else setEditingName(true);
  }, [accountId, navigate]);
  const showRooms = useCallback(() => setRoomsOpen(true), []);
  const toggleMembers = useCallback(() => setMembersOpen((o) => !o), []);
  const closeDialog = useCallback(() => {
    setDialog(null);
    setComposerFocus((n) => n + 1);
  }, []);
  const createRoom = useCallback(() => {
    setRoomsOpen(false);
    setDialog('create');
  }, []);
  const openSettings = useCallback(() => setDialog('settings'), []);
  const openSearch = useCallback(() => {
    setRoomsOpen(false);
    setMembersOpen(false);
    setDialog('search');
  }, []);
  const openNotifications = useCallback(() => {
    setRoomsOpen(false);
    setDialog('notifications');
  }, []);
  const prompting = (!named && accountChecked) || (editingName && !accountId);
  // The name prompt gone (a name chosen, or Cancel): the focus goes to the composer, not the page's start.
  const wasPrompting = useRef(prompting);
  useEffect(() => {
    if (wasPrompting.current && !prompting) setComposerFocus((n) => n + 1);
    wasPrompting.current = prompting;
  }, [prompting]);
  // A drawer closed (Escape, its backdrop): back to the composer too.
  const closeRooms = useCallback(() => {
    setRoomsOpen(false);
    setComposerFocus((n) => n + 1);
  }, []);
  const closeMembers = useCallback(() => {
    setMembersOpen(false);
    setComposerFocus((n) => n + 1);
  }, []);
  // Ctrl+K / ⌘K, from anywhere on the page (the composer too): search, unless another dialog is up.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key.toLowerCase() !== 'k' || !(e.ctrlKey || e.metaKey) || e.altKey || e.shiftKey) return;
      e.preventDefault();
      if (!prompting && (dialog === null || dialog === 'search')) openSearch();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [dialog, prompting, openSearch]);
  const roomMeta = useChatSelector((s) => s.roomMeta);
  const openHit = useCallback(
    (hit: SearchHit) => {
      const at = hit.message.room;
      setDialog(null);
      setComposerFocus((n) => n + 1);
      void client.openMessage(at, { id: hit.message.id, seq: hit.message.seq });
      if (at !== room) void navigate(`/chat/${at}`);
    },
    [client, navigate, room],
  );
  // Only an account has direct conversations: a guest is offered none.
  const openDirect = useMemo(
    () =>
      accountId
        ? (userId: string) => {
            void client.openDirect(userId).then((result) => {
              if (!result.ok) return;
              setMembersOpen(false);
              void navigate(`/chat/${result.room}`);
            });
          }
        : undefined,
    [accountId, client, navigate],
  );

  if (!valid) return <Navigate to={`/chat/${fallback}`} replace />;

  const sidebar = (
    <Rooms
      current={room}
      onSelect={select}
      onLeave={leave}
      onEditName={editName}
      onCreateRoom={accountId ? createRoom : undefined}
      onNotificationSettings={openNotifications}
      signInHint={accountChecked && !accountId}
    />
  );
  const members = <Members room={room} onMessage={openDirect} />;

  return (
    <div className="flex min-h-0 flex-1">
      <aside className="hidden w-64 shrink-0 border-r border-zinc-200 bg-zinc-50 md:block dark:border-zinc-800 dark:bg-zinc-950/60">
        {sidebar}
      </aside>
      {roomsOpen && (
        <Drawer side="left" label="Rooms" onClose={closeRooms}>
          {sidebar}
        </Drawer>
      )}

      <Conversation
        room={room}
        membersOpen={membersOpen}
        focusKey={composerFocus}
        onShowRooms={showRooms}
        onToggleMembers={toggleMembers}
        onOpenSettings={openSettings}
        onOpenSearch={openSearch}
        onOpenDirect={openDirect}
      />

      <aside className="hidden w-60 shrink-0 border-l border-zinc-200 bg-zinc-50 xl:block dark:border-zinc-800 dark:bg-zinc-950/60">
        {members}
      </aside>
      {membersOpen && (
        <div className="xl:hidden">
          <Drawer side="right" label="Online users" onClose={closeMembers}>
            {members}
          </Drawer>
        </div>
      )}

      {dialog === 'create' && (
        <CreateRoomDialog
          onClose={closeDialog}
          onCreated={(created) => {
            setDialog(null);
            void navigate(`/chat/${created}`);
          }}
        />
      )}
      {dialog === 'notifications' && <NotificationSettings room={room} onClose={closeDialog} />}
      {dialog === 'search' && <SearchDialog room={room} roomMeta={roomMeta} onClose={closeDialog} onOpen={openHit} />}
      {dialog === 'settings' && (
        <RoomSettingsDialog
          room={room}
          onClose={closeDialog}
          onLeft={(next) => {
            setDialog(null);
            void navigate(next ? `/chat/${next}` : '/', { replace: true });
          }}
        />
      )}

      {/* Not before `GET /v1/me` answers: a signed-in visitor has a name, the account's. */}
      {prompting && (
        <NamePrompt
          initial={identity.name ?? ''}
          onSubmit={(name) => {
            const result = client.setName(name);
            if (result.ok) setEditingName(false);
            return result;
          }}
          {...(named
            ? { onCancel: () => setEditingName(false) }
            : { onSignIn: () => void navigate('/signin'), onCreateAccount: () => void navigate('/signup') })}
        />
      )}
    </div>
  );
}

/** The sidebar: every room you are in, with unread counts, and the directory. */
function Rooms({
  current,
  onSelect,
  onLeave,
  onEditName,
  onCreateRoom,
  onNotificationSettings,
  signInHint,
}: {
  current: string;
  onSelect: (room: string) => void;
  onLeave: (room: string) => void;
  onEditName: () => void;
  onCreateRoom: (() => void) | undefined;
  onNotificationSettings: () => void;
  signInHint: boolean;
}) {
  const snapshot = useChatSnapshot();
  const { muted } = useAttentionState();
  return (
    <RoomSidebar
      muted={muted}
      onNotificationSettings={onNotificationSettings}
      roomMeta={snapshot.roomMeta}
      signInHint={signInHint}
      {...(onCreateRoom ? { onCreateRoom } : {})}
      myRooms={snapshot.myRooms}
      rooms={snapshot.rooms}
      current={current}
      directory={snapshot.directory}
      directoryHasMore={snapshot.directoryHasMore}
      identity={snapshot.identity}
      online={snapshot.status.state === 'online'}
      onSelect={onSelect}
      onLeave={onLeave}
      onEditName={onEditName}
    />
  );
}

/** Who is online in the open room; a private or direct room's members, online or not. */
function Members({ room, onMessage }: { room: string; onMessage: ((userId: string) => void) | undefined }) {
  const client = useChatClient();
  const view = useRoom(room);
  const me = useChatSelector((s) => s.identity.userId);
  const online = useChatSelector((s) => s.status.state === 'online');
  const visibility = useChatSelector((s) => (s.roomMeta[room] ?? guessMeta(room)).visibility);
  const members = useChatSelector((s) => s.roomMembers[room]?.members ?? null);
  const withMembers = visibility !== 'public';
  const joined = Boolean(view?.joined);
  useEffect(() => {
    // Once joined: a room you may not enter has no members to show you.
    if (withMembers && joined) void client.loadRoomDetails(room);
  }, [client, room, withMembers, joined]);
  return (
    <MemberList
      users={view?.presence ?? []}
      me={me}
      online={online && joined}
      members={withMembers ? members : null}
      {...(onMessage ? { onMessage } : {})}
    />
  );
}

/** The open room: header, banners, messages, typing and the composer. */
function Conversation({
  room,
  membersOpen,
  focusKey,
  onShowRooms,
  onToggleMembers,
  onOpenSettings,
  onOpenSearch,
  onOpenDirect,
}: {
  room: string;
  membersOpen: boolean;
  /** Changed to give the composer the focus (a dialog closed). */
  focusKey: number;
  onShowRooms: () => void;
  onToggleMembers: () => void;
  onOpenSettings: () => void;
  onOpenSearch: () => void;
  onOpenDirect: ((userId: string) => void) | undefined;
}) {
  const client = useChatClient();
  const view = useRoom(room);
  const status = useChatSelector((s) => s.status);
  const notice = useChatSelector((s) => s.notice);
  const ready = useChatSelector((s) => s.ready);
  const maxChars = useChatSelector((s) => s.limits.max_content_chars);
  const storedMeta = useChatSelector((s) => s.roomMeta[room]);
  const meta = storedMeta ?? guessMeta(room);
  const canModerate = canManage(meta.role);
  const online = status.state === 'online';
  const attention = useAttention();
  const { muted: mutedRooms } = useAttentionState();
  const muted = mutedRooms.has(room);
  const me = useChatSelector((s) => s.identity.userId);
  const myName = useChatSelector((s) => s.identity.name);
  const roomMembers = useChatSelector((s) => s.roomMembers[room]?.members ?? null);

  // Who `@` offers, and the names marked as mentions: the room's members, who is online, the authors shown.
  const presence = view?.presence;
  const messages = view?.messages;
  const candidates = useMemo<MentionCandidate[]>(() => {
    const all: MentionCandidate[] = [];
    for (const m of roomMembers ?? []) all.push({ userId: m.user_id, name: m.name });
    for (const u of presence ?? []) all.push({ userId: u.user_id, name: u.name });
    for (let i = (messages?.length ?? 0) - 1; i >= 0 && all.length < 400; i--) {
      const m = messages?.[i];
      if (m && m.userId) all.push({ userId: m.userId, name: m.name });
    }
    return all;
  }, [roomMembers, presence, messages]);
  const namesKey = useMemo(
    () => mentionNames([...candidates.map((c) => c.name), myName]).join('\u0000'),
    [candidates, myName],
  );
  const mentionScope = useMemo(() => ({ names: namesKey ? namesKey.split('\u0000') : [], myName }), [namesKey, myName]);

  // What is being edited or answered, tagged with its room: switching rooms leaves both behind.
  const [editing, setEditing] = useState<{ room: string; key: string } | null>(null);
  const [reply, setReply] = useState<{ room: string; key: string } | null>(null);
  const [composerFocus, setComposerFocus] = useState(0);
  const editingKey = editing?.room === room ? editing.key : null;
  const replyMessage = reply?.room === room ? view?.messages.find((m) => m.key === reply.key) : undefined;
  const replyTo = useMemo(() => (replyMessage ? quoteOf(replyMessage) : null), [replyMessage]);

  const loadOlder = useCallback(() => void client.loadOlder(room), [client, room]);
  const loadNewer = useCallback(() => void client.loadNewer(room), [client, room]);
  const jumpToLatest = useCallback(() => {
    client.jumpToLatest(room);
    // The button goes with the stretch: the focus goes to the composer, not the page's start.
    setComposerFocus((n) => n + 1);
  }, [client, room]);
  // A message of yours refused for good (too long, not allowed…) comes back into the composer to be fixed, when
  // the composer is empty; else its row offers Edit. Refusals met on opening a room (an earlier visit's) stay put.
  const [restore, setRestore] = useState<(ComposerRestore & { room: string }) | null>(null);
  const takeBack = useCallback(
    (message: ChatMessage) => {
      if (!message.clientId) return;
      const now = client.getSnapshot().rooms[room];
      const draft = now?.draft ?? '';
      const text = draft.trim() ? `${draft}\n${message.content}` : message.content;
      const original = message.replyTo ? now?.messages.find((m) => m.id === message.replyTo?.id) : undefined;
      client.discard(message.clientId);
      if (original) setReply({ room, key: original.key });
      setRestore((r) => ({
        room,
        text,
        error: `Not sent: ${message.error ?? 'the server refused it.'}`,
        token: (r?.token ?? 0) + 1,
      }));
    },
    [client, room],
  );
  useEffect(() => {
    const refusedForGood = () =>
      (client.getSnapshot().rooms[room]?.messages ?? []).filter(
        (m) => m.own && m.status === 'failed' && !m.retryable && m.clientId,
      );
    const seen = new Set(refusedForGood().map((m) => m.clientId));
    return client.subscribe(() => {
      for (const m of refusedForGood()) {
        if (seen.has(m.clientId)) continue;
        seen.add(m.clientId);
        const now = client.getSnapshot().rooms[room];
        const composerEmpty = !(now?.draft ?? '').trim() && (now?.draftFiles.length ?? 0) === 0;
        if (composerEmpty && m.attachments.length === 0) takeBack(m);
      }
    });
  }, [client, room, takeBack]);

  const handlers = useMemo<Omit<MessageHandlers, 'showOriginal'>>(() => {
    const doneEditing = () => {
      setEditing(null);
      setComposerFocus((n) => n + 1);
    };
    return {
      retry: (clientId) => client.retry(clientId),
      discard: (clientId) => client.discard(clientId),
      startEdit: (key) => setEditing({ room, key }),
      saveEdit: (id, text) => {
        const problem = client.edit(room, id, text);
        if (!problem) doneEditing();
        return problem;
      },
      cancelEdit: doneEditing,
      remove: (id) => void client.deleteMessage(room, id),
      react: (id, emoji, on) => void client.react(room, id, emoji, on),
      reply: (message) => setReply({ room, key: message.key }),
      editFailed: takeBack,
      ...(onOpenDirect ? { openDirect: onOpenDirect } : {}),
    };
  }, [client, room, onOpenDirect, takeBack]);
  // Up in the empty composer: your latest message that can still be edited.
  const editLast = useCallback(() => {
    const last = view?.messages.findLast((m) => m.own && m.id !== null && m.seq !== null && !m.deleted);
    if (!last) return false;
    setEditing({ room, key: last.key });
    return true;
  }, [room, view]);
  const cancelReply = useCallback(() => setReply(null), []);

  const send = useCallback(
    (text: string) => {
      const problem = client.send(room, text, { replyTo: replyTo?.id ?? null });
      if (!problem) setReply(null);
      return problem;
    },
    [client, room, replyTo],
  );
  // Why files dropped on the room were not all attached (the composer says it), tagged with its room.
  const [dropProblem, setDropProblem] = useState<{ room: string; text: string } | null>(null);
  const attach = useCallback(
    (files: File[]) => {
      setDropProblem(null);
      return client.attachFiles(room, files);
    },
    [client, room],
  );
  const drop = useCallback(
    (files: File[]) => {
      const problem = client.attachFiles(room, files);
      setDropProblem(problem ? { room, text: problem } : null);
      setComposerFocus((n) => n + 1);
    },
    [client, room],
  );
  const removeFile = useCallback((key: string) => client.removeFile(room, key), [client, room]);
  const retryFile = useCallback((key: string) => client.retryFile(room, key), [client, room]);
  const waitForFiles = useCallback(() => client.filesSettled(room), [client, room]);
  const draftChanged = useCallback(
    (text: string) => {
      setDropProblem(null);
      client.setDraft(room, text);
    },
    [client, room],
  );
  const { over: dropping, handlers: dropHandlers } = useFileDrop(ready ? drop : null);

  const { space, channel } = splitRoomName(room);
  const label = roomLabel(room, meta);
  const hasSettings = meta.visibility !== 'public' || meta.role !== null;

  return (
    <section
      aria-label={`Room ${room}`}
      className="relative flex min-w-0 flex-1 flex-col bg-white dark:bg-zinc-900"
      {...dropHandlers}
    >
      {dropping && (
        <div
          data-testid="drop-overlay"
          className="pointer-events-none absolute inset-2 z-30 flex flex-col items-center justify-center gap-2 rounded-2xl border-2 border-dashed border-indigo-400 bg-indigo-50/85 text-indigo-700 backdrop-blur-[1px] dark:border-indigo-400/70 dark:bg-zinc-900/85 dark:text-indigo-200"
        >
          <Icon name="upload" className="size-8" />
          <p className="text-base font-semibold">Drop to attach</p>
          <p className="text-sm text-indigo-600/80 dark:text-indigo-300/80">
            The files go with your next message in {roomReference(room, meta)}.
          </p>
        </div>
      )}
      <header className="flex h-14 shrink-0 items-center gap-2 border-b border-zinc-200 px-3 sm:px-5 dark:border-zinc-800">
        <button
          type="button"
          onClick={onShowRooms}
          aria-label="Show rooms"
          className="inline-flex size-9 items-center justify-center rounded-lg text-zinc-500 hover:bg-zinc-100 md:hidden dark:hover:bg-zinc-800"
        >
          <Icon name="menu" />
        </button>
        {meta.visibility === 'private' ? (
          <Icon
            name="lock"
            className="size-5 shrink-0 text-zinc-500"
            aria-label="Private room"
            role="img"
            aria-hidden={undefined}
          />
        ) : meta.visibility === 'direct' ? (
          <Icon
            name="user"
            className="size-5 shrink-0 text-zinc-500"
            aria-label="Direct message"
            role="img"
            aria-hidden={undefined}
          />
        ) : (
          <Icon name="hash" className="size-5 shrink-0 text-zinc-500" />
        )}
        <h1 className="min-w-0 shrink truncate text-base font-semibold" data-testid="room-title">
          {meta.visibility !== 'public' || meta.title ? (
            label
          ) : (
            <>
              {space && <span className="font-normal text-zinc-500 dark:text-zinc-400">{space} / </span>}
              {channel}
            </>
          )}
        </h1>
        {meta.topic && (
          <p
            data-testid="room-topic"
            title={meta.topic}
            className="hidden min-w-0 flex-1 truncate border-l border-zinc-200 pl-2 text-sm text-zinc-500 sm:block dark:border-zinc-700 dark:text-zinc-400"
          >
            {meta.topic}
          </p>
        )}
        <div className="flex-1" />
        <button
          type="button"
          onClick={() => attention.setMuted(room, !muted)}
          aria-pressed={muted}
          aria-label={muted ? `Unmute ${roomReference(room, meta)}` : `Mute ${roomReference(room, meta)}`}
          title={
            muted
              ? 'Muted: no notifications or sounds from this room. Click to unmute.'
              : 'Mute notifications from this room'
          }
          data-testid="mute-room"
          className={`inline-flex size-9 shrink-0 items-center justify-center rounded-lg hover:bg-zinc-100 dark:hover:bg-zinc-800 ${
            muted ? 'text-amber-700 dark:text-amber-300' : 'text-zinc-500 dark:text-zinc-400'
          }`}
        >
          <Icon name={muted ? 'bellOff' : 'bell'} className="size-[18px]" />
        </button>
        <button
          type="button"
          onClick={onOpenSearch}
          aria-keyshortcuts="Control+K Meta+K"
          title={`Search messages (${SEARCH_KEYS})`}
          data-testid="open-search"
          className="inline-flex h-9 shrink-0 items-center gap-2 rounded-lg px-2 text-sm text-zinc-600 hover:bg-zinc-100 focus-visible:ring-2 focus-visible:ring-indigo-600 focus-visible:outline-none sm:px-2.5 sm:ring-1 sm:ring-zinc-200 dark:text-zinc-400 dark:hover:bg-zinc-800 dark:focus-visible:ring-indigo-400 sm:dark:ring-zinc-700"
        >
          <Icon name="search" className="size-[18px]" />
          {/* Named by words of its own ("Search messages"); the word and the keys shown say the same. */}
          <span className="sr-only">Search messages</span>
          <span aria-hidden="true" className="hidden sm:inline">
            Search
          </span>
          <kbd
            aria-hidden="true"
            className="hidden rounded border border-zinc-200 px-1 font-sans text-[11px] text-zinc-600 lg:inline dark:border-zinc-700 dark:text-zinc-400"
          >
            {SEARCH_KEYS}
          </kbd>
        </button>
        {hasSettings && (
          <button
            type="button"
            onClick={onOpenSettings}
            aria-label="Room settings"
            title="Room settings"
            className="inline-flex size-9 items-center justify-center rounded-lg text-zinc-500 hover:bg-zinc-100 dark:text-zinc-400 dark:hover:bg-zinc-800"
          >
            <Icon name="settings" className="size-[18px]" />
          </button>
        )}
        <button
          type="button"
          onClick={onToggleMembers}
          aria-pressed={membersOpen}
          title="Who is online"
          className="inline-flex items-center gap-1.5 rounded-lg px-2.5 py-1.5 text-sm text-zinc-500 hover:bg-zinc-100 xl:pointer-events-none dark:text-zinc-400 dark:hover:bg-zinc-800"
        >
          <Icon name="users" className="size-[18px]" />
          <span data-testid="online-count" aria-hidden="true" className="tabular-nums">
            {online && view?.joined ? view.presence.length : '–'}
          </span>
          <span aria-hidden="true" className="hidden sm:inline">
            online
          </span>
          <span className="sr-only">
            {online && view?.joined ? `${view.presence.length} online` : 'Who is online: not known yet'}
          </span>
        </button>
      </header>

      <NotificationOffer />
      {notice && (
        <div
          role="alert"
          className="flex items-start gap-2 border-b border-amber-200 bg-amber-50 px-5 py-2 text-sm text-amber-900 dark:border-amber-500/20 dark:bg-amber-500/10 dark:text-amber-200"
        >
          <Icon name="alert" className="mt-0.5 size-4 shrink-0" />
          <span className="flex-1">{notice.text}</span>
          <button
            type="button"
            onClick={() => client.dismissNotice()}
            aria-label="Dismiss"
            className="rounded p-0.5 hover:bg-amber-100 dark:hover:bg-amber-500/20"
          >
            <Icon name="x" className="size-4" />
          </button>
        </div>
      )}
      {view?.error && (
        <div className="flex items-center gap-2 border-b border-rose-200 bg-rose-50 px-5 py-2 text-sm text-rose-800 dark:border-rose-500/20 dark:bg-rose-500/10 dark:text-rose-200">
          <Icon name="wifiOff" className="size-4 shrink-0" />
          <span className="flex-1">{view.error}</span>
          <button
            type="button"
            onClick={() => client.retryHistory(room)}
            className="font-semibold underline-offset-2 hover:underline"
          >
            Try again
          </button>
        </div>
      )}

      <MessageList
        room={room}
        messages={view?.messages ?? []}
        notices={view?.notices ?? NO_NOTICES}
        canModerate={canModerate}
        label={roomReference(room, meta)}
        visibility={meta.visibility}
        hasMoreBefore={view?.hasMoreBefore ?? false}
        loadingOlder={view?.loadingOlder ?? false}
        loading={!ready || (view?.loading ?? true)}
        members={view?.presence}
        newMessagesKey={view?.newMessagesKey ?? null}
        newMessagesKnown={view?.newMessagesKnown ?? false}
        editingKey={editingKey}
        jump={view?.jump ?? null}
        mentionScope={mentionScope}
        handlers={handlers}
        onLoadOlder={loadOlder}
        onLoadNewer={loadNewer}
        onJumpToLatest={jumpToLatest}
      />
      {status.state === 'reconnecting' && (
        <p
          data-testid="offline-banner"
          className="mx-4 mb-1 flex items-center gap-2 rounded-lg bg-amber-50 px-3 py-1.5 text-xs text-amber-900 sm:mx-6 dark:bg-amber-400/10 dark:text-amber-200"
        >
          <Icon name="wifiOff" className="size-4 shrink-0" />
          Connection lost. What you send now is kept and goes out as soon as it is back.
        </p>
      )}
      <TypingIndicator users={view?.typing ?? []} />
      {ready && (
        <Composer
          key={room}
          room={room}
          label={roomReference(room, meta)}
          initialDraft={view?.draft ?? ''}
          maxChars={maxChars}
          replyTo={replyTo}
          focusKey={composerFocus + focusKey}
          files={view?.draftFiles ?? NO_FILES}
          onDraftChange={draftChanged}
          onSend={send}
          onTyping={() => client.notifyTyping(room)}
          onEditLast={editLast}
          onCancelReply={cancelReply}
          onAttach={attach}
          onRemoveFile={removeFile}
          onRetryFile={retryFile}
          waitForFiles={waitForFiles}
          attachError={dropProblem?.room === room ? dropProblem.text : null}
          mentionCandidates={candidates}
          me={me}
          restore={restore?.room === room ? restore : null}
        />
      )}
    </section>
  );
}

const NO_NOTICES: readonly never[] = [];
const NO_FILES: readonly DraftFile[] = [];

/** The search shortcut as this keyboard writes it. */
const SEARCH_KEYS =
  typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform ?? '') ? '⌘K' : 'Ctrl K';

/** The quote above the composer of the message being answered. */
function quoteOf(message: ChatMessage): ReplyPreview | null {
  if (!message.id) return null;
  return {
    id: message.id,
    loaded: true,
    name: message.name,
    excerpt: message.deleted ? null : firstLine(message.content) || filesExcerpt(message.attachments),
    deleted: message.deleted,
  };
}

function Drawer({
  side,
  label,
  onClose,
  children,
}: {
  side: 'left' | 'right';
  label: string;
  onClose: () => void;
  children: React.ReactNode;
}) {
  const panel = useRef<HTMLDivElement>(null);
  // A modal drawer: the focus stays in it (Tab goes round), Escape or the backdrop close it.
  const trap = useFocusTrap(panel);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onClose();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);
  return (
    <div className="fixed inset-0 z-40" role="dialog" aria-label={label} aria-modal="true">
      <button
        type="button"
        aria-label="Close"
        tabIndex={-1}
        onClick={onClose}
        className="absolute inset-0 bg-zinc-950/40"
      />
      <div
        ref={panel}
        tabIndex={-1}
        onKeyDown={trap}
        className={`absolute top-0 bottom-0 w-72 max-w-[85vw] bg-zinc-50 shadow-2xl focus:outline-none dark:bg-zinc-950 ${
          side === 'left' ? 'left-0' : 'right-0'
        }`}
      >
        {children}
      </div>
    </div>
  );
}
