import { expect, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where screenshots go: `web/test-results/screenshots` (kept apart from Playwright's own output). */
export const screenshotDir = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'test-results',
  'screenshots',
);

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

export interface Person {
  context: BrowserContext;
  page: Page;
  name: string;
  /** Every alert/confirm/prompt the page tried to open. */
  dialogs: string[];
  /** Everything the server's Content-Security-Policy blocked on the page. */
  blocked: string[];
}

/** A new browser profile that opens WhisperChat and picks `name` on the first visit. */
export async function join(
  browser: Browser,
  baseURL: string,
  name: string,
  options: { colorScheme?: 'light' | 'dark'; room?: string } = {},
): Promise<Person> {
  const context = await browser.newContext({ baseURL, colorScheme: options.colorScheme ?? 'light' });
  const page = await context.newPage();
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  const blocked: string[] = [];
  page.on('console', (m) => {
    if (m.text().includes('Content Security Policy')) blocked.push(m.text());
  });
  await page.goto(`/chat/${options.room ?? 'lobby'}`);
  const prompt = page.getByRole('dialog', { name: 'Welcome to WhisperChat' });
  await prompt.getByRole('textbox', { name: 'Display name' }).fill(name);
  await prompt.getByRole('button', { name: 'Start chatting' }).click();
  await expectOnline(page);
  return { context, page, name, dialogs, blocked };
}

export function status(page: Page) {
  return page.getByTestId('connection-status').first();
}

export async function expectOnline(page: Page): Promise<void> {
  await expect(status(page)).toHaveAttribute('data-state', 'online', { timeout: 45_000 });
}

export function composer(page: Page, room = 'lobby') {
  return page.getByRole('textbox', { name: `Message #${room}` });
}

export async function send(page: Page, text: string, room = 'lobby'): Promise<void> {
  const box = composer(page, room);
  await box.fill(text);
  await box.press('Enter');
}

/** The message rows whose content is exactly `text`. */
export function messagesWithText(page: Page, text: string) {
  return page.getByTestId('message').filter({
    has: page.getByTestId('message-content').getByText(text, { exact: true }),
  });
}

export function presence(page: Page) {
  return page.getByTestId('presence');
}

/** The identity the page keeps in localStorage. */
export async function storedIdentity(
  page: Page,
): Promise<{ userId: string | null; token: string | null; name: string | null }> {
  return page.evaluate(() => JSON.parse(localStorage.getItem('whisperchat.identity') ?? '{}'));
}

/**
 * The user ids of every `welcome` the page's WebSockets receive, in order: who
 * the server took each connection to be. Call it before the page connects.
 */
export function watchWelcomes(page: Page): string[] {
  const ids: string[] = [];
  page.on('websocket', (ws) => {
    ws.on('framereceived', ({ payload }) => {
      if (typeof payload !== 'string') return;
      try {
        const frame = JSON.parse(payload) as { type?: string; user_id?: string };
        if (frame.type === 'welcome' && frame.user_id) ids.push(frame.user_id);
      } catch {
        // not JSON: not a frame of ours
      }
    });
  });
  return ids;
}

export interface Credentials {
  name: string;
  email: string;
  password: string;
}

/** Fills the sign-up form (at `/signup`, or where the page already is) and waits until online as the account. */
export async function signUp(page: Page, who: Credentials): Promise<void> {
  const form = page.getByRole('form', { name: 'Create an account' });
  await form.getByLabel('Display name', { exact: true }).fill(who.name);
  await form.getByLabel('Email', { exact: true }).fill(who.email);
  await form.getByLabel('Password', { exact: true }).fill(who.password);
  await form.getByRole('button', { name: 'Create account' }).click();
  await expect(accountMenu(page, who.name)).toBeVisible();
  await expectOnline(page);
}

/** Signs in at `/signin` and waits until online as the account. */
export async function signIn(page: Page, who: Credentials): Promise<void> {
  await page.goto('/signin');
  const form = page.getByRole('form', { name: 'Sign in' });
  await form.getByLabel('Email', { exact: true }).fill(who.email);
  await form.getByLabel('Password', { exact: true }).fill(who.password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await expect(accountMenu(page, who.name)).toBeVisible();
  await expectOnline(page);
}

/** The header's link to the account page, which shows the account's name. */
export function accountMenu(page: Page, name: string) {
  return page.getByRole('link', { name: `Your account: ${name}` });
}

/**
 * Posts `contents` to `room` as the page's guest, in order, over a WebSocket
 * of its own opened in the page (the page's client does not see them unless
 * it has joined `room`). Batches go one at a time, each sent again with the
 * same client ids when the rate limit refuses it; resolves once all are stored.
 */
export async function postMany(page: Page, room: string, contents: readonly string[]): Promise<void> {
  await page.evaluate(
    async ({ room, contents }) => {
      const identity = JSON.parse(localStorage.getItem('whisperchat.identity') ?? '{}') as {
        token?: string;
        name?: string;
      };
      const url = new URL('/v1/chat/ws', location.href);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      url.searchParams.set('room', '');
      if (identity.token) url.searchParams.set('token', identity.token);
      if (identity.name) url.searchParams.set('name', identity.name);
      const ws = new WebSocket(url);
      const answers: ((frame: { status: string; error?: { code: string; retry_after_ms?: number } }) => void)[] = [];
      ws.onmessage = (e) => {
        const frame = JSON.parse(String(e.data)) as { type: string; status: string };
        if (frame.type === 'message_ids') answers.shift()?.(frame);
      };
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = () => reject(new Error('the WebSocket did not open'));
      });
      const run = Math.random().toString(36).slice(2, 8);
      for (let at = 0; at < contents.length; at += 20) {
        const data = contents
          .slice(at, at + 20)
          .map((content, i) => ({ content, room, client_id: `post-${run}-${at + i}` }));
        for (;;) {
          const answer = new Promise<{ status: string; error?: { code: string; retry_after_ms?: number } }>((resolve) =>
            answers.push(resolve),
          );
          ws.send(JSON.stringify({ type: 'messages', data }));
          const frame = await answer;
          if (frame.status === 'success') break;
          if (frame.error?.code !== 'rate_limited') throw new Error(`refused: ${JSON.stringify(frame)}`);
          await new Promise((r) => setTimeout(r, Number(frame.error?.retry_after_ms ?? 500) + 50));
        }
      }
      ws.close();
    },
    { room, contents },
  );
}
