import { expect, test } from '@playwright/test';
import { expectOnline, join, messagesWithText, screenshot, send, status } from './helpers';
import { WhisperServer } from './server';

let server: WhisperServer;

test.beforeAll(async () => {
  server = await WhisperServer.start();
});

test.afterAll(async () => {
  await server?.stop();
});

test('the server is killed and restarted: both pages reconnect, and a message typed meanwhile arrives exactly once', async ({
  browser,
}) => {
  const ada = await join(browser, server.url, 'Ada');
  const bob = await join(browser, server.url, 'Bob');
  await send(ada.page, 'before the crash');
  await expect(messagesWithText(bob.page, 'before the crash')).toHaveCount(1);
  const bobIdentity = await bob.page.evaluate(() => localStorage.getItem('whisperchat.identity'));

  await server.kill();
  for (const { page } of [ada, bob]) {
    await expect(status(page)).not.toHaveAttribute('data-state', 'online');
    await expect(status(page)).toContainText(/Reconnecting|Connecting/);
  }

  const text = 'typed while the server was down';
  await send(ada.page, text);
  await expect(messagesWithText(ada.page, text)).toHaveAttribute('data-status', 'sending');
  await expect(status(ada.page)).toContainText(/Reconnecting in \d+s/);
  await screenshot(ada.page, 'whisperchat-reconnecting');

  await server.restart();
  await expectOnline(ada.page);
  await expectOnline(bob.page);

  await expect(messagesWithText(ada.page, text)).toHaveAttribute('data-status', 'sent');
  await expect(messagesWithText(bob.page, text)).toHaveCount(1);
  await expect(messagesWithText(ada.page, text)).toHaveCount(1);

  // And stored exactly once.
  const page = (await (await fetch(`${server.url}/v1/chat/messages?room=lobby&limit=500`)).json()) as {
    data: { content: string }[];
  };
  expect(page.data.filter((m) => m.content === text)).toHaveLength(1);
  expect(page.data.filter((m) => m.content === 'before the crash')).toHaveLength(1);

  // Both kept their identity across the restart (the server keeps its secret in the data dir).
  expect(await bob.page.evaluate(() => localStorage.getItem('whisperchat.identity'))).toBe(bobIdentity);
  await expect(bob.page.getByTestId('presence').getByText('Ada')).toBeVisible();

  await send(bob.page, 'welcome back');
  await expect(messagesWithText(ada.page, 'welcome back')).toHaveCount(1);
  await ada.context.close();
  await bob.context.close();
});
