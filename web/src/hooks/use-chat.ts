/**
 * React bindings of the chat core: the client in a context, and subscriptions to
 * its snapshot through `useSyncExternalStore` — whole, one part (`useChatSelector`)
 * or one room (`useRoom`), so a component re-renders only for what it shows.
 */
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

/**
 * One part of the snapshot; re-renders only when `select` returns another value
 * (`Object.is`). `select` must return a part of the snapshot or a primitive, never
 * a new object: the snapshot keeps every part that did not change the same object.
 */
export function useChatSelector<T>(select: (snapshot: ChatSnapshot) => T): T {
  const client = useChatClient();
  const get = () => select(client.getSnapshot());
  return useSyncExternalStore(client.subscribe, get, get);
}

/**
 * One room's view, or `undefined` before it exists. A change in another room
 * leaves this room's view the same object, so it does not re-render.
 */
export function useRoom(room: string | null): RoomView | undefined {
  return useChatSelector((s) => (room ? s.rooms[room] : undefined));
}
