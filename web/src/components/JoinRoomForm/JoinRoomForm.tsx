import { useId, useState, type FormEvent } from 'react';
import { normalizeRoomName } from '../../core/protocol';
import { Icon } from '../Icon';

/** "Join or create a room": a name like `random` or `acme/general`. */
export function JoinRoomForm({ onJoin }: { onJoin: (room: string) => void }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  const errorId = useId();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!value.trim()) return;
    const room = normalizeRoomName(value);
    if (!room) {
      setError('Use a–z, 0–9, - and _, with one optional / (acme/general).');
      return;
    }
    setValue('');
    setError(null);
    onJoin(room);
  };

  return (
    <form onSubmit={submit} className="px-3">
      <div className="relative">
        <Icon
          name="plus"
          className="pointer-events-none absolute top-1/2 left-2.5 size-4 -translate-y-1/2 text-zinc-500 dark:text-zinc-400"
        />
        <input
          value={value}
          onChange={(e) => {
            setValue(e.target.value);
            setError(null);
          }}
          aria-label="Join or create a room"
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? errorId : undefined}
          placeholder="Join or create a room"
          className="block w-full rounded-lg border-0 bg-white py-1.5 pr-2 pl-8 text-sm text-zinc-900 shadow-sm ring-1 ring-zinc-200 ring-inset placeholder:text-zinc-500 focus:ring-2 focus:ring-indigo-500 focus:outline-none dark:bg-zinc-800/70 dark:text-zinc-100 dark:ring-zinc-700/60 dark:placeholder:text-zinc-400"
        />
      </div>
      {error && (
        <p id={errorId} role="alert" className="mt-1.5 text-xs text-rose-600 dark:text-rose-400">
          {error}
        </p>
      )}
    </form>
  );
}
