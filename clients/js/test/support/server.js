// A real `flagstream serve` for the JS tests: a subprocess on a free port, with its own
// state directory and flags file, in dev mode (for GET /dev/token and POST /dev/notify).
// The binary is FLAGSTREAM_BIN, else the repository's .venv/bin/flagstream.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const FLAGSTREAM_BIN = process.env.FLAGSTREAM_BIN ?? join(REPO, '.venv/bin/flagstream');

/** The rollout flag in the Unleash client-API format the offline gate reads. */
function flagsDocument(rolloutEnabled) {
  const rollout = (name, enabled) => ({
    name,
    type: 'release',
    enabled,
    strategies: [{ name: 'flexibleRollout', parameters: { rollout: '100', stickiness: 'userId', groupId: name }, constraints: [] }],
    variants: [],
  });
  return JSON.stringify({ version: 2, features: [rollout('sse-delivery', rolloutEnabled)] });
}

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

/**
 * @param {{env?: Record<string, string>, rollout?: boolean, redis?: boolean}} [options]
 *   `redis`: use the Redis broker (history survives a restart); needs
 *   FLAGSTREAM_TEST_REDIS_URL, which tests/integration/test_js_client.py provides.
 */
export async function startServer({ env = {}, rollout = true, redis = false } = {}) {
  const stateDir = mkdtempSync(join(tmpdir(), 'flagstream-js-'));
  const flagsFile = join(stateDir, 'flags.json');
  writeFileSync(flagsFile, flagsDocument(rollout));
  const port = await freePort();
  const fullEnv = {
    ...process.env,
    FLAGSTREAM_HOST: '127.0.0.1',
    FLAGSTREAM_PORT: String(port),
    FLAGSTREAM_STATE_DIR: stateDir,
    // no FLAGSTREAM_JWT_SECRET: dev mode mints with its own secret, kept in stateDir across restarts
    FLAGSTREAM_PUBLISH_TOKEN: randomBytes(24).toString('hex'),
    FLAGSTREAM_ADMIN_TOKEN: randomBytes(24).toString('hex'),
    FLAGSTREAM_DEV_MODE: 'true',
    FLAGSTREAM_FLAGS_FILE: flagsFile,
    FLAGSTREAM_FLAGS_REFRESH_INTERVAL: '1',
    FLAGSTREAM_LOG_LEVEL: 'warning',
    ...(redis ? redisEnv() : {}),
    ...env,
  };
  const server = new RunningServer({ port, stateDir, flagsFile, env: fullEnv });
  await server.spawn();
  return server;
}

function redisEnv() {
  const url = process.env.FLAGSTREAM_TEST_REDIS_URL;
  if (!url) throw new Error('FLAGSTREAM_TEST_REDIS_URL is not set: run these tests through pytest (tests/integration/test_js_client.py)');
  const base = process.env.FLAGSTREAM_TEST_REDIS_PREFIX ?? 'flagstream-test:js:';
  return { FLAGSTREAM_BROKER: 'redis', FLAGSTREAM_REDIS_URL: url, FLAGSTREAM_REDIS_PREFIX: `${base}${randomBytes(4).toString('hex')}:` };
}

export class RunningServer {
  constructor({ port, stateDir, flagsFile, env }) {
    Object.assign(this, { port, stateDir, flagsFile, env });
    this.url = `http://127.0.0.1:${port}`;
    this.publishToken = env.FLAGSTREAM_PUBLISH_TOKEN;
    this.output = '';
  }

  async spawn() {
    const child = spawn(FLAGSTREAM_BIN, ['serve'], { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((resolveExit) => child.once('exit', (code, signal) => resolveExit({ code, signal })));
    const keep = (chunk) => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let exitedEarly = false;
    this.exited.then(() => (exitedEarly = true));
    await waitFor(
      async () => {
        if (exitedEarly) throw new Error(`flagstream serve exited before it was ready:\n${this.output}`);
        return (await fetch(`${this.url}/readyz`).catch(() => null))?.status === 200;
      },
      { timeout: 30_000, interval: 100, message: `${this.url}/readyz` },
    );
  }

  /** SIGTERM and wait for the process to exit (it drains its streams first). */
  async stop() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timeout = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
    await this.exited;
    clearTimeout(timeout);
  }

  /** Stop, then serve again on the same port with the same secrets and state. */
  async restart() {
    await this.stop();
    await this.spawn();
  }

  async dispose() {
    await this.stop();
    rmSync(this.stateDir, { recursive: true, force: true });
  }

  /** Turn the rollout flag on or off; the server re-reads the file every second. */
  setRollout(enabled) {
    const temporary = `${this.flagsFile}.tmp`;
    writeFileSync(temporary, flagsDocument(enabled));
    renameSync(temporary, this.flagsFile); // atomic: the server never reads half a file
  }

  async userToken(userId) {
    const response = await fetch(`${this.url}/dev/token?user_id=${encodeURIComponent(userId)}`);
    if (!response.ok) throw new Error(`GET /dev/token: HTTP ${response.status}`);
    return (await response.json()).token;
  }

  /** Publish one notification; returns its id. */
  async publish(userId, data, event = 'notification') {
    const response = await fetch(`${this.url}/v1/notifications`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${this.publishToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ user_id: userId, event, data }),
    });
    if (response.status !== 202) throw new Error(`publish: HTTP ${response.status} ${await response.text()}`);
    return (await response.json()).ids[0];
  }

  /** The value of an unlabelled metric on /metrics, e.g. sse_connections. */
  async metric(name) {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    const line = text.split('\n').find((row) => row.startsWith(`${name} `));
    if (!line) throw new Error(`metric ${name} not found on /metrics`);
    return Number(line.split(' ')[1]);
  }
}
