import { useState, type FormEvent } from 'react';
import type { AccountProblem } from '../../core/chat';
import { checkDisplayName } from '../../core/protocol';
import { Field } from '../Field';

/**
 * The account's name: unique among accounts, so the server may refuse it
 * (`name_taken`), which shows under the field. Everyone in your rooms sees a
 * new name at once: the server renames your connections itself.
 */
export function AccountNameForm({
  name,
  onRename,
}: {
  name: string;
  onRename: (name: string) => Promise<AccountProblem | null>;
}) {
  const [value, setValue] = useState(name);
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (sending) return;
    const checked = checkDisplayName(value);
    if (!checked.ok) {
      setError(checked.reason);
      return;
    }
    if (checked.name === name) return;
    setSending(true);
    setError(null);
    setSaved(false);
    const problem = await onRename(checked.name);
    setSending(false);
    if (problem) setError(problem.message);
    else setSaved(true);
  };

  return (
    <form aria-label="Display name" noValidate onSubmit={(e) => void submit(e)} className="space-y-3">
      <Field
        label="Display name"
        name="name"
        autoComplete="nickname"
        maxLength={64}
        value={value}
        onChange={(e) => {
          setValue(e.target.value);
          setError(null);
          setSaved(false);
        }}
        hint="Unique: no other account can have it. Everyone in your rooms sees the new name."
        error={error}
      />
      <div className="flex items-center justify-end gap-3">
        <span role="status" className="text-sm text-emerald-700 dark:text-emerald-300">
          {saved ? 'Saved.' : ''}
        </span>
        <button
          type="submit"
          disabled={sending || value.trim() === name}
          className="rounded-lg bg-indigo-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600 disabled:cursor-not-allowed disabled:opacity-60"
        >
          {sending ? 'Saving…' : 'Save'}
        </button>
      </div>
    </form>
  );
}
