// Opens a page in Debian's headless Chromium, optionally answers the dashboard's SSE feed with
// a prepared body, takes a full-page screenshot and reads pixel columns out of it, so a test can
// compare what was drawn with what the data says.
// Usage: node pixels.mjs <job.json>   (job: see tests/integration/browser_pixels.py)
// Prints READY once `job.ready` holds (if given), then one JSON line:
// {probes: [{box, columns: [[[r,g,b], …per row], …]}], texts, datasets, pageErrors, failedRequests}.
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const job = JSON.parse(readFileSync(process.argv[2], "utf-8"));
const DEADLINE_MS = 30000;

// Polls from here (page.evaluate is not subject to the page's CSP; waitForFunction's in-page
// polling of a string would need 'unsafe-eval').
async function waitUntil(page, expression) {
  const deadline = Date.now() + DEADLINE_MS;
  while (!(await page.evaluate(expression))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${expression}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-background-networking"],
});
try {
  const page = await browser.newPage({ viewport: job.viewport || { width: 1360, height: 900 }, deviceScaleFactor: 1 });
  const failedRequests = [];
  const pageErrors = [];
  page.on("requestfailed", (r) => { if (!r.url().includes("/dashboard/stream")) failedRequests.push(r.url()); });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("request", (r) => { if (!/^(http:\/\/127\.0\.0\.1|file:|data:)/.test(r.url())) failedRequests.push(`external: ${r.url()}`); });
  if (job.feed !== undefined) {
    await page.route("**/dashboard/stream", (route) => route.fulfill({
      status: 200, contentType: "text/event-stream; charset=utf-8", body: job.feed,
    }));
  }
  const readTexts = () => page.evaluate((selectors) => Object.fromEntries(selectors.map((s) => {
    const element = document.querySelector(s);
    return [s, element ? element.textContent.trim() : null];
  })), job.texts || []);
  await page.goto(job.url);
  let readyTexts = null;
  if (job.ready) {
    // The test changes something once the page shows its first state, then we wait for the change.
    await waitUntil(page, job.ready);
    readyTexts = await readTexts();
    console.log("READY");
  }
  await waitUntil(page, job.waitFor);
  // A probe gives its columns as fractions of the element's width, or as data times placed by
  // the scale the chart declares on itself (data-t0, data-t1, data-left, data-plot-width).
  const boxes = await page.evaluate((probes) => probes.map((probe) => {
    const element = document.querySelector(probe.selector);
    if (!element) return null;
    const r = element.getBoundingClientRect();
    const box = { x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, height: r.height };
    if (probe.times) {
      const d = element.dataset;
      const x = (t) => Number(d.left) + ((t - Number(d.t0)) / (Number(d.t1) - Number(d.t0))) * Number(d.plotWidth);
      box.fractions = probe.times.map((t) => x(t) / r.width);
    }
    return box;
  }), job.probes);
  for (const [i, probe] of job.probes.entries()) if (boxes[i] && boxes[i].fractions) probe.columns = boxes[i].fractions;
  const texts = await readTexts();
  const datasets = await page.evaluate((selectors) => Object.fromEntries(selectors.map((s) => {
    const element = document.querySelector(s);
    return [s, element ? { ...element.dataset } : null];
  })), job.datasets || []);
  const png = await page.screenshot({ path: job.screenshot, fullPage: true });

  // Decode the PNG in a blank page of the same browser: no image library needed.
  const reader = await browser.newPage();
  const probes = await reader.evaluate(async ({ data, boxes, probes }) => {
    const image = new Image();
    image.src = `data:image/png;base64,${data}`;
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0);
    return probes.map((probe, i) => {
      const box = boxes[i];
      if (!box) return { box: null, columns: [] };
      const top = Math.round(box.y);
      const height = Math.round(box.height);
      // `spread`: also the columns either side (a 2 px line may land across two columns).
      const spread = probe.spread || 0;
      const xs = probe.columns.flatMap((fraction) => {
        const x = Math.round(box.x + fraction * box.width);
        return Array.from({ length: 2 * spread + 1 }, (_, k) => x - spread + k);
      });
      const columns = xs.map((column) => {
        const x = Math.min(column, Math.round(box.x + box.width) - 1);
        const pixels = context.getImageData(x, top, 1, height).data;
        const rows = [];
        for (let row = 0; row < height; row += 1) rows.push([pixels[row * 4], pixels[row * 4 + 1], pixels[row * 4 + 2]]);
        return rows;
      });
      return { box, columns };
    });
  }, { data: png.toString("base64"), boxes, probes: job.probes });
  console.log(JSON.stringify({ probes, texts, readyTexts, datasets, pageErrors, failedRequests }));
} finally {
  await browser.close();
}
