// The demo page: sign in as a demo user (dev mode hands out tokens), watch the
// connection and the notifications, send yourself one. Plain DOM, no framework.
// Open it with ?user=NAME to sign in at once (every tab of that user shares one stream).

import { createClient } from './flagstream.js';

const $ = (selector) => document.querySelector(selector);
const STATUS_TEXT = {
  idle: 'signed out',
  connecting: 'connecting…',
  open: 'connected',
  waiting: 'reconnecting',
  polling: 'polling',
  offline: 'offline',
  closed: 'signed out',
};
const POLL_INTERVAL_MS = 3000;

let session = null; // {userId, client, token}
let received = 0;

async function fetchDevToken(userId) {
  const response = await fetch(`/dev/token?user_id=${encodeURIComponent(userId)}`, { cache: 'no-store' });
  if (response.status === 404) {
    throw new Error('This server is not in dev mode, so it hands out no demo tokens: start it with `make run`.');
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail?.[0]?.message ?? body.error ?? `GET /dev/token answered HTTP ${response.status}`);
  return body.token;
}

async function signIn(userId) {
  signOut();
  showSignInError(null);
  let token;
  try {
    token = await fetchDevToken(userId);
  } catch (error) {
    showSignInError(error.message);
    return;
  }
  const current = { userId, token, client: null };
  let firstToken = token;
  current.client = createClient({
    url: location.origin,
    // The first call uses the token from signing in; later ones (401, reauth) fetch anew.
    getToken: async () => {
      if (firstToken) {
        const fresh = firstToken;
        firstToken = null;
        return fresh;
      }
      current.token = await fetchDevToken(userId);
      return current.token;
    },
    backoff: { min: 500, max: 10_000 },
    pollInterval: POLL_INTERVAL_MS,
    streamRetryInterval: 15_000,
  });
  session = current;
  current.client.on('*', showNotification);
  current.client.onState(showState);
  current.client.onReset(() => {
    $('#send-result').textContent = 'The server no longer had our position: the inbox was fetched again.';
  });
  localStorage.setItem('flagstream-demo-user', userId);
  $('#user-id').value = userId;
  setSignedIn(true);
  showState(current.client.state);
  await current.client.start();
}

function signOut() {
  session?.client.stop();
  session = null;
  received = 0;
  $('#notifications').replaceChildren();
  $('#count').textContent = '(0)';
  $('#empty').hidden = false;
  setSignedIn(false);
  showState(null);
}

function setSignedIn(signedIn) {
  $('#signout').hidden = !signedIn;
  $('#reconnect').disabled = !signedIn;
  $('#send button').disabled = !signedIn;
}

function showSignInError(message) {
  $('#signin-error').hidden = !message;
  $('#signin-error').textContent = message ?? '';
}

function showState(state) {
  const status = state?.status ?? 'idle';
  const pill = $('#status');
  pill.dataset.status = status;
  pill.textContent =
    status === 'waiting' && state.retryInMs !== null
      ? `reconnecting in ${(state.retryInMs / 1000).toFixed(1)} s`
      : STATUS_TEXT[status] ?? status;
  $('#mode').textContent = !state
    ? '–'
    : state.mode === 'stream'
      ? 'streaming (you are in the rollout)'
      : `polling every ${POLL_INTERVAL_MS / 1000} s (you are outside the rollout)`;
  $('#mode').dataset.mode = state?.mode ?? '';
  $('#reconnects').textContent = String(state?.reconnects ?? 0);
  $('#role').textContent = !state
    ? '–'
    : state.role === 'follower'
      ? 'another tab holds the connection and relays events here'
      : 'holds the connection for every tab of this user';
  $('#role').dataset.role = state?.role ?? '';
  $('#last-id code').textContent = state?.lastEventId ?? '–';
  $('#error').hidden = !state?.error;
  $('#error').textContent = state?.error ?? '';
}

function showNotification(event) {
  const item = document.createElement('li');
  item.dataset.id = event.id;
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = typeof event.data?.text === 'string' ? event.data.text : JSON.stringify(event.data);
  const time = document.createElement('time');
  time.className = 'muted';
  time.textContent = new Date().toLocaleTimeString();
  const meta = document.createElement('span');
  meta.className = 'meta';
  meta.textContent = `${event.event} · id ${event.id} · via ${event.source}`;
  item.append(text, time, meta);
  $('#notifications').prepend(item);
  received += 1;
  $('#count').textContent = `(${received})`;
  $('#empty').hidden = true;
}

async function sendTestNotification(text) {
  if (!session) return;
  const result = $('#send-result');
  result.textContent = 'Sending…';
  const send = (token) =>
    fetch('/dev/notify', {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ text }),
    });
  let response = await send(session.token);
  if (response.status === 401) {
    session.token = await fetchDevToken(session.userId);
    response = await send(session.token);
  }
  const body = await response.json().catch(() => ({}));
  result.textContent = response.ok ? `Sent (id ${body.ids?.[0]}). Watch it arrive below.` : `Not sent: HTTP ${response.status} ${body.error ?? ''}`;
}

$('#signin').addEventListener('submit', (event) => {
  event.preventDefault();
  const userId = $('#user-id').value.trim();
  if (userId) signIn(userId);
});
$('#signout').addEventListener('click', () => {
  localStorage.removeItem('flagstream-demo-user');
  signOut();
});
$('#reconnect').addEventListener('click', () => session?.client.reconnect());
$('#send').addEventListener('submit', (event) => {
  event.preventDefault();
  sendTestNotification($('#text').value).catch((error) => {
    $('#send-result').textContent = `Not sent: ${error.message}`;
  });
});

const requested = new URLSearchParams(location.search).get('user') ?? localStorage.getItem('flagstream-demo-user');
if (requested) signIn(requested);
