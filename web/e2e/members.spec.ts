import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { expectOnline, messagesWithText, screenshot, signUp, type Credentials } from './helpers';
import { WhisperServer } from './server';

/**
 * Rooms with members, end to end, in three browsers: Ada creates a private
 * room with Bob in it; Carol, not in it, cannot see it or get in; Ada and Bob
 * write to each other directly; Ada, its owner, deletes Bob's message and
 * both see it go.
 */

let server: WhisperServer;
const contexts: BrowserContext[] = [];

test.beforeAll(async () => {
  server = await WhisperServer.start();
});

test.afterAll(async () => {
  for (const c of contexts.splice(0)) await c.close();
  await server?.stop();
});

interface Member {
  page: Page;
  context: BrowserContext;
  who: Credentials;
}

/** A new browser that signs up as `who` and ends in the lobby, online. */
async function account(browser: Browser, who: Credentials): Promise<Member> {
  const context = await browser.newContext({ baseURL: server.url, colorScheme: 'light' });
  contexts.push(context);
  const page = await context.newPage();
  await page.goto('/signup');
  await signUp(page, who);
  await expect(page).toHaveURL(/\/chat\/lobby$/);
  return { page, context, who };
}

function yourRooms(page: Page) {
  return page.getByRole('navigation', { name: 'Your rooms' });
}

/** The composer of the open room, named as the header names it ("Message Plans", "Message Bob"). */
function composerFor(page: Page, label: string) {
  return page.getByRole('textbox', { name: `Message ${label}` });
}

async function say(page: Page, label: string, text: string) {
  const box = composerFor(page, label);
  await box.fill(text);
  await box.press('Enter');
  await expect(messagesWithText(page, text)).toHaveAttribute('data-status', 'sent');
}

test('a private room: members only, direct messages, and an owner deleting a member’s message', async ({ browser }) => {
  const ada = await account(browser, { name: 'Ada', email: 'ada@example.com', password: 'analytical engine 1843' });
  const bob = await account(browser, { name: 'Bob', email: 'bob@example.com', password: 'difference engine 1822' });
  const carol = await account(browser, { name: 'Carol', email: 'carol@example.com', password: 'jacquard loom 1804' });

  // Ada creates "Plans" with Bob in it, adding him by his name.
  await ada.page.getByRole('button', { name: 'New private room' }).click();
  const dialog = ada.page.getByRole('dialog', { name: 'New private room' });
  await expect(dialog.getByRole('textbox', { name: 'Title' })).toBeFocused();
  await dialog.getByRole('textbox', { name: 'Title' }).fill('Plans');
  await dialog.getByRole('textbox', { name: 'Topic (optional)' }).fill('The launch, and who does what');
  await dialog.getByRole('textbox', { name: 'Add someone by name' }).fill('bob');
  await dialog.getByRole('textbox', { name: 'Add someone by name' }).press('Enter');
  await expect(dialog.getByRole('checkbox', { name: 'Bob' })).toBeChecked();
  await screenshot(ada.page, 'members-create-room');
  await dialog.getByRole('button', { name: 'Create room' }).click();
  await expect(dialog).toHaveCount(0);

  await expect(ada.page).toHaveURL(/\/chat\/p\/[0-9a-f]{32}$/);
  const room = new URL(ada.page.url()).pathname.slice('/chat/'.length);
  await expect(ada.page.getByTestId('room-title')).toHaveText('Plans');
  await expect(ada.page.getByTestId('room-topic')).toHaveText('The launch, and who does what');
  await expect(ada.page.getByRole('img', { name: 'Private room' })).toBeVisible();
  // Back in the composer once the dialog is done.
  await expect(composerFor(ada.page, 'Plans')).toBeFocused();
  await expectOnline(ada.page);
  await say(ada.page, 'Plans', 'Welcome to Plans, Bob');

  // Bob is told at once: the room is in his list, by its title, with its unread message.
  const bobsRow = yourRooms(bob.page).getByRole('button', { name: /Plans/ });
  await expect(bobsRow).toBeVisible();
  await expect(bobsRow).toHaveAttribute('data-visibility', 'private');
  await bobsRow.click();
  await expect(bob.page).toHaveURL(new RegExp(`/chat/${room}$`));
  await expect(messagesWithText(bob.page, 'Welcome to Plans, Bob')).toHaveCount(1);
  // How the room began, as one-line notices.
  await expect(bob.page.getByTestId('room-notice').filter({ hasText: 'Ada created the room' })).toHaveCount(1);
  await expect(bob.page.getByTestId('room-notice').filter({ hasText: /Ada added you|Ada added Bob/ })).toHaveCount(1);
  await screenshot(bob.page, 'members-private-room-bob');

  // Carol is not in it: not in her sidebar, not in her /v1/rooms, and its address is refused.
  await expect(yourRooms(carol.page)).not.toContainText('Plans');
  const listed = (await (await carol.context.request.get('/v1/rooms')).json()) as { rooms: { name: string }[] };
  expect(listed.rooms.map((r) => r.name)).not.toContain(room);
  const details = await carol.context.request.get(`/v1/rooms/${encodeURIComponent(room)}`);
  expect(details.status()).toBe(403);
  await carol.page.goto(`/chat/${room}`);
  await expect(carol.page.getByRole('alert').filter({ hasText: "You can't open" })).toBeVisible();
  await expect(carol.page).toHaveURL(/\/chat\/lobby$/);
  await expect(yourRooms(carol.page)).not.toContainText('Plans');
  await expect(carol.page.getByText('Welcome to Plans, Bob')).toHaveCount(0);
  await screenshot(carol.page, 'members-refused');

  // Bob writes; Ada, the owner, deletes it; both see it go.
  await say(bob.page, 'Plans', 'Buy cheap watches here');
  const adasCopy = messagesWithText(ada.page, 'Buy cheap watches here');
  await expect(adasCopy).toHaveCount(1);
  const messageId = await adasCopy.getAttribute('data-message-id');
  await adasCopy.hover();
  await adasCopy.getByRole('button', { name: 'Delete message' }).click();
  await adasCopy.getByTestId('delete-confirm').getByRole('button', { name: 'Delete' }).click();
  const deleted = (page: Page) => page.locator(`[data-testid="message"][data-message-id="${messageId}"]`);
  await expect(deleted(ada.page)).toHaveAttribute('data-deleted', 'true');
  await expect(deleted(bob.page)).toHaveAttribute('data-deleted', 'true');
  await expect(bob.page.getByText('Buy cheap watches here')).toHaveCount(0);
  await screenshot(bob.page, 'members-deleted-by-owner');
  // Bob, a member, is offered no Delete on Ada's message.
  const adasMessage = messagesWithText(bob.page, 'Welcome to Plans, Bob');
  await adasMessage.hover();
  await expect(adasMessage.getByRole('button', { name: 'Delete message' })).toHaveCount(0);

  // Ada opens a direct conversation with Bob from the member list.
  const members = ada.page.getByRole('region', { name: 'Members' });
  await expect(members.getByText('Bob', { exact: true })).toBeVisible();
  await members.getByRole('button', { name: 'Send Bob a direct message' }).click();
  await expect(ada.page).toHaveURL(/\/chat\/dm\/[0-9a-f]{32}$/);
  const direct = new URL(ada.page.url()).pathname.slice('/chat/'.length);
  await expect(ada.page.getByTestId('room-title')).toHaveText('Bob');
  await expectOnline(ada.page);
  await say(ada.page, 'Bob', 'Just between us: the launch is Tuesday');

  // Bob finds it under Direct messages, named for Ada, and answers.
  const dms = bob.page.getByRole('region', { name: 'Direct messages' });
  await expect(dms.getByRole('button', { name: /Ada/ })).toBeVisible();
  await dms.getByRole('button', { name: /Ada/ }).click();
  await expect(bob.page).toHaveURL(new RegExp(`/chat/${direct}$`));
  await expect(messagesWithText(bob.page, 'Just between us: the launch is Tuesday')).toHaveCount(1);
  await say(bob.page, 'Ada', 'Got it');
  await expect(messagesWithText(ada.page, 'Got it')).toHaveCount(1);
  await screenshot(ada.page, 'members-direct-message');

  // Carol sees neither.
  const carolsList = (await (await carol.context.request.get('/v1/rooms')).json()) as { rooms: { name: string }[] };
  expect(carolsList.rooms.map((r) => r.name)).not.toContain(direct);

  // The room's settings: its members and their roles, with the owner's tools.
  await yourRooms(ada.page).getByRole('button', { name: /Plans/ }).click();
  await ada.page.getByRole('button', { name: 'Room settings' }).click();
  const settings = ada.page.getByRole('dialog', { name: /Plans/ });
  await expect(settings.getByTestId('room-member')).toHaveCount(2);
  await expect(settings.getByRole('combobox', { name: 'Role of Bob' })).toHaveValue('member');
  await screenshot(ada.page, 'members-room-settings');

  // Ada removes Bob, saying why: Bob is told, the room leaves his list, and the room shows it.
  await settings.getByRole('button', { name: 'Remove Bob' }).click();
  await settings.getByRole('textbox', { name: 'Reason (optional)' }).fill('spam');
  await settings.getByRole('button', { name: 'Remove', exact: true }).click();
  await expect(settings.getByTestId('room-member')).toHaveCount(1);
  await ada.page.keyboard.press('Escape');
  await expect(settings).toHaveCount(0);
  await expect(composerFor(ada.page, 'Plans')).toBeFocused();
  await expect(ada.page.getByTestId('room-notice').filter({ hasText: 'You removed Bob: spam' })).toHaveCount(1);
  await expect(bob.page.getByRole('alert').filter({ hasText: /You were removed from Plans/ })).toBeVisible();
  await expect(yourRooms(bob.page).getByRole('button', { name: /Plans/ })).toHaveCount(0);
  await screenshot(bob.page, 'members-removed');
});
