import { expect, test, type Browser, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { expectOnline, presence, screenshot, send, type Person } from './helpers';
import { WhisperServer } from './server';

// Notifications for mentions and direct messages while the tab is hidden, the title's count, the sound,
// muted rooms, and the permission asked from a click only.
test.describe.configure({ mode: 'serial' });

let server: WhisperServer;
const people: Person[] = [];

const shots = process.env.DAILY_SHOTS ?? '/tmp/daily-shots';

async function shot(page: Page, name: string): Promise<void> {
  await screenshot(page, name);
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, `${name}.png`) });
}

/**
 * Runs before the app: every notification it makes and every permission it asks for is written down,
 * every tone counted (oscillators started), and `__setHidden` plays the tab going to the background.
 */
function watchAttention() {
  const w = window as unknown as {
    __notifications: { title: string; body?: string; tag?: string }[];
    __asked: number;
    __tones: number;
    __setHidden: (hidden: boolean) => void;
  };
  w.__notifications = [];
  w.__asked = 0;
  w.__tones = 0;
  const Real = window.Notification;
  function Wrapped(title: string, options?: NotificationOptions) {
    w.__notifications.push({ title, body: options?.body, tag: options?.tag });
    try {
      return new Real(title, options);
    } catch {
      return { close() {}, onclick: null };
    }
  }
  Object.defineProperty(Wrapped, 'permission', { get: () => Real.permission });
  (Wrapped as unknown as { requestPermission: () => Promise<NotificationPermission> }).requestPermission = () => {
    w.__asked += 1;
    return Real.requestPermission();
  };
  (window as unknown as { Notification: unknown }).Notification = Wrapped;
  const start = AudioContext.prototype.createOscillator;
  AudioContext.prototype.createOscillator = function (this: AudioContext) {
    w.__tones += 1;
    return start.call(this);
  };
  w.__setHidden = (hidden: boolean) => {
    Object.defineProperty(document, 'visibilityState', {
      configurable: true,
      get: () => (hidden ? 'hidden' : 'visible'),
    });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
    document.dispatchEvent(new Event('visibilitychange'));
  };
}

async function joinWatched(
  browser: Browser,
  name: string,
  options: { grant: boolean; colorScheme?: 'light' | 'dark'; phone?: boolean },
): Promise<Person> {
  const context = await browser.newContext({
    baseURL: server.url,
    colorScheme: options.colorScheme ?? 'light',
    ...(options.phone ? { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } : {}),
  });
  if (options.grant) await context.grantPermissions(['notifications'], { origin: server.url });
  await context.addInitScript(watchAttention);
  const page = await context.newPage();
  await page.goto('/chat/lobby');
  const prompt = page.getByRole('dialog', { name: 'Welcome to WhisperChat' });
  await prompt.getByRole('textbox', { name: 'Display name' }).fill(name);
  await prompt.getByRole('button', { name: 'Start chatting' }).click();
  await expectOnline(page);
  return { context, page, name, dialogs: [], blocked: [] };
}

const notifications = (page: Page) =>
  page.evaluate(() => (window as unknown as { __notifications: { title: string; body?: string }[] }).__notifications);
const tones = (page: Page) => page.evaluate(() => (window as unknown as { __tones: number }).__tones);
const asked = (page: Page) => page.evaluate(() => (window as unknown as { __asked: number }).__asked);
const setHidden = (page: Page, hidden: boolean) =>
  page.evaluate((h) => (window as unknown as { __setHidden: (h: boolean) => void }).__setHidden(h), hidden);

test.beforeAll(async () => {
  server = await WhisperServer.start();
});

test.afterAll(async () => {
  for (const p of people.splice(0)) await p.context.close();
  await server?.stop();
});

test('a mention while the tab is hidden raises a notification; the title counts what arrived', async ({ browser }) => {
  const ada = await joinWatched(browser, 'Ada Lovelace', { grant: true });
  const bob = await joinWatched(browser, 'Bob Kahn', { grant: true });
  people.push(ada, bob);
  await expect(presence(ada.page).getByText('Bob Kahn')).toBeVisible();
  // Granted already: nothing to offer.
  await expect(ada.page.getByTestId('notification-offer')).toHaveCount(0);
  await expect(ada.page).toHaveTitle('#lobby · WhisperChat');

  // Visible, a mention raises nothing: the message is in view.
  await send(bob.page, 'Hello @Ada Lovelace, visible');
  await expect(ada.page.getByTestId('mention')).toHaveCount(1);
  expect(await notifications(ada.page)).toEqual([]);

  await setHidden(ada.page, true);
  await send(bob.page, '@Ada Lovelace are you around?');
  await expect.poll(() => notifications(ada.page)).toHaveLength(1);
  expect((await notifications(ada.page))[0]).toMatchObject({
    title: 'Bob Kahn mentioned you in #lobby',
    body: '@Ada Lovelace are you around?',
  });
  await send(bob.page, 'just chatting, no mention');
  await expect(ada.page).toHaveTitle('(2) #lobby · WhisperChat');
  expect(await notifications(ada.page)).toHaveLength(1);
  // No sound: it is off until turned on.
  expect(await tones(ada.page)).toBe(0);

  await setHidden(ada.page, false);
  await expect(ada.page).toHaveTitle('#lobby · WhisperChat');
});

test('with the sound on, a mention plays a short tone; a muted room raises nothing', async () => {
  const [ada, bob] = people;
  if (!ada || !bob) throw new Error('the first test sets up Ada and Bob');
  await ada.page.getByRole('button', { name: 'Notification settings' }).first().click();
  const settings = ada.page.getByRole('dialog', { name: 'Notifications' });
  await expect(settings.getByTestId('notification-permission')).toHaveAttribute('data-permission', 'granted');
  await settings.getByRole('checkbox', { name: /Play a sound/ }).check();
  // Turned on by the click: a tone to hear (two notes).
  await expect.poll(() => tones(ada.page)).toBe(2);
  await ada.page.keyboard.press('Escape');
  await expect(settings).toBeHidden();

  await setHidden(ada.page, true);
  await send(bob.page, 'Ping @Ada Lovelace');
  await expect.poll(() => notifications(ada.page)).toHaveLength(2);
  await expect.poll(() => tones(ada.page)).toBe(4);

  await setHidden(ada.page, false);
  await ada.page.getByTestId('mute-room').click();
  await expect(ada.page.getByTestId('mute-room')).toHaveAttribute('aria-pressed', 'true');
  await expect(ada.page.getByTestId('muted-lobby').first()).toBeVisible();
  await setHidden(ada.page, true);
  await send(bob.page, 'Muted ping @Ada Lovelace');
  await send(bob.page, 'and another');
  await expect(bob.page.getByTestId('message-content').getByText('and another')).toBeVisible();
  // Given the time to arrive (Bob's own copy is there), nothing was raised, and the title counts nothing.
  await ada.page.waitForTimeout(500);
  expect(await notifications(ada.page)).toHaveLength(2);
  expect(await tones(ada.page)).toBe(4);
  await expect(ada.page).toHaveTitle('#lobby · WhisperChat');
  await setHidden(ada.page, false);
  await ada.page.getByTestId('mute-room').click();
  await expect(ada.page.getByTestId('mute-room')).toHaveAttribute('aria-pressed', 'false');
});

test('the permission is asked from a click only, never on load; "Not now" hides the offer', async ({ browser }) => {
  for (const scheme of ['light', 'dark'] as const) {
    for (const phone of [false, true]) {
      const grace = await joinWatched(browser, `Grace ${scheme}${phone ? ' phone' : ''}`, {
        grant: false,
        colorScheme: scheme,
        phone,
      });
      const offer = grace.page.getByTestId('notification-offer');
      await expect(offer).toBeVisible();
      expect(await asked(grace.page)).toBe(0);
      await shot(grace.page, `notification-offer-${scheme}-${phone ? 'phone' : 'desktop'}`);
      if (!phone && scheme === 'light') {
        await offer.getByRole('button', { name: 'Turn on notifications' }).click();
        await expect.poll(() => asked(grace.page)).toBe(1);
      } else {
        // On a phone the settings are in the rooms' drawer.
        if (phone) await grace.page.getByRole('button', { name: 'Show rooms' }).click();
        await grace.page.getByRole('button', { name: 'Notification settings' }).locator('visible=true').click();
        await expect(grace.page.getByRole('dialog', { name: 'Notifications' })).toBeVisible();
        await shot(grace.page, `notification-settings-${scheme}-${phone ? 'phone' : 'desktop'}`);
        await grace.page.keyboard.press('Escape');
        await offer.getByRole('button', { name: 'Not now' }).click();
        await expect(offer).toHaveCount(0);
        await grace.page.reload();
        await expect(grace.page.getByTestId('room-title')).toContainText('lobby');
        await expect(offer).toHaveCount(0);
        expect(await asked(grace.page)).toBe(0);
      }
      await grace.context.close();
    }
  }
});
