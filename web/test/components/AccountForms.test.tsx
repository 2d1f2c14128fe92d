import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { SignInForm } from '../../src/components/SignInForm';
import { SignUpForm } from '../../src/components/SignUpForm';
import type { AccountProblem } from '../../src/core/chat';

/** A submit handler that stays pending until `answer` is called. */
function pending() {
  let answer: (problem: AccountProblem | null) => void = () => {};
  const onSubmit = vi.fn(
    () =>
      new Promise<AccountProblem | null>((resolve) => {
        answer = resolve;
      }),
  );
  return { onSubmit, answer: (problem: AccountProblem | null) => answer(problem) };
}

describe('SignInForm', () => {
  it('has labelled inputs with autocomplete, and waits with the button disabled while signing in', async () => {
    const { onSubmit, answer } = pending();
    render(<SignInForm onSubmit={onSubmit} />);
    const form = screen.getByRole('form', { name: 'Sign in' });
    const email = screen.getByLabelText('Email');
    const password = screen.getByLabelText('Password');
    expect(email).toHaveAttribute('type', 'email');
    expect(email).toHaveAttribute('autocomplete', 'email');
    expect(password).toHaveAttribute('type', 'password');
    expect(password).toHaveAttribute('autocomplete', 'current-password');
    expect(email).toHaveFocus();

    const user = userEvent.setup();
    await user.type(email, ' ada@example.com ');
    await user.type(password, 'analytical engine{Enter}');
    expect(onSubmit).toHaveBeenCalledWith({ email: 'ada@example.com', password: 'analytical engine' });
    const button = screen.getByRole('button', { name: 'Signing in…' });
    expect(button).toBeDisabled();
    await user.click(button);
    await user.type(password, '{Enter}');
    expect(onSubmit).toHaveBeenCalledTimes(1);

    answer({ code: 'invalid_credentials', field: null, message: 'The email or the password is wrong.' });
    expect(await screen.findByRole('alert')).toHaveTextContent('The email or the password is wrong.');
    expect(screen.getByRole('button', { name: 'Sign in' })).toBeEnabled();
    expect(form).toBeInTheDocument();
  });

  it('says what is missing under the field, without sending', async () => {
    const onSubmit = vi.fn(async () => null);
    render(<SignInForm onSubmit={onSubmit} />);
    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(screen.getByLabelText('Email')).toHaveAccessibleDescription('Enter your email.');
    expect(screen.getByLabelText('Email')).toBeInvalid();
    await user.type(screen.getByLabelText('Email'), 'ada@example.com{Enter}');
    expect(screen.getByLabelText('Password')).toHaveAccessibleDescription('Enter your password.');
    expect(onSubmit).not.toHaveBeenCalled();
  });

  it('shows a rate limit with how long to wait', async () => {
    const onSubmit = vi.fn(async () => ({
      code: 'rate_limited',
      field: null,
      message: 'Too many attempts. Try again in 30 seconds.',
    }));
    render(<SignInForm onSubmit={onSubmit} footer={<a href="/signup">Create an account</a>} />);
    const user = userEvent.setup();
    await user.type(screen.getByLabelText('Email'), 'ada@example.com');
    await user.type(screen.getByLabelText('Password'), 'whatever1234{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent('Try again in 30 seconds.');
    expect(screen.getByRole('link', { name: 'Create an account' })).toBeInTheDocument();
  });
});

describe('SignUpForm', () => {
  it('shows the password rule under the field, with new-password autocomplete', () => {
    render(<SignUpForm onSubmit={vi.fn(async () => null)} />);
    expect(screen.getByRole('form', { name: 'Create an account' })).toBeInTheDocument();
    const password = screen.getByLabelText('Password');
    expect(password).toHaveAttribute('autocomplete', 'new-password');
    expect(password).toHaveAccessibleDescription('At least 10 characters, and not your email or name.');
    expect(screen.getByLabelText('Email')).toHaveAttribute('autocomplete', 'email');
    expect(screen.getByLabelText('Display name')).toHaveAttribute('autocomplete', 'nickname');
    expect(screen.getByLabelText('Display name')).toHaveFocus();
  });

  it('checks the rules it knows before sending: the name, the email, the password', async () => {
    const onSubmit = vi.fn(async () => null);
    render(<SignUpForm onSubmit={onSubmit} />);
    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: 'Create account' }));
    expect(screen.getByLabelText('Display name')).toHaveAccessibleDescription(/Enter a name\./);
    await user.type(screen.getByLabelText('Display name'), 'Ada');
    await user.type(screen.getByLabelText('Email'), 'not an email{Enter}');
    expect(screen.getByLabelText('Email')).toHaveAccessibleDescription('Enter your email address.');
    await user.clear(screen.getByLabelText('Email'));
    await user.type(screen.getByLabelText('Email'), 'ada@example.com');
    await user.type(screen.getByLabelText('Password'), 'short{Enter}');
    expect(screen.getByLabelText('Password')).toHaveAccessibleDescription(
      'Use at least 10 characters. At least 10 characters, and not your email or name.',
    );
    await user.clear(screen.getByLabelText('Password'));
    await user.type(screen.getByLabelText('Password'), 'ada@example.com{Enter}');
    expect(screen.getByLabelText('Password')).toHaveAccessibleDescription(/Do not use your email/);
    expect(onSubmit).not.toHaveBeenCalled();
  });

  it('sends, waits with the button disabled, and shows a taken name under the name field', async () => {
    const { onSubmit, answer } = pending();
    render(<SignUpForm initialName="Guesty" keepsGuest onSubmit={onSubmit} />);
    expect(screen.getByText(/What you posted as a guest stays yours/)).toBeInTheDocument();
    expect(screen.getByLabelText('Display name')).toHaveValue('Guesty');
    const user = userEvent.setup();
    await user.type(screen.getByLabelText('Email'), 'ada@example.com');
    await user.type(screen.getByLabelText('Password'), 'analytical engine{Enter}');
    expect(onSubmit).toHaveBeenCalledWith({ name: 'Guesty', email: 'ada@example.com', password: 'analytical engine' });
    expect(screen.getByRole('button', { name: 'Creating account…' })).toBeDisabled();

    answer({ code: 'name_taken', field: 'name', message: 'An account has that name.' });
    await waitFor(() =>
      expect(screen.getByLabelText('Display name')).toHaveAccessibleDescription(/^An account has that name\./),
    );
    expect(screen.getByLabelText('Display name')).toBeInvalid();
    expect(screen.getByRole('button', { name: 'Create account' })).toBeEnabled();
    // Typing in the field clears what was said about it.
    await user.type(screen.getByLabelText('Display name'), '2');
    expect(screen.getByLabelText('Display name')).not.toBeInvalid();
  });

  it('shows an email taken under the email field, and a refusal about no field above the button', async () => {
    const answers: AccountProblem[] = [
      { code: 'email_taken', field: 'email', message: 'An account with that email exists.' },
      { code: 'network', field: null, message: 'Could not reach the server. Check your connection and try again.' },
    ];
    const onSubmit = vi.fn(async () => answers.shift() ?? null);
    render(<SignUpForm onSubmit={onSubmit} />);
    const user = userEvent.setup();
    await user.type(screen.getByLabelText('Display name'), 'Ada');
    await user.type(screen.getByLabelText('Email'), 'ada@example.com');
    await user.type(screen.getByLabelText('Password'), 'analytical engine{Enter}');
    await waitFor(() =>
      expect(screen.getByLabelText('Email')).toHaveAccessibleDescription('An account with that email exists.'),
    );
    await user.click(screen.getByRole('button', { name: 'Create account' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Could not reach the server.');
    expect(screen.getByLabelText('Email')).not.toBeInvalid();
  });
});
