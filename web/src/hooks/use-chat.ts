import { createContext, createElement, useContext, useSyncExternalStore, type ReactNode } from 'react';
import type { ChatClient, ChatSnapshot, RoomView } from '../core/chat';

const ChatContext = createContext<ChatClient | null>(null);

/** Makes `client` available to `useChatClient` and friends below it. */
export function ChatProvider({ client, children }: { client: ChatClient; children: ReactNode }) {
  return createElement(ChatContext.Provider, { value: client }, children);
}

export function useChatClient(): ChatClient {
  const client = useContext(ChatContext);
  if (!client) throw new Error('useChatClient must be used inside <ChatProvider>');
  return client;
}

/** The client's current snapshot; re-renders on every change. */
export function useChatSnapshot(): ChatSnapshot {
  const client = useChatClient();
  return useSyncExternalStore(client.subscribe, client.getSnapshot, client.getSnapshot);
}

/** One room's view, or `undefined` before it exists. */
export function useRoom(room: string | null): RoomView | undefined {
  const snapshot = useChatSnapshot();
  return room ? snapshot.rooms[room] : undefined;
}
