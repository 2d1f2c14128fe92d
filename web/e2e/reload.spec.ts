import { expect, test } from '@playwright/test';
import { expectOnline, join, messagesWithText, send, status, storedIdentity } from './helpers';
import { WhisperServer } from './server';

let server: WhisperServer;

test.beforeAll(async () => {
  server = await WhisperServer.start();
});

test.afterAll(async () => {
  await server?.stop();
});

test('a reload keeps the history, the identity and the draft', async ({ browser }) => {
  const ada = await join(browser, server.url, 'Ada');
  await send(ada.page, 'Remember me?');
  await send(ada.page, 'And me.');
  await expect(messagesWithText(ada.page, 'And me.')).toHaveAttribute('data-status', 'sent');
  const before = await storedIdentity(ada.page);
  expect(before.userId).toMatch(/^[0-9a-f-]{36}$/);
  expect(before.token).toBeTruthy();
  await ada.page.getByRole('textbox', { name: 'Message #lobby' }).fill('half-written');

  await ada.page.reload();
  // No name prompt: the identity survived.
  await expect(ada.page.getByRole('dialog')).toHaveCount(0);
  await expect(messagesWithText(ada.page, 'Remember me?')).toHaveCount(1);
  await expect(messagesWithText(ada.page, 'And me.')).toHaveCount(1);
  await expect(ada.page.getByRole('textbox', { name: 'Message #lobby' })).toHaveValue('half-written');
  await expectOnline(ada.page);
  expect(await storedIdentity(ada.page)).toEqual(before);

  // Still the same user to the server: older messages are still "yours".
  await expect(messagesWithText(ada.page, 'Remember me?')).toHaveAttribute('data-own', 'true');
  await expect(ada.page.getByTestId('presence').getByText('Ada')).toBeVisible();
  await ada.context.close();
});

test('a reload shows the cached messages even when the server does not answer', async ({ browser }) => {
  const ada = await join(browser, server.url, 'Ada');
  await send(ada.page, 'kept in IndexedDB');
  await expect(messagesWithText(ada.page, 'kept in IndexedDB')).toHaveAttribute('data-status', 'sent');
  // Let the cache write settle: it is what the next load reads first.
  await expect
    .poll(() =>
      ada.page.evaluate(
        () =>
          new Promise<string[]>((resolve) => {
            const open = indexedDB.open('whisperchat');
            open.onsuccess = () => {
              const get = open.result.transaction('rooms').objectStore('rooms').get('lobby');
              get.onsuccess = () => {
                const cache = get.result as { messages?: { content: string }[] } | undefined;
                resolve((cache?.messages ?? []).map((m) => m.content));
              };
              get.onerror = () => resolve([]);
            };
            open.onerror = () => resolve([]);
          }),
      ),
    )
    .toContain('kept in IndexedDB');

  // The page still loads, but history and the WebSocket get no answer. Playwright cannot route what a
  // SharedWorker sends, so after the reload this page's client owns its socket (src/core/shared/browser.ts).
  await ada.page.evaluate(() => localStorage.setItem('whisperchat.sharing', 'tab'));
  await ada.context.route('**/v1/**', (route) => route.abort());
  await ada.context.routeWebSocket(/\/v1\/chat\/ws/, (ws) => ws.close({ code: 1011, reason: 'test: no server' }));
  await ada.page.reload();
  await expect(messagesWithText(ada.page, 'kept in IndexedDB')).toHaveCount(1);
  await expect(status(ada.page)).not.toHaveAttribute('data-state', 'online');
  await ada.context.close();
});
