import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_UPLOAD_BYTES,
  UploadError,
  attachmentView,
  describeFileType,
  describeUploadError,
  fileUrl,
  formatBytes,
  type UploadProgress,
} from '../../src/core/files';
import { ORIGIN } from '../helpers/fixtures';
import { attachment, fakeUploads, fileOf } from '../helpers/uploads';

const MB = 1024 * 1024;

/** Uploads `file` through a fake, answered with `status`/`body`; the refusal it rejects with. */
async function refusal(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  file = fileOf('cat.png', 'image/png'),
) {
  const uploads = fakeUploads();
  const upload = uploads.api.upload(file, file.name);
  uploads.last().respond(status, body, headers);
  const e = await upload.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UploadError);
  return { error: e as UploadError, text: describeUploadError(e, file) };
}

function refused(code: string, message: string) {
  return { error: { code, message } };
}

describe('FilesApi.upload', () => {
  it('posts the raw bytes with the name in X-Filename, and reports progress until the Attachment', async () => {
    const uploads = fakeUploads();
    const file = fileOf('my cat (1).png', 'image/png', 2000);
    const seen: UploadProgress[] = [];
    const upload = uploads.api.upload(file, file.name, { onProgress: (p) => seen.push(p) });
    const request = uploads.last();
    expect(request.method).toBe('POST');
    expect(request.url).toBe(`${ORIGIN}/v1/files`);
    expect(request.body).toBe(file);
    expect(request.headers).toMatchObject({
      'X-Filename': 'my%20cat%20(1).png',
      // The server reads the type from the bytes: the browser's guess from the name is not sent.
      'Content-Type': 'application/octet-stream',
      Accept: 'application/json',
    });
    // An account: its cookie goes by itself, no header.
    expect(request.headers.Authorization).toBeUndefined();
    request.progress(500, 2000);
    request.progress(2000, 2000);
    expect(seen).toEqual([
      { loaded: 500, total: 2000 },
      { loaded: 2000, total: 2000 },
    ]);
    const answer = attachment({ name: 'my cat (1).png' });
    request.respond(201, answer);
    await expect(upload).resolves.toEqual(answer);
  });

  it("sends a guest's token as a Bearer header", async () => {
    const uploads = fakeUploads();
    const file = fileOf('a.png', 'image/png');
    const upload = uploads.api.upload(file, file.name, { token: 'guest-token' });
    expect(uploads.last().headers.Authorization).toBe('Bearer guest-token');
    uploads.last().respond(201, attachment());
    await upload;
  });

  it('says each refusal in words for people, with what the file is and the server’s own sentence', async () => {
    const big = fileOf('huge.png', 'image/png', Math.round(12.3 * MB));
    const tooLarge = await refusal(
      413,
      refused('payload_too_large', 'the file is larger than 10485760 bytes'),
      {},
      big,
    );
    expect(tooLarge.error).toMatchObject({ status: 413, code: 'payload_too_large', retryable: false });
    expect(tooLarge.text).toBe('This file is 12.3 MB; the limit is 10 MB.');
    expect((await refusal(413, refused('payload_too_large', 'at most 25 MiB'), {}, big)).text).toBe(
      'This file is 12.3 MB; the limit is 25 MB.',
    );
    expect((await refusal(413, refused('payload_too_large', 'too large'), {}, big)).text).toBe(
      'This file is 12.3 MB, more than the server accepts.',
    );

    const type = await refusal(
      415,
      refused('unsupported_media_type', 'the file is text/plain; this server accepts image/png, image/jpeg'),
    );
    expect(type.text).toBe(
      "This kind of file can't be sent here. The file is text/plain; this server accepts image/png, image/jpeg.",
    );
    // whisper-server's own sentences.
    const broken = await refusal(
      422,
      refused('invalid_image', 'the image could not be read: Format error decoding Png: IDAT chunk missing'),
    );
    expect(broken.text).toBe('This image could not be read: it may be damaged, or in a format the server cannot open.');
    expect((await refusal(422, refused('invalid_image', 'the image is 20000 px wide; at most 16384'))).text).toBe(
      "This image can't be sent. The image is 20000 px wide; at most 16384.",
    );
    expect(
      (
        await refusal(
          413,
          refused('payload_too_large', 'the file is over the limit of 10485760 bytes (10.0 MiB)'),
          {},
          big,
        )
      ).text,
    ).toBe('This file is 12.3 MB; the limit is 10 MB.');
    expect((await refusal(401, refused('unauthorized', 'no credentials'))).text).toMatch(/did not recognise you/);
    const limited = await refusal(429, refused('rate_limited', 'slow down'), { 'Retry-After': '3' });
    expect(limited.error).toMatchObject({ retryAfterMs: 3000, retryable: true });
    expect(limited.text).toBe('Too many uploads just now. Try again in 3 seconds.');
    const down = await refusal(503, refused('storage_unavailable', 'the store is down'));
    expect(down.error.retryable).toBe(true);
    expect(down.text).toBe('The server could not store the file just now. Try again.');
    // An answer that is no Attachment.
    const odd = await refusal(201, { hello: 'world' });
    expect(odd.error.code).toBe('bad_response');
    // Never the code alone.
    for (const { text } of [tooLarge, type, limited, down]) expect(text).not.toMatch(/_/);
  });

  it('fails as "network" when no answer comes, and guesses the limit for a file over the usual one', async () => {
    const uploads = fakeUploads();
    const small = fileOf('a.png', 'image/png');
    const upload = uploads.api.upload(small, small.name);
    uploads.last().fail();
    const e = await upload.catch((err: unknown) => err);
    expect(e).toMatchObject({ code: 'network', status: 0, retryable: true });
    expect(describeUploadError(e, small)).toBe('Could not reach the server. Check your connection and try again.');
    expect(describeUploadError(e, { size: DEFAULT_MAX_UPLOAD_BYTES + 1 })).toMatch(
      /^The upload failed: this file is 10 MB/,
    );
  });

  it('is cancelled by its signal: the request is aborted, and it rejects as "aborted"', async () => {
    const uploads = fakeUploads();
    const controller = new AbortController();
    const file = fileOf('a.png', 'image/png');
    const seen: UploadProgress[] = [];
    const upload = uploads.api.upload(file, file.name, { signal: controller.signal, onProgress: (p) => seen.push(p) });
    uploads.last().progress(10, 1024);
    controller.abort();
    expect(uploads.last().aborted).toBe(true);
    await expect(upload).rejects.toMatchObject({ code: 'aborted' });
    // Nothing after the abort counts.
    uploads.last().progress(1024, 1024);
    expect(seen).toHaveLength(1);
    // Aborted before it began: no request at all.
    const before = new AbortController();
    before.abort();
    await expect(uploads.api.upload(file, file.name, { signal: before.signal })).rejects.toMatchObject({
      code: 'aborted',
    });
    expect(uploads.requests).toHaveLength(1);
  });
});

describe('file links and labels', () => {
  it("reads a file and its thumbnail from /v1/files, a guest's with its token", () => {
    expect(fileUrl({ base: ORIGIN, token: null }, '01ABC')).toBe(`${ORIGIN}/v1/files/01ABC`);
    expect(fileUrl({ base: '', token: 'tok en' }, '01ABC', true)).toBe('/v1/files/01ABC/thumb?token=tok+en');
    const image = attachmentView(attachment({ id: '01IMG' }), { base: '', token: null });
    expect(image).toMatchObject({
      inline: true,
      url: '/v1/files/01IMG',
      thumbUrl: '/v1/files/01IMG/thumb',
      thumb: { width: 320, height: 240 },
    });
    // Another file, or an image without a thumbnail: a card, no thumbnail URL.
    const pdf = attachmentView(
      { id: '01PDF', name: 'notes.pdf', type: 'application/pdf', size: 10 },
      { base: '', token: null },
    );
    expect(pdf).toMatchObject({ inline: false, thumbUrl: null, thumb: null, width: null });
    expect(attachmentView(attachment({ thumb: undefined }), { base: '', token: null }).inline).toBe(false);
  });

  it('writes sizes and kinds as people read them', () => {
    expect(formatBytes(1)).toBe('1 byte');
    expect(formatBytes(512)).toBe('512 bytes');
    expect(formatBytes(48_213)).toBe('47 KB');
    expect(formatBytes(300 * 1024)).toBe('300 KB');
    expect(formatBytes(10 * MB)).toBe('10 MB');
    expect(formatBytes(1.5 * MB)).toBe('1.5 MB');
    expect(describeFileType('image/png')).toBe('PNG image');
    expect(describeFileType('application/pdf')).toBe('PDF document');
    expect(describeFileType('video/mp4')).toBe('MP4 video');
    expect(describeFileType('application/vnd.ms-excel')).toBe('MS file');
    expect(describeFileType('application/octet-stream')).toBe('File');
  });
});
