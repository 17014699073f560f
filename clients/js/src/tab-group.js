// The tabs of one origin that follow the same user form a group: one leader tab holds
// the stream and relays what it receives over BroadcastChannel; the others deliver the
// relayed events to their own listeners and remember the last id, so whichever tab
// takes over when the leader closes resumes from where the group was.

import { electLeader } from './leader.js';

/** State fields a follower mirrors from the leader (role and lastEventId stay its own). */
const SHARED_STATE = ['status', 'mode', 'reconnects', 'error', 'connectionId', 'pingInterval', 'retryInMs'];

/**
 * The group key: origin plus the token's subject, so two users signed in to two tabs
 * never share a stream. The JWT payload is only read here, never trusted: the server
 * checks the signature.
 * @param {string} origin
 * @param {string | null} token
 */
export function shareKeyFor(origin, token) {
  return `${origin}|${subjectOf(token) ?? 'anonymous'}`;
}

function subjectOf(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = new TextDecoder().decode(Uint8Array.from(atob(payload), (c) => c.charCodeAt(0)));
    return JSON.parse(json).sub ?? null;
  } catch {
    return null;
  }
}

export class TabGroup {
  /**
   * @param {{
   *   key: string, BroadcastChannel: typeof BroadcastChannel, locks?: object | null,
   *   onLeader: () => void, onFollower: () => void,
   *   onEvent: (event: object) => void, onReset: (notifications: object[]) => void,
   *   onLeaderState: (state: object) => void, onReconnectRequest: () => void,
   *   currentState: () => object,
   * }} options
   */
  constructor(options) {
    this.options = options;
    this.isLeader = false;
    this.lastRelayedState = null;
    this.channel = new options.BroadcastChannel(`flagstream-relay:${options.key}`);
    this.channel.onmessage = ({ data }) => this.receive(data);
    this.election = electLeader({
      name: options.key,
      locks: options.locks,
      BroadcastChannel: options.BroadcastChannel,
      onLeader: () => {
        this.isLeader = true;
        this.lastRelayedState = null;
        options.onLeader();
      },
      onFollower: () => {
        this.isLeader = false;
        this.announce();
        options.onFollower();
      },
    });
  }

  receive(message) {
    if (!message || this.closed) return;
    const { options } = this;
    if (this.isLeader) {
      if (message.type === 'hello') this.relayState(options.currentState(), { force: true });
      else if (message.type === 'reconnect') options.onReconnectRequest();
      return;
    }
    if (message.type === 'event') options.onEvent(message.event);
    else if (message.type === 'reset') options.onReset(message.notifications);
    else if (message.type === 'state') options.onLeaderState(message.state);
  }

  /** A follower asks the leader for its state (sent on joining). */
  announce() {
    this.post({ type: 'hello' });
  }

  requestReconnect() {
    this.post({ type: 'reconnect' });
  }

  relayEvent(event) {
    if (this.isLeader) this.post({ type: 'event', event });
  }

  relayReset(notifications) {
    if (this.isLeader) this.post({ type: 'reset', notifications });
  }

  relayState(state, { force = false } = {}) {
    if (!this.isLeader) return;
    const shared = Object.fromEntries(SHARED_STATE.map((key) => [key, state[key]]));
    const previous = this.lastRelayedState;
    if (!force && previous && SHARED_STATE.every((key) => Object.is(previous[key], shared[key]))) return;
    this.lastRelayedState = shared;
    this.post({ type: 'state', state: shared });
  }

  post(message) {
    if (!this.closed) this.channel.postMessage(message);
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.election.stop();
    this.channel.close();
  }
}
