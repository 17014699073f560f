// Shared JSDoc types of the client (no runtime code): what options it takes, what
// state it reports and what an event looks like to listeners.

/**
 * @typedef {'idle'|'connecting'|'open'|'waiting'|'polling'|'offline'|'closed'} Status
 * @typedef {{
 *   status: Status, mode: 'stream'|'polling', role: 'solo'|'leader'|'follower',
 *   reconnects: number, lastEventId: string|null, error: string|null,
 *   connectionId: string|null, pingInterval: number|null, retryInMs: number|null,
 * }} ClientState
 * @typedef {{id: string, event: string, data: unknown, source: 'stream'|'poll'|'inbox',
 *            createdAt?: string}} FlagstreamEvent
 * @typedef {{
 *   url?: string, getToken?: () => Promise<string>|string, token?: string,
 *   backoff?: import('./backoff.js').BackoffOptions, pollInterval?: number, firstPollJitter?: number,
 *   streamRetryInterval?: number, pageSize?: number, lastEventId?: string,
 *   transport?: 'auto'|'fetch'|'eventsource', shareConnection?: boolean, shareKey?: string,
 *   watchdogFactor?: number, fetch?: typeof fetch, EventSource?: typeof EventSource,
 *   BroadcastChannel?: typeof BroadcastChannel, locks?: object|null, streamCookie?: boolean,
 * }} ClientOptions
 */

export {};
