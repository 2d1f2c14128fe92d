import { expect, test } from '@playwright/test';
import { join, messagesWithText, postMany, screenshot } from './helpers';
import { WhisperServer } from './server';

/**
 * Search, end to end against the real server (docs/protocol.md §16): Ada has
 * written a long room; Ctrl+K finds an early message by a word in it, marked
 * where the server says (after an emoji: UTF-16 offsets), and Enter opens the
 * room at that message — in view, marked, with its neighbours — apart from
 * the latest messages, which "Jump to latest" brings back. A query the server
 * cannot read is answered with its own sentence.
 */

let server: WhisperServer;

test.beforeAll(async () => {
  server = await WhisperServer.start();
});

test.afterAll(async () => {
  await server?.stop();
});

const room = 'history';
/** More than the latest page (50) and the stretch around an early message (50) together. */
const COUNT = 120;
const EARLY = 3;
const early = '🦘 the quokka smiled at dawn';
const note = (n: number) => (n === EARLY ? early : `Note ${n}: nothing to see here`);

test('Ctrl+K finds an early message, Enter opens the room there, and "Jump to latest" comes back', async ({
  browser,
}) => {
  const ada = await join(browser, server.url, 'Ada');
  const { page } = ada;
  await postMany(
    page,
    room,
    Array.from({ length: COUNT }, (_, i) => note(i + 1)),
  );

  await page.getByRole('textbox', { name: 'Message #lobby' }).click();
  await page.keyboard.press('Control+k');
  const dialog = page.getByRole('dialog', { name: 'Search messages' });
  const box = dialog.getByRole('combobox', { name: 'Search messages' });
  await expect(box).toBeFocused();
  await box.fill('quokka');

  const results = dialog.getByRole('listbox', { name: 'Results' }).getByRole('option');
  await expect(results).toHaveCount(1);
  const hit = results.first();
  await expect(hit).toHaveAttribute('aria-selected', 'true');
  await expect(hit.getByTestId('search-result-room')).toHaveText(`#${room}`);
  await expect(hit.getByTestId('search-result-author')).toHaveText('Ada');
  await expect(hit.getByTestId('search-result-content')).toHaveText(early);
  // The server's marks, cut in the page: exactly the word, though an emoji comes before it.
  await expect(hit.locator('mark')).toHaveText(['quokka']);
  await expect(dialog.getByTestId('search-status')).toHaveText('1 message');
  await screenshot(page, 'search-desktop');

  await box.press('Enter');
  await expect(dialog).toHaveCount(0);
  await expect(page).toHaveURL(new RegExp(`/chat/${room}$`));
  const target = messagesWithText(page, early);
  await expect(target).toBeInViewport();
  await expect(target).toHaveAttribute('data-highlighted', 'true');
  // Its neighbours around it, and not the latest: a stretch apart from them.
  await expect(messagesWithText(page, note(EARLY - 1))).toHaveCount(1);
  await expect(messagesWithText(page, note(EARLY + 1))).toBeInViewport();
  await expect(messagesWithText(page, note(COUNT))).toHaveCount(0);
  await expect(page.getByRole('textbox', { name: `Message #${room}` })).toBeFocused();
  await screenshot(page, 'search-opened');
  // The mark fades.
  await expect(target).not.toHaveAttribute('data-highlighted', 'true', { timeout: 6000 });

  await page.getByRole('button', { name: 'Jump to latest' }).click();
  await expect(messagesWithText(page, note(COUNT))).toBeInViewport();
  await expect(messagesWithText(page, early)).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Jump to latest' })).toHaveCount(0);

  // A quoted phrase left open: the server says what to fix, and the box shows it.
  await page.keyboard.press('Control+k');
  await expect(box).toBeFocused();
  await box.fill('"quokka smiled');
  const error = dialog.getByTestId('search-error');
  await expect(error).toHaveText('A quoted phrase is not closed: add the closing "');
  await expect(box).toHaveAttribute('aria-invalid', 'true');
  await expect(results).toHaveCount(0);
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await expect(page.getByRole('textbox', { name: `Message #${room}` })).toBeFocused();
});

test('on a phone, the header’s search button opens the search; light and dark', async ({ browser }) => {
  for (const colorScheme of ['light', 'dark'] as const) {
    const ada = await join(browser, server.url, `Phone ${colorScheme}`, { colorScheme, room });
    const { page } = ada;
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('button', { name: 'Search messages' }).click();
    const dialog = page.getByRole('dialog', { name: 'Search messages' });
    await dialog.getByRole('combobox', { name: 'Search messages' }).fill('nothing');
    await expect(dialog.getByRole('option').first()).toBeVisible();
    await expect(dialog.getByRole('option').first().locator('mark')).toHaveText(['nothing']);
    await screenshot(page, `search-phone-${colorScheme}`);
    await page.setViewportSize({ width: 1280, height: 800 });
    await screenshot(page, `search-desktop-${colorScheme}`);
    await ada.context.close();
  }
});
