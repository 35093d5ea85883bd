// The `download` step of a session: each URL is fetched into <work dir>/<session id>/ before the
// `pre` plug-ins run. Idempotent (a re-run after a crash fetches again into the same file).
import { createWriteStream } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import type { Downloader } from '../ports/action-plugin.js';

export const sessionWorkDir = (root: string, sessionId: string): string => join(root, sessionId);

export function httpDownloader(root: string): Downloader {
  return async (url, sessionId, signal) => {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`download ${url}: only http(s) URLs`);
    const dir = sessionWorkDir(root, sessionId);
    await mkdir(dir, { recursive: true });
    const file = join(dir, basename(u.pathname) || 'download');
    const res = await request(url, { signal });
    if (res.statusCode < 200 || res.statusCode >= 300) {
      await res.body.dump();
      throw new Error(`download ${url} failed: HTTP ${res.statusCode}`);
    }
    const tmp = `${file}.part`;
    await pipeline(Readable.from(res.body), createWriteStream(tmp));
    await rename(tmp, file);
    return file;
  };
}
