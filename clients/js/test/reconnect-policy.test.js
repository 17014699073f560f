import { describe, expect, it } from 'vitest';
import { Backoff } from '@flagstream/client/backoff';
import { nextStepAfter } from '../src/reconnect-policy.js';
import POLICY from '../src/reconnect-policy.json' with { type: 'json' };

const fullWindow = () => new Backoff({ min: 1000, max: 60_000, random: () => 0.999999 });
const step = (attempt) => nextStepAfter({ ending: null, serverRetry: null, unauthorizedStreak: 0, backoff: fullWindow(), ...attempt });

describe('what the client does after a stream attempt', () => {
  it('polls when the user is outside the rollout (204) or was disabled', () => {
    expect(step({ outcome: { kind: 'status', status: 204 } }).action).toBe('poll');
    expect(step({ outcome: { kind: 'ended' }, ending: 'disabled' }).action).toBe('poll');
  });

  it('spreads the first poll after disabled by the jitter it is given, and polls at once after a 204', () => {
    expect(step({ outcome: { kind: 'ended' }, ending: 'disabled', firstPollJitter: 2345 })).toMatchObject({ action: 'poll', delay: 2345 });
    expect(step({ outcome: { kind: 'status', status: 204 }, firstPollJitter: 2345 })).toMatchObject({ action: 'poll', delay: 0 });
  });

  it('polls instead of reconnecting when a newer stream of the user evicted this one', () => {
    expect(step({ outcome: { kind: 'ended' }, ending: 'evicted' })).toMatchObject({ action: 'poll' });
  });

  it('honours Retry-After on 429 and 503 when it is longer than the backoff', () => {
    expect(step({ outcome: { kind: 'status', status: 429, retryAfter: 20_000 } })).toMatchObject({ action: 'retry', delay: 20_000 });
    expect(step({ outcome: { kind: 'status', status: 503, retryAfter: 10 } })).toMatchObject({ delay: 1000 });
    expect(step({ outcome: { kind: 'status', status: 503, retryAfter: 10 } }).error).toMatch(/HTTP 503/);
  });

  it('asks for a fresh token at once on the first 401, and backs off on the next', () => {
    expect(step({ outcome: { kind: 'status', status: 401 }, unauthorizedStreak: 1 })).toMatchObject({ delay: 0, refreshToken: true });
    expect(step({ outcome: { kind: 'status', status: 401 }, unauthorizedStreak: 2 })).toMatchObject({ delay: 1000, refreshToken: true });
    expect(step({ outcome: { kind: 'ended' }, ending: 'reauth' })).toMatchObject({ delay: 0, refreshToken: true });
  });

  it('waits the retry the server sent with shutdown, else backs off', () => {
    expect(step({ outcome: { kind: 'ended' }, ending: 'shutdown', serverRetry: 1234 })).toMatchObject({ delay: 1234 });
    expect(step({ outcome: { kind: 'ended' }, ending: 'shutdown' })).toMatchObject({ delay: 1000 });
    expect(step({ outcome: { kind: 'error', error: new Error('socket hang up') } })).toMatchObject({ delay: 1000, error: 'socket hang up' });
  });
});

// The shared table (also run by tests/client/test_reconnect_policy.py against the Python
// client and the load generator): every situation it names, reached here, does what it says.

const SERVER_SAYS = 20_000; // Retry-After or retry:, longer than the backoff window
const attempts = {
  'status-204': { outcome: { kind: 'status', status: 204 } },
  'status-401': { outcome: { kind: 'status', status: 401 }, unauthorizedStreak: 2 },
  'status-422': { outcome: { kind: 'status', status: 422 } },
  'status-429': { outcome: { kind: 'status', status: 429, retryAfter: SERVER_SAYS } },
  'status-503': { outcome: { kind: 'status', status: 503, retryAfter: SERVER_SAYS } },
  'status-other': { outcome: { kind: 'status', status: 500 } },
  disabled: { outcome: { kind: 'ended' }, ending: 'disabled', firstPollJitter: 2345 },
  evicted: { outcome: { kind: 'ended' }, ending: 'evicted' },
  overflow: { outcome: { kind: 'ended' }, ending: 'overflow' },
  reauth: { outcome: { kind: 'ended' }, ending: 'reauth' },
  'shutdown-with-retry': { outcome: { kind: 'ended' }, ending: 'shutdown', serverRetry: SERVER_SAYS },
  'shutdown-without-retry': { outcome: { kind: 'ended' }, ending: 'shutdown' },
  'stream-ended': { outcome: { kind: 'ended' } },
  'network-error': { outcome: { kind: 'error', error: new Error('socket hang up') } },
};
const expectedAction = {
  poll: 'poll',
  'drop-cursor-and-refetch-inbox': 'refetch',
  'refresh-token-then-reconnect': 'retry',
  'reconnect-with-backoff': 'retry',
  'reconnect-after-retry': 'retry',
};
const expectedDelay = { none: 0, backoff: 1000, 'backoff-after-first': 1000, 'retry-or-backoff': SERVER_SAYS, 'poll-jitter': 2345 };

describe('the shared reconnect policy table', () => {
  const afterAnAttempt = Object.entries(POLICY.situations).filter(([, rule]) => !['keep-reading', 'refetch-inbox'].includes(rule.action));
  it.each(afterAnAttempt)('%s', (situation, rule) => {
    const attempt = attempts[situation];
    expect(attempt, `the test knows how to reach ${situation}`).toBeDefined();
    const next = step(attempt);
    expect(next.action).toBe(expectedAction[rule.action]);
    expect(next.delay).toBe(expectedDelay[rule.delay]);
    expect(next.refreshToken ?? false).toBe(rule.action === 'refresh-token-then-reconnect');
  });

  it('every action and delay kind is one the clients know', () => {
    for (const rule of Object.values(POLICY.situations)) {
      expect(POLICY.actions).toContain(rule.action);
      expect(Object.keys(expectedDelay)).toContain(rule.delay);
    }
  });

  it('only an opened stream resets the backoff', () => {
    const resetting = Object.entries(POLICY.situations).filter(([, rule]) => rule.resets_backoff).map(([name]) => name);
    expect(resetting).toEqual(['connected']);
  });
});
