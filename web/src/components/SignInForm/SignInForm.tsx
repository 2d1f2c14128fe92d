import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import type { AccountProblem } from '../../core/chat';
import { AuthForm } from '../AuthForm';
import { Field } from '../Field';

/**
 * Signs in with email and password. The server's sentence shows where it
 * belongs: under a field, or above the button.
 */
export function SignInForm({
  onSubmit,
  footer,
}: {
  onSubmit: (input: { email: string; password: string }) => Promise<AccountProblem | null>;
  /** Below the button: the way to create an account instead. */
  footer?: ReactNode;
}) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [sending, setSending] = useState(false);
  const [problem, setProblem] = useState<AccountProblem | null>(null);
  const emailInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    emailInput.current?.focus();
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (sending) return;
    const missing = !email.trim() ? 'email' : !password ? 'password' : null;
    if (missing) {
      setProblem({ code: 'invalid_request', field: missing, message: `Enter your ${missing}.` });
      return;
    }
    setSending(true);
    setProblem(null);
    const result = await onSubmit({ email: email.trim(), password });
    setSending(false);
    setProblem(result);
  };

  const errorFor = (field: 'email' | 'password') => (problem?.field === field ? problem.message : null);
  const clear = (field: 'email' | 'password') => {
    if (problem?.field === field) setProblem(null);
  };
  // Anything not about a field of this form is about the form.
  const formError = problem && problem.field !== 'email' && problem.field !== 'password' ? problem.message : null;

  return (
    <AuthForm
      title="Sign in"
      description="Your name, rooms and messages, on every device you sign in on."
      submitLabel="Sign in"
      sendingLabel="Signing in…"
      sending={sending}
      formError={formError}
      onSubmit={(e) => void submit(e)}
      footer={footer}
    >
      <Field
        label="Email"
        inputRef={emailInput}
        type="email"
        name="email"
        autoComplete="email"
        inputMode="email"
        value={email}
        onChange={(e) => {
          setEmail(e.target.value);
          clear('email');
        }}
        error={errorFor('email')}
      />
      <Field
        label="Password"
        type="password"
        name="password"
        autoComplete="current-password"
        value={password}
        onChange={(e) => {
          setPassword(e.target.value);
          clear('password');
        }}
        error={errorFor('password')}
      />
    </AuthForm>
  );
}
