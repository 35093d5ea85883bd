// The Content-Security-Policy of a page this service serves whole (the dashboard, /v1/docs): only
// its own inline script and style, allowed by their hashes, and fetches to this origin.
import { createHash } from 'node:crypto';

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

export function selfContainedPageCsp(script: string, style: string, extra: readonly string[] = []): string {
  return [
    "default-src 'none'",
    `script-src ${sha256(script)}`,
    `style-src ${sha256(style)}`,
    "connect-src 'self'",
    ...extra,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
