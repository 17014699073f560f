import { describe, expect, it } from 'vitest';
import { Backoff, parseRetryAfter } from '@flagstream/client/backoff';

describe('Backoff with full jitter', () => {
  it('draws each delay from [0, min * factor^attempt], capped at max', () => {
    const highest = new Backoff({ min: 100, max: 1000, factor: 2, random: () => 0.999999 });
    expect([1, 2, 3, 4, 5, 6].map(() => highest.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    const lowest = new Backoff({ min: 100, max: 1000, random: () => 0 });
    expect([lowest.next(), lowest.next()]).toEqual([0, 0]);
  });

  it('spreads real random delays over the whole window', () => {
    const backoff = new Backoff({ min: 1000, max: 1000 });
    const delays = Array.from({ length: 2000 }, () => backoff.next());
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThanOrEqual(1000);
    expect(delays.filter((d) => d < 500).length).toBeGreaterThan(700);
    expect(delays.filter((d) => d >= 500).length).toBeGreaterThan(700);
  });

  it('starts over after a connection that stayed up for resetAfter', () => {
    const backoff = new Backoff({ min: 100, max: 10_000, resetAfter: 5000, random: () => 0.999999 });
    backoff.next();
    backoff.next();
    backoff.noteConnectionLasted(4999);
    expect(backoff.next()).toBe(400);
    backoff.noteConnectionLasted(5000);
    expect(backoff.next()).toBe(100);
  });

  it('refuses options that cannot work', () => {
    expect(() => new Backoff({ min: -1 })).toThrow(/backoff.min/);
    expect(() => new Backoff({ factor: 0.5 })).toThrow(/factor/);
    expect(() => new Backoff({ min: 10, max: 5 })).toThrow(/max/);
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates, and nothing else', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });
});
