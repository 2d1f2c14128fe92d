import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { AccountProblem } from '../../core/chat';

/**
 * Signs out, offering to remove this browser's copy of the account — cached
 * messages, drafts, messages not sent yet — which is on by default: a shared
 * computer keeps nothing of you. Also the confirm step when this device's own
 * session is revoked from the device list (`onCancel` then shows Cancel).
 */
export function SignOutForm({
  onSignOut,
  onCancel,
  description,
}: {
  onSignOut: (forget: boolean) => Promise<AccountProblem | null>;
  onCancel?: () => void;
  description?: string;
}) {
  const [forget, setForget] = useState(true);
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const cancel = useRef<HTMLButtonElement>(null);

  // As a confirm step, focus starts on Cancel: Enter right after the click signs nobody out.
  useEffect(() => {
    cancel.current?.focus();
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (sending) return;
    setSending(true);
    setError(null);
    const problem = await onSignOut(forget);
    setSending(false);
    if (problem) setError(problem.message);
  };

  return (
    <form
      aria-label="Sign out"
      onSubmit={(e) => void submit(e)}
      onKeyDown={(e) => {
        if (e.key === 'Escape' && onCancel) {
          e.stopPropagation();
          onCancel();
        }
      }}
      className="space-y-3"
    >
      {description && <p className="text-sm text-zinc-600 dark:text-zinc-300">{description}</p>}
      <label className="flex items-start gap-2.5 text-sm text-zinc-700 dark:text-zinc-300">
        <input
          type="checkbox"
          checked={forget}
          onChange={(e) => setForget(e.target.checked)}
          className="mt-0.5 size-4 shrink-0 rounded border-zinc-300 accent-indigo-600"
        />
        Also remove this account's messages and drafts from this browser
      </label>
      {error && (
        <p role="alert" className="text-sm text-rose-600 dark:text-rose-400">
          {error}
        </p>
      )}
      <div className="flex flex-wrap justify-end gap-2">
        {onCancel && (
          <button
            ref={cancel}
            type="button"
            onClick={onCancel}
            className="rounded-lg px-3.5 py-2 text-sm font-medium text-zinc-700 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800"
          >
            Cancel
          </button>
        )}
        <button
          type="submit"
          disabled={sending}
          className="rounded-lg bg-rose-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-rose-500 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-rose-600 disabled:cursor-wait disabled:opacity-70"
        >
          {sending ? 'Signing out…' : 'Sign out'}
        </button>
      </div>
    </form>
  );
}
