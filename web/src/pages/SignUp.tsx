import { useCallback } from 'react';
import { Link, Navigate } from 'react-router';
import { SignUpForm } from '../components/SignUpForm';
import { useChatClient, useChatSelector } from '../hooks/use-chat';
import { AuthPage, useAuthSubmit } from './AuthPage';

/**
 * `/signup`: create an account. A guest's name is the first guess, and its
 * token goes along, so the account keeps what the guest posted.
 */
export function SignUp() {
  const client = useChatClient();
  const guestName = useChatSelector((s) => s.identity.name);
  const keepsGuest = useChatSelector((s) => s.account === null && Boolean(s.identity.token));
  const { submit, alreadySignedIn } = useAuthSubmit(
    useCallback((input: { name: string; email: string; password: string }) => client.register(input), [client]),
  );
  if (alreadySignedIn) return <Navigate to="/account" replace />;
  return (
    <AuthPage>
      <SignUpForm
        initialName={guestName ?? ''}
        keepsGuest={keepsGuest}
        onSubmit={submit}
        footer={
          <>
            Have an account?{' '}
            <Link to="/signin" className="font-semibold text-indigo-600 hover:underline dark:text-indigo-400">
              Sign in
            </Link>
          </>
        }
      />
    </AuthPage>
  );
}
