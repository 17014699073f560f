import { afterEach, describe, expect, it } from 'vitest';
import { electLeader } from '@flagstream/client/leader';
import { waitFor } from './support/wait.js';

/**
 * Node has no Web Locks API, so this stands in for navigator.locks: one exclusive lock
 * per name, granted in request order, released when the callback's promise settles.
 */
class FakeLockManager {
  constructor() {
    this.queues = new Map();
  }

  request(name, options, callback) {
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(name) ?? [];
      this.queues.set(name, queue);
      const waiter = { callback, resolve, reject };
      options.signal?.addEventListener('abort', () => {
        const index = queue.indexOf(waiter);
        if (index > 0) {
          queue.splice(index, 1);
          reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
        }
      });
      queue.push(waiter);
      if (queue.length === 1) this.grant(name);
    });
  }

  grant(name) {
    const queue = this.queues.get(name);
    const head = queue?.[0];
    if (!head) return;
    Promise.resolve(head.callback()).then(head.resolve, head.reject).finally(() => {
      queue.shift();
      this.grant(name);
    });
  }
}

const elections = [];
afterEach(() => {
  for (const election of elections.splice(0)) election.stop();
});

function tabs(count, options) {
  const roles = Array.from({ length: count }, () => 'none');
  for (let i = 0; i < count; i += 1) {
    elections.push(
      electLeader({
        onLeader: () => (roles[i] = 'leader'),
        onFollower: () => (roles[i] = 'follower'),
        ...options,
      }),
    );
  }
  return { roles, elections: elections.slice(-count) };
}

const leaders = (roles) => roles.filter((role) => role === 'leader').length;

describe.each([
  ['Web Locks', () => ({ locks: new FakeLockManager() })],
  ['BroadcastChannel', () => ({ locks: null, heartbeatMs: 40, claimWindowMs: 60 })],
])('leader election with %s', (_label, makeOptions) => {
  it('elects exactly one leader among five tabs, and a new one when it closes', async () => {
    const name = `test-${Math.random()}`;
    const { roles, elections: group } = tabs(5, { name, ...makeOptions() });
    await waitFor(() => leaders(roles) === 1);
    const first = roles.indexOf('leader');
    group[first].stop();
    roles[first] = 'closed';
    await waitFor(() => leaders(roles) === 1);
    expect(roles.filter((role) => role === 'follower')).toHaveLength(3);
    expect(roles.indexOf('leader')).not.toBe(first);
  });
});

describe('leader election over BroadcastChannel', () => {
  it('elects a new leader when the old one goes silent without resigning', async () => {
    const name = `crash-${Math.random()}`;
    // Each tab gets its own channel class; a "crashed" tab's messages stop going out.
    const crashed = new Set();
    const tabChannel = (tab) =>
      class extends BroadcastChannel {
        postMessage(message) {
          if (!crashed.has(tab)) super.postMessage(message);
        }
      };
    const roles = ['none', 'none', 'none'];
    for (let tab = 0; tab < 3; tab += 1) {
      elections.push(
        electLeader({
          name, locks: null, heartbeatMs: 40, claimWindowMs: 60,
          BroadcastChannel: tabChannel(tab),
          onLeader: () => (roles[tab] = 'leader'),
          onFollower: () => (roles[tab] = 'follower'),
        }),
      );
    }
    await waitFor(() => leaders(roles) === 1);
    const first = roles.indexOf('leader');
    crashed.add(first);
    roles[first] = 'crashed';
    await waitFor(() => leaders(roles) === 1, { message: 'a follower to take over' });
    expect(roles.filter((role) => role === 'follower')).toHaveLength(1);
  });

  it('a tab without BroadcastChannel or Web Locks leads alone', () => {
    let led = false;
    const election = electLeader({ name: 'alone', locks: null, BroadcastChannel: null, onLeader: () => (led = true) });
    expect(led).toBe(true);
    expect(election.method).toBe('alone');
  });
});
