import { useEffect, useId, useState, type FormEvent, type KeyboardEvent } from 'react';
import type { Member, Role } from '../../core/chat';
import { canChangeRoles, canManage, canRemove, guessMeta, roomLabel } from '../../core/rooms';
import { MAX_TITLE_CHARS, MAX_TOPIC_CHARS } from '../../core/rooms-api';
import { useChatClient, useChatSelector } from '../../hooks/use-chat';
import { Avatar } from '../Avatar';
import { Dialog } from '../Dialog';
import { Field } from '../Field';
import { Icon } from '../Icon';

const ROLE_LABEL: Readonly<Record<Role, string>> = { owner: 'Owner', moderator: 'Moderator', member: 'Member' };

/** What is being asked before it is done: removing or banning someone (with a reason), or leaving. */
type Pending = { kind: 'remove' | 'ban'; member: Member } | { kind: 'leave' };

/**
 * A room's settings: its title and topic, its members with their roles, and
 * what your role lets you do — owners and moderators invite, remove, ban and
 * retitle; owners give roles; every member of a private room can leave it
 * (a direct conversation cannot be left). `onLeft` gets the room to show next.
 */
export function RoomSettingsDialog({
  room,
  onClose,
  onLeft,
}: {
  room: string;
  onClose: () => void;
  onLeft: (next: string | null) => void;
}) {
  const client = useChatClient();
  const meta = useChatSelector((s) => s.roomMeta[room]) ?? guessMeta(room);
  const view = useChatSelector((s) => s.roomMembers[room]);
  const me = useChatSelector((s) => s.identity.userId);
  const signedIn = useChatSelector((s) => s.account !== null);
  const role = meta.role;
  const manager = canManage(role);
  const direct = meta.visibility === 'direct';
  const label = roomLabel(room, meta);

  const [title, setTitle] = useState(meta.title ?? '');
  const [topic, setTopic] = useState(meta.topic);
  const [invitee, setInvitee] = useState('');
  const [reason, setReason] = useState('');
  const [pending, setPending] = useState<Pending | null>(null);
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState<{ error: boolean; text: string } | null>(null);
  const statusId = useId();

  useEffect(() => {
    void client.loadRoomDetails(room);
  }, [client, room]);

  /** Runs one change; what it says (or why it failed) shows at the top. */
  const run = async (action: () => Promise<string | null>, done: string) => {
    if (busy) return false;
    setBusy(true);
    setStatus(null);
    const problem = await action();
    setBusy(false);
    setStatus(problem ? { error: true, text: problem } : { error: false, text: done });
    return problem === null;
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    const change: { title?: string; topic?: string } = {};
    if (title.trim() !== (meta.title ?? '')) change.title = title;
    if (topic.trim() !== meta.topic) change.topic = topic;
    if (change.title === undefined && change.topic === undefined) {
      setStatus({ error: false, text: 'Nothing to change.' });
      return;
    }
    await run(() => client.updateRoom(room, change), 'Saved.');
  };

  const invite = async () => {
    const name = invitee.trim();
    if (!name || busy) return;
    setBusy(true);
    setStatus(null);
    const found = await client.lookupUser(name);
    setBusy(false);
    if (!found.ok) {
      setStatus({ error: true, text: found.error });
      return;
    }
    if (view?.members.some((m) => m.user_id === found.user.user_id)) {
      setStatus({ error: true, text: `${found.user.name} is in the room already.` });
      return;
    }
    if (await run(() => client.inviteMember(room, found.user.user_id), `${found.user.name} was added.`)) {
      setInvitee('');
    }
  };

  const onInviteKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      void invite();
    }
  };

  const confirm = async () => {
    if (!pending) return;
    if (pending.kind === 'leave') {
      setBusy(true);
      setStatus(null);
      const result = await client.leaveMembership(room);
      setBusy(false);
      if (result.ok) onLeft(result.next);
      else setStatus({ error: true, text: result.error });
      setPending(null);
      return;
    }
    const { member, kind } = pending;
    const ok = await run(
      () =>
        kind === 'ban'
          ? client.banMember(room, member.user_id, reason)
          : client.removeMember(room, member.user_id, reason),
      kind === 'ban' ? `${member.name} was banned.` : `${member.name} was removed.`,
    );
    if (ok) {
      setPending(null);
      setReason('');
    }
  };

  const members = view?.members ?? [];
  const banned = view?.banned ?? [];

  return (
    <Dialog
      title={
        <span className="flex items-center gap-2">
          <Icon
            name={direct ? 'user' : meta.visibility === 'private' ? 'lock' : 'hash'}
            className="size-5 text-zinc-500"
          />
          <span className="min-w-0 truncate">{label}</span>
        </span>
      }
      description={
        direct
          ? 'A conversation between the two of you.'
          : meta.visibility === 'private'
            ? 'A private room: only its members see it.'
            : 'A public room: anyone can read it.'
      }
      onClose={onClose}
      wide
      testId="room-settings"
    >
      <div className="mt-4 space-y-5">
        {status && (
          <p
            id={statusId}
            role={status.error ? 'alert' : 'status'}
            className={`rounded-lg px-3 py-2 text-sm ${
              status.error
                ? 'bg-rose-50 text-rose-800 dark:bg-rose-500/10 dark:text-rose-200'
                : 'bg-emerald-50 text-emerald-800 dark:bg-emerald-500/10 dark:text-emerald-200'
            }`}
          >
            {status.text}
          </p>
        )}

        {!direct &&
          (manager ? (
            <form aria-label="Room details" onSubmit={(e) => void save(e)} className="space-y-3">
              <Field
                label="Title"
                value={title}
                maxLength={MAX_TITLE_CHARS}
                onChange={(e) => setTitle(e.target.value)}
              />
              <Field
                label="Topic"
                value={topic}
                maxLength={MAX_TOPIC_CHARS}
                onChange={(e) => setTopic(e.target.value)}
              />
              <div className="flex justify-end">
                <button
                  type="submit"
                  disabled={busy}
                  className="rounded-lg bg-indigo-600 px-3.5 py-1.5 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 disabled:opacity-60"
                >
                  Save
                </button>
              </div>
            </form>
          ) : (
            meta.topic && <p className="text-sm text-zinc-600 dark:text-zinc-300">{meta.topic}</p>
          ))}

        <section aria-label="Members">
          <h3 className="text-[11px] font-semibold tracking-wider text-zinc-500 uppercase dark:text-zinc-400">
            Members{view && !view.loading ? ` — ${members.length}` : ''}
          </h3>
          {view?.error && <p className="mt-1.5 text-sm text-rose-600 dark:text-rose-400">{view.error}</p>}
          {!view || (view.loading && members.length === 0) ? (
            <p className="mt-1.5 text-sm text-zinc-500 dark:text-zinc-400">Loading members…</p>
          ) : (
            <ul className="mt-1.5 max-h-64 space-y-0.5 overflow-y-auto" data-testid="room-members">
              {members.map((m) => (
                <MemberRow
                  key={m.user_id}
                  member={m}
                  me={me}
                  myRole={role}
                  busy={busy}
                  direct={direct}
                  onRole={(next) =>
                    void run(
                      () => client.setMemberRole(room, m.user_id, next),
                      `${m.name} is now ${next === 'owner' ? 'an owner' : `a ${next}`}.`,
                    )
                  }
                  onAsk={(kind) => {
                    setReason('');
                    setPending({ kind, member: m });
                  }}
                />
              ))}
            </ul>
          )}
        </section>

        {pending && pending.kind !== 'leave' && (
          <div
            role="group"
            aria-label={pending.kind === 'ban' ? `Ban ${pending.member.name}` : `Remove ${pending.member.name}`}
            className="space-y-2 rounded-lg border border-rose-200 bg-rose-50 p-3 text-sm text-rose-900 dark:border-rose-500/30 dark:bg-rose-500/10 dark:text-rose-100"
          >
            <p>
              {pending.kind === 'ban'
                ? `Ban ${pending.member.name}? They are taken out and cannot be added again until unbanned.`
                : `Remove ${pending.member.name} from the room?`}
            </p>
            <input
              value={reason}
              onChange={(e) => setReason(e.target.value)}
              aria-label="Reason (optional)"
              placeholder="Reason (optional)"
              maxLength={300}
              autoFocus
              className="block w-full rounded-md border-0 bg-white px-2.5 py-1.5 text-sm text-zinc-900 ring-1 ring-rose-200 ring-inset focus:ring-2 focus:ring-rose-500 focus:outline-none dark:bg-zinc-900 dark:text-zinc-100 dark:ring-rose-500/30"
            />
            <div className="flex justify-end gap-2">
              <button
                type="button"
                onClick={() => setPending(null)}
                className="rounded-md px-2.5 py-1 text-xs font-medium text-zinc-700 hover:bg-white/70 dark:text-zinc-200 dark:hover:bg-white/10"
              >
                Cancel
              </button>
              <button
                type="button"
                disabled={busy}
                onClick={() => void confirm()}
                className="rounded-md bg-rose-600 px-2.5 py-1 text-xs font-semibold text-white shadow-sm hover:bg-rose-500 disabled:opacity-60"
              >
                {pending.kind === 'ban' ? 'Ban' : 'Remove'}
              </button>
            </div>
          </div>
        )}

        {manager && !direct && (
          <div>
            <label
              className="block text-sm font-medium text-zinc-700 dark:text-zinc-300"
              htmlFor={`${statusId}-invite`}
            >
              Add someone
            </label>
            <div className="mt-1.5 flex gap-2">
              <input
                id={`${statusId}-invite`}
                value={invitee}
                onChange={(e) => setInvitee(e.target.value)}
                onKeyDown={onInviteKey}
                placeholder="Their account's name"
                className="block min-w-0 flex-1 rounded-lg border-0 bg-white px-3 py-1.5 text-sm text-zinc-900 shadow-sm ring-1 ring-zinc-300 ring-inset placeholder:text-zinc-500 focus:ring-2 focus:ring-indigo-600 focus:outline-none dark:bg-zinc-800 dark:text-zinc-50 dark:ring-zinc-700"
              />
              <button
                type="button"
                onClick={() => void invite()}
                disabled={busy || !invitee.trim()}
                className="inline-flex items-center gap-1.5 rounded-lg px-3 py-1.5 text-sm font-medium text-zinc-700 ring-1 ring-zinc-300 hover:bg-zinc-50 disabled:opacity-50 dark:text-zinc-200 dark:ring-zinc-700 dark:hover:bg-zinc-800"
              >
                <Icon name="userPlus" className="size-4" />
                Invite
              </button>
            </div>
          </div>
        )}

        {manager && banned.length > 0 && (
          <section aria-label="Banned">
            <h3 className="text-[11px] font-semibold tracking-wider text-zinc-500 uppercase dark:text-zinc-400">
              Banned — {banned.length}
            </h3>
            <ul className="mt-1.5 space-y-0.5">
              {banned.map((b) => (
                <li key={b.user_id} className="flex items-center gap-2.5 rounded-md px-2 py-1.5 text-sm">
                  <Avatar name={b.name} userId={b.user_id} size="sm" />
                  <span className="min-w-0 flex-1 truncate text-zinc-700 dark:text-zinc-300">{b.name}</span>
                  <button
                    type="button"
                    disabled={busy}
                    onClick={() => void run(() => client.unbanMember(room, b.user_id), `${b.name} was unbanned.`)}
                    aria-label={`Unban ${b.name}`}
                    className="rounded-md px-2 py-1 text-xs font-medium text-indigo-600 hover:bg-indigo-50 disabled:opacity-50 dark:text-indigo-400 dark:hover:bg-indigo-500/10"
                  >
                    Unban
                  </button>
                </li>
              ))}
            </ul>
          </section>
        )}

        <div className="flex items-center justify-between gap-2 border-t border-zinc-100 pt-4 dark:border-zinc-800">
          {!direct && signedIn && role ? (
            pending?.kind === 'leave' ? (
              <div role="group" aria-label={`Leave ${label}`} className="flex flex-wrap items-center gap-2 text-sm">
                <span className="text-zinc-700 dark:text-zinc-300">
                  Leave? Someone must add you again to come back.
                </span>
                <button
                  type="button"
                  autoFocus
                  onClick={() => setPending(null)}
                  className="rounded-md px-2.5 py-1 text-xs font-medium text-zinc-700 hover:bg-zinc-100 dark:text-zinc-200 dark:hover:bg-zinc-800"
                >
                  Stay
                </button>
                <button
                  type="button"
                  disabled={busy}
                  onClick={() => void confirm()}
                  className="rounded-md bg-rose-600 px-2.5 py-1 text-xs font-semibold text-white hover:bg-rose-500 disabled:opacity-60"
                >
                  Leave
                </button>
              </div>
            ) : (
              <button
                type="button"
                onClick={() => setPending({ kind: 'leave' })}
                className="inline-flex items-center gap-1.5 rounded-lg px-3 py-1.5 text-sm font-medium text-rose-700 hover:bg-rose-50 dark:text-rose-400 dark:hover:bg-rose-500/10"
              >
                <Icon name="logout" className="size-4" />
                Leave room
              </button>
            )
          ) : (
            <span />
          )}
          <button
            type="button"
            onClick={onClose}
            className="rounded-lg px-3.5 py-2 text-sm font-medium text-zinc-700 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800"
          >
            Done
          </button>
        </div>
      </div>
    </Dialog>
  );
}

/** One member: name, role, and what your role lets you do to them. */
function MemberRow({
  member,
  me,
  myRole,
  busy,
  direct,
  onRole,
  onAsk,
}: {
  member: Member;
  me: string | null;
  myRole: Role | null;
  busy: boolean;
  direct: boolean;
  onRole: (role: Role) => void;
  onAsk: (kind: 'remove' | 'ban') => void;
}) {
  const self = member.user_id === me;
  const roles = !direct && !self && canChangeRoles(myRole);
  const removable = !direct && !self && canRemove(myRole, member.role);
  return (
    <li
      data-testid="room-member"
      data-user-id={member.user_id}
      className="flex items-center gap-2.5 rounded-md px-2 py-1.5 text-sm"
    >
      <Avatar name={member.name} userId={member.user_id} size="sm" />
      <span className="min-w-0 flex-1 truncate text-zinc-800 dark:text-zinc-200">
        {member.name}
        {self && <span className="ml-1 text-zinc-500 dark:text-zinc-400">(you)</span>}
      </span>
      {roles ? (
        <select
          value={member.role}
          disabled={busy}
          onChange={(e) => onRole(e.target.value as Role)}
          aria-label={`Role of ${member.name}`}
          className="rounded-md border-0 bg-white py-1 pr-7 pl-2 text-xs text-zinc-700 ring-1 ring-zinc-300 ring-inset focus:ring-2 focus:ring-indigo-600 dark:bg-zinc-800 dark:text-zinc-200 dark:ring-zinc-700"
        >
          {(['owner', 'moderator', 'member'] as const).map((r) => (
            <option key={r} value={r}>
              {ROLE_LABEL[r]}
            </option>
          ))}
        </select>
      ) : (
        member.role !== 'member' && (
          <span
            data-testid="member-role"
            className="rounded bg-zinc-100 px-1.5 py-px text-[11px] font-medium text-zinc-600 dark:bg-zinc-800 dark:text-zinc-300"
          >
            {ROLE_LABEL[member.role]}
          </span>
        )
      )}
      {removable && (
        <>
          <button
            type="button"
            disabled={busy}
            onClick={() => onAsk('remove')}
            aria-label={`Remove ${member.name}`}
            className="rounded-md px-2 py-1 text-xs font-medium text-zinc-600 hover:bg-zinc-100 disabled:opacity-50 dark:text-zinc-300 dark:hover:bg-zinc-800"
          >
            Remove
          </button>
          <button
            type="button"
            disabled={busy}
            onClick={() => onAsk('ban')}
            aria-label={`Ban ${member.name}`}
            className="rounded-md px-2 py-1 text-xs font-medium text-rose-600 hover:bg-rose-50 disabled:opacity-50 dark:text-rose-400 dark:hover:bg-rose-500/10"
          >
            Ban
          </button>
        </>
      )}
    </li>
  );
}
