import { useId, type FormEvent, type ReactNode } from 'react';

/**
 * The frame the sign-in and sign-up forms share: a title and a sentence, the
 * fields, what the server said about the form as a whole, the button (which
 * waits while the request is out, so a double click sends it once), and a
 * way to the other form below.
 */
export function AuthForm({
  title,
  description,
  submitLabel,
  sendingLabel,
  sending,
  formError,
  onSubmit,
  footer,
  children,
}: {
  title: string;
  description: string;
  submitLabel: string;
  sendingLabel: string;
  sending: boolean;
  /** A refusal that belongs to no field. */
  formError: string | null;
  onSubmit: (e: FormEvent) => void;
  footer?: ReactNode;
  children: ReactNode;
}) {
  const titleId = useId();
  return (
    <form
      aria-labelledby={titleId}
      noValidate
      onSubmit={onSubmit}
      className="w-full max-w-sm space-y-4 rounded-2xl bg-white p-6 shadow-xl ring-1 ring-zinc-900/5 dark:bg-zinc-900 dark:ring-white/10"
    >
      <div>
        <h1 id={titleId} className="text-lg font-semibold text-zinc-900 dark:text-zinc-50">
          {title}
        </h1>
        <p className="mt-1 text-sm text-zinc-500 dark:text-zinc-400">{description}</p>
      </div>
      {children}
      {formError && (
        <p
          role="alert"
          className="rounded-lg bg-rose-50 px-3 py-2 text-sm text-rose-800 dark:bg-rose-500/10 dark:text-rose-200"
        >
          {formError}
        </p>
      )}
      <button
        type="submit"
        disabled={sending}
        className="w-full rounded-lg bg-indigo-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600 disabled:cursor-wait disabled:opacity-70"
      >
        {sending ? sendingLabel : submitLabel}
      </button>
      {footer && <div className="text-center text-sm text-zinc-500 dark:text-zinc-400">{footer}</div>}
    </form>
  );
}
