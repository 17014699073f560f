// The client core against a real `flagstream serve` (Node's fetch streams the body).
import { execFileSync } from 'node:child_process';
import { EventSource } from 'eventsource';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '@flagstream/client';
import { FLAGSTREAM_BIN, startServer } from './support/server.js';
import { waitFor } from './support/wait.js';

let server;
const clients = [];
let userCounter = 0;
const newUser = () => `js-user-${process.pid}-${(userCounter += 1)}`;

beforeAll(async () => {
  server = await startServer({ env: { FLAGSTREAM_PING_INTERVAL: '1' } });
});
afterAll(async () => {
  await server?.dispose();
});
afterEach(() => {
  for (const client of clients.splice(0)) client.stop();
});

/** A client for `userId` that records what it receives. */
function track(userId, options = {}, target = server) {
  const client = createClient({
    url: target.url,
    getToken: () => target.userToken(userId),
    shareConnection: false,
    backoff: { min: 100, max: 1000 },
    pollInterval: 200,
    ...options,
  });
  const received = [];
  client.on('*', (event) => received.push(event));
  clients.push(client);
  return { client, received, ids: () => received.map((event) => event.id) };
}

describe('client core against a real server', () => {
  it('streams published notifications with their id, name and data', async () => {
    const user = newUser();
    const { client, received } = track(user);
    await client.start();
    await waitFor(() => client.state.status === 'open');
    const id = await server.publish(user, { text: 'line one\ndata: not a field' }, 'order.shipped');
    await waitFor(() => received.length === 1);
    expect(received[0]).toMatchObject({ id, event: 'order.shipped', data: { text: 'line one\ndata: not a field' }, source: 'stream' });
    expect(client.state).toMatchObject({ mode: 'stream', lastEventId: id, reconnects: 0, error: null });
  });

  it('resumes after the last event id: missed events arrive once, in order', async () => {
    const user = newUser();
    const first = await server.publish(user, { n: 1 });
    const missed = [await server.publish(user, { n: 2 }), await server.publish(user, { n: 3 })];
    const { client, ids } = track(user, { lastEventId: first });
    await client.start();
    await waitFor(() => ids().length === 2);
    const live = await server.publish(user, { n: 4 });
    await waitFor(() => ids().length === 3);
    expect(ids()).toEqual([...missed, live]);
  });

  it('takes the connected block\'s id as its resume point before any event arrives', async () => {
    const user = newUser();
    const before = await server.publish(user, { n: 'before' });
    const first = track(user);
    await first.client.start();
    await waitFor(() => first.client.state.status === 'open');
    const resumeFrom = first.client.state.lastEventId;
    expect(resumeFrom).toBeTruthy();
    first.client.stop();
    const missed = await server.publish(user, { n: 'while away' });
    const second = track(user, { lastEventId: resumeFrom });
    await second.client.start();
    await waitFor(() => second.ids().length === 1);
    expect(second.ids()).toEqual([missed]);
    expect(second.ids()).not.toContain(before);
  });

  it('reconnects when pings stop arriving, and misses nothing', async () => {
    const paused = await startServer({ env: { FLAGSTREAM_PING_INTERVAL: '0.3' } });
    try {
      const user = newUser();
      const { client, ids } = track(user, {}, paused);
      await client.start();
      await waitFor(() => client.state.status === 'open');
      paused.child.kill('SIGSTOP'); // the server hangs: no ping, no close
      await waitFor(() => /no event or ping/.test(client.state.error ?? ''), { message: 'the watchdog to fire' });
      paused.child.kill('SIGCONT');
      const id = await paused.publish(user, { after: 'resume' });
      await waitFor(() => client.state.status === 'open' && client.state.reconnects >= 1);
      await waitFor(() => ids().includes(id));
      expect(ids()).toEqual([id]);
    } finally {
      paused.child.kill('SIGCONT');
      await paused.dispose();
    }
  });

  it('asks getToken again after a 401 and then connects', async () => {
    const user = newUser();
    const tokens = ['not-a-jwt', await server.userToken(user)];
    let calls = 0;
    const { client } = track(user, { getToken: async () => tokens[Math.min(calls++, 1)] });
    await client.start();
    await waitFor(() => client.state.status === 'open');
    expect(calls).toBe(2);
  });

  it('gets a fresh token on reauth when the token expires, without losing events', async () => {
    const user = newUser();
    const mint = (ttl) =>
      execFileSync(FLAGSTREAM_BIN, ['token', '--user', user, '--ttl', String(ttl)], { env: server.env }).toString().trim();
    const issued = [];
    const { client, ids } = track(user, {
      getToken: () => {
        issued.push(issued.length === 0 ? 2 : 3600);
        return mint(issued.at(-1));
      },
    });
    await client.start();
    await waitFor(() => client.state.status === 'open');
    await waitFor(() => issued.length === 2, { message: 'the reauth event to ask for a second token' });
    const id = await server.publish(user, { after: 'reauth' });
    await waitFor(() => ids().includes(id));
    expect(client.state.status).toBe('open');
  });

  it('waits at least Retry-After when the per-user limit answers 429', async () => {
    const limited = await startServer({ env: { FLAGSTREAM_MAX_CONNECTIONS_PER_USER: '1', FLAGSTREAM_RETRY_MS: '4000' } });
    try {
      const user = newUser();
      const holder = track(user, {}, limited).client;
      await holder.start();
      await waitFor(() => holder.state.status === 'open');
      const refused = track(user, {}, limited).client;
      await refused.start();
      await waitFor(() => refused.state.status === 'waiting');
      expect(refused.state.error).toMatch(/HTTP 429/);
      expect(refused.state.retryInMs).toBeGreaterThanOrEqual(4000);
    } finally {
      await limited.dispose();
    }
  });

  it('falls back to native EventSource and still resumes and polls', async () => {
    const user = newUser();
    const first = await server.publish(user, { n: 1 });
    const missed = await server.publish(user, { n: 2 });
    const { client, ids } = track(user, { transport: 'eventsource', EventSource, lastEventId: first });
    client.on('notification', () => {});
    await client.start();
    await waitFor(() => client.state.status === 'open');
    const live = await server.publish(user, { n: 3 });
    await waitFor(() => ids().length === 2);
    expect(ids()).toEqual([missed, live]);
  });
});

describe('resuming from an id that fell out of retention', () => {
  it('gets `reset`, refetches the inbox, and delivers only what it had not seen', async () => {
    const short = await startServer({ env: { FLAGSTREAM_HISTORY_SIZE: '2' } });
    try {
      const user = newUser();
      const old = await short.publish(user, { n: 1 });
      const dropped = await short.publish(user, { n: 2 });
      const kept = [await short.publish(user, { n: 3 }), await short.publish(user, { n: 4 })];
      const { client, ids } = track(user, { lastEventId: old }, short);
      const inboxes = [];
      client.onReset((notifications) => inboxes.push(notifications.map((item) => item.id)));
      await client.start();
      await waitFor(() => inboxes.length === 1);
      expect(inboxes[0]).toEqual(kept);
      expect(ids()).toEqual(kept);
      expect(ids()).not.toContain(dropped);
      const live = await short.publish(user, { n: 5 });
      await waitFor(() => ids().length === 3);
      expect(ids()).toEqual([...kept, live]);
    } finally {
      await short.dispose();
    }
  });
});

describe('users outside the rollout', () => {
  let dark;
  beforeAll(async () => {
    dark = await startServer({ rollout: false });
  });
  afterAll(async () => {
    await dark?.dispose();
  });

  it('poll the inbox after a 204 and get every notification once', async () => {
    const user = newUser();
    const before = await dark.publish(user, { n: 1 });
    const { client, ids } = track(user, {}, dark);
    await client.start();
    await waitFor(() => client.state.mode === 'polling' && ids().length === 1);
    const later = [await dark.publish(user, { n: 2 }), await dark.publish(user, { n: 3 })];
    await waitFor(() => ids().length === 3);
    expect(ids()).toEqual([before, ...later]);
    expect(client.state.status).toBe('polling');
  });

  it('the EventSource fallback learns about the 204 by probing, and polls', async () => {
    const user = newUser();
    const id = await dark.publish(user, { n: 1 });
    const { client, ids } = track(user, { transport: 'eventsource', EventSource }, dark);
    await client.start();
    await waitFor(() => client.state.mode === 'polling' && ids().length === 1);
    expect(ids()).toEqual([id]);
  });
});

describe('the rollout flag changing under an open stream', () => {
  it('switches to polling on `disabled`, keeps receiving, and streams again when re-enabled', async () => {
    const flipping = await startServer();
    try {
      const user = newUser();
      const { client, ids } = track(user, { streamRetryInterval: 1000 }, flipping);
      await client.start();
      await waitFor(() => client.state.status === 'open');
      const streamed = await flipping.publish(user, { n: 1 });
      await waitFor(() => ids().length === 1);
      flipping.setRollout(false);
      await waitFor(() => client.state.mode === 'polling', { message: 'polling after the flag went off' });
      const polled = await flipping.publish(user, { n: 2 });
      await waitFor(() => ids().length === 2);
      flipping.setRollout(true);
      await waitFor(() => client.state.mode === 'stream' && client.state.status === 'open');
      const streamedAgain = await flipping.publish(user, { n: 3 });
      await waitFor(() => ids().length === 3);
      expect(ids()).toEqual([streamed, polled, streamedAgain]);
    } finally {
      await flipping.dispose();
    }
  });
});

describe('a kill switch', () => {
  it('spreads the first inbox poll of every disabled client over firstPollJitter', async () => {
    const flipping = await startServer();
    try {
      const firstPolls = new Map();
      const users = Array.from({ length: 10 }, () => newUser());
      const tracked = users.map((user) => track(user, {
        pollInterval: 10_000,
        streamRetryInterval: 60_000,
        firstPollJitter: 2_000,
        fetch: (url, init) => {
          if (new URL(url).pathname === '/v1/notifications' && !firstPolls.has(user)) firstPolls.set(user, Date.now());
          return globalThis.fetch(url, init);
        },
      }, flipping));
      await Promise.all(tracked.map(({ client }) => client.start()));
      await waitFor(() => tracked.every(({ client }) => client.state.status === 'open'));
      flipping.setRollout(false);
      await waitFor(() => firstPolls.size === users.length, { timeout: 10_000, message: 'every client to poll once' });
      const times = [...firstPolls.values()];
      expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(400);   // not all in the same instant
    } finally {
      await flipping.dispose();
    }
  });
});

describe('tabs sharing one stream (BroadcastChannel election, as without Web Locks)', () => {
  it('holds one server connection; when the leader closes, a follower resumes without loss', async () => {
    const shared = await startServer();
    try {
      const user = newUser();
      const tabs = [0, 1, 2].map(() => track(user, { shareConnection: true, locks: null }, shared));
      await Promise.all(tabs.map(({ client }) => client.start()));
      await waitFor(() => tabs.every(({ client }) => client.state.status === 'open'));
      expect(tabs.map(({ client }) => client.state.role).sort()).toEqual(['follower', 'follower', 'leader']);
      expect(await shared.metric('sse_connections')).toBe(1);
      const first = await shared.publish(user, { n: 1 });
      await waitFor(() => tabs.every(({ ids }) => ids().length === 1));
      const leader = tabs.find(({ client }) => client.state.role === 'leader');
      leader.client.stop();
      const missed = await shared.publish(user, { n: 2 });
      const rest = tabs.filter((tab) => tab !== leader);
      await waitFor(() => rest.some(({ client }) => client.state.role === 'leader'), { message: 'a follower to take over' });
      const live = await shared.publish(user, { n: 3 });
      await waitFor(() => rest.every(({ ids }) => ids().length === 3));
      for (const { ids } of rest) expect(ids()).toEqual([first, missed, live]);
      await waitFor(async () => (await shared.metric('sse_connections')) === 1);
    } finally {
      await shared.dispose();
    }
  });
});
