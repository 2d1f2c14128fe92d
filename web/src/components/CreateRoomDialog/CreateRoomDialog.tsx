import { useId, useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import type { Person } from '../../core/chat';
import { MAX_TITLE_CHARS, MAX_TOPIC_CHARS } from '../../core/rooms-api';
import { useChatClient } from '../../hooks/use-chat';
import { Avatar } from '../Avatar';
import { Dialog } from '../Dialog';
import { Field } from '../Field';
import { Icon } from '../Icon';

/**
 * "New private room": a title, a topic, and who is in it — picked from the
 * people you have seen (online in your rooms, writing in them), or added by
 * their account's name. You are its owner. `onCreated` gets the new room.
 */
export function CreateRoomDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (room: string) => void }) {
  const client = useChatClient();
  const seen = useMemo(() => client.knownPeople(), [client]);
  const [added, setAdded] = useState<Person[]>([]);
  const [picked, setPicked] = useState<ReadonlySet<string>>(new Set());
  const [title, setTitle] = useState('');
  const [topic, setTopic] = useState('');
  const [byName, setByName] = useState('');
  const [lookupError, setLookupError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [titleError, setTitleError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [looking, setLooking] = useState(false);
  const titleInput = useRef<HTMLInputElement>(null);
  const lookupId = useId();
  const people = useMemo(() => {
    const all = new Map(seen.map((p) => [p.user_id, p]));
    for (const p of added) all.set(p.user_id, p);
    return [...all.values()];
  }, [seen, added]);

  const toggle = (userId: string) =>
    setPicked((current) => {
      const next = new Set(current);
      if (next.has(userId)) next.delete(userId);
      else next.add(userId);
      return next;
    });

  const addByName = async () => {
    if (!byName.trim() || looking) return;
    setLooking(true);
    setLookupError(null);
    const found = await client.lookupUser(byName);
    setLooking(false);
    if (!found.ok) {
      setLookupError(found.error);
      return;
    }
    setAdded((list) => (list.some((p) => p.user_id === found.user.user_id) ? list : [...list, found.user]));
    setPicked((current) => new Set(current).add(found.user.user_id));
    setByName('');
  };

  const onNameKey = (e: KeyboardEvent<HTMLInputElement>) => {
    // Enter adds the person: the room is created with its own button.
    if (e.key === 'Enter') {
      e.preventDefault();
      void addByName();
    }
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    if (!title.trim()) {
      setTitleError('Give the room a title.');
      titleInput.current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    const result = await client.createPrivateRoom({ title, topic, members: [...picked] });
    setBusy(false);
    if (result.ok) onCreated(result.room);
    else setError(result.error);
  };

  return (
    <Dialog
      title="New private room"
      description="Only the people in it can see it or read it. You can add more people later."
      onClose={onClose}
      initialFocus={titleInput}
      wide
      testId="create-room-dialog"
    >
      <form aria-label="New private room" onSubmit={(e) => void submit(e)} className="mt-5 space-y-4">
        <Field
          label="Title"
          value={title}
          inputRef={titleInput}
          maxLength={MAX_TITLE_CHARS}
          required
          placeholder="e.g. Launch plans"
          error={titleError}
          onChange={(e) => {
            setTitle(e.target.value);
            setTitleError(null);
          }}
        />
        <Field
          label="Topic (optional)"
          value={topic}
          maxLength={MAX_TOPIC_CHARS}
          placeholder="What is it for?"
          onChange={(e) => setTopic(e.target.value)}
        />
        <fieldset>
          <legend className="text-sm font-medium text-zinc-700 dark:text-zinc-300">Members</legend>
          {people.length === 0 ? (
            <p className="mt-1.5 text-sm text-zinc-500 dark:text-zinc-400">
              Nobody you have met yet: add people by their name below.
            </p>
          ) : (
            <ul className="mt-1.5 max-h-48 space-y-0.5 overflow-y-auto rounded-lg ring-1 ring-zinc-200 dark:ring-zinc-700">
              {people.map((p) => (
                <li key={p.user_id}>
                  <label className="flex cursor-pointer items-center gap-2.5 px-3 py-1.5 text-sm hover:bg-zinc-50 dark:hover:bg-zinc-800/60">
                    <input
                      type="checkbox"
                      checked={picked.has(p.user_id)}
                      onChange={() => toggle(p.user_id)}
                      className="size-4 rounded accent-indigo-600"
                    />
                    <Avatar name={p.name} userId={p.user_id} size="sm" />
                    <span className="min-w-0 flex-1 truncate text-zinc-800 dark:text-zinc-200">{p.name}</span>
                  </label>
                </li>
              ))}
            </ul>
          )}
          <div className="mt-2 flex gap-2">
            <input
              value={byName}
              onChange={(e) => {
                setByName(e.target.value);
                setLookupError(null);
              }}
              onKeyDown={onNameKey}
              aria-label="Add someone by name"
              aria-invalid={lookupError ? true : undefined}
              aria-describedby={lookupError ? lookupId : undefined}
              placeholder="Add someone by their name"
              className="block min-w-0 flex-1 rounded-lg border-0 bg-white px-3 py-1.5 text-sm text-zinc-900 shadow-sm ring-1 ring-zinc-300 ring-inset placeholder:text-zinc-500 focus:ring-2 focus:ring-indigo-600 focus:outline-none dark:bg-zinc-800 dark:text-zinc-50 dark:ring-zinc-700"
            />
            <button
              type="button"
              onClick={() => void addByName()}
              disabled={looking || !byName.trim()}
              className="inline-flex items-center gap-1.5 rounded-lg px-3 py-1.5 text-sm font-medium text-zinc-700 ring-1 ring-zinc-300 hover:bg-zinc-50 disabled:opacity-50 dark:text-zinc-200 dark:ring-zinc-700 dark:hover:bg-zinc-800"
            >
              <Icon name="userPlus" className="size-4" />
              Add
            </button>
          </div>
          {lookupError && (
            <p id={lookupId} role="alert" className="mt-1.5 text-sm text-rose-600 dark:text-rose-400">
              {lookupError}
            </p>
          )}
        </fieldset>
        {error && (
          <p
            role="alert"
            className="rounded-lg bg-rose-50 px-3 py-2 text-sm text-rose-800 dark:bg-rose-500/10 dark:text-rose-200"
          >
            {error}
          </p>
        )}
        <div className="flex justify-end gap-2 pt-1">
          <button
            type="button"
            onClick={onClose}
            className="rounded-lg px-3.5 py-2 text-sm font-medium text-zinc-700 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800"
          >
            Cancel
          </button>
          <button
            type="submit"
            disabled={busy}
            className="inline-flex items-center gap-1.5 rounded-lg bg-indigo-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 disabled:opacity-60"
          >
            <Icon name="lock" className="size-4" />
            {busy ? 'Creating…' : 'Create room'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
