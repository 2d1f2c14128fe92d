import { useLayoutEffect, useState, type KeyboardEvent } from 'react';
import { useAutoGrow } from '../../hooks/use-auto-grow';

/**
 * Editing a message in place: Enter saves, Shift+Enter starts a new line,
 * Escape cancels. The text starts as it is, with the caret at its end.
 */
export function MessageEditor({
  initial,
  onSave,
  onCancel,
}: {
  initial: string;
  /** Returns why the text cannot be saved, or null once it is on its way. */
  onSave: (text: string) => string | null;
  onCancel: () => void;
}) {
  const [value, setValue] = useState(initial);
  const [error, setError] = useState<string | null>(null);
  const area = useAutoGrow(value);

  useLayoutEffect(() => {
    const el = area.current;
    if (!el) return;
    el.focus();
    el.setSelectionRange(el.value.length, el.value.length);
  }, [area]);

  const save = () => {
    if (!value.trim()) {
      setError('A message cannot be empty. Delete it instead.');
      return;
    }
    const problem = onSave(value);
    if (problem) setError(problem);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.nativeEvent.isComposing) return;
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      save();
    } else if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      onCancel();
    }
  };

  return (
    <form
      data-testid="message-editor"
      onSubmit={(e) => {
        e.preventDefault();
        save();
      }}
      className="mt-0.5"
    >
      <textarea
        ref={area}
        value={value}
        rows={1}
        aria-label="Edited message"
        dir="auto"
        onChange={(e) => {
          setValue(e.target.value);
          setError(null);
        }}
        onKeyDown={onKeyDown}
        className={`max-h-60 w-full resize-none rounded-lg border bg-white px-3 py-1.5 text-[15px] leading-6 text-zinc-900 focus:ring-2 focus:outline-none dark:bg-zinc-800/60 dark:text-zinc-100 ${
          error
            ? 'border-rose-300 focus:ring-rose-500/30 dark:border-rose-500/50'
            : 'border-indigo-300 focus:ring-indigo-500/20 dark:border-indigo-500/60'
        }`}
      />
      <div className="mt-1 flex flex-wrap items-center gap-x-3 gap-y-1 text-[11px] text-zinc-500 dark:text-zinc-400">
        {error ? (
          <span role="alert" className="text-rose-600 dark:text-rose-400">
            {error}
          </span>
        ) : (
          <span>
            <kbd className="font-sans font-semibold">Escape</kbd> to cancel ·{' '}
            <kbd className="font-sans font-semibold">Enter</kbd> to save
          </span>
        )}
        <span className="flex-1" />
        <button
          type="button"
          onClick={onCancel}
          className="rounded px-2 py-0.5 font-medium text-zinc-600 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800"
        >
          Cancel
        </button>
        <button
          type="submit"
          className="rounded bg-indigo-600 px-2 py-0.5 font-semibold text-white hover:bg-indigo-500"
        >
          Save
        </button>
      </div>
    </form>
  );
}
