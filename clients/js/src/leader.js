// Leader election among the tabs of one origin, so that a browser holds one stream
// per user however many tabs are open.
//
// With the Web Locks API the browser does the work: every tab asks for the same
// exclusive lock, one holds it, the others queue, and a closed or crashed tab releases
// it at once. Without Web Locks (older Safari) the tabs agree over BroadcastChannel: the
// leader sends heartbeats, and when they stop the followers claim leadership; among
// rival claims the smallest tab id wins.

/**
 * @typedef {{
 *   name: string,
 *   onLeader: () => void,
 *   onFollower?: () => void,
 *   locks?: {request: Function} | null,
 *   BroadcastChannel?: typeof BroadcastChannel | null,
 *   heartbeatMs?: number,
 *   claimWindowMs?: number,
 * }} ElectionOptions
 * @typedef {{readonly isLeader: boolean, readonly method: string, stop(): void}} Election
 */

/**
 * Join the election named `name`. `onLeader` runs when this tab becomes the leader,
 * `onFollower` when it is (or becomes again) a follower.
 * @param {ElectionOptions} options
 * @returns {Election}
 */
export function electLeader(options) {
  const locks = options.locks === undefined ? globalThis.navigator?.locks : options.locks;
  if (locks && typeof locks.request === 'function') return electWithLocks(locks, options);
  const Channel = options.BroadcastChannel === undefined ? globalThis.BroadcastChannel : options.BroadcastChannel;
  if (Channel) return electWithChannel(Channel, options);
  // Nothing to coordinate with (e.g. a worker without either API): this tab leads alone.
  options.onLeader();
  return { isLeader: true, method: 'alone', stop() {} };
}

function electWithLocks(locks, { name, onLeader, onFollower }) {
  const abort = new AbortController();
  let release;
  let isLeader = false;
  onFollower?.();
  locks
    .request(`flagstream-leader:${name}`, { signal: abort.signal }, () => {
      isLeader = true;
      onLeader();
      // Hold the lock until stop(); the browser releases it if the tab goes away.
      return new Promise((resolve) => {
        release = resolve;
      });
    })
    .catch((error) => {
      if (error?.name !== 'AbortError') throw error;
    });
  return {
    get isLeader() {
      return isLeader;
    },
    method: 'web-locks',
    stop() {
      isLeader = false;
      if (release) release();
      else abort.abort();
    },
  };
}

function electWithChannel(Channel, { name, onLeader, onFollower, heartbeatMs = 1000, claimWindowMs = 250 }) {
  const myId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  const channel = new Channel(`flagstream-election:${name}`);
  const leaderTimeoutMs = heartbeatMs * 3;
  let role = 'follower';
  let lastHeartbeat = 0;
  let claimTimer = null;
  let stopped = false;

  const send = (type) => channel.postMessage({ type, id: myId });

  function becomeLeader() {
    role = 'leader';
    send('heartbeat');
    onLeader();
  }

  function becomeFollower() {
    const wasLeader = role === 'leader';
    role = 'follower';
    lastHeartbeat = Date.now();
    if (wasLeader) onFollower?.();
  }

  function claim() {
    if (stopped || role !== 'follower' || claimTimer) return;
    role = 'claiming';
    const claimStarted = Date.now();
    send('claim');
    claimTimer = setTimeout(() => {
      claimTimer = null;
      if (stopped || role !== 'claiming') return;
      if (lastHeartbeat > claimStarted) role = 'follower';
      else becomeLeader();
    }, claimWindowMs);
  }

  channel.onmessage = ({ data }) => {
    if (stopped || !data || data.id === myId) return;
    switch (data.type) {
      case 'heartbeat':
        if (role === 'leader' && data.id > myId) {
          send('heartbeat'); // two leaders: the smaller id keeps it, the other steps down
          return;
        }
        becomeFollower();
        return;
      case 'claim':
        if (role === 'leader') send('heartbeat');
        else if (role === 'claiming' && data.id < myId) role = 'follower';
        return;
      case 'hello':
        if (role === 'leader') send('heartbeat');
        return;
      case 'resign':
        lastHeartbeat = 0;
        if (role === 'follower') claim();
        return;
      default:
        return;
    }
  };

  const ticker = setInterval(() => {
    if (role === 'leader') send('heartbeat');
    else if (role === 'follower' && Date.now() - lastHeartbeat > leaderTimeoutMs) claim();
  }, heartbeatMs);

  const resignOnExit = () => election.stop();
  globalThis.addEventListener?.('pagehide', resignOnExit);

  onFollower?.();
  send('hello');
  // A running leader answers `hello` within the claim window; otherwise claim now.
  lastHeartbeat = 0;
  setTimeout(() => {
    if (!stopped && role === 'follower' && lastHeartbeat === 0) claim();
  }, claimWindowMs);

  const election = {
    get isLeader() {
      return role === 'leader';
    },
    method: 'broadcast-channel',
    stop() {
      if (stopped) return;
      if (role === 'leader') send('resign');
      stopped = true;
      role = 'follower';
      clearInterval(ticker);
      clearTimeout(claimTimer);
      globalThis.removeEventListener?.('pagehide', resignOnExit);
      channel.close();
    },
  };
  return election;
}
