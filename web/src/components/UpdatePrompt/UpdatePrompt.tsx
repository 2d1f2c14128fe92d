import { useState, useSyncExternalStore } from 'react';
import { appUpdate } from '../../lib/app-update';
import { Icon } from '../Icon';

/**
 * "Update available — Reload": a new version of the app is installed and
 * waits. Reload switches to it (the new service worker takes over and the page
 * reloads); Later hides the prompt, and the new version starts with the next
 * visit. Announced politely; never takes the focus.
 */
export function UpdatePrompt() {
  const { needRefresh } = useSyncExternalStore(appUpdate.subscribe, appUpdate.getState, appUpdate.getState);
  const [reloading, setReloading] = useState(false);
  return (
    <div role="status" aria-live="polite" className="contents">
      {needRefresh && (
        <div
          data-testid="update-prompt"
          className="fixed right-4 bottom-20 left-4 z-[70] flex items-center gap-3 rounded-xl bg-zinc-900 px-4 py-3 text-sm text-white shadow-2xl ring-1 ring-white/10 sm:left-auto sm:w-96 md:bottom-4 dark:bg-zinc-800"
        >
          <Icon name="refresh" className="size-5 shrink-0 text-indigo-300" />
          <p className="min-w-0 flex-1">
            <span className="font-semibold">Update available.</span>{' '}
            <span className="text-zinc-300">A new version of WhisperChat is ready.</span>
          </p>
          <button
            type="button"
            onClick={() => appUpdate.dismiss()}
            className="rounded-lg px-2 py-1.5 font-medium text-zinc-300 hover:bg-white/10 hover:text-white"
          >
            Later
          </button>
          <button
            type="button"
            disabled={reloading}
            onClick={() => {
              setReloading(true);
              void appUpdate.reload();
            }}
            className="rounded-lg bg-indigo-600 px-3 py-1.5 font-semibold text-white shadow-sm hover:bg-indigo-500 disabled:opacity-70"
          >
            {reloading ? 'Reloading…' : 'Reload'}
          </button>
        </div>
      )}
    </div>
  );
}
