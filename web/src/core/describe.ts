/** Refusals and failed requests as one sentence for people (banners, failed messages). */
import { ApiError } from './history';
import { RETRYABLE_CODES, type Refusal } from './protocol';

/** A refusal as one sentence for people. */
export function describeRefusal(refusal: Refusal): string {
  const retry = RETRYABLE_CODES.has(refusal.code) ? ' You can send it again.' : '';
  const details = refusal.details?.length ? ` (${refusal.details.join('; ')})` : '';
  return `${capitalize(refusal.message)}${details}.${retry}`.replace(/\.\./g, '.');
}

/** A failed history request, for the "try again" banner. */
export function describeApiError(e: unknown): string {
  if (e instanceof ApiError) {
    return e.code === 'network' ? 'Could not reach the server.' : `Could not load history: ${e.message}`;
  }
  return 'Could not load history.';
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
