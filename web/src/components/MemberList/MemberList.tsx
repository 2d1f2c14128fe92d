import type { Member } from '../../core/chat';
import { kindOf, sharedNames } from '../../core/names';
import type { PresenceUser } from '../../core/protocol';
import { Avatar } from '../Avatar';
import { Icon } from '../Icon';
import { IdTag } from '../IdTag';
import { PrincipalTag } from '../PrincipalTag';

const ROLE_LABEL = { owner: 'owner', moderator: 'mod' } as const;

/** Who is online in the room: its `presence` list with the `presence_changes` since applied.
 * Two people showing the same name each get a tag from their user id; a name
 * that is not an account's says what it is (guest, bot, app). A room with
 * members (private, direct) lists its members instead, online or not, with
 * their roles. Beside each account but yours, `onMessage` opens a direct
 * conversation with them. */
export function MemberList({
  users,
  me,
  online,
  members = null,
  onMessage,
}: {
  users: readonly PresenceUser[];
  me: string | null;
  online: boolean;
  /** The room's members, when it has members: listed instead of who is online. */
  members?: readonly Member[] | null;
  onMessage?: (userId: string, name: string) => void;
}) {
  if (members) return <Members members={members} users={users} me={me} online={online} onMessage={onMessage} />;
  const shared = sharedNames(users.map((u) => ({ userId: u.user_id, name: u.name })));
  return (
    <section aria-label="Online users" className="flex h-full min-h-0 flex-col">
      <h2 className="px-4 pt-4 pb-2 text-[11px] font-semibold tracking-wider text-zinc-500 uppercase dark:text-zinc-400">
        Online — {online ? users.length : '…'}
      </h2>
      {!online ? (
        <p className="px-4 text-sm text-zinc-500 dark:text-zinc-400">Waiting for the connection…</p>
      ) : users.length === 0 ? (
        <p className="px-4 text-sm text-zinc-500 dark:text-zinc-400">Nobody here yet.</p>
      ) : (
        <ul className="min-h-0 flex-1 space-y-0.5 overflow-y-auto px-2 pb-4" data-testid="presence">
          {users.map((u) => (
            <li
              key={u.user_id}
              className="group flex items-center gap-2.5 rounded-md px-2 py-1.5 hover:bg-zinc-200/50 dark:hover:bg-zinc-800/70"
            >
              <Avatar name={u.name} userId={u.user_id} size="sm" online />
              {/* The name gives way to its tags: "guest" and "(you)" always show. */}
              <span className="flex min-w-0 flex-1 items-center text-sm text-zinc-700 dark:text-zinc-300">
                <span className="min-w-0 truncate">
                  {u.name}
                  {shared.has(u.user_id) && <IdTag userId={u.user_id} />}
                </span>
                <PrincipalTag kind={kindOf(u)} className="ml-1.5 shrink-0" />
                {u.user_id === me && <span className="ml-1 shrink-0 text-zinc-500 dark:text-zinc-400">(you)</span>}
              </span>
              {onMessage && u.user_id !== me && kindOf(u) === 'account' && (
                <MessageButton name={u.name} onClick={() => onMessage(u.user_id, u.name)} />
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Members({
  members,
  users,
  me,
  online,
  onMessage,
}: {
  members: readonly Member[];
  users: readonly PresenceUser[];
  me: string | null;
  online: boolean;
  onMessage: ((userId: string, name: string) => void) | undefined;
}) {
  const here = new Set(online ? users.map((u) => u.user_id) : []);
  const shared = sharedNames(members.map((m) => ({ userId: m.user_id, name: m.name })));
  // Who is here first, then by name.
  const sorted = [...members].sort(
    (a, b) => Number(here.has(b.user_id)) - Number(here.has(a.user_id)) || a.name.localeCompare(b.name),
  );
  return (
    <section aria-label="Members" className="flex h-full min-h-0 flex-col">
      <h2 className="px-4 pt-4 pb-2 text-[11px] font-semibold tracking-wider text-zinc-500 uppercase dark:text-zinc-400">
        Members — {members.length}
        {online ? <span className="font-normal normal-case"> · {here.size} online</span> : null}
      </h2>
      <ul className="min-h-0 flex-1 space-y-0.5 overflow-y-auto px-2 pb-4" data-testid="members">
        {sorted.map((m) => (
          <li
            key={m.user_id}
            data-user-id={m.user_id}
            className="group flex items-center gap-2.5 rounded-md px-2 py-1.5 hover:bg-zinc-200/50 dark:hover:bg-zinc-800/70"
          >
            <Avatar name={m.name} userId={m.user_id} size="sm" online={here.has(m.user_id)} />
            <span className="flex min-w-0 flex-1 items-center text-sm text-zinc-700 dark:text-zinc-300">
              <span className="min-w-0 truncate">
                {m.name}
                {shared.has(m.user_id) && <IdTag userId={m.user_id} />}
              </span>
              {m.role !== 'member' && (
                <span className="ml-1.5 shrink-0 rounded bg-zinc-200/70 px-1 py-px text-[10px] font-medium tracking-wide text-zinc-600 uppercase dark:bg-zinc-800 dark:text-zinc-300">
                  {ROLE_LABEL[m.role]}
                </span>
              )}
              {m.user_id === me && <span className="ml-1 shrink-0 text-zinc-500 dark:text-zinc-400">(you)</span>}
            </span>
            {onMessage && m.user_id !== me && (
              <MessageButton name={m.name} onClick={() => onMessage(m.user_id, m.name)} />
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** "Send X a direct message": in the tab order always, shown on hover and focus (and always on touch). */
function MessageButton({ name, onClick }: { name: string; onClick: () => void }) {
  return (
    <button
      type="button"
      onClick={onClick}
      aria-label={`Send ${name} a direct message`}
      title={`Send ${name} a direct message`}
      className="inline-flex size-7 shrink-0 items-center justify-center rounded text-zinc-500 opacity-0 transition-opacity group-focus-within:opacity-100 group-hover:opacity-100 hover:bg-zinc-300/60 hover:text-zinc-700 focus-visible:opacity-100 max-md:opacity-100 [@media(hover:none)]:opacity-100 dark:hover:bg-zinc-700 dark:hover:text-zinc-200"
    >
      <Icon name="message" className="size-4" />
    </button>
  );
}
