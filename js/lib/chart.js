// Small SVG line charts (no charting library): nice ticks, gridlines, axis titles, one line per
// series (solid or dashed), epoch markers with a hover <title>. Colours of text, axes and grid come
// from the caller's themeColors(); series colours are categorical data colours.

import { categorical } from "./colors.js";

export const PAD = { left: 50, right: 12, top: 10, bottom: 36 };

/** A "nice" step (1, 2, 2.5 or 5 times a power of ten) that cuts `span` into about `count` parts. */
export function niceStep(span, count = 5) {
  if (!(span > 0) || !Number.isFinite(span)) return 1;
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
}

/**
 * Ticks covering [lo, hi] at a nice step: { lo, hi, step, ticks } where lo/hi are widened to
 * multiples of the step (4 to 7 ticks for count 5). An empty or flat range is widened first.
 */
export function niceTicks(lo, hi, count = 5) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) [lo, hi] = lo === 0 ? [0, 1] : [lo - Math.abs(lo) * 0.1, hi + Math.abs(hi) * 0.1];
  const step = niceStep(hi - lo, count);
  const a = Math.floor(lo / step + 1e-9) * step, b = Math.ceil(hi / step - 1e-9) * step;
  const ticks = [];
  for (let k = 0; a + k * step <= b + step * 1e-9; k++) ticks.push(+(a + k * step).toPrecision(12));
  return { lo: ticks[0], hi: ticks[ticks.length - 1], step, ticks };
}

/** Integer epoch ticks 0..ceil(maxEpoch) (at least 1), every 1, 2, 5, 10, ... epochs, <= `most` ticks. */
export function epochTicks(maxEpoch, most = 8) {
  const top = Math.max(1, Math.ceil(maxEpoch - 1e-9));
  let step = 1;
  for (const s of [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000]) {
    step = s;
    if (top / s + 1 <= most) break;
  }
  const hi = Math.ceil(top / step) * step;
  const ticks = [];
  for (let e = 0; e <= hi; e += step) ticks.push(e);
  return { lo: 0, hi, step, ticks };
}

/** Decimals that tell ticks `step` apart (0.25 -> 2, 0.5 -> 1, 10 -> 0). */
export function tickDecimals(step) {
  if (!(step > 0)) return 0;
  let d = 0;
  while (d < 6 && Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) > 1e-6) d++;
  return d;
}

/**
 * Scales of a chart w x h over `series` ([{ points: [[x, y]] }]): x in epochs from 0 with
 * integer ticks, y nice ticks over the data (from `yFloor` when given, e.g. 0 for losses).
 * Returns { x(v), y(v), xTicks, yTicks, box: {x0, x1, y0, y1} }.
 */
export function chartScales(series, w, h, { yFloor = null, yCeil = null } = {}) {
  const pts = series.flatMap((s) => s.points).filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  const xTicks = epochTicks(xs.length ? Math.max(...xs) : 1);
  let lo = ys.length ? Math.min(...ys) : 0, hi = ys.length ? Math.max(...ys) : 1;
  if (yFloor !== null) lo = Math.min(lo, yFloor);
  if (yCeil !== null) hi = Math.min(hi, yCeil);
  const yTicks = niceTicks(lo, hi, 5);
  if (yFloor !== null && yTicks.lo < yFloor) yTicks.ticks = yTicks.ticks.filter((t) => t >= yFloor);
  const box = { x0: PAD.left, x1: w - PAD.right, y0: h - PAD.bottom, y1: PAD.top };
  const yLo = yTicks.ticks[0], yHi = yTicks.ticks[yTicks.ticks.length - 1];
  const x = (v) => box.x0 + ((v - xTicks.lo) / (xTicks.hi - xTicks.lo)) * (box.x1 - box.x0);
  const y = (v) => box.y0 - ((v - yLo) / (yHi - yLo || 1)) * (box.y0 - box.y1);
  return { x, y, xTicks, yTicks, box };
}

/** SVG path data "M x y L x y ..." through screen points (finite ones only). */
export function pathData(points) {
  return points
    .filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b))
    .map(([a, b], i) => `${i ? "L" : "M"}${a.toFixed(1)} ${b.toFixed(1)}`)
    .join(" ");
}

/** Colour of a version id ("v3" -> the palette's third colour; stable when others are discarded). */
export function versionColor(id, index = 0) {
  const m = /^v(\d+)$/.exec(String(id));
  return categorical(m ? Number(m[1]) - 1 : index);
}

const finite = (v) => v !== null && v !== undefined && Number.isFinite(v);

/**
 * The board's curves: per version (rows of the `versions` trait, whose `history` has epoch,
 * train_loss, val_loss, val_accuracy) and the live/cancelled run (`live`: { label, train, val,
 * valAcc, batch: [[epoch fraction, loss]] } or null). Returns { loss: [series], accuracy: [series] };
 * a series is { key, version, kind, label, color, dash, markers, points: [[epoch, value]] }.
 * Accuracy is in percent. `hidden` (a Set of version ids, "live" for the run) drops curves.
 */
export function boardSeries(rows, live, hidden = new Set(), liveColor = "#444") {
  const loss = [], accuracy = [];
  rows.forEach((r, i) => {
    if (hidden.has(r.id)) return;
    const color = versionColor(r.id, i);
    const hist = r.history || [];
    const at = (f) => hist.flatMap((h, k) => (finite(h[f]) ? [[h.epoch ?? k + 1, h[f]]] : []));
    const base = { version: r.id, color, markers: true };
    loss.push({ ...base, key: `${r.id}-train`, kind: "train", label: `${r.id} train loss`, dash: false, points: at("train_loss") });
    loss.push({ ...base, key: `${r.id}-val`, kind: "val", label: `${r.id} val loss`, dash: true, points: at("val_loss") });
    accuracy.push({ ...base, key: `${r.id}-val-acc`, kind: "val", label: `${r.id} val accuracy`, dash: true, points: at("val_accuracy").map(([e, a]) => [e, 100 * a]) });
  });
  if (live && !hidden.has("live")) {
    const base = { version: "live", color: liveColor };
    const epochs = (vals) => vals.flatMap((v, k) => (finite(v) ? [[k + 1, v]] : []));
    // batch points (every few batches) draw the live train curve; its epoch means are markers
    loss.push({ ...base, key: "live-batch", kind: "train", label: `${live.label} train loss (batches)`, dash: false, markers: false, points: live.batch.filter(([e, v]) => finite(e) && finite(v)) });
    loss.push({ ...base, key: "live-train", kind: "train", label: `${live.label} train loss (epoch mean)`, dash: false, markers: true, line: false, points: epochs(live.train) });
    loss.push({ ...base, key: "live-val", kind: "val", label: `${live.label} val loss`, dash: true, markers: true, points: epochs(live.val) });
    accuracy.push({ ...base, key: "live-val-acc", kind: "val", label: `${live.label} val accuracy`, dash: true, markers: true, points: epochs(live.valAcc).map(([e, a]) => [e, 100 * a]) });
  }
  return { loss: loss.filter((s) => s.points.length), accuracy: accuracy.filter((s) => s.points.length) };
}

/**
 * An <svg> line chart: gridlines and tick values on both axes, axis titles clear of the ticks,
 * one <path> per series (dashed where `dash`), markers with a <title> per point.
 * `colors` is themeColors(); `format(v)` writes a y value in tooltips.
 */
export function lineChart(ns, series, { width, height, xTitle, yTitle, colors, yFloor = null, yCeil = null, format = (v) => v.toFixed(4), cls = "" }) {
  const mk = (tag, attrs = {}, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const svg = mk("svg", { class: `dw-line-chart ${cls}`.trim(), width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  const s = chartScales(series, width, height, { yFloor, yCeil });
  const { box } = s;
  const grid = mk("g", { class: "dw-grid" });
  const yd = tickDecimals(s.yTicks.step);
  for (const t of s.yTicks.ticks) {
    const y = s.y(t);
    grid.appendChild(mk("line", { x1: box.x0, y1: y, x2: box.x1, y2: y, stroke: colors.grid }));
    grid.appendChild(mk("text", { class: "dw-tick dw-ytick", x: box.x0 - 5, y: y + 3.5, "text-anchor": "end", "font-size": 10, fill: colors.muted }, t.toFixed(yd)));
  }
  for (const t of s.xTicks.ticks) {
    const x = s.x(t);
    grid.appendChild(mk("line", { x1: x, y1: box.y0, x2: x, y2: box.y1, stroke: colors.grid }));
    grid.appendChild(mk("text", { class: "dw-tick dw-xtick", x, y: box.y0 + 13, "text-anchor": "middle", "font-size": 10, fill: colors.muted }, String(t)));
  }
  svg.appendChild(grid);
  svg.appendChild(mk("line", { x1: box.x0, y1: box.y1, x2: box.x0, y2: box.y0, stroke: colors.border }));
  svg.appendChild(mk("line", { x1: box.x0, y1: box.y0, x2: box.x1, y2: box.y0, stroke: colors.border }));
  svg.appendChild(mk("text", { class: "dw-axis-title dw-x-title", x: (box.x0 + box.x1) / 2, y: height - 4, "text-anchor": "middle", "font-size": 11, fill: colors.fg }, xTitle));
  const yx = 12, ym = (box.y0 + box.y1) / 2;
  svg.appendChild(mk("text", { class: "dw-axis-title dw-y-title", x: yx, y: ym, transform: `rotate(-90 ${yx} ${ym})`, "text-anchor": "middle", "font-size": 11, fill: colors.fg }, yTitle));
  for (const ser of series) {
    const pts = ser.points.map(([e, v]) => [s.x(e), s.y(v), e, v]);
    const g = mk("g", { class: "dw-series", "data-key": ser.key, "data-version": ser.version });
    if (ser.line !== false && pts.length > 1) {
      g.appendChild(mk("path", {
        class: `dw-curve dw-curve-${ser.kind}`, d: pathData(pts), fill: "none", stroke: ser.color, "stroke-width": ser.markers ? 2 : 1.5,
        "stroke-dasharray": ser.dash ? "6 4" : "none", "data-version": ser.version, "data-n": pts.length,
      }));
    }
    if (ser.markers) {
      for (const [a, b, e, v] of pts) {
        const c = mk("circle", { class: `dw-point dw-point-${ser.kind}`, cx: a, cy: b, r: 3, fill: ser.dash ? colors.bg : ser.color, stroke: ser.color, "stroke-width": 1.5 });
        c.appendChild(mk("title", {}, `${ser.label}, epoch ${e}: ${format(v)}`));
        g.appendChild(c);
      }
    }
    svg.appendChild(g);
  }
  return svg;
}

/** RFC 4180 CSV of `rows` (arrays of values): fields with a comma, quote or newline are quoted. */
export function toCsv(header, rows) {
  const field = (v) => {
    const s = v === null || v === undefined ? "" : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return [header, ...rows].map((r) => r.map(field).join(",")).join("\r\n") + "\r\n";
}

/**
 * The hyper-parameter table of the board's `versions` rows: the same columns as
 * ClassifierBoard.hparams_table() in Python (version, name, parent, each hyper-parameter in order
 * of first appearance, augmentations, val_accuracy, test_accuracy, created). Returns { header, rows }.
 */
export function hparamsTable(versions) {
  const keys = [];
  for (const v of versions) for (const k of Object.keys(v.hparams || {})) if (!keys.includes(k)) keys.push(k);
  const header = ["version", "name", "parent", ...keys, "augmentations", "val_accuracy", "test_accuracy", "created"];
  const rows = versions.map((v) => [
    v.id, v.name, v.parent || "", ...keys.map((k) => (v.hparams || {})[k]), (v.augmentations || []).join(" "),
    v.val_accuracy, v.test_accuracy, v.created,
  ]);
  return { header, rows };
}
