// Ids are opaque to clients (API.md), so "have I delivered this one already?" cannot be
// answered by comparing them; a bounded memory of recent ids answers it instead. The
// overlaps it absorbs (stream vs. poll, old vs. new leader tab, reset refetch) are
// short, so a few thousand ids are plenty.

export class SeenIds {
  /** @param {number} [capacity] */
  constructor(capacity = 5000) {
    this.capacity = capacity;
    this.ids = new Set();
  }

  has(id) {
    return this.ids.has(id);
  }

  /** Remember `id`; returns false when it was already known. */
  add(id) {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      // Sets iterate in insertion order: the first entry is the oldest.
      this.ids.delete(this.ids.values().next().value);
    }
    return true;
  }
}
