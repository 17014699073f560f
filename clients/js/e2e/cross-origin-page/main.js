// An application page served from its own origin (a Vite dev server), using flagstream on
// another origin: the plain client, the useSSE hook, and native EventSource with the
// stream cookie. The test drives it through `window.app`.
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { createClient } from '../../src/flagstream.js';
import { useSSE } from '../../src/use-sse.js';

const app = {
  client: null,
  clientIds: [],
  clientState: null,
  hookIds: [],
  hookStatus: null,
  hookMode: null,
  cookieStream: { opened: false, errors: 0, ids: [], names: [] },

  startClient(url, token, options = {}) {
    app.client = createClient({ url, getToken: async () => token, shareConnection: false, pollInterval: 500, ...options });
    // EventSource hears only the names listened to when it opened: no '*' there.
    app.client.on(options.transport === 'eventsource' ? 'notification' : '*', (event) => app.clientIds.push(event.id));
    app.client.onState((state) => { app.clientState = { ...state }; });
    app.client.start();
  },

  startHook(url, token) {
    function Notifications() {
      const { status, events, state } = useSSE({
        url, user: 'hook', getToken: async () => token, shareConnection: false, pollInterval: 500,
      });
      app.hookStatus = status;
      app.hookMode = state?.mode ?? null;
      app.hookIds = events.map((event) => event.id);
      return createElement('p', null, `${status}: ${events.length}`);
    }
    createRoot(document.getElementById('hook')).render(createElement(Notifications));
  },

  async openSession(url, token) {
    const response = await fetch(`${url}/v1/stream-session`, {
      method: 'POST', credentials: 'include', headers: { Authorization: `Bearer ${token}` },
    });
    return { status: response.status, body: await response.json() };
  },

  streamWithCookie(url) {
    const source = new EventSource(`${url}/v1/stream`, { withCredentials: true });
    app.cookieSource = source;
    source.onopen = () => { app.cookieStream.opened = true; };
    source.onerror = () => { app.cookieStream.errors += 1; };
    for (const name of ['connected', 'notification']) {
      source.addEventListener(name, (event) => {
        app.cookieStream.names.push(name);
        if (name === 'notification') app.cookieStream.ids.push(event.lastEventId);
      });
    }
  },

  async inboxWithCookie(url) {
    const response = await fetch(`${url}/v1/notifications`, { credentials: 'include' });
    return (await response.json()).notifications.map((item) => item.id);
  },

  async fetchWithToken(url, token) {
    try {
      const response = await fetch(`${url}/v1/notifications`, { headers: { Authorization: `Bearer ${token}` } });
      return { status: response.status };
    } catch (error) {
      return { error: String(error) };
    }
  },
};
window.app = app;
window.appReady = true;
