/**
 * A fresh `client_id` for a message: unique per user, printable ASCII, at most 64
 * characters (docs/protocol.md §2). A resend reuses it, so the server stores the
 * message once.
 */
export function newClientId(): string {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID();
  // Older browsers on plain http: no randomUUID, but getRandomValues is everywhere.
  const bytes = new Uint8Array(16);
  c.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
