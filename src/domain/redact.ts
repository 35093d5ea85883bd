// Credentials inside URLs (http://user:pass@host/) never leave in answers, logs or stored errors.

/** The URL with its user and password, when present, replaced by `***`; anything else unchanged. */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return redactText(url);
  }
  if (!u.username && !u.password) return url;
  if (u.username) u.username = '***';
  if (u.password) u.password = '***';
  return u.toString();
}

/**
 * Free text (an error message from an HTTP client, say) with the userinfo of every `scheme://…@`
 * replaced by `***`. Greedy up to the authority's last `@`, as URL parsers read it.
 */
export function redactText(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#]*@/gi, '$1***@');
}
