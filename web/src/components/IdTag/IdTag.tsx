import { idTag } from '../../core/names';

/** Shown beside a name another person here shares: the first hex digits of
 * this person's user id, so a look-alike cannot pass for them. */
export function IdTag({ userId }: { userId: string }) {
  return (
    <span
      data-testid="id-tag"
      title={`Someone else here has this name too. User id ${userId}`}
      className="ml-1 font-mono text-xs font-normal text-zinc-500 dark:text-zinc-400"
    >
      {idTag(userId)}
    </span>
  );
}
