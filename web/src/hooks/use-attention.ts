/**
 * React bindings of `Attention` (src/core/attention.ts): one per app, made for
 * the chat client of `ChatProvider` above it, watching while mounted; a click
 * on a notification opens its room.
 */
import {
  createContext,
  createElement,
  useContext,
  useEffect,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from 'react';
import { useNavigate } from 'react-router';
import { Attention, type AttentionEnv, type AttentionState } from '../core/attention';
import { browserKeyValue, type KeyValue } from '../core/prefs';
import { browserAttentionEnv } from '../lib/attention-env';
import { useChatClient } from './use-chat';

const AttentionContext = createContext<Attention | null>(null);

export function AttentionProvider({
  env,
  kv,
  children,
}: {
  /** The page's side (tests give their own); the browser's by default. */
  env?: AttentionEnv;
  kv?: KeyValue;
  children: ReactNode;
}) {
  const client = useChatClient();
  const navigate = useNavigate();
  const [attention] = useState(() => new Attention(client, env ?? browserAttentionEnv(), kv ?? browserKeyValue()));
  useEffect(() => attention.start((room) => void navigate(`/chat/${room}`)), [attention, navigate]);
  return createElement(AttentionContext.Provider, { value: attention }, children);
}

export function useAttention(): Attention {
  const attention = useContext(AttentionContext);
  if (!attention) throw new Error('useAttention must be used inside <AttentionProvider>');
  return attention;
}

/** The attention state (permission, prefs, muted rooms, what arrived while hidden); re-renders on change. */
export function useAttentionState(): AttentionState {
  const attention = useAttention();
  return useSyncExternalStore(attention.subscribe, attention.getState, attention.getState);
}
