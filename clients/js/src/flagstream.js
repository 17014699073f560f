// flagstream browser client: one plain ES module, no build step.
//
// The client keeps one user's notifications flowing whatever happens to the connection:
// it streams `GET /v1/stream` over fetch (EventSource as fallback), reconnects with
// exponential backoff and full jitter, resumes with Last-Event-ID, honours Retry-After,
// polls `GET /v1/notifications?after=` while the user is outside the rollout, asks the
// app for a fresh token on 401/`reauth`, refetches the inbox on `reset`, reconnects
// when pings stop, and pauses while the browser is offline. Tabs of one origin share a
// single stream: a leader tab holds it and relays events to the others (tab-group.js).

import { Backoff } from './backoff.js';
import { watchConnectivity } from './connectivity.js';
import { InboxReader } from './inbox-reader.js';
import { LeaderSession } from './leader-session.js';
import { nextStepAfter, ruleFor } from './reconnect-policy.js';
import { SeenIds } from './seen-ids.js';
import { openStream, parseData } from './stream-transports.js';
import { TabGroup, shareKeyFor } from './tab-group.js';

export { Backoff, parseRetryAfter } from './backoff.js';
export { createSSEParser } from './sse-parser.js';

/** Events the protocol uses for itself; everything else is an application event. */
export const CONTROL_EVENTS = Object.freeze(['connected', 'ping', 'reset', 'disabled', 'reauth', 'overflow', 'evicted', 'shutdown']);
const CONTROL = new Set(CONTROL_EVENTS);
const ENDING = new Set(['disabled', 'reauth', 'overflow', 'evicted', 'shutdown']);

/** @typedef {import('./types.js').ClientOptions} ClientOptions */

/** @param {ClientOptions} options */
export function createClient(options) {
  return new FlagstreamClient(options);
}

export class FlagstreamClient {
  /** @param {ClientOptions} options */
  constructor(options = {}) {
    const { getToken, token } = options;
    if (!getToken && !token) throw new TypeError('flagstream: pass getToken (async () => jwt) or token');
    this.options = {
      pollInterval: 5_000,
      streamRetryInterval: 60_000,
      pageSize: 100,
      watchdogFactor: 2,
      transport: 'auto',
      shareConnection: true,
      ...options,
    };
    this.baseUrl = options.url ?? globalThis.location?.href;
    if (!this.baseUrl) throw new TypeError('flagstream: pass url (the service base URL) outside a browser');
    this._getToken = getToken ?? (() => token);
    this._fetch = options.fetch ?? ((...args) => globalThis.fetch(...args));
    this._backoff = new Backoff(options.backoff);
    this._seen = new SeenIds();
    this._inbox = new InboxReader({
      baseUrl: this.baseUrl,
      pageSize: this.options.pageSize,
      fetch: this._fetch,
      token: () => this._ensureToken(),
      dropToken: () => {
        this._token = null;
      },
    });
    this._listeners = new Map();
    this._stateListeners = new Set();
    this._resetListeners = new Set();
    Object.assign(this, { _token: null, _session: null, _offline: false, _everConnected: false, _unauthorizedStreak: 0 });
    this.state = Object.freeze({
      status: 'idle', mode: 'stream', role: 'solo', reconnects: 0,
      lastEventId: options.lastEventId ?? null, error: null, connectionId: null,
      pingInterval: null, retryInMs: null,
    });
  }

  /** Listen to an application event by name, or '*' for all; returns an unsubscribe. */
  on(eventName, listener) {
    if (!this._listeners.has(eventName)) this._listeners.set(eventName, new Set());
    this._listeners.get(eventName).add(listener);
    return () => this._listeners.get(eventName)?.delete(listener);
  }

  /** Listen to state changes (status, mode, role, reconnects, error…). */
  onState(listener) {
    this._stateListeners.add(listener);
    return () => this._stateListeners.delete(listener);
  }

  /** Listen to inbox refetches after `reset` (history fell out of retention). */
  onReset(listener) {
    this._resetListeners.add(listener);
    return () => this._resetListeners.delete(listener);
  }

  async start() {
    if (this._started) return;
    this._started = true;
    const connectivity = watchConnectivity({
      onOffline: () => this._setOffline(true),
      onOnline: () => this._setOffline(false),
    });
    this._offline = connectivity.isOffline;
    this._unwatchConnectivity = connectivity.stop;
    const Channel = this.options.BroadcastChannel ?? globalThis.BroadcastChannel;
    if (!this.options.shareConnection || !Channel) {
      this._lead('solo');
      return;
    }
    const key = this.options.shareKey ?? shareKeyFor(new URL(this.baseUrl).origin, await this._ensureToken().catch(() => null));
    if (this._stopped) return;
    this._group = new TabGroup({
      key,
      BroadcastChannel: Channel,
      locks: this.options.locks,
      onLeader: () => this._lead('leader'),
      onFollower: () => this._follow(),
      onEvent: (event) => this._deliver(event),
      onReset: (notifications) => this._emitReset(notifications),
      onLeaderState: (state) => {
        // A follower that takes over later counts its first stream as a reconnect.
        if (state.status === 'open') this._everConnected = true;
        this._setState(state);
      },
      onReconnectRequest: () => this.reconnect(),
      currentState: () => this.state,
    });
  }

  stop() {
    this._stopped = true;
    this._halt();
    this._group?.close();
    this._group = null;
    this._unwatchConnectivity?.();
    this._setState({ status: 'closed' });
  }

  /** Drop the current connection (or backoff wait, or polling) and connect now. */
  reconnect() {
    if (this.state.role === 'follower') {
      this._group?.requestReconnect();
      return;
    }
    this._backoff.reset();
    this._interrupt('reconnect');
  }

  // ---- roles -------------------------------------------------------------------

  _lead(role) {
    if (this._stopped) return;
    this._halt();
    this._setState({ role });
    const session = new LeaderSession();
    this._session = session;
    this._run(session);
  }

  _follow() {
    this._halt();
    this._setState({ role: 'follower' });
  }

  _halt() {
    const session = this._session;
    if (!session) return;
    this._session = null;
    session.halt();
    clearTimeout(this._watchdog);
  }

  _interrupt(why, session = this._session) {
    session?.interrupt(why);
  }

  // ---- the connection loop ----------------------------------------------------------

  async _run(session) {
    while (!session.halted) {
      if (this._offline) {
        this._setState({ status: 'offline', retryInMs: null });
        await session.sleep(Infinity);
        continue;
      }
      const outcome = await this._attemptStream(session);
      if (session.halted) return;
      const delay = await this._nextDelay(outcome, session);
      if (delay > 0 && !session.halted && !this._offline && session.why !== 'reconnect') {
        this._setState({ status: 'waiting', retryInMs: delay });
        await session.sleep(delay);
      }
    }
  }

  async _attemptStream(session) {
    let token;
    try {
      token = await this._ensureToken();
    } catch (error) {
      return { kind: 'error', error };
    }
    if (session.halted) return { kind: 'aborted' };
    this._setState({ status: 'connecting', retryInMs: null });
    const attempt = session.beginAttempt();
    Object.assign(session, { ending: null });
    const outcome = await openStream({
      transport: this.options.transport,
      fetch: this._fetch,
      EventSource: this.options.EventSource,
      baseUrl: this.baseUrl,
      token,
      streamCookie: Boolean(this.options.streamCookie),
      lastEventId: this.state.lastEventId,
      eventNames: [...CONTROL_EVENTS, 'message', ...this._listeners.keys()].filter((name) => name !== '*'),
      signal: attempt.signal,
      onEvent: (wire) => this._onWireEvent(wire, session),
      onRetry: (ms) => {
        session.serverRetry = ms;
      },
    });
    clearTimeout(this._watchdog);
    await session.queue; // let queued deliveries (e.g. an inbox refetch) finish first
    return outcome;
  }

  _onWireEvent(wire, session) {
    if (session.halted) return;
    this._armWatchdog(session);
    if (!CONTROL.has(wire.type)) {
      const event = { id: wire.id, event: wire.type, data: parseData(wire.data), source: 'stream' };
      this._enqueue(session, () => this._deliver(event));
      return;
    }
    if (wire.type === 'connected') {
      const info = parseData(wire.data) ?? {};
      const reconnects = this.state.reconnects + (this._everConnected ? 1 : 0);
      this._everConnected = true;
      if (ruleFor('connected').resets_backoff) this._backoff.reset();
      session.pingInterval = Number(info.ping_interval) || null;
      // A fresh stream's `connected` carries `id:`, its starting point: a client that has
      // not received any event yet resumes from there, so nothing published meanwhile is lost.
      const resumeFrom = this.state.lastEventId ?? (wire.id || null);
      this._setState({
        status: 'open', mode: 'stream', error: null, reconnects, lastEventId: resumeFrom,
        connectionId: info.connection_id ?? null, pingInterval: session.pingInterval,
      });
      this._armWatchdog(session);
    } else if (wire.type === 'reset') {
      this._enqueue(session, () => this._refetchInbox(session));
    } else if (ENDING.has(wire.type)) {
      session.ending = wire.type;
      this._enqueue(session, () => this._interrupt('ending', session));
    }
  }

  _enqueue(session, task) {
    session.enqueue(task, (error) => this._setState({ error: String(error?.message ?? error) }));
  }

  _armWatchdog(session) {
    clearTimeout(this._watchdog);
    if (!session.pingInterval) return;
    const limit = session.pingInterval * 1000 * this.options.watchdogFactor;
    this._watchdog = setTimeout(() => {
      this._setState({ error: `no event or ping for ${limit / 1000}s; reconnecting` });
      this._interrupt('watchdog', session);
    }, limit);
  }

  /** How long to wait before the next stream attempt; polls first when told to. */
  async _nextDelay(outcome, session) {
    if (session.why === 'reconnect') return 0;
    const unauthorized = outcome.kind === 'status' && outcome.status === 401;
    this._unauthorizedStreak = unauthorized ? this._unauthorizedStreak + 1 : 0;
    const step = nextStepAfter({
      outcome,
      ending: session.ending,
      serverRetry: session.serverRetry ?? null,
      unauthorizedStreak: this._unauthorizedStreak,
      backoff: this._backoff,
      firstPollJitter: Math.random() * (this.options.firstPollJitter ?? this.options.pollInterval),
    });
    if (step.error !== null) this._setState({ error: step.error });
    if (step.action === 'poll') {
      await this._pollUntilStreamRetry(session, step.delay);
      return 0;
    }
    if (step.action === 'refetch') {
      // The server does not know our Last-Event-ID (422): resuming from it can never work.
      this._setState({ lastEventId: null });
      await this._refetchInbox(session);
    }
    if (step.refreshToken) this._token = null;
    return step.delay;
  }

  // ---- polling, the fallback and the source of truth --------------------------------

  async _pollUntilStreamRetry(session, firstDelay = 0) {
    this._setState({ status: 'polling', mode: 'polling', retryInMs: null, connectionId: null });
    const retryStreamAt = Date.now() + this.options.streamRetryInterval;
    session.why = null;
    if (firstDelay > 0) await session.sleep(firstDelay);
    while (!session.halted && !this._offline && session.why !== 'reconnect') {
      try {
        await this._pollPages(session);
        if (this.state.error) this._setState({ error: null });
      } catch (error) {
        if (session.halted) return;
        this._setState({ error: `polling failed: ${error.message}` });
      }
      const remaining = retryStreamAt - Date.now();
      if (remaining <= 0) return;
      await session.sleep(Math.min(this.options.pollInterval, remaining));
    }
  }

  /** Deliver every notification after the last id (or the whole inbox), page by page. */
  async _pollPages(session, { after = this.state.lastEventId, source = 'poll' } = {}) {
    const collected = [];
    await this._inbox.readAfter({
      after,
      signal: session.signal,
      onPage: (items) => {
        for (const item of items) {
          if (session.halted) return;
          collected.push(item);
          this._deliver({ id: item.id, event: item.event, data: item.data, createdAt: item.created_at, source });
        }
      },
    });
    return collected;
  }

  async _refetchInbox(session) {
    const notifications = await this._pollPages(session, { after: null, source: 'inbox' });
    this._emitReset(notifications);
    this._group?.relayReset(notifications);
  }

  // ---- delivery ------------------------------------------------------------------

  /** Hand one application event to listeners once, whichever path brought it. */
  _deliver(event) {
    if (event.id) {
      if (!this._seen.add(event.id)) return;
      this._setState({ lastEventId: event.id });
    }
    const frozen = Object.freeze({ ...event });
    if (this.state.role === 'leader') this._group?.relayEvent(frozen);
    for (const name of [frozen.event, '*']) {
      for (const listener of this._listeners.get(name) ?? []) listener(frozen);
    }
  }

  _emitReset(notifications) {
    for (const listener of this._resetListeners) listener(notifications);
  }

  _setState(patch) {
    const next = { ...this.state, ...patch };
    if (Object.keys(patch).every((key) => Object.is(this.state[key], next[key]))) return;
    this.state = Object.freeze(next);
    if (this.state.role === 'leader') this._group?.relayState(this.state);
    for (const listener of this._stateListeners) listener(this.state);
  }

  // ---- helpers -------------------------------------------------------------------

  async _ensureToken() {
    if (this._token) return this._token;
    const token = await this._getToken();
    if (typeof token !== 'string' || token === '') throw new Error('getToken() returned no token');
    if (this.options.streamCookie) await this._openCookieSession(token);
    this._token = token;
    return token;
  }

  /** `streamCookie`: exchange each new token for the HttpOnly stream cookie, so that the
   *  EventSource transport never puts the token in a URL. */
  async _openCookieSession(token) {
    const response = await this._fetch(new URL('/v1/stream-session', this.baseUrl).href, {
      method: 'POST', credentials: 'include', cache: 'no-store', headers: { Authorization: `Bearer ${token}` },
    });
    await response.body?.cancel().catch(() => {});
    if (response.status !== 200) throw new Error(`POST /v1/stream-session: HTTP ${response.status}`);
  }

  _setOffline(offline) {
    this._offline = offline;
    if (!offline) this._backoff.reset();
    this._interrupt(offline ? 'offline' : 'online');
  }
}
