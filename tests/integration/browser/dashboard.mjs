// Opens the live dashboard like an SRE would, watches its numbers move, and saves a screenshot.
// Usage: node dashboard.mjs <base url> <admin token> <screenshot path>
// Prints one JSON line: what the page showed before and after traffic, and what it could see of its cookie.
import { chromium } from "playwright-core";

const [baseUrl, adminToken, screenshotPath] = process.argv.slice(2);
const DEADLINE_MS = 30000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-background-networking"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1 });
  const failedRequests = [];
  page.on("requestfailed", (r) => { if (!r.url().includes("/dashboard/stream")) failedRequests.push(r.url()); });
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));

  await page.goto(`${baseUrl}/dashboard?access_token=${encodeURIComponent(adminToken)}`);
  const landedOn = page.url();
  await page.waitForSelector("#feed.live", { timeout: DEADLINE_MS });
  const read = () => page.evaluate(() => {
    const text = (name) => document.querySelector(`[data-value="${name}"]`).textContent.trim();
    return {
      connections: text("connections"),
      users: text("users"),
      delivered_per_second: text("delivered_per_second"),
      latency_p99: text("latency_p99"),
      cpu_percent: text("cpu_percent"),
      rss_mib: text("rss_mib"),
      flag_state: text("flag_state"),
      top_user: document.querySelector('[data-value="top_users"] td')?.textContent ?? "",
      chart_paths: document.querySelectorAll("svg[data-chart] path.line").length,
      document_cookie: document.cookie,
    };
  });
  const before = await read();
  // Wait for the traffic the test drives to show: streams open and deliveries counted.
  await page.waitForFunction(() => {
    const text = (name) => document.querySelector(`[data-value="${name}"]`).textContent.trim();
    return Number(text("connections").replace(/,/g, "")) > 0 && Number(text("delivered_per_second").replace(/,/g, "")) > 0;
  }, null, { timeout: DEADLINE_MS, polling: 200 });
  const during = await read();
  // Let a few seconds of chart accumulate before the picture.
  await page.waitForFunction((first) => {
    const el = document.querySelector('[data-value="delivered_per_second"]');
    return el && el.textContent.trim() !== first;
  }, during.delivered_per_second, { timeout: DEADLINE_MS, polling: 200 });
  const after = await read();
  // A picture worth looking at: wait until the deliveries chart holds ten seconds.
  await page.waitForFunction(() => {
    const line = document.querySelector('svg[data-chart="delivered"] path.line');
    return line && (line.getAttribute("d").match(/L/g) || []).length >= 10;
  }, null, { timeout: DEADLINE_MS, polling: 500 });
  await page.screenshot({ path: screenshotPath, fullPage: true });
  console.log(JSON.stringify({ landedOn, before, during, after, failedRequests, pageErrors }));
} finally {
  await browser.close();
}
