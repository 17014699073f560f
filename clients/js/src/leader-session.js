// The life of one leadership: while this tab (or client) holds the stream, a session
// carries what its connection loop needs to be interrupted cleanly — the current
// attempt's abort controller, why it was interrupted, a wake-up for backoff waits, and
// an ordered queue for deliveries that must not overtake each other.

export class LeaderSession {
  constructor() {
    this.halted = false;
    this.haltController = new AbortController(); // aborts polls when the session ends
    this.attempt = null;      // AbortController of the current stream attempt
    this.why = null;          // the last interruption: reconnect, offline, online, halt, ending, watchdog
    this.wake = null;
    this.wakePending = false; // an interruption came while nothing was sleeping
    this.queue = Promise.resolve();
  }

  get signal() {
    return this.haltController.signal;
  }

  halt() {
    this.halted = true;
    this.haltController.abort();
    this.interrupt('halt');
  }

  /** Start a new attempt: forget earlier interruptions. */
  beginAttempt() {
    this.why = null;
    this.wakePending = false;
    this.attempt = new AbortController();
    return this.attempt;
  }

  interrupt(why) {
    this.why = why;
    this.attempt?.abort();
    // 'ending' and 'watchdog' only end the attempt; the backoff wait that follows must run.
    if (why === 'ending' || why === 'watchdog') return;
    if (this.wake) this.wake();
    else this.wakePending = true;
  }

  /** Wait `ms` (Infinity: until woken) unless an interruption wakes us first. */
  sleep(ms) {
    return new Promise((resolve) => {
      if (this.wakePending || this.halted) {
        this.wakePending = false;
        resolve();
        return;
      }
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = null;
        resolve();
      };
      const timer = Number.isFinite(ms) ? setTimeout(done, ms) : null;
      this.wake = done;
    });
  }

  /** Run `task` after every task queued before it; errors go to `onError`. */
  enqueue(task, onError) {
    this.queue = this.queue.then(task).catch(onError);
  }
}
