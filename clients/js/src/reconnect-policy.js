// What the client does after one stream attempt ends: poll, refetch the inbox, or retry
// after how long, and with a fresh token or not. The decisions are the shared table in
// reconnect-policy.json (the Python client and the load generator follow the same one);
// this file only names the situation and turns the table's delay kind into milliseconds.
import POLICY from './reconnect-policy.json' with { type: 'json' };

export { POLICY };

/**
 * @typedef {{action: string, delay: string, resets_backoff: boolean}} Rule
 * @typedef {{action: 'poll', delay: number, error: string | null}
 *         | {action: 'refetch', delay: number, error: string | null}
 *         | {action: 'retry', delay: number, refreshToken: boolean, error: string | null}} NextStep
 */

/** @param {string} situation @returns {Rule} */
export function ruleFor(situation) {
  const rule = POLICY.situations[situation];
  if (rule === undefined) throw new RangeError(`no reconnect rule for ${situation}`);
  return rule;
}

/** The table's name for how an attempt ended. */
export function situationOf(outcome, ending, serverRetry) {
  if (outcome.kind === 'status') {
    const known = [204, 401, 422, 429, 503];
    return known.includes(outcome.status) ? `status-${outcome.status}` : 'status-other';
  }
  if (ending === 'shutdown') return serverRetry == null ? 'shutdown-without-retry' : 'shutdown-with-retry';
  if (ending !== null && ending in POLICY.situations) return ending;
  return outcome.kind === 'error' ? 'network-error' : 'stream-ended';
}

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
  const situation = situationOf(outcome, ending, serverRetry);
  const rule = ruleFor(situation);
  const told = outcome.kind === 'status' ? outcome.retryAfter ?? null : serverRetry;
  const delay = delayOf(rule.delay, { backoff, told, unauthorizedStreak, firstPollJitter });
  const error = errorOf(situation, outcome);
  switch (rule.action) {
    case 'poll':
      return { action: 'poll', delay, error };
    case 'drop-cursor-and-refetch-inbox':
      return { action: 'refetch', delay, error };
    case 'refresh-token-then-reconnect':
      return { action: 'retry', delay, refreshToken: true, error };
    default:
      return { action: 'retry', delay, refreshToken: false, error };
  }
}

function delayOf(kind, { backoff, told, unauthorizedStreak, firstPollJitter }) {
  switch (kind) {
    case 'none':
      return 0;
    case 'poll-jitter':
      return firstPollJitter;
    case 'backoff-after-first':
      return unauthorizedStreak > 1 ? backoff.next() : 0;
    case 'retry-or-backoff':
      return Math.max(told ?? 0, backoff.next());
    default:
      return backoff.next();
  }
}

function errorOf(situation, outcome) {
  if (situation === 'status-401') return 'unauthorized: asking the app for a fresh token';
  if (situation === 'status-422') return 'the server does not know our Last-Event-ID: refetching the inbox';
  if (outcome.kind === 'status' && outcome.status !== 204) return `stream refused: HTTP ${outcome.status}`;
  if (situation === 'evicted') return 'replaced by a newer connection of this user';
  if (situation === 'network-error') return outcome.error.message;
  if (situation === 'stream-ended' && outcome.kind === 'ended') return 'stream closed by the server';
  return null;
}
