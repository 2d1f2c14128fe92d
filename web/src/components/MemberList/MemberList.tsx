import { kindOf, sharedNames } from '../../core/names';
import type { PresenceUser } from '../../core/protocol';
import { Avatar } from '../Avatar';
import { IdTag } from '../IdTag';
import { PrincipalTag } from '../PrincipalTag';

/** Who is online in the room: its `presence` list with the `presence_changes` since applied.
 * Two people showing the same name each get a tag from their user id; a name
 * that is not an account's says what it is (guest, bot, app). */
export function MemberList({
  users,
  me,
  online,
}: {
  users: readonly PresenceUser[];
  me: string | null;
  online: boolean;
}) {
  const shared = sharedNames(users.map((u) => ({ userId: u.user_id, name: u.name })));
  return (
    <section aria-label="Online users" className="flex h-full min-h-0 flex-col">
      <h2 className="px-4 pt-4 pb-2 text-[11px] font-semibold tracking-wider text-zinc-500 uppercase">
        Online — {online ? users.length : '…'}
      </h2>
      {!online ? (
        <p className="px-4 text-sm text-zinc-400 dark:text-zinc-500">Waiting for the connection…</p>
      ) : users.length === 0 ? (
        <p className="px-4 text-sm text-zinc-400 dark:text-zinc-500">Nobody here yet.</p>
      ) : (
        <ul className="min-h-0 flex-1 space-y-0.5 overflow-y-auto px-2 pb-4" data-testid="presence">
          {users.map((u) => (
            <li
              key={u.user_id}
              className="flex items-center gap-2.5 rounded-md px-2 py-1.5 hover:bg-zinc-200/50 dark:hover:bg-zinc-800/70"
            >
              <Avatar name={u.name} userId={u.user_id} size="sm" online />
              {/* The name gives way to its tags: "guest" and "(you)" always show. */}
              <span className="flex min-w-0 flex-1 items-center text-sm text-zinc-700 dark:text-zinc-300">
                <span className="min-w-0 truncate">
                  {u.name}
                  {shared.has(u.user_id) && <IdTag userId={u.user_id} />}
                </span>
                <PrincipalTag kind={kindOf(u)} className="ml-1.5 shrink-0" />
                {u.user_id === me && <span className="ml-1 shrink-0 text-zinc-400 dark:text-zinc-500">(you)</span>}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
