import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { composer, expectOnline, join, messagesWithText, presence, send, signUp } from './helpers';
import { WhisperServer } from './server';

// Accessibility: axe finds no serious or critical problem on any page, in light or dark, and the whole way
// from a first visit to a message sent works from the keyboard alone.

let server: WhisperServer;

test.beforeAll(async () => {
  server = await WhisperServer.start();
});

test.afterAll(async () => {
  await server?.stop();
});

/** axe's serious and critical findings on the page as it is now, one line each (rule, what, where). */
async function seriousProblems(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) =>
      v.nodes.map(
        (n) => `${v.id} (${v.impact}): ${n.failureSummary?.split('\n').slice(1).join(' ')} @ ${n.target.join(' ')}`,
      ),
    );
}

async function expectAccessible(page: Page, what: string): Promise<void> {
  // Let transitions settle (a colour fading in measures half way).
  await page.waitForTimeout(400);
  expect(await seriousProblems(page), what).toEqual([]);
}

for (const scheme of ['light', 'dark'] as const) {
  test(`every page, ${scheme}: no serious or critical axe findings`, async ({ browser }) => {
    // A guest: the first visit's name prompt, home, a room with messages, search, a dialog, sign in, sign up.
    const guest = await browser.newContext({ baseURL: server.url, colorScheme: scheme });
    const page = await guest.newPage();
    await page.goto('/chat/lobby');
    const prompt = page.getByRole('dialog', { name: 'Welcome to WhisperChat' });
    await expect(prompt).toBeVisible();
    await expectAccessible(page, 'the name prompt');
    await prompt.getByRole('textbox', { name: 'Display name' }).fill(`Guest ${scheme}`);
    await prompt.getByRole('button', { name: 'Start chatting' }).click();
    await expectOnline(page);
    await send(page, `Hello from a ${scheme} page, see https://example.com and @Guest ${scheme}`);
    await send(page, `A second line, to group (${scheme})`);
    await expect(messagesWithText(page, `A second line, to group (${scheme})`)).toHaveAttribute('data-status', 'sent');
    await expectAccessible(page, 'a room');

    const other = await join(browser, server.url, `Mira ${scheme}`, { colorScheme: scheme });
    await expect(presence(page).getByText(`Mira ${scheme}`)).toBeVisible();
    await send(other.page, `Welcome! @Guest ${scheme}, the docs are at https://example.com/docs`);
    await expect(
      messagesWithText(page, `Welcome! @Guest ${scheme}, the docs are at https://example.com/docs`),
    ).toHaveCount(1);
    await page.getByTestId('message-status').first().click();
    await expect(page.getByTestId('message-details')).toBeVisible();
    await composer(page).pressSequentially('@mi');
    await expect(page.getByRole('listbox', { name: 'People to mention' })).toBeVisible();
    await expectAccessible(page, 'a room with details and the mention list open');
    await composer(page).fill('');

    await page.getByTestId('open-search').click();
    const search = page.getByRole('dialog', { name: 'Search messages' });
    await expect(search).toBeVisible();
    await search.getByRole('combobox', { name: 'Search messages' }).fill('second');
    await expect(search.getByRole('option').first()).toBeVisible();
    await expectAccessible(page, 'search open');
    await page.keyboard.press('Escape');
    await expect(composer(page)).toBeFocused();

    await page.getByRole('button', { name: 'Notification settings' }).first().click();
    await expect(page.getByRole('dialog', { name: 'Notifications' })).toBeVisible();
    await expectAccessible(page, 'the notification settings');
    await page.keyboard.press('Escape');
    await expect(composer(page)).toBeFocused();

    await page.goto('/');
    await expect(page.getByRole('main')).toBeVisible();
    await expectAccessible(page, 'home');
    await page.goto('/signin');
    await expect(page.getByRole('form', { name: 'Sign in' })).toBeVisible();
    await expectAccessible(page, 'sign in');
    await page.goto('/signup');
    await expect(page.getByRole('form', { name: 'Create an account' })).toBeVisible();
    await expectAccessible(page, 'sign up');
    await guest.close();
    await other.context.close();

    // An account: its page, and the dialog to create a private room.
    const signedIn = await browser.newContext({ baseURL: server.url, colorScheme: scheme });
    const own = await signedIn.newPage();
    await own.goto('/signup');
    await signUp(own, {
      name: `Owner ${scheme}`,
      email: `owner-${scheme}@example.com`,
      password: 'correct horse battery',
    });
    await own.getByTestId('new-private-room').first().click();
    await expect(own.getByRole('dialog', { name: /private room/i })).toBeVisible();
    await expectAccessible(own, 'the create-room dialog');
    await own.keyboard.press('Escape');
    await expect(composer(own)).toBeFocused();
    await own.goto('/account');
    await expect(own.getByRole('heading', { level: 1 })).toBeVisible();
    await expectAccessible(own, 'the account page');
    await signedIn.close();
  });
}

test('from the first visit to a message sent, with the keyboard alone', async ({ browser }) => {
  const context = await browser.newContext({ baseURL: server.url });
  const page = await context.newPage();
  await page.goto('/chat/lobby');
  const prompt = page.getByRole('dialog', { name: 'Welcome to WhisperChat' });
  const name = prompt.getByRole('textbox', { name: 'Display name' });
  await expect(name).toBeFocused();

  // Tab goes round inside the prompt: nothing behind it takes the focus.
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => Boolean(document.activeElement?.closest('[role="dialog"]')))).toBe(true);
  }
  for (let i = 0; i < 5; i++) {
    await page.keyboard.press('Shift+Tab');
    expect(await page.evaluate(() => Boolean(document.activeElement?.closest('[role="dialog"]')))).toBe(true);
  }
  await name.focus();
  await page.keyboard.type('Keyboard Kay');
  await page.keyboard.press('Enter');
  await expect(prompt).toBeHidden();

  // The focus is in the composer at once, not on the page's body 14 Tabs away.
  await expect(composer(page)).toBeFocused();
  await expectOnline(page);
  await page.keyboard.type('Typed without a mouse');
  await page.keyboard.press('Enter');
  await expect(messagesWithText(page, 'Typed without a mouse')).toHaveAttribute('data-status', 'sent');

  // Search by its shortcut, and back: the focus comes back to the composer.
  await page.keyboard.press('Control+k');
  await expect(page.getByRole('dialog', { name: 'Search messages' })).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(composer(page)).toBeFocused();

  // Every control on the way has a visible focus ring.
  const unringed: string[] = [];
  for (let i = 0; i < 25; i++) {
    await page.keyboard.press('Shift+Tab');
    const ring = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body) return null;
      // Its own outline or ring, or its box's (the composer's form rings its textarea).
      const drawn = (node: Element) => {
        const style = getComputedStyle(node);
        return (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== 'none';
      };
      let visible = drawn(el);
      for (let up = el.parentElement, n = 0; !visible && up && n < 3; up = up.parentElement, n++) visible = drawn(up);
      const label = `${el.tagName.toLowerCase()} ${el.getAttribute('aria-label') ?? el.textContent?.trim().slice(0, 30) ?? ''}`;
      return { label, visible };
    });
    if (ring && !ring.visible) unringed.push(ring.label);
  }
  expect(unringed).toEqual([]);
  await context.close();
});
