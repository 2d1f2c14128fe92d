import { useId, type InputHTMLAttributes, type Ref } from 'react';

/**
 * A labelled input with what the form says about it: a hint (a rule to keep)
 * and an error, both read out with the input (`aria-describedby`); an error
 * also marks it invalid.
 */
export function Field({
  label,
  hint,
  error,
  inputRef,
  ...input
}: {
  label: string;
  hint?: string;
  error?: string | null;
  inputRef?: Ref<HTMLInputElement>;
} & Omit<InputHTMLAttributes<HTMLInputElement>, 'aria-describedby' | 'aria-invalid'>) {
  const hintId = useId();
  const errorId = useId();
  const describedBy = [error ? errorId : null, hint ? hintId : null].filter(Boolean).join(' ');
  return (
    <div>
      <label className="block text-sm font-medium text-zinc-700 dark:text-zinc-300">
        {label}
        <input
          ref={inputRef}
          {...input}
          aria-invalid={error ? true : undefined}
          aria-describedby={describedBy || undefined}
          className="mt-1.5 block w-full rounded-lg border-0 bg-white px-3 py-2 text-zinc-900 shadow-sm ring-1 ring-zinc-300 ring-inset placeholder:text-zinc-500 focus:ring-2 focus:ring-indigo-600 focus:outline-none disabled:opacity-60 aria-invalid:ring-rose-500 dark:bg-zinc-800 dark:text-zinc-50 dark:ring-zinc-700 dark:focus:ring-indigo-500 dark:aria-invalid:ring-rose-400"
        />
      </label>
      {error && (
        <p id={errorId} className="mt-1.5 text-sm text-rose-600 dark:text-rose-400">
          {error}
        </p>
      )}
      {hint && (
        <p id={hintId} className="mt-1.5 text-xs text-zinc-500 dark:text-zinc-400">
          {hint}
        </p>
      )}
    </div>
  );
}
