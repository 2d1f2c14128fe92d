import { describe, expect, it } from 'vitest';
import { describeRefusal } from '../../src/core/describe';
import type { Refusal } from '../../src/core/protocol';

const refusal = (r: Partial<Refusal> & Pick<Refusal, 'code'>): Refusal => ({ message: '', ...r });

describe('describeRefusal: a refused message in plain words', () => {
  it('says what is wrong with the text, from the details, never the protocol’s words', () => {
    const cases: [Refusal, string][] = [
      [
        refusal({
          code: 'too_large',
          message: 'the messages frame is too large',
          details: ['data[0].content: is 4001 characters long, at most 4000 are allowed'],
        }),
        'The message is too long: 4,001 characters, and at most 4,000 are allowed. Shorten it and send it again.',
      ],
      [
        refusal({
          code: 'invalid_frame',
          message: 'the messages frame is invalid',
          details: ['data[0].content: must not contain control character U+0007'],
        }),
        "The message contains an invisible control character (U+0007) that can't be sent. Remove it and send it again.",
      ],
      [
        refusal({
          code: 'invalid_frame',
          message: 'the messages frame is invalid',
          details: ['data[0].content: must not be empty'],
        }),
        'The message is empty. Write something first.',
      ],
      [
        refusal({
          code: 'not_found',
          message: 'no such message',
          details: ['data[0].reply_to: no message 01ABC in room lobby'],
        }),
        'The message it answers is no longer in this room.',
      ],
      [
        refusal({
          code: 'not_found',
          message: 'no such file',
          details: ['data[0].attachments[1]: no file 01XYZ uploaded by you'],
        }),
        'One of its files is no longer available. Remove it and attach it again.',
      ],
      [
        refusal({ code: 'forbidden', message: 'not a member of room p/plans' }),
        'You are not a member of this room, so you cannot post in it.',
      ],
      [
        refusal({ code: 'forbidden', message: 'banned from room lobby' }),
        'You were banned from this room, so you cannot post in it.',
      ],
      [
        refusal({ code: 'forbidden', message: 'a connection may only send as its own user' }),
        'A message can only be sent as yourself.',
      ],
      // A policy's own reason (for people) stands.
      [refusal({ code: 'forbidden', message: 'links are not allowed here' }), 'Links are not allowed here.'],
    ];
    for (const [r, said] of cases) {
      expect(describeRefusal(r)).toBe(said);
      expect(describeRefusal(r)).not.toMatch(/invalid_frame|data\[|content:|_/);
    }
  });

  it('says each problem once, and that a retryable refusal goes again by itself', () => {
    expect(
      describeRefusal(
        refusal({
          code: 'invalid_frame',
          message: 'the messages frame is invalid',
          details: ['data[0].content: must not be empty', 'data[1].content: must not be empty'],
        }),
      ),
    ).toBe('The message is empty. Write something first.');
    expect(
      describeRefusal(
        refusal({ code: 'rate_limited', message: 'at most 20 messages per second', retry_after_ms: 50n }),
      ),
    ).toBe('You are sending messages faster than the server allows. It will be sent again by itself in a moment.');
    expect(describeRefusal(refusal({ code: 'internal', message: 'internal error; nothing was stored' }))).toBe(
      'Something went wrong on the server. Nothing was stored. It will be sent again by itself in a moment.',
    );
    expect(
      describeRefusal(
        refusal({ code: 'invalid_frame', message: 'the messages frame is invalid', details: ['data[0]: ???'] }),
      ),
    ).toBe('The server did not accept it as it was sent.');
  });
});
