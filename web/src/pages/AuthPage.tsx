import { useCallback, useState, type ReactNode } from 'react';
import { useNavigate } from 'react-router';
import type { AccountProblem } from '../core/chat';
import { useChatSelector } from '../hooks/use-chat';

/** The frame of the sign-in and sign-up pages: the form centred, scrolling on a small screen. */
export function AuthPage({ children }: { children: ReactNode }) {
  return (
    <div className="min-h-0 flex-1 overflow-y-auto bg-zinc-50 dark:bg-zinc-950/60">
      <div className="flex min-h-full items-start justify-center px-4 py-8 sm:items-center sm:py-12">{children}</div>
    </div>
  );
}

/**
 * What the sign-in and sign-up pages do with their form: send it, and on
 * success go to the chat. `alreadySignedIn` is true for someone who came to
 * the page signed in (they are sent to their account page instead); signing
 * in here does not count, so the page is not left for the wrong place.
 */
export function useAuthSubmit<Input>(send: (input: Input) => Promise<AccountProblem | null>) {
  const navigate = useNavigate();
  const signedIn = useChatSelector((s) => s.account !== null);
  const [busy, setBusy] = useState(false);
  const submit = useCallback(
    async (input: Input) => {
      setBusy(true);
      const problem = await send(input);
      if (problem) setBusy(false);
      else void navigate('/chat');
      return problem;
    },
    [send, navigate],
  );
  return { submit, alreadySignedIn: signedIn && !busy };
}
