import { useCallback } from 'react';
import { Link, Navigate } from 'react-router';
import { SignInForm } from '../components/SignInForm';
import { useChatClient } from '../hooks/use-chat';
import { AuthPage, useAuthSubmit } from './AuthPage';

/** `/signin`: sign in to an account; then back to the chat as that account. */
export function SignIn() {
  const client = useChatClient();
  const { submit, alreadySignedIn } = useAuthSubmit(
    useCallback((input: { email: string; password: string }) => client.signIn(input), [client]),
  );
  if (alreadySignedIn) return <Navigate to="/account" replace />;
  return (
    <AuthPage>
      <SignInForm
        onSubmit={submit}
        footer={
          <>
            New here?{' '}
            <Link to="/signup" className="font-semibold text-indigo-600 hover:underline dark:text-indigo-400">
              Create an account
            </Link>
          </>
        }
      />
    </AuthPage>
  );
}
