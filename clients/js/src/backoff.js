// Reconnection delays: exponential backoff with full jitter (AWS Architecture Blog,
// "Exponential Backoff And Jitter"): delay = random(0, min(max, min * factor^attempt)).
// Full jitter spreads a crowd of clients that lost the same server over the whole
// window, so a restarted instance is not hit by all of them at once.

/**
 * @typedef {{min?: number, max?: number, factor?: number, resetAfter?: number,
 *            random?: () => number}} BackoffOptions
 * min, max and resetAfter are milliseconds.
 */

export const DEFAULT_BACKOFF = Object.freeze({
  min: 500,
  max: 30_000,
  factor: 2,
  resetAfter: 30_000, // a connection healthy this long starts the next failure from `min`
});

export class Backoff {
  /** @param {BackoffOptions} [options] */
  constructor(options = {}) {
    const merged = { ...DEFAULT_BACKOFF, ...options };
    for (const key of ['min', 'max', 'factor', 'resetAfter']) {
      if (!Number.isFinite(merged[key]) || merged[key] < 0) {
        throw new RangeError(`backoff.${key} must be a non-negative number, got ${merged[key]}`);
      }
    }
    if (merged.factor < 1) throw new RangeError('backoff.factor must be at least 1');
    if (merged.max < merged.min) throw new RangeError('backoff.max must be at least backoff.min');
    this.min = merged.min;
    this.max = merged.max;
    this.factor = merged.factor;
    this.resetAfter = merged.resetAfter;
    this.random = options.random ?? Math.random;
    this.attempt = 0;
  }

  /** The ceiling of the next delay, before jitter. */
  ceiling() {
    return Math.min(this.max, this.min * this.factor ** this.attempt);
  }

  /** The next delay in milliseconds; each call widens the window until `max`. */
  next() {
    const delay = this.random() * this.ceiling();
    this.attempt += 1;
    return Math.round(delay);
  }

  reset() {
    this.attempt = 0;
  }

  /** Forget past failures if the connection that just ended was up long enough. */
  noteConnectionLasted(milliseconds) {
    if (milliseconds >= this.resetAfter) this.reset();
  }
}

/**
 * Parse an HTTP Retry-After value (delta-seconds or an HTTP-date) into milliseconds.
 * Returns null when absent or unreadable, so the caller falls back to its backoff.
 * @param {string | null | undefined} value
 * @param {number} [now]
 */
export function parseRetryAfter(value, now = Date.now()) {
  if (value == null) return null;
  const text = String(value).trim();
  if (/^[0-9]+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}
