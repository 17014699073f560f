// flagstream on one origin, the application page on another (a Vite dev server on its own
// port), in headless Debian chromium: the JS client and useSSE stream, resume and poll
// through CORS; native EventSource authenticates with the stream cookie; a page on an
// origin outside CORS_ORIGINS gets nothing.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createServer } from 'vite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startServer } from '../test/support/server.js';
import { waitFor } from '../test/support/wait.js';

const CHROMIUM = process.env.FLAGSTREAM_CHROMIUM ?? '/usr/bin/chromium';
const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../../..');

let browser;
let vite;
let pageOrigin;
let otherOrigin;
let server;
let context;
let userCounter = 0;
const newUser = () => `cross-origin-${process.pid}-${(userCounter += 1)}`;

beforeAll(async () => {
  const port = await freePort();
  vite = await createServer({
    root: resolve(HERE, 'cross-origin-page'),
    configFile: false,
    logLevel: 'error',
    server: { host: '127.0.0.1', port, strictPort: true, fs: { allow: [REPO] } },
    resolve: { dedupe: ['react', 'react-dom'] },
    optimizeDeps: { include: ['react', 'react-dom/client'] },
  });
  await vite.listen();
  pageOrigin = `http://127.0.0.1:${port}`;
  otherOrigin = `http://localhost:${port}`;     // the same page, another origin
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-background-networking'] });
});
afterAll(async () => {
  await browser?.close();
  await vite?.close();
});
afterEach(async () => {
  await context?.close();
  context = null;
  await server?.dispose();
  server = null;
});

async function startCrossOriginServer(options = {}) {
  return startServer({
    ...options,
    env: { FLAGSTREAM_CORS_ORIGINS: pageOrigin, FLAGSTREAM_STREAM_COOKIE: 'true', ...(options.env ?? {}) },
  });
}

async function openPage(origin = pageOrigin) {
  context ??= await browser.newContext();
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (error) => page.problems.push(error.message));
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => window.appReady === true, null, { timeout: 60_000 });
  return page;
}

const clientStatus = (page) => page.evaluate(() => window.app.clientState?.status ?? null);
const clientIds = (page) => page.evaluate(() => window.app.clientIds);

describe('a page on another origin', () => {
  it('streams, resumes after a restart, and polls with the JS client', async () => {
    server = await startCrossOriginServer({ redis: true, env: { FLAGSTREAM_RETRY_MS: '300' } });
    const user = newUser();
    const token = await server.userToken(user);
    const page = await openPage();
    await page.evaluate(([url, jwt]) => window.app.startClient(url, jwt), [server.url, token]);
    await waitFor(async () => (await clientStatus(page)) === 'open', { message: 'the cross-origin stream to open' });
    const streamed = await server.publish(user, { text: 'streamed' });
    await waitFor(async () => (await clientIds(page)).length === 1);

    await server.stop();
    await waitFor(async () => (await clientStatus(page)) === 'waiting', { message: 'backing off while the server is down' });
    await server.spawn();
    const whileAway = await server.publish(user, { text: 'published while the page was away' });
    await waitFor(async () => (await clientStatus(page)) === 'open', { timeout: 20_000 });
    await waitFor(async () => (await clientIds(page)).length === 2, { message: 'the resumed event' });

    server.setRollout(false);
    await waitFor(async () => (await page.evaluate(() => window.app.clientState?.mode)) === 'polling', { message: 'polling mode' });
    const polled = await server.publish(user, { text: 'polled' });
    await waitFor(async () => (await clientIds(page)).length === 3, { timeout: 15_000 });
    expect(await clientIds(page)).toEqual([streamed, whileAway, polled]);
    expect(page.problems).toEqual([]);
  });

  it('streams and polls with the useSSE hook', async () => {
    server = await startCrossOriginServer();
    const user = newUser();
    const token = await server.userToken(user);
    const page = await openPage();
    await page.evaluate(([url, jwt]) => window.app.startHook(url, jwt), [server.url, token]);
    await waitFor(async () => (await page.evaluate(() => window.app.hookStatus)) === 'open', { message: 'useSSE open' });
    const first = await server.publish(user, { text: 'one' });
    const second = await server.publish(user, { text: 'two' });
    await waitFor(async () => (await page.evaluate(() => window.app.hookIds)).length === 2);
    server.setRollout(false);
    await waitFor(async () => (await page.evaluate(() => window.app.hookMode)) === 'polling', { message: 'useSSE polling' });
    const polled = await server.publish(user, { text: 'polled' });
    await waitFor(async () => (await page.evaluate(() => window.app.hookIds)).length === 3, { timeout: 15_000 });
    expect(await page.evaluate(() => window.app.hookIds)).toEqual([first, second, polled]);
    expect(page.problems).toEqual([]);
  });

  it('streams over native EventSource with the stream cookie, which the page cannot read', async () => {
    server = await startCrossOriginServer();
    const user = newUser();
    const token = await server.userToken(user);
    const page = await openPage();
    const session = await page.evaluate(([url, jwt]) => window.app.openSession(url, jwt), [server.url, token]);
    expect(session.status).toBe(200);
    expect(session.body.user_id).toBe(user);
    await page.evaluate((url) => window.app.streamWithCookie(url), server.url);
    await waitFor(async () => (await page.evaluate(() => window.app.cookieStream.names)).includes('connected'));
    const id = await server.publish(user, { text: 'to the cookie stream' });
    await waitFor(async () => (await page.evaluate(() => window.app.cookieStream.ids)).length === 1);
    expect(await page.evaluate(() => window.app.cookieStream.ids)).toEqual([id]);
    expect(await page.evaluate((url) => window.app.inboxWithCookie(url), server.url)).toEqual([id]);
    const cookies = await context.cookies();   // all of them: a URL of / would match neither path
    const streamCookies = cookies.filter((cookie) => cookie.name === 'flagstream_stream');
    expect(streamCookies.map((cookie) => cookie.path).sort()).toEqual(['/v1/notifications', '/v1/stream']);
    expect(streamCookies.every((cookie) => cookie.httpOnly && cookie.sameSite === 'Lax')).toBe(true);
    expect(await page.evaluate(() => document.cookie)).not.toContain(token);
  });

  it('keeps the token out of every URL with the JS client over EventSource and the stream cookie', async () => {
    server = await startCrossOriginServer({ redis: true, env: { FLAGSTREAM_RETRY_MS: '300' } });
    const user = newUser();
    const token = await server.userToken(user);
    const page = await openPage();
    const streamUrls = [];
    page.on('request', (request) => {
      if (request.url().includes('/v1/stream')) streamUrls.push(request.url());
    });
    await page.evaluate(([url, jwt]) => window.app.startClient(url, jwt, { transport: 'eventsource', streamCookie: true }),
      [server.url, token]);
    await waitFor(async () => (await clientStatus(page)) === 'open', { message: 'the EventSource stream to open' });
    const first = await server.publish(user, { text: 'over EventSource' });
    await waitFor(async () => (await clientIds(page)).length === 1);
    await server.restart();
    const second = await server.publish(user, { text: 'after a restart' });
    await waitFor(async () => (await clientIds(page)).length === 2, { timeout: 20_000, message: 'the resumed event' });
    expect(await clientIds(page)).toEqual([first, second]);
    expect(streamUrls.some((url) => url.includes('/v1/stream?') && url.includes('last_event_id='))).toBe(true);
    expect(streamUrls.filter((url) => url.includes('access_token') || url.includes(token))).toEqual([]);
    expect(page.problems).toEqual([]);
  });

  it('is refused when its origin is not in CORS_ORIGINS', async () => {
    server = await startCrossOriginServer();
    const user = newUser();
    const token = await server.userToken(user);
    const page = await openPage(otherOrigin);
    const direct = await page.evaluate(([url, jwt]) => window.app.fetchWithToken(url, jwt), [server.url, token]);
    expect(direct.error).toMatch(/Failed to fetch/);
    await page.evaluate(([url, jwt]) => window.app.startClient(url, jwt), [server.url, token]);
    await waitFor(async () => (await page.evaluate(() => window.app.clientState?.error)) != null, { message: 'the client to report the failure' });
    expect(await clientStatus(page)).not.toBe('open');
    expect(await server.metric('sse_connections')).toBe(0);
    const allowed = await openPage(pageOrigin);
    expect(await allowed.evaluate(([url, jwt]) => window.app.fetchWithToken(url, jwt), [server.url, token])).toEqual({ status: 200 });
  });
});
