import { expect, test } from '@playwright/test';
import { composer, join, messagesWithText, presence, screenshot, send, type Person } from './helpers';
import { WhisperServer } from './server';

// One conversation, told in order: later tests continue with the people of the first.
test.describe.configure({ mode: 'serial' });

let server: WhisperServer;
const people: Person[] = [];

test.beforeAll(async () => {
  server = await WhisperServer.start();
});

test.afterAll(async () => {
  for (const p of people.splice(0)) await p.context.close();
  await server?.stop();
});

test('two people chat both ways, see each other online, and their messages reach "sent"', async ({ browser }) => {
  const ada = await join(browser, server.url, 'Ada Lovelace');
  const bob = await join(browser, server.url, 'Bob Kahn');
  people.push(ada, bob);

  for (const { page } of [ada, bob]) {
    await expect(presence(page).getByText('Ada Lovelace')).toBeVisible();
    await expect(presence(page).getByText('Bob Kahn')).toBeVisible();
    await expect(page.getByTestId('online-count')).toHaveText('2');
  }

  await send(ada.page, 'Hi Bob! Did the deploy go out?');
  const adaMessage = messagesWithText(ada.page, 'Hi Bob! Did the deploy go out?');
  await expect(adaMessage).toHaveAttribute('data-status', 'sent');
  await expect(adaMessage.getByTestId('message-status')).toHaveAttribute('title', /^Sent · id [0-9A-HJKMNP-TV-Z]{26}$/);
  await expect(messagesWithText(bob.page, 'Hi Bob! Did the deploy go out?')).toHaveCount(1);

  // The client runs whole under the server's CSP (no inline script, nothing from elsewhere).
  expect([...ada.blocked, ...bob.blocked]).toEqual([]);

  await send(bob.page, 'It did, about ten minutes ago.\nDashboards look green.');
  await expect(messagesWithText(ada.page, 'It did, about ten minutes ago.\nDashboards look green.')).toHaveCount(1);
  await expect(messagesWithText(bob.page, 'It did, about ten minutes ago.\nDashboards look green.')).toHaveAttribute(
    'data-status',
    'sent',
  );

  // Typing notices reach the other side (typed at a person's pace: the client
  // sends one notice per 2 s, and the server relays at most one per second).
  await composer(bob.page).pressSequentially('One more thing', { delay: 250 });
  await expect(ada.page.getByTestId('typing')).toHaveText('Bob Kahn (guest) is typing…');
  await composer(bob.page).press('Enter');
  await expect(messagesWithText(ada.page, 'One more thing')).toHaveCount(1);
});

test('HTML and script in a message are shown as text and run nothing', async () => {
  const [ada, bob] = people;
  if (!ada || !bob) throw new Error('the first test sets up Ada and Bob');
  const attack = '<img src=x onerror=alert(1)>';
  await send(ada.page, attack);
  await send(ada.page, '<script>alert("xss")</script><b>not bold</b>');
  for (const { page } of [ada, bob]) {
    await expect(messagesWithText(page, attack)).toHaveCount(1);
    await expect(messagesWithText(page, '<script>alert("xss")</script><b>not bold</b>')).toHaveCount(1);
    await expect(page.locator('img[src="x"]')).toHaveCount(0);
    await expect(page.getByTestId('message-content').locator('script, b, img')).toHaveCount(0);
  }
  // Give any injected handler every chance to have run: a round trip after it.
  await send(bob.page, 'checked');
  await expect(messagesWithText(ada.page, 'checked')).toHaveCount(1);
  expect(ada.dialogs).toEqual([]);
  expect(bob.dialogs).toEqual([]);
});

test('screenshots of the chat, light and dark, wide and narrow', async ({ browser }) => {
  const [ada, bob] = people;
  if (!ada || !bob) throw new Error('the first test sets up Ada and Bob');
  const grace = await join(browser, server.url, 'Grace Hopper', { colorScheme: 'dark' });
  people.push(grace);
  await send(bob.page, 'Welcome Grace 👋 we were just talking about the release.');
  await send(grace.page, 'Thanks! Happy to be here.');
  await send(ada.page, 'Release notes are in #acme/general, pinned at the top.');
  await send(ada.page, 'Ping me if anything looks off.');
  for (const p of [ada, grace]) {
    await expect(messagesWithText(p.page, 'Ping me if anything looks off.')).toHaveCount(1);
    await expect(p.page.getByTestId('online-count')).toHaveText('3');
  }
  for (const p of [bob, ada]) {
    await p.page.getByRole('textbox', { name: 'Join or create a room' }).fill('acme/general');
    await p.page.getByRole('textbox', { name: 'Join or create a room' }).press('Enter');
    await expect(composer(p.page, 'acme/general')).toBeVisible();
  }
  await send(bob.page, 'Release 2.4 notes: faster history, new themes.', 'acme/general');
  await expect(messagesWithText(ada.page, 'Release 2.4 notes: faster history, new themes.')).toHaveCount(1);
  await ada.page.getByRole('button', { name: 'lobby', exact: true }).click();
  await expect(composer(ada.page)).toBeVisible();
  await send(bob.page, 'Anyone around for a quick review?', 'acme/general');
  await expect(ada.page.getByTestId('unread-acme/general')).toHaveText('1');
  await composer(grace.page).pressSequentially('hmm, let me check', { delay: 150 });

  await expect(ada.page.getByTestId('typing')).toHaveText('Grace Hopper (guest) is typing…');
  await screenshot(ada.page, 'whisperchat-light');
  await screenshot(grace.page, 'whisperchat-dark');

  const phone = await browser.newContext({
    baseURL: server.url,
    viewport: { width: 390, height: 780 },
    colorScheme: 'light',
  });
  const page = await phone.newPage();
  await page.goto('/chat/lobby');
  await page.getByRole('textbox', { name: 'Display name' }).fill('Margaret');
  await page.getByRole('button', { name: 'Start chatting' }).click();
  await expect(messagesWithText(page, 'Ping me if anything looks off.')).toHaveCount(1);
  await screenshot(page, 'whisperchat-mobile');

  await ada.page.goto('/');
  await expect(ada.page.getByRole('heading', { name: /Real-time rooms/ })).toBeVisible();
  await expect(ada.page.getByText('acme/general')).toBeVisible();
  await screenshot(ada.page, 'home-light');
  await phone.close();
});
