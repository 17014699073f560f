// The rollout over time, as inline SVG drawn at the element's own pixel size (1 unit = 1 px):
// the percentage as a step line, each check as a point coloured by its verdict on a lane below,
// rollbacks and manual actions as marked vertical lines (who and why in their titles and in
// the list under the chart). The scale is left on the element as data-* for anyone checking
// the picture against the data.

export const HEIGHT = 232;
const TOP = 16;          // y of 100 %
const BOTTOM = 172;      // y of 0 %
const LANE = 204;        // y of the check points
const LEFT = 48;
const RIGHT = 14;
const VERDICTS = ["pass", "fail", "no_data", "hold"];

const escapeHtml = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function clock(t) {
  return new Date(t * 1000).toISOString().slice(11, 19);
}

export function domain(doc) {
  const times = [...doc.steps.map((s) => s.t), ...doc.checks.map((c) => c.t), ...doc.events.map((e) => e.t)];
  if (!times.length) return null;
  let t0 = Math.min(...times);
  let t1 = Math.max(...times, doc.read_at || 0);
  if (t1 - t0 < 60) t1 = t0 + 60;
  const pad = (t1 - t0) * 0.02;
  t0 -= pad;
  return { t0, t1: t1 + pad };
}

function gates(check) {
  if (!check.gates.length) return "every gate passing";
  const failing = check.gates.filter((g) => g.verdict !== "pass");
  const shown = failing.length ? failing : check.gates;
  return shown.map((g) => `${g.gate} = ${g.value === null ? "no data" : Number(g.value).toPrecision(3)} (want ${g.threshold})`).join("; ");
}

function grid(x0, x1, y) {
  return [0, 25, 50, 75, 100].map((p) =>
    `<line class="grid" x1="${x0}" y1="${y(p)}" x2="${x1}" y2="${y(p)}"/>` +
    `<text class="tick" x="${x0 - 6}" y="${y(p) + 4}" text-anchor="end">${p} %</text>`).join("");
}

function timeTicks(d, x) {
  const out = [];
  for (let i = 0; i <= 4; i += 1) {
    const t = d.t0 + ((d.t1 - d.t0) * i) / 4;
    out.push(`<text class="tick" x="${x(t).toFixed(1)}" y="${HEIGHT - 4}" text-anchor="${i === 0 ? "start" : i === 4 ? "end" : "middle"}">${clock(t).slice(0, 5)}</text>`);
  }
  return out.join("");
}

function stepLine(doc, d, x, y) {
  if (!doc.steps.length) return "";
  const [first, ...rest] = doc.steps;
  let path = `M${x(first.t).toFixed(1)} ${y(first.percentage).toFixed(1)}`;
  for (const s of rest) path += `H${x(s.t).toFixed(1)}V${y(s.percentage).toFixed(1)}`;
  path += `H${x(d.t1).toFixed(1)}`;
  return `<path class="step-line" d="${path}"/>`;
}

function eventMarks(doc, x, width) {
  return doc.events.filter((e) => e.kind !== "automatic").map((e, i) => {
    const at = x(e.t).toFixed(1);
    const leftwards = Number(at) > width - 140;   // labels near the right edge read leftwards
    const labelY = TOP + 4 + (i % 2) * 13;   // alternate rows, so neighbours do not overwrite each other
    const label = e.kind === "rollback" ? `rollback · ${e.actor}` : `${e.action} · ${e.actor}`;
    return `<g class="event ${e.kind}"><title>${escapeHtml(`${clock(e.t)} ${e.actor}: ${e.action} → ${e.to_step ?? "off"} (${e.percentage} %) — ${e.reason}`)}</title>` +
      `<line x1="${at}" y1="${TOP - 6}" x2="${at}" y2="${BOTTOM}"/>` +
      `<text x="${Number(at) + (leftwards ? -4 : 4)}" y="${labelY}" text-anchor="${leftwards ? "end" : "start"}">${escapeHtml(label)}</text></g>`;
  }).join("");
}

function checkPoints(doc, x, plot) {
  // Smaller points when hundreds of checks share the width, so neighbours stay apart.
  const radius = Math.max(1.5, Math.min(4.5, plot / Math.max(doc.checks.length, 1) / 2.5));
  return doc.checks.map((c) => {
    const verdict = VERDICTS.includes(c.verdict) ? c.verdict : "no_data";
    const why = verdict === "no_data" && c.delivered !== null ? `too little traffic (${c.delivered} delivered)` : gates(c);
    return `<circle class="check ${verdict}" cx="${x(c.t).toFixed(1)}" cy="${LANE}" r="${radius.toFixed(1)}">` +
      `<title>${escapeHtml(`${clock(c.t)} ${verdict.replace("_", " ")}: ${why}`)}</title></circle>`;
  }).join("");
}

export function drawTimeline(svg, doc) {
  const width = Math.max(360, Math.round(svg.getBoundingClientRect().width));
  svg.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
  svg.setAttribute("height", String(HEIGHT));
  const d = doc ? domain(doc) : null;
  if (!d) {
    svg.innerHTML = `<text class="empty" x="${width / 2}" y="${HEIGHT / 2}" text-anchor="middle">no rollout recorded yet</text>`;
    return;
  }
  const plot = width - LEFT - RIGHT;
  const x = (t) => LEFT + ((t - d.t0) / (d.t1 - d.t0)) * plot;
  const y = (p) => BOTTOM - (p / 100) * (BOTTOM - TOP);
  Object.assign(svg.dataset, { t0: d.t0, t1: d.t1, left: LEFT, plotWidth: plot, top: TOP, bottom: BOTTOM, lane: LANE });
  svg.innerHTML = grid(LEFT, width - RIGHT, y) +
    `<text class="tick" x="${LEFT - 6}" y="${LANE + 4}" text-anchor="end">checks</text>` +
    timeTicks(d, x) + eventMarks(doc, x, width) + stepLine(doc, d, x, y) + checkPoints(doc, x, plot);
}

// The list under the chart: every transition, newest first, with who and why.
export function eventItems(doc, limit = 20) {
  return [...(doc ? doc.events : [])].reverse().slice(0, limit).map((e) => {
    const li = document.createElement("li");
    li.className = `event ${e.kind}`;
    const when = document.createElement("time");
    when.textContent = clock(e.t);
    const who = document.createElement("b");
    who.textContent = e.actor;
    li.append(when, " ", who, ` ${e.action} → ${e.to_step ?? "off"} (${e.percentage} %) — ${e.reason}`);
    return li;
  });
}
