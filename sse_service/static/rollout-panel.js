// The rollout panel and timeline of the dashboard: where the rollout is, why it waits, what the
// last check read, and the picture of how it got there. Fed by the `rollout` part of every stats
// push and by `rollout_timeline`, which rides along only when it changed.
import { drawTimeline, eventItems } from "./rollout-timeline.js";

const PHASES = {
  pending: "warn", progressing: "good", paused: "warn", awaiting_approval: "warn",
  rolled_back: "bad", completed: "good",
};
const VERDICT_TONES = { pass: "good", fail: "bad", no_data: "warn", hold: "warn" };

let timeline = null;
let drawn = false;

function all(name) {
  return document.querySelectorAll(`[data-value="${name}"]`);
}

function setText(name, text) {
  for (const el of all(name)) el.textContent = text;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor(s / 60) % 60;
  return h ? `${h}h${String(m).padStart(2, "0")}m` : m ? `${m}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

function phaseBadge(rollout) {
  const phase = rollout.phase;
  const text = phase ? phase.replace("_", " ") : rollout.error ? "unreadable" : "no rollout";
  for (const el of all("rollout_phase")) {
    el.textContent = text;
    el.className = "badge" + (PHASES[phase] ? " " + PHASES[phase] : rollout.error ? " bad" : "");
  }
}

function bake(rollout) {
  const inStep = rollout.seconds_in_step;
  const bakeTime = rollout.bake_time;
  setText("rollout_bake", bakeTime ? `${duration(inStep)} of ${duration(bakeTime)} bake` : duration(inStep));
  const share = bakeTime && inStep !== null && inStep !== undefined ? Math.min(1, inStep / bakeTime) : 0;
  for (const bar of document.querySelectorAll("[data-bake]")) bar.style.width = `${(share * 100).toFixed(1)}%`;
}

function gateRows(rollout) {
  const rows = (rollout.gates || []).map((g) => {
    const tr = document.createElement("tr");
    const cells = [g.gate, g.value === null ? "no data" : Number(g.value).toPrecision(3), g.threshold];
    for (const text of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    const verdict = document.createElement("td");
    const badge = document.createElement("span");
    badge.className = `badge ${VERDICT_TONES[g.verdict] || ""}`;
    badge.textContent = g.verdict.replace("_", " ");
    verdict.append(badge);
    tr.append(verdict);
    return tr;
  });
  for (const body of all("rollout_gates")) {
    if (rows.length) body.replaceChildren(...rows);
    else body.innerHTML = '<tr><td colspan="4">no check yet</td></tr>';
  }
}

export function renderRollout(doc) {
  const rollout = doc.rollout || {};
  phaseBadge(rollout);
  const step = rollout.step ? `${rollout.step}` + (rollout.steps ? ` (${rollout.step_number} of ${rollout.steps})` : "") : "–";
  setText("rollout_step", step);
  setText("rollout_percentage", rollout.percentage === null || rollout.percentage === undefined ? "–" : `${rollout.percentage} %`);
  bake(rollout);
  setText("rollout_message", rollout.error ? `cannot read the rollout state: ${rollout.error}` : rollout.message || "–");
  setText("rollout_next", rollout.next_action || "–");
  setText("rollout_share", rollout.enabled_share === null || rollout.enabled_share === undefined
    ? "no evaluations" : `${(rollout.enabled_share * 100).toFixed(1)} %`);
  gateRows(rollout);
  // Redrawn only when it changed (or the page resized), so a hovered point keeps its title.
  if ("rollout_timeline" in doc || !drawn) {
    timeline = doc.rollout_timeline ?? timeline;
    for (const list of all("rollout_events")) list.replaceChildren(...eventItems(timeline));
    redrawTimeline();
  }
}

export function redrawTimeline() {
  const svg = document.getElementById("rollout-timeline");
  if (svg) drawTimeline(svg, timeline);
  drawn = true;
}
