// A small line chart of per-epoch losses (SVG), no charting library needed.

const PAD = { left: 40, right: 10, top: 10, bottom: 24 };

/**
 * Screen points of two loss series (null values skipped) in a w x h box with padding:
 * { train: [[x, y, epoch, value]], val: [...], yMax, epochs }. Epochs are 1-based on the x axis.
 */
export function lossPoints(train, val, w, h) {
  const values = [...train, ...val].filter((v) => v !== null && v !== undefined && Number.isFinite(v));
  const yMax = values.length ? Math.max(...values) * 1.1 || 1 : 1;
  const epochs = Math.max(train.length, val.length, 1);
  const iw = w - PAD.left - PAD.right, ih = h - PAD.top - PAD.bottom;
  const x = (e) => PAD.left + (epochs === 1 ? iw / 2 : ((e - 1) / (epochs - 1)) * iw);
  const y = (v) => PAD.top + ih - (v / yMax) * ih;
  const pts = (series) =>
    series.flatMap((v, i) => (v === null || v === undefined || !Number.isFinite(v) ? [] : [[x(i + 1), y(v), i + 1, v]]));
  return { train: pts(train), val: pts(val), yMax, epochs };
}

/** An <svg> with axes, the train (red) and val (blue) lines and one circle per epoch point. */
export function lossChart(ns, train, val, w, h) {
  const mk = (tag, attrs = {}, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const svg = mk("svg", { class: "dw-loss-chart", width: w, height: h, viewBox: `0 0 ${w} ${h}` });
  const p = lossPoints(train, val, w, h);
  const x0 = PAD.left, y0 = h - PAD.bottom;
  svg.appendChild(mk("line", { x1: x0, y1: PAD.top, x2: x0, y2: y0, stroke: "#999" }));
  svg.appendChild(mk("line", { x1: x0, y1: y0, x2: w - PAD.right, y2: y0, stroke: "#999" }));
  svg.appendChild(mk("text", { x: 4, y: PAD.top + 8, "font-size": 10, fill: "#666" }, p.yMax.toPrecision(2)));
  svg.appendChild(mk("text", { x: 4, y: y0, "font-size": 10, fill: "#666" }, "0"));
  svg.appendChild(mk("text", { x: (w + PAD.left) / 2 - 14, y: h - 6, "font-size": 10, fill: "#666" }, "epoch"));
  for (let e = 1; e <= p.epochs; e++) {
    const ex = PAD.left + (p.epochs === 1 ? (w - PAD.left - PAD.right) / 2 : ((e - 1) / (p.epochs - 1)) * (w - PAD.left - PAD.right));
    if (p.epochs <= 20 || e % Math.ceil(p.epochs / 10) === 0) svg.appendChild(mk("text", { x: ex - 3, y: y0 + 12, "font-size": 9, fill: "#666" }, String(e)));
  }
  for (const [name, color] of [["train", "#d62728"], ["val", "#1f77b4"]]) {
    const pts = p[name];
    if (pts.length > 1) {
      svg.appendChild(mk("polyline", { class: `dw-${name}-line`, points: pts.map(([a, b]) => `${a},${b}`).join(" "), fill: "none", stroke: color, "stroke-width": 2 }));
    }
    for (const [a, b, e, v] of pts) {
      const c = mk("circle", { class: `dw-${name}-point`, cx: a, cy: b, r: 3, fill: color, "data-epoch": e });
      c.appendChild(mk("title", {}, `${name} loss, epoch ${e}: ${v.toFixed(4)}`));
      svg.appendChild(c);
    }
  }
  return svg;
}
