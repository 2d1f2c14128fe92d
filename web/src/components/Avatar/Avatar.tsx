import { avatarColor, initials } from '../../lib/format';

const SIZES = {
  xs: 'size-4 text-[8px] rounded',
  sm: 'size-7 text-[11px] rounded-md',
  md: 'size-9 text-sm rounded-lg',
  lg: 'size-12 text-base rounded-xl',
} as const;

/** A coloured square with a user's initials; the colour follows the user id. */
export function Avatar({
  name,
  userId,
  size = 'md',
  online,
}: {
  name: string;
  userId: string;
  size?: keyof typeof SIZES;
  online?: boolean;
}) {
  return (
    <span className="relative inline-flex shrink-0">
      <span
        aria-hidden="true"
        className={`${SIZES[size]} ${avatarColor(userId || name)} inline-flex select-none items-center justify-center font-semibold text-white shadow-sm`}
      >
        {initials(name)}
      </span>
      {online !== undefined && (
        <span
          aria-hidden="true"
          className={`absolute -right-0.5 -bottom-0.5 size-3 rounded-full ring-2 ring-white dark:ring-zinc-900 ${
            online ? 'bg-emerald-500' : 'bg-zinc-400'
          }`}
        />
      )}
    </span>
  );
}
