import { expect, test, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { composer, join, messagesWithText, presence, screenshot, send, type Person } from './helpers';
import { WhisperServer } from './server';

// Links, right-to-left text, @mentions and refusals, told in order with the same people.
test.describe.configure({ mode: 'serial' });

let server: WhisperServer;
const people: Person[] = [];

/** Where the screenshots to look at go, besides the usual place. */
const shots = process.env.DAILY_SHOTS ?? '/tmp/daily-shots';

async function shot(page: Page, name: string): Promise<void> {
  await screenshot(page, name);
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, `${name}.png`) });
}

test.beforeAll(async () => {
  server = await WhisperServer.start();
});

test.afterAll(async () => {
  for (const p of people.splice(0)) await p.context.close();
  await server?.stop();
});

test('links are clickable (http and https only, in a new tab), and markup stays text', async ({ browser }) => {
  const ada = await join(browser, server.url, 'Ada Lovelace');
  const bob = await join(browser, server.url, 'Bob Kahn', { colorScheme: 'dark' });
  people.push(ada, bob);
  await expect(presence(ada.page).getByText('Bob Kahn')).toBeVisible();

  const text =
    'Docs at https://example.com/guide?x=1, not javascript:alert(1) nor <a href="https://evil.test">this</a>';
  await send(ada.page, text);
  for (const { page } of [ada, bob]) {
    const row = messagesWithText(page, text);
    await expect(row).toHaveCount(1);
    const links = row.getByTestId('message-link');
    await expect(links).toHaveCount(1);
    await expect(links).toHaveAttribute('href', 'https://example.com/guide?x=1');
    await expect(links).toHaveAttribute('target', '_blank');
    await expect(links).toHaveAttribute('rel', 'noopener noreferrer');
    // The anchor written in the message is its text, not a link.
    await expect(row.locator('a')).toHaveCount(1);
    await expect(row.getByTestId('message-content')).toContainText('<a href="https://evil.test">this</a>');
  }
  expect([...ada.dialogs, ...bob.dialogs]).toEqual([]);
});

test('right-to-left text is laid out right to left, in the messages and the composer', async () => {
  const [ada, bob] = people;
  if (!ada || !bob) throw new Error('the first test sets up Ada and Bob');
  const arabic = 'مرحبا بالجميع، الاجتماع الساعة الثالثة';
  await send(bob.page, arabic);
  const content = messagesWithText(ada.page, arabic).getByTestId('message-content');
  await expect(content).toHaveCount(1);
  expect(await content.evaluate((el) => el.parentElement?.matches(':dir(rtl)'))).toBe(true);
  // An English message next to it stays left to right.
  const english = ada.page.getByTestId('message-content').filter({ hasText: 'Docs at https://example.com/guide' });
  expect(await english.evaluate((el) => el.parentElement?.matches(':dir(ltr)'))).toBe(true);

  await composer(ada.page).fill('שלום לכולם');
  expect(await composer(ada.page).evaluate((el) => el.matches(':dir(rtl)'))).toBe(true);
  await composer(ada.page).fill('');
  expect(await composer(ada.page).evaluate((el) => el.matches(':dir(ltr)'))).toBe(true);
});

test('@ offers the room’s people, picked by keyboard; the mention is marked, more so for the one named', async ({
  browser,
}) => {
  const [ada, bob] = people;
  if (!ada || !bob) throw new Error('the first test sets up Ada and Bob');
  const grace = await join(browser, server.url, 'Grace Hopper');
  people.push(grace);
  await expect(presence(bob.page).getByText('Grace Hopper')).toBeVisible();

  const box = composer(bob.page);
  await box.fill('');
  await box.pressSequentially('Thanks @ad');
  const list = bob.page.getByRole('listbox', { name: 'People to mention' });
  await expect(list).toBeVisible();
  const offered = list.getByRole('option').getByTestId('mention-option-name');
  await expect(offered).toHaveText(['Ada Lovelace']);
  await expect(box).toHaveAttribute('aria-activedescendant', /.+/);
  await box.press('Escape');
  await expect(list).toBeHidden();
  await box.fill('');
  await box.pressSequentially('@');
  await expect(offered).toHaveText(['Ada Lovelace', 'Grace Hopper']);
  await box.press('ArrowDown');
  await expect(list.getByRole('option', { name: 'Grace Hopper' })).toHaveAttribute('aria-selected', 'true');
  await box.press('ArrowUp');
  await expect(list.getByRole('option', { name: 'Ada Lovelace' })).toHaveAttribute('aria-selected', 'true');
  await shot(bob.page, 'mention-autocomplete-dark-desktop');
  await box.press('Enter');
  await expect(box).toHaveValue('@Ada Lovelace ');
  await expect(list).toBeHidden();
  await box.pressSequentially('can you review https://example.com/pr/42 today?');
  await box.press('Enter');

  const text = '@Ada Lovelace can you review https://example.com/pr/42 today?';
  const atAda = messagesWithText(ada.page, text);
  await expect(atAda).toHaveAttribute('data-mentions-me', 'true');
  await expect(atAda.getByTestId('mention')).toHaveText('@Ada Lovelace');
  await expect(atAda.getByTestId('mention')).toHaveAttribute('data-self', 'true');
  await expect(atAda.getByTestId('message-link')).toHaveAttribute('href', 'https://example.com/pr/42');
  // Grace sees the mention marked, but as someone else's.
  const atGrace = messagesWithText(grace.page, text);
  await expect(atGrace.getByTestId('mention')).not.toHaveAttribute('data-self', 'true');
  await expect(atGrace).not.toHaveAttribute('data-mentions-me', 'true');
  await shot(ada.page, 'room-links-mentions-light-desktop');
  await shot(bob.page, 'room-links-mentions-dark-desktop');
});

test('a room shows how many of its unread messages mention you', async () => {
  const [ada, bob] = people;
  if (!ada || !bob) throw new Error('the first test sets up Ada and Bob');
  await ada.page.goto('/chat/random');
  await expect(ada.page.getByTestId('room-title')).toContainText('random');
  await send(bob.page, 'Lunch at noon, @Ada Lovelace?');
  await send(bob.page, 'Anyone else?');
  const row = ada.page.getByRole('navigation', { name: 'Your rooms' }).locator('button[data-room="lobby"]');
  await expect(row.getByTestId('unread-lobby')).toHaveText('2');
  await expect(row.getByTestId('mentions-lobby')).toHaveText('@1');
  await expect(row.getByTestId('mentions-lobby')).toHaveAttribute('aria-label', '1 mention');
  await row.click();
  await expect(ada.page.getByTestId('mentions-lobby')).toHaveCount(0);
});

test('a message the server refuses comes back into the composer, with why in words', async () => {
  const [ada] = people;
  if (!ada) throw new Error('the first test sets up Ada');
  const box = composer(ada.page);
  // A control character: the client sends it, the server refuses the frame (docs/protocol.md §5).
  await box.fill('ring the bell \u0007 now');
  await box.press('Enter');
  const error = ada.page.getByTestId('composer-error');
  await expect(error).toHaveText(
    "Not sent: The message contains an invisible control character (U+0007) that can't be sent. Remove it and send it again.",
  );
  await expect(box).toHaveValue('ring the bell \u0007 now');
  await expect(box).toBeFocused();
  // Nothing of it stays in the list: it is in the composer to be fixed.
  await expect(ada.page.getByTestId('message-failed')).toHaveCount(0);
  await box.fill('ring the bell now');
  await expect(error).toHaveCount(0);
  await box.press('Enter');
  await expect(messagesWithText(ada.page, 'ring the bell now')).toHaveAttribute('data-status', 'sent');
});

test('a message’s id and status are reachable by keyboard and touch, not on hover only', async () => {
  const [ada] = people;
  if (!ada) throw new Error('the first test sets up Ada');
  const row = messagesWithText(ada.page, 'ring the bell now');
  const status = row.getByTestId('message-status');
  await status.focus();
  await ada.page.keyboard.press('Enter');
  const details = row.getByTestId('message-details');
  await expect(details).toBeVisible();
  await expect(details.getByTestId('message-details-id')).toHaveText(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  await expect(details.getByTestId('message-details-status')).toHaveText(/^Sent/);
  await expect(status).toHaveAttribute('aria-expanded', 'true');
  await ada.page.keyboard.press('Enter');
  await expect(details).toHaveCount(0);
});

test('screenshots on a phone, light and dark, with the autocomplete open', async ({ browser }) => {
  for (const scheme of ['light', 'dark'] as const) {
    const context = await browser.newContext({
      baseURL: server.url,
      colorScheme: scheme,
      viewport: { width: 390, height: 844 },
      hasTouch: true,
      isMobile: true,
    });
    const page = await context.newPage();
    await page.goto('/chat/lobby');
    const prompt = page.getByRole('dialog', { name: 'Welcome to WhisperChat' });
    await prompt.getByRole('textbox', { name: 'Display name' }).fill(`Phone ${scheme}`);
    await prompt.getByRole('button', { name: 'Start chatting' }).click();
    await expect(messagesWithText(page, 'ring the bell now')).toHaveCount(1);
    await shot(page, `room-links-mentions-${scheme}-phone`);
    await composer(page).pressSequentially('@gr');
    await expect(page.getByRole('listbox', { name: 'People to mention' })).toBeVisible();
    await shot(page, `mention-autocomplete-${scheme}-phone`);
    await context.close();
  }
});
