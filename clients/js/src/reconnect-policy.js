// What the client does after one stream attempt ends: poll, or retry after how long,
// and with a fresh token or not. Kept pure so every branch is tested without a server.

/**
 * @typedef {{action: 'poll', delay: number, error: string | null}
 *         | {action: 'retry', delay: number, refreshToken: boolean, error: string | null}} NextStep
 */

/**
 * @param {{
 *   outcome: import('./stream-transports.js').AttemptOutcome,
 *   ending: string | null,          // the last event before the server closed: disabled, reauth, …
 *   serverRetry: number | null,     // the stream's latest `retry:` field, in ms
 *   unauthorizedStreak: number,     // 401s in a row, this one included
 *   backoff: import('./backoff.js').Backoff,
 *   firstPollJitter?: number,       // ms: after `disabled`, the first poll waits this (drawn by the caller)
 * }} attempt
 * @returns {NextStep}
 */
export function nextStepAfter({ outcome, ending, serverRetry, unauthorizedStreak, backoff, firstPollJitter = 0 }) {
  if (outcome.kind === 'status') {
    const { status } = outcome;
    if (status === 204) return poll(0, null); // outside the rollout
    if (status === 401) {
      // The first 401 is usually an expired token: retry at once with a fresh one. A
      // second in a row means the app's token is refused, so back off like any failure.
      const delay = unauthorizedStreak > 1 ? backoff.next() : 0;
      return retry(delay, 'unauthorized: asking the app for a fresh token', true);
    }
    const delay = backoff.next();
    const error = `stream refused: HTTP ${status}`;
    if (status === 429 || status === 503) return retry(Math.max(outcome.retryAfter ?? 0, delay), error);
    return retry(delay, error);
  }
  switch (ending) {
    case 'disabled':
      // A kill switch ends every stream at about the same time: spread the first polls.
      return poll(firstPollJitter, null);
    case 'evicted':
      // A newer stream of this user took the last slot (USER_LIMIT_POLICY=evict_oldest):
      // reconnecting at once would only push it out in turn, so poll and try later.
      return poll(0, 'replaced by a newer connection of this user');
    case 'reauth':
      return retry(0, null, true);
    case 'shutdown':
      // The server jitters `retry` per connection, so a draining instance is left gently.
      return retry(serverRetry ?? backoff.next(), null);
    case 'overflow':
      return retry(backoff.next(), null);
    default:
      break;
  }
  if (outcome.kind === 'error') return retry(backoff.next(), outcome.error.message);
  if (outcome.kind === 'ended') return retry(backoff.next(), 'stream closed by the server');
  return retry(backoff.next(), null);
}

function poll(delay, error) {
  return { action: 'poll', delay, error };
}

function retry(delay, error, refreshToken = false) {
  return { action: 'retry', delay, refreshToken, error };
}
