// Sparklines that draw only what the data has. A null value, or a second the page never
// received, is a gap: the line stops and the filled area goes down to the baseline on both
// sides of it. Nothing is ever joined across a gap, and no area is closed back to its first point.
// Pure functions returning SVG path data, so the shapes can be checked without a browser.

export const WIDTH = 300;
export const BASELINE = 58;   // y of the zero line in the 300 × 60 viewBox
const HEIGHT_USED = 54;       // the largest value reaches y = 4

function present(value) {
  return value !== null && value !== undefined && !Number.isNaN(value);
}

// [[t, v], …] sorted by t → runs of consecutive seconds with a value. `step` is the
// spacing of the data (1 s): a wider jump in t is a stretch with no data.
export function segments(points, step = 1) {
  const runs = [];
  let run = null;
  let last = null;
  for (const [t, v] of points) {
    if (!present(v)) { run = null; continue; }
    if (run === null || t - last > step) { run = []; runs.push(run); }
    run.push([t, v]);
    last = t;
  }
  return runs;
}

// Where a time and a value land in the viewBox: the newest second at the right edge.
export function scale(newest, span, max) {
  return {
    x: (t) => WIDTH - (newest - t) * (WIDTH / span),
    y: (v) => BASELINE - (max > 0 ? (v / max) * HEIGHT_USED : 0),
    secondWidth: WIDTH / span,
  };
}

const f = (n) => n.toFixed(1);

export function linePath(runs, s) {
  return runs.map((run) => {
    if (run.length === 1) {   // one lone second: a short flat mark one second wide
      const [t, v] = run[0];
      return `M${f(s.x(t) - s.secondWidth / 2)} ${f(s.y(v))}h${f(s.secondWidth)}`;
    }
    return run.map(([t, v], i) => `${i ? "L" : "M"}${f(s.x(t))} ${f(s.y(v))}`).join("");
  }).join("");
}

// Each run closed on its own: down to the baseline under its last point, back along the
// baseline to under its first point, and up.
export function areaPath(runs, s) {
  return runs.filter((run) => run.length > 1).map((run) => {
    const first = s.x(run[0][0]);
    const last = s.x(run[run.length - 1][0]);
    const top = run.map(([t, v]) => `L${f(s.x(t))} ${f(s.y(v))}`).join("");
    return `M${f(first)} ${BASELINE}${top}L${f(last)} ${BASELINE}Z`;
  }).join("");
}
