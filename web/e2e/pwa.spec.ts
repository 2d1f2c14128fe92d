import { expect, test, type Page } from '@playwright/test';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { composer, expectOnline, join, messagesWithText, screenshot, send, status } from './helpers';
import { WhisperServer, webDist } from './server';

// The installable app: its manifest and icons, the service worker that opens it offline after one visit,
// and the "Update available — Reload" prompt when a new version is out.

const shots = process.env.DAILY_SHOTS ?? '/tmp/daily-shots';

async function shot(page: Page, name: string): Promise<void> {
  await screenshot(page, name);
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, `${name}.png`) });
}

/** Waits until the service worker is active (the app shell precached), and returns its script's URL. */
async function serviceWorkerActive(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    return registration.active?.scriptURL ?? '';
  });
}

/** Whether the client's local cache (IndexedDB, the guest's `whisperchat` database) holds a message with `text`. */
async function cachedLocally(page: Page, text: string): Promise<boolean> {
  return page.evaluate(async (text) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open('whisperchat');
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    try {
      const rooms = await new Promise<{ messages: { content: string }[] }[]>((resolve, reject) => {
        const all = db.transaction('rooms').objectStore('rooms').getAll();
        all.onsuccess = () => resolve(all.result as { messages: { content: string }[] }[]);
        all.onerror = () => reject(all.error);
      });
      return rooms.some((r) => r.messages.some((m) => m.content === text));
    } finally {
      db.close();
    }
  }, text);
}

/** Every URL in the page's Cache Storage. */
async function cachedUrls(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const urls: string[] = [];
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      for (const request of await cache.keys()) urls.push(request.url);
    }
    return urls;
  });
}

test.describe('installable, offline', () => {
  let server: WhisperServer;

  test.beforeAll(async () => {
    server = await WhisperServer.start();
  });

  test.afterAll(async () => {
    await server?.stop();
  });

  test('a web app manifest with its icons (192, 512 and a maskable one)', async ({ request }) => {
    const res = await request.get(`${server.url}/manifest.webmanifest`);
    expect(res.status()).toBe(200);
    const manifest = (await res.json()) as {
      name: string;
      start_url: string;
      display: string;
      icons: { src: string; sizes: string; type: string; purpose?: string }[];
    };
    expect(manifest.name).toBe('WhisperChat');
    expect(manifest.display).toBe('standalone');
    expect(manifest.icons.map((i) => `${i.sizes} ${i.purpose ?? 'any'}`)).toEqual(
      expect.arrayContaining(['192x192 any', '512x512 any', '512x512 maskable']),
    );
    for (const icon of manifest.icons) {
      const file = await request.get(`${server.url}${icon.src}`);
      expect(file.status(), icon.src).toBe(200);
      expect(file.headers()['content-type'], icon.src).toBe(icon.type);
    }
    const sw = await request.get(`${server.url}/sw.js`);
    expect(sw.status()).toBe(200);
    expect(sw.headers()['cache-control']).toBe('no-cache');
  });

  test('after one visit it opens offline: the shell, the cached room and its history; what is typed waits', async ({
    browser,
  }) => {
    const ada = await join(browser, server.url, 'Ada Lovelace');
    const { page, context } = ada;
    await send(page, 'Written before going offline');
    await expect(messagesWithText(page, 'Written before going offline')).toHaveAttribute('data-status', 'sent');
    // The client keeps rooms and their history in IndexedDB (a moment after they change).
    await expect.poll(() => cachedLocally(page, 'Written before going offline')).toBe(true);
    expect(await serviceWorkerActive(page)).toMatch(/\/sw\.js$/);
    await expect(page.locator('link[rel="manifest"]')).toHaveAttribute('href', '/manifest.webmanifest');

    // The service worker keeps the app shell and the hashed assets, never the API.
    const cached = (await cachedUrls(page)).map((u) => u.replace(/\?__WB_REVISION__=\w+$/, ''));
    expect(cached).toContain(`${server.url}/index.html`);
    expect(cached.some((u) => /\/assets\/index-[\w-]+\.js$/.test(u))).toBe(true);
    expect(cached.filter((u) => u.includes('/v1/') || u.includes('/healthz'))).toEqual([]);

    await context.setOffline(true);
    await page.reload();
    await expect(page.getByTestId('room-title')).toContainText('lobby');
    await expect(messagesWithText(page, 'Written before going offline')).toHaveCount(1);
    await shot(page, 'offline-light-desktop');

    // The server out of reach too (the socket may live in a shared worker, which the page's offline
    // switch does not reach): what is typed is kept and shown on its way, and goes once it is back.
    await server.kill();
    await expect(status(page)).not.toHaveAttribute('data-state', 'online');
    await composer(page).fill('Typed while offline');
    await composer(page).press('Enter');
    await expect(messagesWithText(page, 'Typed while offline')).toHaveAttribute('data-status', 'sending');
    await page.reload();
    await expect(messagesWithText(page, 'Typed while offline')).toHaveAttribute('data-status', 'sending');

    // Still nothing of the API in the caches.
    expect((await cachedUrls(page)).filter((u) => u.includes('/v1/'))).toEqual([]);

    await context.setOffline(false);
    await server.restart();
    await expectOnline(page);
    await expect(messagesWithText(page, 'Typed while offline')).toHaveAttribute('data-status', 'sent');
    await context.close();
  });
});

test.describe('a new version', () => {
  let server: WhisperServer;
  let webDir: string;

  test.beforeAll(async () => {
    // A copy of the client, to put out a "new version" of it while the page is open.
    webDir = mkdtempSync(path.join(tmpdir(), 'whisper-web-'));
    cpSync(webDist, webDir, { recursive: true });
    server = await WhisperServer.start({ webDir });
  });

  test.afterAll(async () => {
    await server?.stop();
    rmSync(webDir, { recursive: true, force: true });
  });

  test('says "Update available — Reload" instead of switching by itself, and Reload switches', async ({ browser }) => {
    const ada = await join(browser, server.url, 'Ada Lovelace');
    const { page, context } = ada;
    const first = await serviceWorkerActive(page);
    // A visit after the first: the page is the service worker's (the first load was the network's).
    await page.reload();
    await expect(page.getByTestId('room-title')).toContainText('lobby');
    expect(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toBe(first);
    await expect(page.getByTestId('update-prompt')).toHaveCount(0);

    // A new version is out: its service worker differs by a byte (and its compressed copies, which the
    // server would send instead, are gone with the old version).
    appendFileSync(path.join(webDir, 'sw.js'), '\n// the next version\n');
    for (const copy of ['sw.js.br', 'sw.js.gz']) rmSync(path.join(webDir, copy), { force: true });
    await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready;
      await registration.update();
    });
    const prompt = page.getByTestId('update-prompt');
    await expect(prompt).toBeVisible();
    await expect(prompt).toContainText('Update available');
    // The old version goes on until the user says: the new one waits.
    const states = await page.evaluate(async () => {
      const r = await navigator.serviceWorker.getRegistration();
      return { installing: r?.installing?.state, waiting: r?.waiting?.state, active: r?.active?.state };
    });
    expect(states).toEqual({ installing: undefined, waiting: 'installed', active: 'activated' });

    await shot(page, 'update-prompt-light-desktop');
    await page.evaluate(() => document.documentElement.classList.add('dark'));
    await shot(page, 'update-prompt-dark-desktop');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, 'update-prompt-dark-phone');
    await page.evaluate(() => document.documentElement.classList.remove('dark'));
    await shot(page, 'update-prompt-light-phone');
    await page.setViewportSize({ width: 1280, height: 800 });

    // Later hides it; Reload (after a fresh look) switches to the new version and reloads.
    await prompt.getByRole('button', { name: 'Later' }).click();
    await expect(prompt).toHaveCount(0);
    await page.reload();
    await expect(prompt).toBeVisible();
    await Promise.all([page.waitForEvent('load'), prompt.getByRole('button', { name: 'Reload' }).click()]);
    await expect(page.getByTestId('room-title')).toContainText('lobby');
    await expect(page.getByTestId('update-prompt')).toHaveCount(0);
    const after = await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready;
      return { waiting: Boolean(registration.waiting), controller: navigator.serviceWorker.controller?.scriptURL };
    });
    expect(after).toEqual({ waiting: false, controller: first });
    await context.close();
  });
});
