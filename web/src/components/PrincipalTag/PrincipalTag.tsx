import { kindTag } from '../../core/names';
import type { PrincipalKind } from '../../core/protocol';

/**
 * Beside a name: what kind of identity it is — "guest" for a name anyone can
 * pick, "bot", "app" — so a guest calling itself after an account cannot pass
 * for it. An account, the verified default, shows nothing. Shown for your own
 * name too: it is how the others see you.
 */
export function PrincipalTag({ kind, className = '' }: { kind: PrincipalKind; className?: string }) {
  const tag = kindTag(kind);
  if (!tag) return null;
  return (
    <span
      data-testid="principal-tag"
      data-kind={kind}
      title={tag.title}
      className={`rounded bg-zinc-100 px-1 py-px text-[10px] font-medium tracking-wide text-zinc-600 uppercase dark:bg-zinc-800 dark:text-zinc-400 ${className}`}
    >
      {tag.label}
    </span>
  );
}
