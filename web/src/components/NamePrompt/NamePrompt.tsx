import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { checkDisplayName } from '../../core/protocol';
import { useFocusTrap } from '../../hooks/use-focus-trap';

/**
 * Asks a guest for a display name: on the first visit (no way to dismiss it,
 * but the way to an account instead: `onSignIn`, `onCreateAccount`), or to
 * change it (with Cancel). A modal dialog: Tab and Shift+Tab go round inside
 * it, and nothing behind it takes the focus while it is up. Where the focus
 * goes once it is done is the caller's (the composer).
 */
export function NamePrompt({
  initial = '',
  onSubmit,
  onCancel,
  onSignIn,
  onCreateAccount,
}: {
  initial?: string;
  onSubmit: (name: string) => { ok: true } | { ok: false; reason: string };
  onCancel?: () => void;
  onSignIn?: () => void;
  onCreateAccount?: () => void;
}) {
  const [value, setValue] = useState(initial);
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const panel = useRef<HTMLFormElement>(null);
  const titleId = useId();
  const descriptionId = useId();
  const errorId = useId();
  const firstVisit = !onCancel;
  const trap = useFocusTrap(panel, () => input.current);

  useEffect(() => {
    input.current?.select();
  }, []);

  useEffect(() => {
    if (!onCancel) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onCancel();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onCancel]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const checked = checkDisplayName(value);
    if (!checked.ok) {
      setError(checked.reason);
      return;
    }
    const result = onSubmit(checked.name);
    if (!result.ok) setError(result.reason);
  };

  return (
    <div className="fixed inset-0 z-50 flex items-center justify-center bg-zinc-950/40 p-4 backdrop-blur-sm">
      <form
        ref={panel}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        aria-describedby={descriptionId}
        tabIndex={-1}
        onKeyDown={trap}
        onSubmit={submit}
        className="w-full max-w-sm rounded-2xl bg-white p-6 shadow-2xl ring-1 ring-zinc-900/5 focus:outline-none dark:bg-zinc-900 dark:ring-white/10"
      >
        <div className="mb-5 flex size-11 items-center justify-center rounded-xl bg-indigo-600 text-white shadow-lg shadow-indigo-600/30">
          <svg viewBox="0 0 24 24" className="size-6" fill="currentColor" aria-hidden="true">
            <path d="M4 6.5A2.5 2.5 0 0 1 6.5 4h11A2.5 2.5 0 0 1 20 6.5v7a2.5 2.5 0 0 1-2.5 2.5H11l-4.6 3.7c-.4.3-.9 0-.9-.4V16A1.5 1.5 0 0 1 4 14.5z" />
          </svg>
        </div>
        <h2 id={titleId} className="text-lg font-semibold text-zinc-900 dark:text-zinc-50">
          {firstVisit ? 'Welcome to WhisperChat' : 'Change your display name'}
        </h2>
        <p id={descriptionId} className="mt-1 text-sm text-zinc-500 dark:text-zinc-400">
          {firstVisit
            ? 'Pick a display name so people know who they are talking to. You can change it later.'
            : 'Everyone in your rooms will see the new name.'}
        </p>
        <label className="mt-5 block text-sm font-medium text-zinc-700 dark:text-zinc-300">
          Display name
          <input
            ref={input}
            value={value}
            onChange={(e) => {
              setValue(e.target.value);
              setError(null);
            }}
            maxLength={64}
            autoComplete="nickname"
            placeholder="e.g. Ada Lovelace"
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? errorId : undefined}
            className="mt-1.5 block w-full rounded-lg border-0 bg-white px-3 py-2 text-zinc-900 shadow-sm ring-1 ring-zinc-300 ring-inset placeholder:text-zinc-500 focus:ring-2 focus:ring-indigo-600 focus:outline-none dark:bg-zinc-800 dark:text-zinc-50 dark:ring-zinc-700 dark:focus:ring-indigo-500"
          />
        </label>
        {error && (
          <p id={errorId} role="alert" className="mt-2 text-sm text-rose-700 dark:text-rose-400">
            {error}
          </p>
        )}
        <div className="mt-6 flex justify-end gap-2">
          {onCancel && (
            <button
              type="button"
              onClick={onCancel}
              className="rounded-lg px-3.5 py-2 text-sm font-medium text-zinc-700 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800"
            >
              Cancel
            </button>
          )}
          <button
            type="submit"
            className="rounded-lg bg-indigo-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600"
          >
            {firstVisit ? 'Start chatting' : 'Save'}
          </button>
        </div>
        {(onSignIn || onCreateAccount) && (
          <div className="mt-5 border-t border-zinc-100 pt-4 text-center text-sm text-zinc-500 dark:border-zinc-800 dark:text-zinc-400">
            Or keep your name on every device, with an account:
            <div className="mt-2 flex justify-center gap-4">
              {onSignIn && (
                <button
                  type="button"
                  onClick={onSignIn}
                  className="font-semibold text-indigo-600 hover:underline dark:text-indigo-400"
                >
                  Sign in
                </button>
              )}
              {onCreateAccount && (
                <button
                  type="button"
                  onClick={onCreateAccount}
                  className="font-semibold text-indigo-600 hover:underline dark:text-indigo-400"
                >
                  Create account
                </button>
              )}
            </div>
          </div>
        )}
      </form>
    </div>
  );
}
