import { Navigate, Route, Routes } from 'react-router';
import { AppShell } from './components/AppShell';
import type { AttentionEnv } from './core/attention';
import type { ChatClient } from './core/chat';
import { AttentionProvider } from './hooks/use-attention';
import { ChatProvider, useChatSelector } from './hooks/use-chat';
import { Account } from './pages/Account';
import { Home } from './pages/Home';
import { NotFound } from './pages/NotFound';
import { SignIn } from './pages/SignIn';
import { SignUp } from './pages/SignUp';
import { WhisperChat } from './pages/WhisperChat';

/**
 * The routes, under the app shell. The router itself comes from the caller
 * (browser or memory); `attentionEnv` is the page's side of notifications (the
 * browser's unless a test gives its own).
 */
export function App({ client, attentionEnv }: { client: ChatClient; attentionEnv?: AttentionEnv }) {
  return (
    <ChatProvider client={client}>
      <AttentionProvider {...(attentionEnv ? { env: attentionEnv } : {})}>
        <Routes>
          <Route element={<AppShell />}>
            <Route index element={<Home />} />
            <Route path="chat" element={<ChatIndex />} />
            <Route path="chat/*" element={<WhisperChat />} />
            <Route path="signin" element={<SignIn />} />
            <Route path="signup" element={<SignUp />} />
            <Route path="account" element={<Account />} />
            <Route path="*" element={<NotFound />} />
          </Route>
        </Routes>
      </AttentionProvider>
    </ChatProvider>
  );
}

/** `/chat` opens the room you were in, or the first one. */
function ChatIndex() {
  const room = useChatSelector((s) => s.currentRoom ?? s.myRooms[0] ?? 'lobby');
  return <Navigate to={`/chat/${room}`} replace />;
}
