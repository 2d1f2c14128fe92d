import type { TypingUser } from '../../core/chat';
import { kindTag } from '../../core/names';

/** A name as the typing line shows it: with its kind unless an account's ("Ada (guest)"). */
function typingName(user: TypingUser): string {
  const tag = kindTag(user.principal);
  return tag ? `${user.name} (${tag.label})` : user.name;
}

/** "Ada (guest) is typing…", "Ada and Bob (bot) are typing…", "Several people are typing…". */
export function typingText(users: readonly TypingUser[]): string {
  const [a, b] = users;
  if (!a) return '';
  if (!b) return `${typingName(a)} is typing…`;
  if (users.length === 2) return `${typingName(a)} and ${typingName(b)} are typing…`;
  return 'Several people are typing…';
}

/** "Ada is typing…", with the animated dots; keeps its height when empty so nothing jumps. */
export function TypingIndicator({ users }: { users: readonly TypingUser[] }) {
  const text = typingText(users);
  return (
    <div
      aria-live="polite"
      className="flex h-6 items-center gap-2 px-4 text-xs text-zinc-500 sm:px-6 dark:text-zinc-400"
    >
      {text && (
        <>
          <span className="flex gap-0.5" aria-hidden="true">
            <span className="size-1.5 animate-bounce rounded-full bg-zinc-400 [animation-delay:-0.3s]" />
            <span className="size-1.5 animate-bounce rounded-full bg-zinc-400 [animation-delay:-0.15s]" />
            <span className="size-1.5 animate-bounce rounded-full bg-zinc-400" />
          </span>
          <span data-testid="typing">{text}</span>
        </>
      )}
    </div>
  );
}
