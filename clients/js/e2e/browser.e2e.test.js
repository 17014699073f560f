// The demo page in headless Debian chromium (playwright-core) against a real
// `flagstream serve`: what a person sees when notifications arrive, the server restarts,
// the rollout flag goes off, ten tabs are open, and the leading tab is closed.
import { chromium } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../test/support/server.js';
import { waitFor } from '../test/support/wait.js';

const CHROMIUM = process.env.FLAGSTREAM_CHROMIUM ?? '/usr/bin/chromium';

let browser;
let server;
let context;
let userCounter = 0;
const newUser = () => `browser-user-${process.pid}-${(userCounter += 1)}`;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking'],
  });
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  await context?.close();
  context = null;
  await server?.dispose();
  server = null;
});

async function openDemo(userId) {
  context ??= await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.problems = problems;
  await page.goto(`${server.url}/?user=${encodeURIComponent(userId)}`);
  return page;
}

const statusOf = (page) => page.locator('#status').getAttribute('data-status');
const idsShown = (page) => page.locator('#notifications li').evaluateAll((items) => items.map((item) => item.dataset.id).reverse());
const textsShown = (page) => page.locator('#notifications li .text').allTextContents();

describe('the demo page in a real browser', () => {
  it('signs in with a dev token and shows notifications as they arrive', async () => {
    server = await startServer();
    const user = newUser();
    const page = await openDemo(user);
    await waitFor(async () => (await statusOf(page)) === 'open');
    expect(await page.locator('#mode').textContent()).toMatch(/streaming/);
    const published = await server.publish(user, { text: 'from the API' });
    await page.fill('#text', 'from the button');
    await page.click('#send button');
    await waitFor(async () => (await idsShown(page)).length === 2);
    expect(await textsShown(page)).toEqual(['from the button', 'from the API']);
    expect((await idsShown(page))[0]).toBe(published);
    expect(page.problems).toEqual([]);
  });

  it('reconnects with backoff after the server restarts, and misses nothing', async () => {
    server = await startServer({ redis: true, env: { FLAGSTREAM_RETRY_MS: '300' } });
    const user = newUser();
    const page = await openDemo(user);
    await waitFor(async () => (await statusOf(page)) === 'open');
    const before = await server.publish(user, { text: 'before the restart' });
    await waitFor(async () => (await idsShown(page)).length === 1);
    await server.stop();
    await waitFor(async () => (await statusOf(page)) === 'waiting', { message: 'the page to back off while the server is down' });
    expect(await page.locator('#status').textContent()).toMatch(/reconnecting/);
    await server.spawn();
    const whileAway = await server.publish(user, { text: 'published before the page came back' });
    await waitFor(async () => (await statusOf(page)) === 'open', { timeout: 20_000 });
    const after = await server.publish(user, { text: 'after the restart' });
    await waitFor(async () => (await idsShown(page)).length >= 3);
    expect(await idsShown(page)).toEqual([before, whileAway, after]);
    expect(Number(await page.locator('#reconnects').textContent())).toBeGreaterThanOrEqual(1);
  });

  it('switches to polling when the rollout flag goes off, and keeps receiving', async () => {
    server = await startServer();
    const user = newUser();
    const page = await openDemo(user);
    await waitFor(async () => (await statusOf(page)) === 'open');
    const streamed = await server.publish(user, { text: 'streamed' });
    await waitFor(async () => (await idsShown(page)).length === 1);
    server.setRollout(false);
    await waitFor(async () => (await page.locator('#mode').getAttribute('data-mode')) === 'polling', { message: 'polling mode' });
    expect(await page.locator('#mode').textContent()).toMatch(/outside the rollout/);
    expect(await server.metric('sse_connections')).toBe(0);
    const polled = await server.publish(user, { text: 'polled' });
    await waitFor(async () => (await idsShown(page)).length === 2, { timeout: 15_000 });
    expect(await idsShown(page)).toEqual([streamed, polled]);
    expect(await page.locator('#notifications li .meta').first().textContent()).toMatch(/via poll/);
  });

  it('pauses while the browser is offline and reconnects at once when it is back', async () => {
    server = await startServer();
    const user = newUser();
    const page = await openDemo(user);
    await waitFor(async () => (await statusOf(page)) === 'open');
    await context.setOffline(true);
    await waitFor(async () => (await statusOf(page)) === 'offline');
    const whileOffline = await server.publish(user, { text: 'sent while offline' });
    await context.setOffline(false);
    await waitFor(async () => (await idsShown(page)).length === 1);
    expect(await idsShown(page)).toEqual([whileOffline]);
    expect(await statusOf(page)).toBe('open');
  });

  it('ten tabs share one server connection; closing the leading tab loses nothing', async () => {
    server = await startServer();
    const user = newUser();
    const tabs = [];
    for (let i = 0; i < 10; i += 1) tabs.push(await openDemo(user));
    await waitFor(async () => (await Promise.all(tabs.map(statusOf))).every((status) => status === 'open'));
    // Chromium elects the leader with the Web Locks API (BroadcastChannel is the fallback).
    expect(await tabs[0].evaluate(() => typeof navigator.locks?.request)).toBe('function');
    const roles = await Promise.all(tabs.map((tab) => tab.locator('#role').getAttribute('data-role')));
    expect(roles.filter((role) => role === 'leader')).toHaveLength(1);
    expect(await server.metric('sse_connections')).toBe(1);

    const first = await server.publish(user, { text: 'to every tab' });
    await waitFor(async () => (await Promise.all(tabs.map(idsShown))).every((ids) => ids.length === 1));

    const leader = tabs[roles.indexOf('leader')];
    await leader.close();
    const rest = tabs.filter((tab) => tab !== leader);
    const duringTakeover = await server.publish(user, { text: 'while the leader closed' });
    await waitFor(async () => {
      const now = await Promise.all(rest.map((tab) => tab.locator('#role').getAttribute('data-role')));
      return now.filter((role) => role === 'leader').length === 1;
    }, { message: 'another tab to take over' });
    const after = await server.publish(user, { text: 'after the takeover' });
    await waitFor(async () => (await Promise.all(rest.map(idsShown))).every((ids) => ids.length === 3));
    for (const tab of rest) expect(await idsShown(tab)).toEqual([first, duringTakeover, after]);
    await waitFor(async () => (await server.metric('sse_connections')) === 1, { message: 'one connection again' });
  });
});
