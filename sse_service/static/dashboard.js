// The live SRE page: follows /dashboard/stream (same origin, session cookie) and draws
// the last five minutes as small inline-SVG charts. No dependencies, no CDN, no build step:
// plain ES modules served by the instance itself.
import { redrawTimeline, renderRollout } from "./rollout-panel.js";
import { areaPath, BASELINE, linePath, scale, segments, WIDTH } from "./sparkline.js";

const WINDOW_SECONDS = 300;
const SHORTEST_SPAN = 60; // a fresh instance still gets a readable minute-wide chart
const SERIES = ["delivered", "errors", "overflow", "p50_ms", "p99_ms", "connections", "users", "cpu_percent", "rss_bytes"];

const points = new Map(); // unix second -> {delivered, errors, ...}

function setText(name, text) {
  for (const el of document.querySelectorAll(`[data-value="${name}"]`)) el.textContent = text;
}

function setBadge(name, text, tone) {
  for (const el of document.querySelectorAll(`[data-value="${name}"]`)) {
    el.textContent = text;
    el.className = "badge" + (tone ? " " + tone : "");
  }
}

function number(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return Number(value).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function counts(byReason) {
  const parts = Object.entries(byReason || {}).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${number(n)}`);
  return parts.length ? parts.join(" · ") : "none";
}

function merge(series) {
  if (!series || !series.t) return;
  series.t.forEach((t, i) => {
    const point = {};
    for (const name of SERIES) point[name] = series[name][i];
    points.set(t, point);
  });
  const oldest = Math.max(...points.keys()) - WINDOW_SECONDS;
  for (const t of points.keys()) if (t <= oldest) points.delete(t);
}

function drawChart(svg, names) {
  if (!points.size) return;
  const newest = Math.max(...points.keys());
  const span = Math.min(WINDOW_SECONDS, Math.max(SHORTEST_SPAN, newest - Math.min(...points.keys())));
  const sorted = [...points.entries()].sort((a, b) => a[0] - b[0]);
  const lines = names.map((name) => segments(sorted.map(([t, p]) => [t, p[name]])));
  const max = Math.max(0, ...lines.flat(2).map(([, v]) => v));
  const s = scale(newest, span, max);
  let inner = `<line class="axis" x1="0" y1="${BASELINE}" x2="${WIDTH}" y2="${BASELINE}"/>`;
  if (names.length === 1) inner += `<path class="area" d="${areaPath(lines[0], s)}"/>`;
  lines.forEach((runs, i) => {
    inner += `<path class="line${i ? " second" : ""}" d="${linePath(runs, s)}"/>`;
  });
  svg.innerHTML = inner;
}

function drawCharts() {
  const charts = { latency: ["p50_ms", "p99_ms"] };
  for (const svg of document.querySelectorAll("svg[data-chart]")) {
    const name = svg.dataset.chart;
    drawChart(svg, charts[name] || [name]);
  }
}

function render(doc) {
  merge(doc.series);
  setText("connections", number(doc.connections));
  setText("connections_limit", `of ${number(doc.connections_limit)}`);
  setText("users", number(doc.users));
  setText("delivered_per_second", number(doc.delivered_per_second, doc.delivered_per_second < 10 ? 1 : 0));
  setText("latency_p50", number(doc.latency_ms.p50, 1));
  setText("latency_p99", number(doc.latency_ms.p99, 1));
  setText("errors_per_second", number(doc.errors.per_second, 2));
  setText("errors_total", `/s · ${number(doc.errors.total)} in 5 min`);
  setText("slow_consumer_disconnects", number(doc.slow_consumer_disconnects));
  setText("cpu_percent", number(doc.process.cpu_percent, 1));
  setText("rss_mib", number(doc.process.rss_bytes / 1048576, 1));

  const flags = doc.flags;
  setText("flag_name", flags.flag);
  setBadge("flag_state", flags.state, flags.state === "fresh" ? "good" : flags.state === "stale" ? "bad" : "warn");
  setText("flag_source", flags.source);
  setText("flag_refresh", flags.last_refresh ? flags.last_refresh.replace("T", " ").replace(/\.\d+Z$/, " UTC") : "never");
  setText("flag_evaluations", counts(flags.evaluations));

  renderRollout(doc);

  setText("connections_opened", number(doc.connections_opened));
  setText("connections_closed", counts(doc.connections_closed));
  setText("connections_rejected", counts(doc.connections_rejected));
  setText("replayed", number(doc.replayed));

  const rows = doc.top_users.map((u) => {
    const tr = document.createElement("tr");
    const user = document.createElement("td");
    user.textContent = u.user_id;
    const n = document.createElement("td");
    n.textContent = number(u.connections);
    tr.append(user, n);
    return tr;
  });
  for (const body of document.querySelectorAll('[data-value="top_users"]')) {
    if (rows.length) body.replaceChildren(...rows);
    else body.innerHTML = '<tr><td colspan="2">no open streams</td></tr>';
  }
  const uptime = doc.instance.uptime_seconds;
  setText("instance", `${doc.instance.broker} broker · up ${Math.floor(uptime / 3600)}h ${Math.floor(uptime / 60) % 60}m` +
    (doc.instance.draining ? " · draining" : ""));
  drawCharts();
}

function follow() {
  const feed = document.getElementById("feed");
  const source = new EventSource("/dashboard/stream");
  source.addEventListener("open", () => { feed.className = "feed live"; feed.textContent = "live"; });
  source.addEventListener("error", () => {
    feed.className = source.readyState === EventSource.CLOSED ? "feed down" : "feed connecting";
    feed.textContent = source.readyState === EventSource.CLOSED ? "disconnected (reload to sign in)" : "reconnecting…";
  });
  source.addEventListener("stats", (event) => {
    feed.className = "feed live";
    feed.textContent = "live";
    render(JSON.parse(event.data));
  });
}

addEventListener("resize", redrawTimeline);
follow();
