// One attempt at reading the event stream, over fetch (preferred: it can send
// `Authorization` and `Last-Event-ID` headers and see the status code, so 204, 401, 429
// and 503 can be told apart) or over native EventSource (the fallback where a fetch
// response body cannot be streamed). Each returns a promise of how the attempt ended;
// reconnection policy lives in the client, not here.

import { parseRetryAfter } from './backoff.js';
import { createSSEParser } from './sse-parser.js';

/**
 * @typedef {{kind: 'status', status: number, retryAfter: number | null}
 *         | {kind: 'ended'} | {kind: 'aborted'} | {kind: 'error', error: Error}} AttemptOutcome
 * @typedef {{type: string, data: string, id: string}} WireEvent
 */

const ABORTED = Symbol('aborted');

export function supportsFetchStreaming() {
  return (
    typeof globalThis.fetch === 'function' &&
    typeof globalThis.ReadableStream === 'function' &&
    typeof globalThis.Response === 'function' &&
    'body' in globalThis.Response.prototype
  );
}

/**
 * @param {{
 *   fetch: typeof fetch, url: string, headers: Record<string, string>, signal: AbortSignal,
 *   onOpen: () => void, onEvent: (event: WireEvent) => void, onRetry: (ms: number) => void,
 * }} options
 * @returns {Promise<AttemptOutcome>}
 */
export async function readFetchStream({ fetch, url, headers, signal, onOpen, onEvent, onRetry }) {
  let response;
  try {
    response = await fetch(url, { headers, signal, cache: 'no-store' });
  } catch (error) {
    return signal.aborted ? { kind: 'aborted' } : { kind: 'error', error: asError(error) };
  }
  if (response.status !== 200) {
    await discardBody(response);
    return {
      kind: 'status',
      status: response.status,
      retryAfter: parseRetryAfter(response.headers.get('Retry-After')),
    };
  }
  const contentType = response.headers.get('Content-Type') ?? '';
  if (!contentType.startsWith('text/event-stream') || !response.body) {
    await discardBody(response);
    return { kind: 'error', error: new Error(`expected text/event-stream, got "${contentType}"`) };
  }
  onOpen();
  const parser = createSSEParser({ onEvent, onRetry });
  const decoder = new TextDecoder();
  const reader = response.body.getReader();
  // Race every read against the abort signal: Node's fetch can leave a pending read
  // unsettled when aborted just as the server closes, and the attempt must still end.
  const abortedRead = new Promise((resolve) => {
    if (signal.aborted) resolve(ABORTED);
    signal.addEventListener('abort', () => resolve(ABORTED), { once: true });
  });
  try {
    for (;;) {
      const result = await Promise.race([reader.read(), abortedRead]);
      if (result === ABORTED) return { kind: 'aborted' };
      const { value, done } = result;
      if (done) {
        parser.feed(decoder.decode());
        return signal.aborted ? { kind: 'aborted' } : { kind: 'ended' };
      }
      parser.feed(decoder.decode(value, { stream: true }));
      if (signal.aborted) return { kind: 'aborted' };
    }
  } catch (error) {
    return signal.aborted ? { kind: 'aborted' } : { kind: 'error', error: asError(error) };
  } finally {
    reader.cancel().catch(() => {});
  }
}

/**
 * The fallback. EventSource only reports named events to listeners registered for
 * that name, so the caller passes every name it wants. A failure before the stream
 * opened says nothing about why; `probe` asks the server with fetch to find out.
 * @param {{
 *   EventSource: typeof EventSource, url: string, eventNames: Iterable<string>,
 *   signal: AbortSignal, onOpen: () => void, onEvent: (event: WireEvent) => void,
 *   probe: () => Promise<AttemptOutcome>,
 * }} options
 * @returns {Promise<AttemptOutcome>}
 */
export function readEventSource({ EventSource, url, eventNames, signal, onOpen, onEvent, probe, withCredentials = false }) {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve({ kind: 'aborted' });
      return;
    }
    const source = withCredentials ? new EventSource(url, { withCredentials: true }) : new EventSource(url);
    let opened = false;
    let finished = false;
    const finish = (outcome) => {
      if (finished) return;
      finished = true;
      source.close();
      signal.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const onAbort = () => finish({ kind: 'aborted' });
    signal.addEventListener('abort', onAbort);
    source.onopen = () => {
      opened = true;
      onOpen();
    };
    const forward = (event) => {
      if (!finished) onEvent({ type: event.type, data: event.data, id: event.lastEventId ?? '' });
    };
    for (const name of new Set(eventNames)) source.addEventListener(name, forward);
    source.onerror = () => {
      // Close at once: the browser would otherwise retry on its own schedule, without
      // our backoff, token refresh or polling fallback.
      source.close();
      if (opened) finish({ kind: 'ended' });
      else probe().then(finish, (error) => finish({ kind: 'error', error: asError(error) }));
    };
  });
}

/** Ask the stream route for its status with fetch, then drop the body unread. */
export async function probeStreamStatus({ fetch, url, headers, signal }) {
  let response;
  try {
    response = await fetch(url, { headers, signal, cache: 'no-store' });
  } catch (error) {
    return signal.aborted ? { kind: 'aborted' } : { kind: 'error', error: asError(error) };
  }
  await discardBody(response);
  if (response.status === 200) {
    return { kind: 'error', error: new Error('EventSource failed although the stream answers 200') };
  }
  return {
    kind: 'status',
    status: response.status,
    retryAfter: parseRetryAfter(response.headers.get('Retry-After')),
  };
}

async function discardBody(response) {
  try {
    await response.body?.cancel();
  } catch {
    // the body is already gone; nothing to release
  }
}

function asError(error) {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Open one stream attempt with the chosen transport.
 * @param {{
 *   transport: 'auto'|'fetch'|'eventsource', fetch: typeof fetch, EventSource?: typeof EventSource,
 *   baseUrl: string, token: string, lastEventId: string | null, eventNames: string[],
 *   streamCookie?: boolean,
 *   signal: AbortSignal, onEvent: (event: WireEvent) => void, onRetry: (ms: number) => void,
 * }} options
 * @returns {Promise<AttemptOutcome>}
 */
export function openStream(options) {
  const { fetch, baseUrl, token, lastEventId, signal, onEvent, onRetry } = options;
  const url = new URL('/v1/stream', baseUrl);
  const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${token}` };
  if (lastEventId) headers['Last-Event-ID'] = lastEventId;
  const EventSource = options.EventSource ?? globalThis.EventSource;
  const useEventSource =
    options.transport === 'eventsource' ||
    (options.transport === 'auto' && !supportsFetchStreaming() && Boolean(EventSource));
  if (!useEventSource) {
    return readFetchStream({ fetch, url: url.href, headers, signal, onOpen: () => {}, onEvent, onRetry });
  }
  // Native EventSource cannot send headers: the token travels in the stream cookie (set by
  // POST /v1/stream-session: the client's `streamCookie`) or else in the query (API.md allows
  // it; the server redacts access_token from its logs); the last id in the query.
  const sourceUrl = new URL(url);
  if (!options.streamCookie) sourceUrl.searchParams.set('access_token', token);
  if (lastEventId) sourceUrl.searchParams.set('last_event_id', lastEventId);
  return readEventSource({
    EventSource,
    url: sourceUrl.href,
    eventNames: options.eventNames,
    signal,
    onOpen: () => {},
    onEvent,
    probe: () => probeStreamStatus({ fetch, url: url.href, headers, signal }),
    withCredentials: Boolean(options.streamCookie),
  });
}

/** Event data is JSON on this service; anything else is handed over as the raw text. */
export function parseData(text) {
  if (typeof text !== 'string') return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
