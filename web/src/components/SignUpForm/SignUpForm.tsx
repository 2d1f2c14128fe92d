import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { PASSWORD_RULE, checkPassword } from '../../core/accounts';
import type { AccountField, AccountProblem } from '../../core/chat';
import { checkDisplayName } from '../../core/protocol';
import { AuthForm } from '../AuthForm';
import { Field } from '../Field';

/**
 * Creates an account: a name (unique among accounts), an email and a new
 * password, with the password rule under its field. The rules the client
 * knows are checked before sending; the server's refusals show where they
 * belong. A guest's name is the first guess, and the guest is told its
 * messages stay its own.
 */
export function SignUpForm({
  initialName = '',
  keepsGuest = false,
  onSubmit,
  footer,
}: {
  initialName?: string;
  /** A guest signs up: the account keeps its user id, and so its messages. */
  keepsGuest?: boolean;
  onSubmit: (input: { name: string; email: string; password: string }) => Promise<AccountProblem | null>;
  /** Below the button: the way to sign in instead. */
  footer?: ReactNode;
}) {
  const [name, setName] = useState(initialName);
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [sending, setSending] = useState(false);
  const [problem, setProblem] = useState<AccountProblem | null>(null);
  const nameInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    nameInput.current?.focus();
  }, []);

  const fail = (field: AccountField, message: string) => setProblem({ code: 'invalid_request', field, message });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (sending) return;
    const checkedName = checkDisplayName(name);
    if (!checkedName.ok) return fail('name', checkedName.reason);
    if (!/^[^\s@]+@[^\s@]+$/.test(email.trim())) return fail('email', 'Enter your email address.');
    const weak = checkPassword(password, { email, name: checkedName.name });
    if (weak) return fail('password', weak);
    setSending(true);
    setProblem(null);
    const result = await onSubmit({ name: checkedName.name, email: email.trim(), password });
    setSending(false);
    setProblem(result);
  };

  const errorFor = (field: AccountField) => (problem?.field === field ? problem.message : null);
  const clear = (field: AccountField) => {
    if (problem?.field === field) setProblem(null);
  };

  return (
    <AuthForm
      title="Create an account"
      description={
        keepsGuest
          ? 'Keep your name, and sign in on any device. What you posted as a guest stays yours.'
          : 'Keep your name, and sign in on any device.'
      }
      submitLabel="Create account"
      sendingLabel="Creating account…"
      sending={sending}
      formError={problem && problem.field === null ? problem.message : null}
      onSubmit={(e) => void submit(e)}
      footer={footer}
    >
      <Field
        label="Display name"
        inputRef={nameInput}
        name="name"
        autoComplete="nickname"
        maxLength={64}
        value={name}
        onChange={(e) => {
          setName(e.target.value);
          clear('name');
        }}
        hint="Unique: no other account can have it."
        error={errorFor('name')}
      />
      <Field
        label="Email"
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
        name="new-password"
        autoComplete="new-password"
        value={password}
        onChange={(e) => {
          setPassword(e.target.value);
          clear('password');
        }}
        hint={PASSWORD_RULE}
        error={errorFor('password')}
      />
    </AuthForm>
  );
}
