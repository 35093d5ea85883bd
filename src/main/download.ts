// The `download` step of a session: each URL is fetched into <work dir>/<session id>/ before the
// `pre` plug-ins run. Idempotent (a re-run after a crash fetches again into the same file).
import { createWriteStream } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { request, type Dispatcher } from 'undici';
import { redactText, redactUrl } from '../domain/redact.js';
import type { Downloader } from '../ports/action-plugin.js';

export const sessionWorkDir = (root: string, sessionId: string): string => join(root, sessionId);

export interface DownloaderOptions {
  /** undici dispatcher; the service passes UrlPolicy.dispatcher() so the URL policy holds at fetch time. */
  dispatcher?: Dispatcher;
}

export function httpDownloader(root: string, opts: DownloaderOptions = {}): Downloader {
  return async (url, sessionId, signal) => {
    // Messages end up in the session's reason and the logs: no credentials.
    const shown = redactUrl(url);
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`download ${shown}: only http(s) URLs`);
    const dir = sessionWorkDir(root, sessionId);
    await mkdir(dir, { recursive: true });
    const file = join(dir, basename(u.pathname) || 'download');
    const res = await request(url, { signal, ...(opts.dispatcher && { dispatcher: opts.dispatcher }) }).catch((err: unknown) => {
      throw new Error(`download ${shown} failed: ${redactText(errorText(err))}`);
    });
    if (res.statusCode < 200 || res.statusCode >= 300) {
      await res.body.dump();
      throw new Error(`download ${shown} failed: HTTP ${res.statusCode}`);
    }
    const tmp = `${file}.part`;
    await pipeline(Readable.from(res.body), createWriteStream(tmp));
    await rename(tmp, file);
    return file;
  };
}

const errorText = (err: unknown): string =>
  err instanceof Error ? err.message || String((err as { code?: unknown }).code ?? err.name) : String(err);
