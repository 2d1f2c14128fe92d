import { expect, test, type Page } from '@playwright/test';
import { composer, expectOnline, join, messagesWithText, screenshot, send } from './helpers';
import { WhisperServer } from './server';

// Two people edit, react, reply, read and delete in a real Chromium against
// the real server (docs/protocol.md §13): each sees the other's changes live,
// and again after a reload.

let server: WhisperServer;

test.beforeAll(async () => {
  server = await WhisperServer.start();
});

test.afterAll(async () => {
  await server?.stop();
});

const room = 'timeline';

/** The row of the message whose text is `text`, hovered so its actions show. */
async function actionsOf(page: Page, text: string) {
  const row = messagesWithText(page, text);
  await row.hover();
  return row.getByRole('toolbar', { name: 'Message actions' });
}

test('two people edit, react, reply, read and delete, live and after a reload', async ({ browser }) => {
  const ada = await join(browser, server.url, 'Ada', { room });
  const bob = await join(browser, server.url, 'Bob', { room });

  await send(ada.page, 'helo wrld', room);
  await expect(messagesWithText(bob.page, 'helo wrld')).toHaveCount(1);
  await expect(messagesWithText(ada.page, 'helo wrld')).toHaveAttribute('data-status', 'sent');

  // Up in an empty composer edits your last message, as in Slack.
  await composer(ada.page, room).press('ArrowUp');
  const editor = ada.page.getByRole('textbox', { name: 'Edited message' });
  await editor.fill('hello world');
  await editor.press('Enter');
  const edited = messagesWithText(bob.page, 'hello world');
  await expect(edited).toHaveCount(1);
  await expect(edited.getByTestId('message-edited')).toBeVisible();
  await expect(messagesWithText(bob.page, 'helo wrld')).toHaveCount(0);

  // Bob reacts; Ada sees the count.
  await (await actionsOf(bob.page, 'hello world')).getByRole('button', { name: 'React' }).click();
  await bob.page.getByRole('button', { name: 'React with 👍' }).click();
  await expect(messagesWithText(ada.page, 'hello world').getByRole('button', { name: '👍 1' })).toBeVisible();

  // Bob replies with a quote of the original.
  await (await actionsOf(bob.page, 'hello world')).getByRole('button', { name: 'Reply' }).click();
  await expect(bob.page.getByTestId('composer-reply')).toBeVisible();
  await send(bob.page, 'hi Ada', room);
  const reply = messagesWithText(ada.page, 'hi Ada');
  await expect(reply.getByTestId('reply-quote')).toContainText('hello world');

  // Bob has the room open, so he has read it: Ada's message shows ✓✓.
  await expect(messagesWithText(ada.page, 'hello world').getByTestId('message-status')).toHaveAttribute(
    'data-read',
    'true',
  );

  // Ada takes a message back, after confirming.
  await send(ada.page, 'oops, wrong room', room);
  await expect(messagesWithText(bob.page, 'oops, wrong room')).toHaveCount(1);
  await (await actionsOf(ada.page, 'oops, wrong room')).getByRole('button', { name: 'Delete message' }).click();
  await ada.page.getByRole('alertdialog').getByRole('button', { name: 'Delete' }).click();
  await expect(messagesWithText(bob.page, 'oops, wrong room')).toHaveCount(0);
  await expect(bob.page.locator('[data-testid="message"][data-deleted="true"]')).toHaveCount(1);
  await screenshot(bob.page, 'timeline-bob');
  await screenshot(ada.page, 'timeline-ada');

  // After a reload both see the same: the edit, the reaction, the reply, the tombstone.
  for (const person of [ada, bob]) {
    await person.page.reload();
    await expectOnline(person.page);
    const message = messagesWithText(person.page, 'hello world');
    await expect(message.getByTestId('message-edited')).toBeVisible();
    await expect(message.getByRole('button', { name: '👍 1' })).toBeVisible();
    if (person === ada) {
      // The join tells Ada how far Bob has read: ✓✓ without Bob reading again.
      await expect(message.getByTestId('message-status')).toHaveAttribute('data-read', 'true');
    }
    await expect(messagesWithText(person.page, 'hi Ada').getByTestId('reply-quote')).toContainText('hello world');
    await expect(person.page.locator('[data-testid="message"][data-deleted="true"]')).toHaveCount(1);
    await expect(messagesWithText(person.page, 'oops, wrong room')).toHaveCount(0);
  }
  expect(ada.dialogs).toEqual([]);
  expect(bob.dialogs).toEqual([]);
  await ada.context.close();
  await bob.context.close();
});
