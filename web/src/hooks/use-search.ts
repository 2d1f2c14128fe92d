/**
 * A search box's searches (`SearchSession`, core/search.ts) for as long as the
 * component that shows them: made from the chat client once, rendered through
 * `useSyncExternalStore`, stopped when it goes.
 */
import { useEffect, useState, useSyncExternalStore } from 'react';
import type { SearchSession, SearchState } from '../core/search';
import { useChatClient } from './use-chat';

export function useSearch(): [SearchState, SearchSession] {
  const client = useChatClient();
  const [session] = useState(() => client.createSearch());
  // Stopping leaves it usable: StrictMode's second mount goes on with it.
  useEffect(() => () => session.dispose(), [session]);
  const state = useSyncExternalStore(session.subscribe, session.getSnapshot, session.getSnapshot);
  return [state, session];
}
