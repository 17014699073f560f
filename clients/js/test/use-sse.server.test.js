// @vitest-environment jsdom
// useSSE in React 19 (jsdom) against a real `flagstream serve`.
import { act, cleanup, render, screen } from '@testing-library/react';
import { StrictMode, createElement as h, useState } from 'react';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useSSE } from '@flagstream/client/react';
import { startServer } from './support/server.js';
import { waitFor } from './support/wait.js';

let server;
let userCounter = 0;
const newUser = () => `hook-user-${process.pid}-${(userCounter += 1)}`;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.dispose();
});
afterEach(() => {
  cleanup();
});

function Inbox({ userId, events, label = 'inbox', seen, shareConnection = true }) {
  const sse = useSSE({
    url: server.url, user: userId, getToken: () => server.userToken(userId), events,
    backoff: { min: 100, max: 1000 }, shareConnection,
  });
  if (seen) seen.current = sse;
  return h(
    'section',
    { 'aria-label': label },
    h('p', { 'data-testid': `${label}-status` }, sse.status),
    h('ul', null, sse.events.map((event) => h('li', { key: event.id }, event.data.text))),
  );
}

const statusOf = (label = 'inbox') => screen.getByTestId(`${label}-status`).textContent;

async function openedSince(before) {
  return (await server.metric('sse_connections_opened_total')) - before;
}

describe('useSSE against a real server', () => {
  it('shows notifications as they arrive, with one connection under StrictMode', async () => {
    const user = newUser();
    const before = await server.metric('sse_connections_opened_total');
    // Without tab sharing the client connects at once, so a second client made by
    // StrictMode's remount would show as a second opened stream.
    render(h(StrictMode, null, h(Inbox, { userId: user, shareConnection: false })));
    await waitFor(() => statusOf() === 'open');
    await server.publish(user, { text: 'first' });
    await server.publish(user, { text: 'second' });
    await waitFor(() => screen.queryAllByRole('listitem').length === 2);
    expect(screen.getAllByRole('listitem').map((item) => item.textContent)).toEqual(['first', 'second']);
    expect(await openedSince(before)).toBe(1);
  });

  it('closes its connection when the last component using it unmounts', async () => {
    const user = newUser();
    const { unmount } = render(h(StrictMode, null, h(Inbox, { userId: user })));
    await waitFor(() => statusOf() === 'open');
    expect(await server.metric('sse_connections')).toBe(1);
    unmount();
    await waitFor(async () => (await server.metric('sse_connections')) === 0, { message: 'the server to see the stream close' });
  });

  it('components of one user share a client; each sees only the event names it asked for', async () => {
    const user = newUser();
    const before = await server.metric('sse_connections_opened_total');
    render(
      h(StrictMode, null,
        h(Inbox, { userId: user, label: 'notes', events: ['notification'] }),
        h(Inbox, { userId: user, label: 'orders', events: ['order.shipped'] })),
    );
    await waitFor(() => statusOf('notes') === 'open' && statusOf('orders') === 'open');
    await server.publish(user, { text: 'a note' });
    await server.publish(user, { text: 'parcel' }, 'order.shipped');
    const items = (label) => screen.getByLabelText(label).querySelectorAll('li');
    await waitFor(() => items('notes').length === 1 && items('orders').length === 1);
    expect([items('notes')[0].textContent, items('orders')[0].textContent]).toEqual(['a note', 'parcel']);
    expect(await openedSince(before)).toBe(1);
  });

  it('reconnect() opens a new stream at once and resumes without duplicates', async () => {
    const user = newUser();
    const seen = { current: null };
    render(h(Inbox, { userId: user, seen }));
    await waitFor(() => statusOf() === 'open');
    await server.publish(user, { text: 'before' });
    await waitFor(() => seen.current.events.length === 1);
    const firstConnection = seen.current.state.connectionId;
    act(() => seen.current.reconnect());
    await waitFor(() => seen.current.status === 'open' && seen.current.state.connectionId !== firstConnection);
    await server.publish(user, { text: 'after' });
    await waitFor(() => seen.current.events.length === 2);
    expect(seen.current.events.map((event) => event.data.text)).toEqual(['before', 'after']);
    expect(seen.current.state.reconnects).toBe(1);
  });

  it('switching user in the same component moves the connection to the new user', async () => {
    const [alice, bob] = [newUser(), newUser()];
    let switchUser;
    function App() {
      const [userId, setUserId] = useState(alice);
      switchUser = setUserId;
      return h(Inbox, { userId, key: userId });
    }
    render(h(StrictMode, null, h(App)));
    await waitFor(() => statusOf() === 'open');
    act(() => switchUser(bob));
    await waitFor(() => statusOf() === 'open');
    await server.publish(bob, { text: 'for bob' });
    await waitFor(() => screen.queryAllByRole('listitem').length === 1);
    await waitFor(async () => (await server.metric('sse_connections')) === 1, { message: "alice's stream to close" });
  });
});
