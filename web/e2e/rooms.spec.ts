import { expect, test, type Locator, type Page } from '@playwright/test';
import { composer, join, screenshot, send, type Person } from './helpers';
import { WhisperServer } from './server';

let server: WhisperServer;
const people: Person[] = [];

test.beforeAll(async () => {
  server = await WhisperServer.start();
});

test.afterAll(async () => {
  for (const p of people.splice(0)) await p.context.close();
  await server?.stop();
});

function yourRooms(page: Page) {
  return page.getByRole('navigation', { name: 'Your rooms' });
}

async function joinRoom(page: Page, room: string) {
  const box = page.getByRole('textbox', { name: 'Join or create a room' });
  await box.fill(room);
  await box.press('Enter');
  await expect(composer(page, room)).toBeVisible();
}

/** How see-through `el` is now: Playwright's own visibility counts an `opacity: 0` button as visible. */
function opacity(el: Locator) {
  return el.evaluate((node) => getComputedStyle(node).opacity);
}

test('the × of a room is reached with Tab, shows while focused, and Enter leaves the room', async ({ browser }) => {
  const ada = await join(browser, server.url, 'Ada Lovelace');
  people.push(ada);
  const { page } = ada;
  await joinRoom(page, 'acme/general');

  const row = yourRooms(page).getByRole('button', { name: 'general', exact: true });
  const leave = yourRooms(page).getByRole('button', { name: 'Leave #acme/general' });
  // Nothing hovers or focuses the row: its × waits out of sight, but in the layout.
  await page.mouse.move(900, 700);
  await expect.poll(() => opacity(leave)).toBe('0');

  await row.focus();
  await page.keyboard.press('Tab');
  await expect(leave).toBeFocused();
  await expect.poll(() => opacity(leave)).toBe('1');

  await page.keyboard.press('Enter');
  await expect(leave).toHaveCount(0);
  await expect(row).toHaveCount(0);
  // It was the open room: the next one opens in its place, ready to write in.
  await expect(page).toHaveURL(/\/chat\/lobby$/);
  await expect(composer(page)).toBeFocused();

  // A room that is not open: the page stays, and the focus stays in the list, on the row next to it.
  await joinRoom(page, 'random');
  await yourRooms(page).getByRole('button', { name: 'lobby', exact: true }).click();
  await expect(composer(page)).toBeVisible();
  await yourRooms(page).getByRole('button', { name: 'random', exact: true }).focus();
  await page.keyboard.press('Tab');
  await expect(yourRooms(page).getByRole('button', { name: 'Leave #random' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(yourRooms(page).getByRole('button', { name: 'random', exact: true })).toHaveCount(0);
  await expect(yourRooms(page).getByRole('button', { name: 'lobby', exact: true })).toBeFocused();
  await expect(page).toHaveURL(/\/chat\/lobby$/);
});

test('on a phone (touch, narrow) the × shows without hover or focus', async ({ browser }) => {
  const context = await browser.newContext({
    baseURL: server.url,
    viewport: { width: 390, height: 780 },
    hasTouch: true,
    isMobile: true,
  });
  try {
    const page = await context.newPage();
    await page.goto('/chat/lobby');
    await page.getByRole('textbox', { name: 'Display name' }).fill('Margaret');
    await page.getByRole('button', { name: 'Start chatting' }).click();
    await expect(composer(page)).toBeVisible();
    await page.getByRole('button', { name: 'Show rooms' }).tap();
    await joinRoom(page, 'random');
    await page.getByRole('button', { name: 'Show rooms' }).tap();
    const drawer = page.getByRole('dialog', { name: 'Rooms' });
    const leave = drawer.getByRole('button', { name: 'Leave #lobby' });
    await expect.poll(() => opacity(leave)).toBe('1');
    await screenshot(page, 'whisperchat-mobile-rooms');
    await leave.tap();
    await expect(drawer.getByRole('button', { name: 'lobby', exact: true })).toHaveCount(0);
    await expect(composer(page, 'random')).toBeVisible();
  } finally {
    await context.close();
  }
});

test('a room someone else creates appears under Discover at once, without a reload', async ({ browser }) => {
  const ada = await join(browser, server.url, 'Ada Lovelace');
  const bob = await join(browser, server.url, 'Bob');
  people.push(ada, bob);
  const discover = ada.page.getByRole('region', { name: 'Discover rooms' });
  await expect(discover.getByRole('button', { name: /^launch-party/ })).toHaveCount(0);

  // Bob creates the room by its first message.
  await joinRoom(bob.page, 'launch-party');
  await send(bob.page, 'Who is in?', 'launch-party');
  await expect(discover.getByRole('button', { name: /^launch-party/ })).toBeVisible();
  await discover.getByRole('button', { name: /^launch-party/ }).click();
  await expect(ada.page.getByTestId('message').filter({ hasText: 'Who is in?' })).toHaveCount(1);
});
