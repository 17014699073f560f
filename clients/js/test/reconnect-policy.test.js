import { describe, expect, it } from 'vitest';
import { Backoff } from '@flagstream/client/backoff';
import { nextStepAfter } from '../src/reconnect-policy.js';

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
