// After `vite build`: a Brotli (.br) and a gzip (.gz) copy beside every text
// asset in dist/ worth compressing, which whisper-server sends to browsers
// that take them (Content-Encoding), so nothing is compressed per request.
// Node's own zlib does both; files under 1 KiB and copies that save under
// 5% are left out.
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const DIST = new URL('../dist/', import.meta.url).pathname;
const TEXT = /\.(html|js|mjs|css|svg|json|webmanifest|txt)$/;
const MIN_BYTES = 1024;

async function* files(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}

let written = 0;
for await (const path of files(DIST)) {
  if (!TEXT.test(path) || (await stat(path)).size < MIN_BYTES) continue;
  const bytes = await readFile(path);
  const copies = [
    ['.br', brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } })],
    ['.gz', gzipSync(bytes, { level: 9 })],
  ];
  for (const [suffix, packed] of copies) {
    if (packed.length < bytes.length * 0.95) {
      await writeFile(path + suffix, packed);
      written += 1;
    }
  }
}
console.log(`compressed: ${written} copies written beside dist/ assets`);
