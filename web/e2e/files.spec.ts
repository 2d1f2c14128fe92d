import { expect, test, type Locator, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { composer, join, messagesWithText, screenshot, signUp } from './helpers';
import { WhisperServer } from './server';

// Files on messages, in a real Chromium against the real server (docs/protocol.md
// §17): one person pastes an image and sends it, the other sees it inline and
// full size; a file the server refuses says why in the composer; what was
// uploaded for a draft survives a reload; another kind of file is a download card.

let server: WhisperServer;

test.beforeAll(async () => {
  // PDFs too, so that a file that is no image can be posted (the default takes images only).
  server = await WhisperServer.start({ args: ['--allow-file-type', 'application/pdf'] });
});

test.afterAll(async () => {
  await server?.stop();
});

const room = 'files';

/** Where the screenshots asked for go, besides test-results/screenshots. */
const shotsDir = process.env.ATTACH_SHOTS_DIR ?? '/tmp/attach-shots';

async function shot(page: Page, name: string, target?: Locator): Promise<void> {
  mkdirSync(shotsDir, { recursive: true });
  await (target ?? page).screenshot({ path: path.join(shotsDir, `${name}.png`) });
  await screenshot(page, `files-${name}`);
}

/**
 * Pastes a PNG drawn in the page (`width` × `height`) into the composer of
 * `room`, as "Copy image" and then Ctrl+V would: a `paste` event whose
 * clipboard holds the file.
 */
async function pastePng(page: Page, name: string, width: number, height: number, where = room): Promise<void> {
  await composer(page, where).focus();
  await page.evaluate(
    async ({ name, width, height, label }) => {
      const canvas = document.createElement('canvas');
      canvas.width = width;
      canvas.height = height;
      const ctx = canvas.getContext('2d');
      if (!ctx) throw new Error('no 2d canvas');
      const sky = ctx.createLinearGradient(0, 0, 0, height);
      sky.addColorStop(0, '#4f46e5');
      sky.addColorStop(1, '#f59e0b');
      ctx.fillStyle = sky;
      ctx.fillRect(0, 0, width, height);
      ctx.fillStyle = '#fde68a';
      ctx.beginPath();
      ctx.arc(width * 0.7, height * 0.4, Math.min(width, height) * 0.12, 0, Math.PI * 2);
      ctx.fill();
      ctx.fillStyle = '#1e1b4b';
      ctx.beginPath();
      ctx.moveTo(0, height);
      ctx.lineTo(width * 0.3, height * 0.55);
      ctx.lineTo(width * 0.55, height * 0.8);
      ctx.lineTo(width * 0.8, height * 0.6);
      ctx.lineTo(width, height * 0.75);
      ctx.lineTo(width, height);
      ctx.fill();
      const blob = await new Promise<Blob>((resolve, reject) =>
        canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('no PNG'))), 'image/png'),
      );
      const data = new DataTransfer();
      data.items.add(new File([blob], name, { type: 'image/png' }));
      const box = [...document.querySelectorAll('textarea')].find((t) => t.getAttribute('aria-label') === label);
      if (!box) throw new Error(`no composer ${label}`);
      box.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    },
    { name, width, height, label: `Message #${where}` },
  );
}

/** The width the image has loaded at (0 while it has not, or could not). */
function loadedWidth(img: Locator): Promise<number> {
  return img.evaluate((el) => {
    const image = el as HTMLImageElement;
    return image.complete ? image.naturalWidth : 0;
  });
}

function chip(page: Page, name: string) {
  return page.getByTestId('composer-file').filter({ hasText: name });
}

test('an image pasted by one is seen inline by the other, opens full size, and a refused file says why', async ({
  browser,
}) => {
  const ada = await join(browser, server.url, 'Ada', { room });
  const bob = await join(browser, server.url, 'Bob', { room, colorScheme: 'dark' });

  // Ada pastes a picture: it uploads at once and shows above the box.
  await pastePng(ada.page, 'sunset.png', 1280, 800);
  const sunset = chip(ada.page, 'sunset.png');
  await expect(sunset).toHaveAttribute('data-state', 'uploaded');
  await expect.poll(() => loadedWidth(sunset.getByTestId('composer-file-preview'))).toBeGreaterThan(0);
  await composer(ada.page, room).fill('The view from the office tonight');
  await shot(ada.page, 'composer-light');
  await composer(ada.page, room).press('Enter');
  await expect(ada.page.getByTestId('composer-file')).toHaveCount(0);
  const mine = messagesWithText(ada.page, 'The view from the office tonight');
  await expect(mine).toHaveAttribute('data-status', 'sent');

  // Bob sees it inline, at its thumbnail's size, loaded.
  const row = messagesWithText(bob.page, 'The view from the office tonight');
  const thumb = row.locator('img[alt="sunset.png"]');
  await expect(thumb).toHaveAttribute('width', '320');
  await expect(thumb).toHaveAttribute('height', '200');
  await expect(thumb).toHaveAttribute('loading', 'lazy');
  await expect.poll(() => loadedWidth(thumb)).toBe(320);

  // And full size, in a dialog with a download link; Escape closes it and the focus goes to the composer.
  const open = row.getByRole('button', { name: 'View sunset.png' });
  await open.click();
  const lightbox = bob.page.getByRole('dialog', { name: 'sunset.png' });
  await expect(lightbox).toBeVisible();
  await expect.poll(() => loadedWidth(lightbox.getByTestId('lightbox-image'))).toBe(1280);
  await expect(lightbox).toContainText('1280 × 800');
  // A guest has no cookie: its file URLs carry its token.
  await expect(lightbox.getByRole('link', { name: 'Download' })).toHaveAttribute(
    'href',
    /\/v1\/files\/[0-9A-HJKMNP-TV-Z]{26}\?token=/,
  );
  await shot(bob.page, 'lightbox-dark');
  await bob.page.keyboard.press('Escape');
  await expect(lightbox).toHaveCount(0);
  await expect(composer(bob.page, room)).toBeFocused();

  // An image alone is a message: Bob pastes one and sends it without a word.
  await pastePng(bob.page, 'diagram.png', 300, 300);
  await expect(chip(bob.page, 'diagram.png')).toHaveAttribute('data-state', 'uploaded');
  await expect.poll(() => loadedWidth(chip(bob.page, 'diagram.png').getByTestId('composer-file-preview'))).toBe(300);
  await shot(bob.page, 'composer-dark');
  await composer(bob.page, room).press('Enter');
  const alone = ada.page.getByTestId('message').filter({ has: ada.page.locator('img[alt="diagram.png"]') });
  await expect(alone).toHaveCount(1);
  await expect(alone.getByTestId('message-content')).toHaveCount(0);
  await expect.poll(() => loadedWidth(alone.locator('img[alt="diagram.png"]'))).toBe(300);

  await shot(ada.page, 'message-light');
  await alone.getByRole('button', { name: 'View diagram.png' }).click();
  await expect.poll(() => loadedWidth(ada.page.getByTestId('lightbox-image'))).toBe(300);
  await shot(ada.page, 'lightbox-light');
  await ada.page.getByRole('dialog', { name: 'diagram.png' }).getByRole('button', { name: 'Close' }).click();
  await expect(ada.page.getByRole('dialog')).toHaveCount(0);
  await expect.poll(() => loadedWidth(bob.page.locator('img[alt="diagram.png"]'))).toBe(300);
  await shot(bob.page, 'message-dark');

  // A file the server does not take: the composer says why, in words.
  await ada.page.getByLabel('Choose files to attach').setInputFiles({
    name: 'notes.txt',
    mimeType: 'text/plain',
    buffer: Buffer.from('just some notes\n'),
  });
  const notes = chip(ada.page, 'notes.txt');
  await expect(notes).toHaveAttribute('data-state', 'failed');
  await expect(notes.getByTestId('composer-file-error')).toContainText("This kind of file can't be sent here.");
  await expect(notes.getByTestId('composer-file-error')).not.toContainText('unsupported_media_type');
  await composer(ada.page, room).fill('and my notes');
  await composer(ada.page, room).press('Enter');
  await expect(ada.page.getByTestId('composer-error')).toContainText('Remove the files that could not be uploaded');
  await shot(ada.page, 'composer-refused-light');
  await notes.getByRole('button', { name: 'Remove notes.txt' }).click();
  await expect(ada.page.getByTestId('composer-file')).toHaveCount(0);
  await composer(ada.page, room).press('Enter');
  await expect(messagesWithText(bob.page, 'and my notes')).toHaveCount(1);

  // The server's Content-Security-Policy blocked nothing (blob: previews, /v1/files images).
  expect([...ada.blocked, ...bob.blocked]).toEqual([]);
  await ada.context.close();
  await bob.context.close();
});

test('a slow upload shows its progress, and a message sent meanwhile goes once it is done', async ({ browser }) => {
  const ada = await join(browser, server.url, 'Ada', { room: 'slow' });
  const bob = await join(browser, server.url, 'Bob', { room: 'slow', colorScheme: 'dark' });
  // A slow line out: 64 KB a second.
  const cdp = await bob.context.newCDPSession(bob.page);
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 20,
    downloadThroughput: -1,
    uploadThroughput: 64 * 1024,
  });
  await pastePng(bob.page, 'noise.png', 1200, 900, 'slow');
  const noisy = chip(bob.page, 'noise.png');
  await expect(noisy).toHaveAttribute('data-state', 'uploading');
  const bar = noisy.getByRole('progressbar', { name: 'Uploading noise.png' });
  await expect.poll(async () => Number(await bar.getAttribute('aria-valuenow'))).toBeGreaterThan(0);
  await composer(bob.page, 'slow').fill('Wait for it');
  await composer(bob.page, 'slow').press('Enter');
  await expect(bob.page.getByRole('button', { name: 'Sending once the files are uploaded' })).toBeDisabled();
  await shot(bob.page, 'composer-uploading-dark');
  await expect(messagesWithText(ada.page, 'Wait for it')).toHaveCount(1, { timeout: 60_000 });
  await expect(bob.page.getByTestId('composer-file')).toHaveCount(0);
  await expect(composer(bob.page, 'slow')).toHaveValue('');
  await expect
    .poll(() => loadedWidth(messagesWithText(ada.page, 'Wait for it').locator('img[alt="noise.png"]')))
    .toBe(320);
  await ada.context.close();
  await bob.context.close();
});

test('the files uploaded for a draft show again after a reload, from the server', async ({ browser }) => {
  const ada = await join(browser, server.url, 'Ada', { room: 'drafts' });
  await pastePng(ada.page, 'kept.png', 640, 480, 'drafts');
  await expect(chip(ada.page, 'kept.png')).toHaveAttribute('data-state', 'uploaded');
  await composer(ada.page, 'drafts').fill('for later');
  // Let the draft be written: it is what the reload reads.
  await expect
    .poll(() =>
      ada.page.evaluate(
        () =>
          new Promise<number>((resolve) => {
            const open = indexedDB.open('whisperchat');
            open.onsuccess = () => {
              const get = open.result.transaction('drafts').objectStore('drafts').get('drafts');
              get.onsuccess = () =>
                resolve((get.result as { attachments?: unknown[] } | undefined)?.attachments?.length ?? 0);
              get.onerror = () => resolve(0);
            };
            open.onerror = () => resolve(0);
          }),
      ),
    )
    .toBe(1);

  await ada.page.reload();
  const kept = chip(ada.page, 'kept.png');
  await expect(kept).toHaveAttribute('data-state', 'uploaded');
  const preview = kept.getByTestId('composer-file-preview');
  await expect(preview).toHaveAttribute('src', /\/v1\/files\/[0-9A-HJKMNP-TV-Z]{26}\/thumb\?token=/);
  await expect.poll(() => loadedWidth(preview)).toBe(320);
  await expect(composer(ada.page, 'drafts')).toHaveValue('for later');

  await composer(ada.page, 'drafts').press('Enter');
  const sent = messagesWithText(ada.page, 'for later');
  await expect(sent).toHaveAttribute('data-status', 'sent');
  await expect.poll(() => loadedWidth(sent.locator('img[alt="kept.png"]'))).toBe(320);
  await ada.context.close();
});

test('signed in, the cookie uploads the file and reads it: its URLs carry no token', async ({ browser }) => {
  const context = await browser.newContext({ baseURL: server.url });
  const page = await context.newPage();
  await page.goto('/signup');
  await signUp(page, { name: 'Grace Hopper', email: 'grace@example.com', password: 'compiler pioneer 1952' });
  await page.goto('/chat/accounts');
  await expect(composer(page, 'accounts')).toBeVisible();
  await pastePng(page, 'card.png', 400, 250, 'accounts');
  await expect(chip(page, 'card.png')).toHaveAttribute('data-state', 'uploaded');
  await composer(page, 'accounts').fill('From my account');
  await composer(page, 'accounts').press('Enter');
  const thumb = messagesWithText(page, 'From my account').locator('img[alt="card.png"]');
  await expect(thumb).toHaveAttribute('src', /\/v1\/files\/[0-9A-HJKMNP-TV-Z]{26}\/thumb$/);
  await expect.poll(() => loadedWidth(thumb)).toBe(320);

  // A guest reads it too: the room is public.
  const bob = await join(browser, server.url, 'Bob', { room: 'accounts' });
  await expect.poll(() => loadedWidth(messagesWithText(bob.page, 'From my account').locator('img'))).toBe(320);
  await context.close();
  await bob.context.close();
});

test('a file that is no image is a card with its size and kind that downloads it', async ({ browser }) => {
  const ada = await join(browser, server.url, 'Ada', { room: 'docs' });
  const bob = await join(browser, server.url, 'Bob', { room: 'docs' });
  const pdf = Buffer.from(
    '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
  );
  await ada.page.getByLabel('Choose files to attach').setInputFiles({
    name: 'minutes.pdf',
    mimeType: 'application/pdf',
    buffer: pdf,
  });
  await expect(chip(ada.page, 'minutes.pdf')).toHaveAttribute('data-state', 'uploaded');
  await composer(ada.page, 'docs').fill('Minutes of the meeting');
  await composer(ada.page, 'docs').press('Enter');

  const card = messagesWithText(bob.page, 'Minutes of the meeting').getByTestId('file-card');
  await expect(card).toContainText('minutes.pdf');
  await expect(card).toContainText(`${pdf.length} bytes · PDF document`);
  await expect(card).toHaveAttribute('download', 'minutes.pdf');
  await shot(bob.page, 'file-card-light');
  const download = bob.page.waitForEvent('download');
  await card.click();
  expect((await download).suggestedFilename()).toBe('minutes.pdf');
  await ada.context.close();
  await bob.context.close();
});
