// useSSE: the flagstream client as a React hook (React >= 18 is a peer dependency;
// in a browser without a bundler, map "react" in an import map).
//
// Components that use the same url and `user` (or the same explicit `key`) share one
// client, and so one connection; pass `user` whenever the signed-in user can change, so
// a new user never inherits the previous user's client. A client is released a tick after its last user unmounts, so React's
// StrictMode unmount-and-remount of every effect reuses it instead of opening a second
// connection.

import { useCallback, useEffect, useRef, useState } from 'react';
import { FlagstreamClient } from './flagstream.js';

/** key -> {client, users, releaseTimer, getToken} */
const sharedClients = new Map();

function acquireClient(key, clientOptions, getToken) {
  let entry = sharedClients.get(key);
  if (!entry) {
    entry = { client: null, users: 0, releaseTimer: null, getToken };
    // The client asks the entry, so the latest render's getToken is always the one used.
    entry.client = new FlagstreamClient({ ...clientOptions, getToken: () => entry.getToken() });
    sharedClients.set(key, entry);
    entry.client.start();
  }
  clearTimeout(entry.releaseTimer);
  entry.releaseTimer = null;
  entry.users += 1;
  return entry;
}

function releaseClient(key, entry) {
  entry.users -= 1;
  if (entry.users > 0) return;
  entry.releaseTimer = setTimeout(() => {
    if (entry.users > 0 || sharedClients.get(key) !== entry) return;
    sharedClients.delete(key);
    entry.client.stop();
  }, 0);
}

/**
 * @param {import('./types.js').ClientOptions & {
 *   events?: string[], maxEvents?: number, enabled?: boolean, user?: string, key?: string,
 * }} options  `events`: the event names to collect (default ['notification'], '*' for all);
 *   `maxEvents`: how many recent events `events` keeps (default 100).
 * @returns {{status: string, lastEvent: object | null, events: object[], error: string | null,
 *            reconnect: () => void, state: import('./types.js').ClientState | null}}
 */
export function useSSE(options) {
  const { events: eventNames = ['notification'], maxEvents = 100, enabled = true, user, key, getToken, token, ...clientOptions } = options;
  const clientKey = key ?? `${clientOptions.url ?? globalThis.location?.origin ?? ''}|${user ?? ''}`;
  const latest = useRef({ getToken, token, clientOptions });
  latest.current = { getToken, token, clientOptions };
  const entryRef = useRef(null);
  const [state, setState] = useState(null);
  const [received, setReceived] = useState({ events: [], lastEvent: null });
  const namesKey = eventNames.join('\n');

  useEffect(() => {
    if (!enabled) return undefined;
    const tokenOf = () => (latest.current.getToken ? latest.current.getToken() : latest.current.token);
    const entry = acquireClient(clientKey, latest.current.clientOptions, tokenOf);
    entry.getToken = tokenOf;
    entryRef.current = entry;
    const { client } = entry;
    setState(client.state);
    const unsubscribe = [client.onState(setState)];
    for (const name of namesKey.split('\n')) {
      unsubscribe.push(
        client.on(name, (event) => {
          setReceived((previous) => ({
            lastEvent: event,
            events: [...previous.events, event].slice(-maxEvents),
          }));
        }),
      );
    }
    return () => {
      for (const off of unsubscribe) off();
      if (entryRef.current === entry) entryRef.current = null;
      releaseClient(clientKey, entry);
    };
  }, [clientKey, enabled, namesKey, maxEvents]);

  const reconnect = useCallback(() => entryRef.current?.client.reconnect(), []);

  return {
    status: enabled ? (state?.status ?? 'connecting') : 'idle',
    lastEvent: received.lastEvent,
    events: received.events,
    error: state?.error ?? null,
    reconnect,
    state,
  };
}
