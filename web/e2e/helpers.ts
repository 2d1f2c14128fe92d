import { expect, type Browser, type BrowserContext, type CDPSession, type Page } from '@playwright/test';
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
 * The user ids of every `welcome` the page's own WebSockets receive, in order:
 * who the server took each connection to be. Call it before the page connects.
 * Only a page that owns its socket has one (`whisperchat.sharing` = `tab`, or
 * the leader); with a SharedWorker the socket is the worker's: `welcomesOf`.
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

/** What `whisperHub.debug()` says (src/core/shared/hub.ts): the hub's tabs, channels, and who its sockets were. */
export interface HubDebug {
  tabs: number;
  channels: Record<string, { status: { state: string }; tabs: number[]; rooms: Record<string, unknown> }>;
  welcomes: { channel: string; userId: string; at: number }[];
}

/**
 * The hubs behind `page`'s browser context: the context's SharedWorker (the
 * socket its tabs share), reached over CDP since Playwright does not expose
 * shared workers, else a page of the context that runs one (the leader, or
 * a tab on its own).
 */
export async function hubsOf(page: Page): Promise<HubDebug[]> {
  const context = page.context();
  const own = await context.newCDPSession(page);
  const { targetInfo } = await own.send('Target.getTargetInfo');
  await own.detach();
  const browser = context.browser();
  const found: HubDebug[] = [];
  if (browser) {
    const cdp = await browser.newBrowserCDPSession();
    try {
      const { targetInfos } = await cdp.send('Target.getTargets');
      const workers = targetInfos.filter(
        (t) => t.type === 'shared_worker' && t.browserContextId === targetInfo.browserContextId,
      );
      for (const worker of workers) {
        const hub = await evaluateIn(cdp, worker.targetId, 'JSON.stringify(globalThis.whisperHub?.debug() ?? null)');
        if (hub) found.push(JSON.parse(hub) as HubDebug);
      }
    } finally {
      await cdp.detach();
    }
  }
  for (const p of context.pages()) {
    const hub = await p
      .evaluate(() => (globalThis as { whisperHub?: { debug(): unknown } }).whisperHub?.debug() ?? null)
      .catch(() => null);
    if (hub) found.push(hub as HubDebug);
  }
  return found;
}

/** The user ids of every `welcome` the sockets of `page`'s browser context received, oldest first. */
export async function welcomesOf(page: Page): Promise<string[]> {
  const hubs = await hubsOf(page);
  return hubs
    .flatMap((h) => h.welcomes)
    .sort((a, b) => a.at - b.at)
    .map((w) => w.userId);
}

/** Evaluates `expression` in a target (a shared worker) over the browser's CDP session; its string value. */
async function evaluateIn(cdp: CDPSession, targetId: string, expression: string): Promise<string | null> {
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: false });
  try {
    const answer = new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), 5000);
      cdp.on('Target.receivedMessageFromTarget', (event) => {
        if (event.sessionId !== sessionId) return;
        const message = JSON.parse(event.message) as { id?: number; result?: { result?: { value?: unknown } } };
        if (message.id !== 1) return;
        clearTimeout(timer);
        const value = message.result?.result?.value;
        resolve(typeof value === 'string' ? value : null);
      });
    });
    await cdp.send('Target.sendMessageToTarget', {
      sessionId,
      message: JSON.stringify({ id: 1, method: 'Runtime.evaluate', params: { expression, returnByValue: true } }),
    });
    return await answer;
  } finally {
    await cdp.send('Target.detachFromTarget', { sessionId }).catch(() => {});
  }
}
