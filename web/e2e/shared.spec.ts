import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { expectOnline, join, messagesWithText, presence, screenshot, send, status } from './helpers';
import { WhisperServer } from './server';

// One connection per browser (src/core/shared): the tabs of a browser share one WebSocket — a
// SharedWorker's, or, without SharedWorker, the leader tab's — and nothing is lost or doubled when
// tabs (the leader among them) close mid-send. The connection notices a dead server by itself, and
// is back within moments of the server's return.

let server: WhisperServer;

test.beforeAll(async () => {
  server = await WhisperServer.start();
});

test.afterAll(async () => {
  await server?.stop();
});

/** The server's open WebSocket connections (the `whisper_connections` gauge of /metrics). */
async function connections(): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const match = /^whisper_connections (\d+)$/m.exec(text);
  if (!match) throw new Error('/metrics has no whisper_connections');
  return Number(match[1]);
}

/** Another tab of `context` on the lobby, online (the name is known from the first tab). */
async function openTab(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  await page.goto('/chat/lobby');
  await expectOnline(page);
  return page;
}

/** A browser whose tabs elect a leader (as without SharedWorker), with a first tab named `name`. */
async function leaderBrowser(browser: Browser, name: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ baseURL: server.url });
  await context.addInitScript(() => localStorage.setItem('whisperchat.sharing', 'leader'));
  const page = await context.newPage();
  await page.goto('/chat/lobby');
  const prompt = page.getByRole('dialog', { name: 'Welcome to WhisperChat' });
  await prompt.getByRole('textbox', { name: 'Display name' }).fill(name);
  await prompt.getByRole('button', { name: 'Start chatting' }).click();
  await expectOnline(page);
  return { context, page };
}

/** Whether the hub (and so the socket) runs in this page: the leader's. */
function leads(page: Page): Promise<boolean> {
  return page.evaluate(() => Boolean((globalThis as { whisperHub?: unknown }).whisperHub));
}

/** How often `text` is stored in the lobby. */
async function storedTimes(text: string): Promise<number> {
  const page = (await (await fetch(`${server.url}/v1/chat/messages?room=lobby&limit=500`)).json()) as {
    data: { content: string }[];
  };
  return page.data.filter((m) => m.content === text).length;
}

test('three tabs of one browser share one WebSocket, which closes with the last tab', async ({ browser }) => {
  const before = await connections();
  const ada = await join(browser, server.url, 'Ada');
  const tabs = [ada.page, await openTab(ada.context), await openTab(ada.context)];
  await expect.poll(connections).toBe(before + 1);
  const bob = await join(browser, server.url, 'Bob');
  await expect.poll(connections).toBe(before + 2);

  await send(tabs[1] as Page, 'from the second tab');
  for (const page of [...tabs, bob.page]) await expect(messagesWithText(page, 'from the second tab')).toHaveCount(1);
  for (const page of tabs) {
    await expect(messagesWithText(page, 'from the second tab')).toHaveAttribute('data-status', 'sent');
  }
  await send(bob.page, 'hello, all three of you');
  for (const page of tabs) {
    await expect(messagesWithText(page, 'hello, all three of you')).toHaveCount(1);
    await expect(presence(page).getByText('Bob')).toBeVisible();
  }

  // Two tabs close: the third still has the socket.
  await tabs[0]?.close();
  await tabs[1]?.close();
  const last = tabs[2] as Page;
  await last.waitForTimeout(500);
  expect(await connections()).toBe(before + 2);
  await send(last, 'the last tab still chats');
  await expect(messagesWithText(bob.page, 'the last tab still chats')).toHaveCount(1);
  await expect(messagesWithText(last, 'the last tab still chats')).toHaveAttribute('data-status', 'sent');
  // The last one closes: so does the socket.
  await last.close();
  await expect.poll(connections).toBe(before + 1);
  await ada.context.close();
  await bob.context.close();
});

test('the tab that sent closes mid-send: the other tabs and another browser see the message exactly once', async ({
  browser,
}) => {
  const ada = await join(browser, server.url, 'Ada');
  const tabs = [ada.page, await openTab(ada.context), await openTab(ada.context)];
  const bob = await join(browser, server.url, 'Bob');

  await server.kill();
  for (const page of tabs) await expect(status(page)).not.toHaveAttribute('data-state', 'online');
  const text = 'typed in a tab that closed before it was sent';
  await send(tabs[0] as Page, text);
  // Every tab shows it on its way, not only the one it was typed in.
  for (const page of tabs) await expect(messagesWithText(page, text)).toHaveAttribute('data-status', 'sending');
  await tabs[0]?.close();

  await server.restart();
  for (const page of [tabs[1], tabs[2], bob.page] as Page[]) {
    await expectOnline(page);
    await expect(messagesWithText(page, text)).toHaveCount(1);
  }
  for (const page of [tabs[1], tabs[2]] as Page[]) {
    await expect(messagesWithText(page, text)).toHaveAttribute('data-status', 'sent');
  }
  expect(await storedTimes(text)).toBe(1);
  await ada.context.close();
  await bob.context.close();
});

test('without SharedWorker the leader tab shares its socket; it closes mid-send and another takes over, losing nothing', async ({
  browser,
}) => {
  test.setTimeout(120_000);
  const before = await connections();
  const ada = await leaderBrowser(browser, 'Ada');
  const tabs = [ada.page, await openTab(ada.context), await openTab(ada.context)];
  expect(await Promise.all(tabs.map(leads))).toEqual([true, false, false]);
  await expect.poll(connections).toBe(before + 1);
  const bob = await join(browser, server.url, 'Bob');
  await send(tabs[2] as Page, 'a follower writes through the leader');
  for (const page of [...tabs, bob.page]) {
    await expect(messagesWithText(page, 'a follower writes through the leader')).toHaveCount(1);
  }

  // The server hangs: what the leader sends now is taken by its socket, and not answered.
  server.pause();
  const text = 'written in the leader, which closed before the answer';
  await send(tabs[0] as Page, text);
  for (const page of tabs) await expect(messagesWithText(page, text)).toHaveAttribute('data-status', 'sending');
  await tabs[0]?.close();
  // Another tab takes the lock, and the socket with it.
  await expect.poll(async () => (await leads(tabs[1] as Page)) || (await leads(tabs[2] as Page))).toBe(true);
  server.resume();

  for (const page of [tabs[1], tabs[2], bob.page] as Page[]) {
    await expectOnline(page);
    await expect(messagesWithText(page, text)).toHaveCount(1);
  }
  for (const page of [tabs[1], tabs[2]] as Page[]) {
    await expect(messagesWithText(page, text)).toHaveAttribute('data-status', 'sent');
  }
  expect(await storedTimes(text)).toBe(1);
  await expect.poll(connections).toBe(before + 2);
  await ada.context.close();
  await bob.context.close();
});

test('after a 45 s outage the page is back online within moments of the server’s return', async ({ browser }) => {
  test.setTimeout(150_000);
  const ada = await join(browser, server.url, 'Ada');
  const second = await openTab(ada.context);
  await server.kill();
  await expect(status(ada.page)).not.toHaveAttribute('data-state', 'online');
  await ada.page.waitForTimeout(45_000);
  // The wait grew while the server was down; "Retry now" skips it.
  await expect(status(ada.page)).toContainText(/Reconnecting in \d+s/);
  await expect(ada.page.getByRole('button', { name: 'Retry now' })).toBeVisible();
  await screenshot(ada.page, 'shared-reconnecting');

  await server.restart();
  const back = Date.now();
  await expectOnline(ada.page);
  await expectOnline(second);
  const took = Date.now() - back;
  console.log(`online again ${took} ms after the server was up`);
  expect(took).toBeLessThan(3000);
  await send(second, 'back again');
  await expect(messagesWithText(ada.page, 'back again')).toHaveAttribute('data-status', 'sent');
  await ada.context.close();
});

test('a server that hangs is noticed: not "Online" with a message stuck at "Sending…"; it goes once the server answers', async ({
  browser,
}) => {
  test.setTimeout(150_000);
  const ada = await join(browser, server.url, 'Ada');
  const bob = await join(browser, server.url, 'Bob');
  server.pause();
  const hungAt = Date.now();
  const text = 'sent while the server hangs';
  await send(ada.page, text);
  await expect(messagesWithText(ada.page, text)).toHaveAttribute('data-status', 'sending');
  // Unanswered for 10 s: sent again and pinged; no pong for 10 s more: the socket is dead.
  await expect(status(ada.page)).not.toHaveAttribute('data-state', 'online', { timeout: 30_000 });
  console.log(`the dead connection was noticed after ${Date.now() - hungAt} ms`);
  // Bob's page was idle: it pings after 15 s of silence, and gives up 10 s later.
  await expect(status(bob.page)).not.toHaveAttribute('data-state', 'online', { timeout: 35_000 });
  await expect(messagesWithText(ada.page, text)).toHaveAttribute('data-status', 'sending');

  server.resume();
  await expectOnline(ada.page);
  await expectOnline(bob.page);
  await expect(messagesWithText(ada.page, text)).toHaveAttribute('data-status', 'sent');
  await expect(messagesWithText(bob.page, text)).toHaveCount(1);
  await expect(messagesWithText(ada.page, text)).toHaveCount(1);
  expect(await storedTimes(text)).toBe(1);
  await ada.context.close();
  await bob.context.close();
});
