/**
 * Poll `predicate` until it is truthy or the deadline passes: the way tests wait for
 * something to happen, instead of sleeping a guessed time.
 */
export async function waitFor(predicate, { timeout = 10_000, interval = 20, message } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${message ?? predicate.toString()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
