import { expect, test } from '@playwright/test';
import {
  accountMenu,
  expectOnline,
  join,
  messagesWithText,
  presence,
  screenshot,
  send,
  signIn,
  signUp,
  storedIdentity,
  welcomesOf,
} from './helpers';
import { WhisperServer } from './server';

let server: WhisperServer;

test.beforeAll(async () => {
  server = await WhisperServer.start();
});

test.afterAll(async () => {
  await server?.stop();
});

test('one account on two devices: the same name, history and user id; revoking one signs it out', async ({
  browser,
}) => {
  const ada = { name: 'Ada Lovelace', email: 'ada@example.com', password: 'analytical engine 1843' };

  // The laptop signs up straight away: no guest first.
  const laptop = await browser.newContext({ baseURL: server.url });
  const one = await laptop.newPage();
  await one.goto('/signup');
  await signUp(one, ada);
  await expect(one).toHaveURL(/\/chat\/lobby$/);
  await send(one, 'Posted from the laptop');
  await expect(messagesWithText(one, 'Posted from the laptop')).toHaveAttribute('data-status', 'sent');
  // Signed in, the client keeps no token of its own: the session is the HttpOnly cookie.
  expect((await storedIdentity(one)).token ?? null).toBeNull();
  expect((await laptop.cookies()).find((c) => c.name === 'whisper_session')?.httpOnly).toBe(true);

  // The phone signs in with the same email and password.
  const phone = await browser.newContext({ baseURL: server.url });
  const two = await phone.newPage();
  await signIn(two, ada);
  await expect(two).toHaveURL(/\/chat\/lobby$/);
  await expect(two.getByTestId('my-name')).toHaveText('Ada Lovelace');
  const message = messagesWithText(two, 'Posted from the laptop');
  await expect(message).toHaveCount(1);
  await expect(message).toHaveAttribute('data-own', 'true');
  await expect(message.getByTestId('message-author')).toHaveText('Ada Lovelace');
  // An account's name is the verified look: no tag.
  await expect(message.getByTestId('principal-tag')).toHaveCount(0);
  // The server took both connections for the same user (the sockets are the SharedWorkers' of each browser).
  await expect.poll(async () => (await welcomesOf(two)).length).toBeGreaterThan(0);
  const oneWelcomes = await welcomesOf(one);
  const twoWelcomes = await welcomesOf(two);
  expect(oneWelcomes[0]).toMatch(/^[0-9a-f-]{36}$/);
  expect(new Set([...oneWelcomes, ...twoWelcomes])).toEqual(new Set([oneWelcomes[0]]));

  // The phone sees both devices and revokes the laptop.
  await accountMenu(two, 'Ada Lovelace').click();
  await expect(two.getByRole('heading', { name: 'Signed in on 2 devices' })).toBeVisible();
  await expect(two.getByTestId('device').filter({ hasText: 'This device' })).toHaveCount(1);
  await screenshot(two, 'account-devices');
  await two
    .getByTestId('device')
    .filter({ hasNotText: 'This device' })
    .getByRole('button', { name: /^Revoke/ })
    .click();
  await expect(two.getByRole('heading', { name: 'Signed in on 1 device' })).toBeVisible();

  // The laptop is told at once (its socket closes with 4001), and is a guest again.
  await expect(one.getByRole('alert').filter({ hasText: 'You were signed out' })).toBeVisible();
  await expect(one.getByRole('link', { name: 'Sign in', exact: true })).toBeVisible();
  await expect(accountMenu(one, 'Ada Lovelace')).toHaveCount(0);
  await expect(one.getByRole('dialog', { name: 'Welcome to WhisperChat' })).toBeVisible();
  await screenshot(one, 'signed-out');
  // For good: a reload finds no session either.
  await one.reload();
  await expect(one.getByRole('dialog', { name: 'Welcome to WhisperChat' })).toBeVisible();
  await expect(accountMenu(one, 'Ada Lovelace')).toHaveCount(0);

  // The phone is still signed in, and still chats.
  await two.goto('/chat/lobby');
  await expectOnline(two);
  await send(two, 'Still here on the phone');
  await expect(messagesWithText(two, 'Still here on the phone')).toHaveAttribute('data-status', 'sent');
  await laptop.close();
  await phone.close();
});

test('a guest who posts, then creates an account, keeps its message as its own', async ({ browser }) => {
  const grace = await join(browser, server.url, 'Grace Hopper');
  await send(grace.page, 'Posted as a guest');
  await expect(messagesWithText(grace.page, 'Posted as a guest')).toHaveAttribute('data-status', 'sent');
  const guest = await storedIdentity(grace.page);
  expect(guest.userId).toMatch(/^[0-9a-f-]{36}$/);

  await grace.page.getByRole('link', { name: 'Create account' }).click();
  await expect(
    grace.page.getByRole('form', { name: 'Create an account' }).getByLabel('Display name', { exact: true }),
  ).toHaveValue('Grace Hopper');
  await signUp(grace.page, { name: 'Grace Hopper', email: 'grace@example.com', password: 'compiler pioneer 1952' });
  await expect(grace.page).toHaveURL(/\/chat\/lobby$/);

  // The account is the guest: the same user id, so the message is still its own.
  await expect(messagesWithText(grace.page, 'Posted as a guest')).toHaveAttribute('data-own', 'true');
  await expect.poll(async () => (await welcomesOf(grace.page)).at(-1)).toBe(guest.userId);
  // No guest is left in this browser to come back to.
  expect(await storedIdentity(grace.page)).toEqual({});

  // After a reload too (the cookie says who it is), and to someone else.
  await grace.page.reload();
  await expectOnline(grace.page);
  await expect(accountMenu(grace.page, 'Grace Hopper')).toBeVisible();
  await expect(messagesWithText(grace.page, 'Posted as a guest')).toHaveAttribute('data-own', 'true');
  await send(grace.page, 'Posted with the account');
  await expect(messagesWithText(grace.page, 'Posted with the account')).toHaveAttribute('data-status', 'sent');
  const bob = await join(browser, server.url, 'Bob');
  await expect(messagesWithText(bob.page, 'Posted as a guest').getByTestId('message-author')).toHaveText(
    'Grace Hopper',
  );
  await expect(messagesWithText(bob.page, 'Posted as a guest')).not.toHaveAttribute('data-own', 'true');
  // Each message says who posted it then: as a guest (a name anyone could pick), then as the account.
  await expect(messagesWithText(bob.page, 'Posted as a guest').getByTestId('principal-tag')).toHaveText('guest');
  await expect(messagesWithText(bob.page, 'Posted with the account').getByTestId('message-author')).toHaveText(
    'Grace Hopper',
  );
  await expect(messagesWithText(bob.page, 'Posted with the account').getByTestId('principal-tag')).toHaveCount(0);
  // And who is online: Bob a guest, Grace the account.
  await expect(presence(bob.page).getByRole('listitem').filter({ hasText: 'Bob' })).toContainText('guest');
  await expect(presence(bob.page).getByRole('listitem').filter({ hasText: 'Grace Hopper' })).not.toContainText('guest');
  await grace.context.close();
  await bob.context.close();
});
