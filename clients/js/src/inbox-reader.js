// Reads the user's inbox, `GET /v1/notifications?after=ID&limit=N`, page by page: the
// polling fallback for users outside the rollout and the refetch after a `reset`.

export class InboxReader {
  /**
   * @param {{
   *   baseUrl: string, pageSize: number, fetch: typeof fetch,
   *   token: () => Promise<string>, dropToken: () => void,
   * }} options
   */
  constructor(options) {
    this.options = options;
  }

  /**
   * Every notification after `after` (all of them when null), oldest first; `onPage`
   * sees each page as it arrives so delivery need not wait for the last one.
   * @param {{after: string | null, signal: AbortSignal, onPage: (items: object[]) => void}} request
   */
  async readAfter({ after, signal, onPage }) {
    const { baseUrl, pageSize } = this.options;
    let cursor = after;
    for (;;) {
      const url = new URL('/v1/notifications', baseUrl);
      if (cursor) url.searchParams.set('after', cursor);
      url.searchParams.set('limit', String(pageSize));
      const page = await this.getJson(url, signal);
      if (!Array.isArray(page?.notifications)) throw new Error('inbox answer has no "notifications" list');
      onPage(page.notifications);
      if (page.next == null || page.notifications.length < pageSize) return;
      cursor = page.next;
    }
  }

  async getJson(url, signal) {
    const { fetch, token, dropToken } = this.options;
    for (let attempt = 0; ; attempt += 1) {
      const response = await fetch(url.href, {
        headers: { Accept: 'application/json', Authorization: `Bearer ${await token()}` },
        cache: 'no-store',
        signal,
      });
      if (response.status === 401 && attempt === 0) {
        dropToken(); // the token expired between two polls: ask the app once for a new one
        continue;
      }
      if (!response.ok) throw new Error(`HTTP ${response.status} from ${url.pathname}`);
      return response.json();
    }
  }
}
