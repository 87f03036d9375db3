// ProjectionView: the t-SNE map of one model version (DASH's projection view).
// Circle = correct, cross = wrong; fill = true class, ring = predicted class; density contours per
// split; zoomed in, points become their images. Drag: lasso / box / pan; shift adds, alt removes.

import { getArray } from "./lib/binary.js";
import { BINARY, SPLITS, categorical, hexToRgb, sequential } from "./lib/colors.js";
import { isoSegments } from "./lib/contours.js";
import { clear, el, showError } from "./lib/dom.js";
import { GridIndex } from "./lib/grid-index.js";
import { createPointRenderer } from "./lib/points-gl.js";
import { combine, modeFromEvent, selectInBox, selectInPolygon } from "./lib/selection.js";
import { ThumbnailCache } from "./lib/thumbnails.js";
import { ViewTransform, bounds } from "./lib/view.js";
import { ensureStyle } from "./lib/style.js";

const SPLIT_NAMES = ["train", "val", "test"];
const CONTOUR_LEVELS = [0.12, 0.3, 0.6];
const POINT_SIZE = 7;

function rgb255(c) {
  return [Math.round(c[0] * 255), Math.round(c[1] * 255), Math.round(c[2] * 255)];
}

function loadData(model) {
  const xy = getArray(model, "xy", "float32", [null, 2]).data;
  const n = xy.length / 2;
  const xs = new Float32Array(n), ys = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    xs[i] = xy[2 * i];
    ys[i] = xy[2 * i + 1];
  }
  const aligned = getArray(model, "aligned", "uint8", [null]).data; // [n], or [0] when unknown
  return {
    n,
    xy,
    xs,
    ys,
    label: getArray(model, "label", "uint16", [n]).data,
    pred: getArray(model, "pred", "uint16", [n]).data,
    correct: getArray(model, "correct", "uint8", [n]).data,
    split: getArray(model, "split_code", "uint8", [n]).data,
    aligned: aligned.length === n ? aligned : null,
    loss: getArray(model, "loss", "float32", [n]).data,
    confidence: getArray(model, "confidence", "float32", [n]).data,
  };
}

function quantile(values, q) {
  if (!values.length) return 1;
  const sorted = Float32Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] || 1;
}

function render({ model, el: host }) {
  ensureStyle();
  const root = el("div", { class: "dw-root dw-projection" });
  host.appendChild(root);

  // ------------------------------------------------------------------ layout
  const toolbar = el("div", { class: "dw-toolbar" });
  const tools = {};
  for (const [tool, label, title] of [
    ["lasso", "Lasso", "Drag to draw a lasso (shift adds, alt removes)"],
    ["box", "Box", "Drag to select a box (shift adds, alt removes)"],
    ["pan", "Pan", "Drag to pan (or drag with the middle button in any tool)"],
  ]) {
    tools[tool] = el("button", { text: label, title, attrs: { "data-tool": tool, type: "button" } });
    toolbar.appendChild(tools[tool]);
  }
  const colorSelect = el("select", { class: "dw-color-by", title: "Colour points by" });
  const splitBoxes = el("span", { class: "dw-splits" });
  const resetBtn = el("button", { class: "dw-reset", text: "Reset view", attrs: { type: "button" } });
  const clearBtn = el("button", { class: "dw-clear", text: "Clear selection", attrs: { type: "button" } });
  toolbar.append(el("span", { class: "dw-sep" }), el("label", { text: "Colour " }), colorSelect, splitBoxes, resetBtn, clearBtn);

  const errorBanner = el("div", { class: "dw-error" });
  const plot = el("div", { class: "dw-plot" });
  const glCanvas = el("canvas", { class: "dw-points" });
  const overlay = el("canvas", { class: "dw-plot dw-overlay" });
  const tooltip = el("div", { class: "dw-tooltip" });
  plot.append(glCanvas, overlay, tooltip);
  const legend = el("div", { class: "dw-legend" });
  const statusLine = el("div", { class: "dw-status" });
  root.append(toolbar, errorBanner, plot, legend, statusLine);

  const renderer = createPointRenderer(glCanvas);
  const pointsCanvas = renderer.canvas; // a fresh canvas when WebGL2 failed
  root.setAttribute("data-renderer", renderer.kind);
  const octx = overlay.getContext("2d");
  const view = new ViewTransform(1, 1);

  // ------------------------------------------------------------------ state
  let data = loadData(model);
  let tool = "lasso";
  let selected = new Uint8Array(data.n);
  let visibleSplit = [true, true, true];
  let contourSegs = [];
  let grid = null; // hover index, rebuilt lazily after the view changes
  let dpr = window.devicePixelRatio || 1;
  let fitted = false;
  let userMoved = false;
  let frame = 0;
  let drag = null;
  let animation = null;
  let viewBoxTimer = 0;
  let thumbsDrawn = 0;
  const thumbs = new ThumbnailCache((content) => model.send(content), () => schedule());

  // ------------------------------------------------------------------ colours
  function pointColors() {
    const n = data.n;
    const fill = new Uint8Array(4 * n), stroke = new Uint8Array(4 * n);
    const mode = model.get("color_by");
    const anySelected = model.get("selection").length > 0;
    const lossMax = mode === "loss" ? quantile(data.loss, 0.98) : 1;
    const cache = new Map();
    const rgbOf = (hex) => {
      if (!cache.has(hex)) cache.set(hex, rgb255(hexToRgb(hex)));
      return cache.get(hex);
    };
    for (let i = 0; i < n; i++) {
      let f, s;
      switch (mode) {
        case "predicted":
          f = rgbOf(categorical(data.pred[i]));
          s = f.map((v) => v * 0.6);
          break;
        case "correct":
          f = rgbOf(BINARY[data.correct[i] ? 1 : 0]);
          s = f.map((v) => v * 0.6);
          break;
        case "split":
          f = rgbOf(SPLITS[data.split[i]] || SPLITS[0]);
          s = f.map((v) => v * 0.6);
          break;
        case "aligned":
          f = rgbOf(data.aligned && data.aligned[i] ? "#7570b3" : "#e6ab02");
          s = f.map((v) => v * 0.6);
          break;
        case "loss":
          f = rgb255(sequential(data.loss[i] / lossMax));
          s = f.map((v) => v * 0.6);
          break;
        default: // class: fill = true class, ring = predicted class
          f = rgbOf(categorical(data.label[i]));
          s = rgbOf(categorical(data.pred[i]));
      }
      const visible = visibleSplit[data.split[i]] !== false;
      const alpha = !visible ? 0 : anySelected && !selected[i] ? 60 : 230;
      fill.set([f[0], f[1], f[2], alpha], 4 * i);
      stroke.set([s[0], s[1], s[2], data.correct[i] ? 0 : 255], 4 * i);
    }
    renderer.setColors(fill, stroke);
  }

  function isVisible(i) {
    return visibleSplit[data.split[i]] !== false;
  }

  // ------------------------------------------------------------------ contours
  function buildContours() {
    contourSegs = [];
    const { data: dens, shape } = getArray(model, "density", "float32", [SPLIT_NAMES.length, null, null]);
    const g = shape[1];
    const box = model.get("density_box");
    if (!dens.length || box.length !== 4 || shape[2] !== g) return;
    const [x0, x1, y0, y1] = box;
    const dx = (x1 - x0) / g, dy = (y1 - y0) / g;
    // per split, a flat list of segment end points in data coordinates: x0, y0, x1, y1, ...
    for (let s = 0; s < dens.length / (g * g); s++) {
      const gridS = dens.subarray(s * g * g, (s + 1) * g * g);
      const flat = [];
      for (const level of CONTOUR_LEVELS) {
        for (const [c0, r0, c1, r1] of isoSegments(gridS, g, g, level)) {
          flat.push(x0 + (c0 + 0.5) * dx, y0 + (r0 + 0.5) * dy, x0 + (c1 + 0.5) * dx, y0 + (r1 + 0.5) * dy);
        }
      }
      contourSegs.push(flat);
    }
  }

  // ------------------------------------------------------------------ drawing
  function pointSize() {
    // smaller marks for dense maps (less overplotting, fewer fragments), growing as you zoom in
    const base = data.n > 50000 ? 4 : data.n > 20000 ? 5 : POINT_SIZE;
    const zoom = fitScale > 0 ? view.scale / fitScale : 1;
    return Math.min(14, base * Math.sqrt(Math.max(1, zoom)));
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  function visibleInView() {
    const [x0, x1, y0, y1] = view.dataBox();
    const out = [];
    for (let i = 0; i < data.n; i++) {
      const x = data.xs[i], y = data.ys[i];
      if (x >= x0 && x <= x1 && y >= y0 && y <= y1 && isVisible(i)) {
        out.push(i);
        if (out.length > model.get("max_thumbnails")) return null;
      }
    }
    return out;
  }

  function draw() {
    frame = 0;
    const t0 = performance.now();
    renderer.draw(view, pointSize(), dpr);
    octx.setTransform(1, 0, 0, 1, 0, 0);
    octx.clearRect(0, 0, overlay.width, overlay.height);
    octx.setTransform(dpr, 0, 0, dpr, 0, 0);
    // density contours: one path per split
    octx.lineWidth = 1;
    octx.globalAlpha = 0.55;
    contourSegs.forEach((segs, s) => {
      if (!visibleSplit[s] || !segs.length) return;
      octx.strokeStyle = SPLITS[s];
      octx.beginPath();
      for (let k = 0; k < segs.length; k += 4) {
        const [ax, ay] = view.toScreen(segs[k], segs[k + 1]);
        const [bx, by] = view.toScreen(segs[k + 2], segs[k + 3]);
        octx.moveTo(ax, ay);
        octx.lineTo(bx, by);
      }
      octx.stroke();
    });
    octx.globalAlpha = 1;
    // zoomed in: points become their images
    thumbsDrawn = 0;
    // points turn into images once zoomed in (>= 4x the fitted scale) on few enough points
    const zoomedIn = fitScale > 0 && view.scale >= 4 * fitScale;
    const few = data.n && zoomedIn ? visibleInView() : null;
    if (few && few.length) {
      thumbs.want(few);
      const scaleRatio = view.scale / (fitScale || view.scale);
      const size = Math.max(20, Math.min(72, 14 * Math.sqrt(scaleRatio)));
      const anySelected = model.get("selection").length > 0;
      for (const i of few) {
        const t = thumbs.get(i);
        if (!t) continue;
        const [sx, sy] = view.toScreen(data.xs[i], data.ys[i]);
        octx.globalAlpha = anySelected && !selected[i] ? 0.35 : 1;
        octx.drawImage(t.bitmap, t.sx, t.sy, t.size, t.size, sx - size / 2, sy - size / 2, size, size);
        octx.lineWidth = 2;
        octx.strokeStyle = data.correct[i] ? categorical(data.label[i]) : "#d62728";
        octx.strokeRect(sx - size / 2, sy - size / 2, size, size);
        thumbsDrawn++;
      }
      octx.globalAlpha = 1;
    }
    // lasso / box being drawn
    if (drag && drag.kind === "lasso" && drag.points.length > 1) {
      octx.strokeStyle = "#333";
      octx.setLineDash([4, 3]);
      octx.beginPath();
      drag.points.forEach(([x, y], k) => (k ? octx.lineTo(x, y) : octx.moveTo(x, y)));
      octx.closePath();
      octx.stroke();
      octx.setLineDash([]);
    } else if (drag && drag.kind === "box" && drag.current) {
      const [ax, ay] = drag.start, [bx, by] = drag.current;
      octx.strokeStyle = "#333";
      octx.setLineDash([4, 3]);
      octx.strokeRect(Math.min(ax, bx), Math.min(ay, by), Math.abs(bx - ax), Math.abs(by - ay));
      octx.setLineDash([]);
    }
    root.setAttribute("data-thumbnails", String(thumbsDrawn));
    root.setAttribute("data-frame-ms", (performance.now() - t0).toFixed(2));
    root.setAttribute("data-ready", "1");
  }

  let fitScale = 0;
  function fit() {
    view.fit(bounds(data.xs, data.ys));
    fitScale = view.scale;
    grid = null;
    syncViewBox();
    schedule();
  }

  function resize() {
    const rect = plot.getBoundingClientRect();
    const w = Math.max(50, Math.round(rect.width)), h = Math.max(50, Math.round(model.get("height")));
    dpr = window.devicePixelRatio || 1;
    plot.style.height = `${h}px`;
    for (const c of [pointsCanvas, overlay]) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
      c.style.width = `${w}px`;
      c.style.height = `${h}px`;
    }
    const changed = w !== view.width || h !== view.height;
    view.resize(w, h);
    if (data.n && rect.width >= 100 && (!fitted || (changed && !userMoved))) {
      // fit once the plot has its real size, and again on resizes until the user zooms or pans
      fitted = true;
      fit();
    } else if (changed) {
      grid = null;
      syncViewBox();
    }
    schedule();
  }

  function syncViewBox() {
    clearTimeout(viewBoxTimer);
    viewBoxTimer = setTimeout(() => {
      model.set("view_box", view.dataBox());
      model.save_changes();
    }, 120);
  }

  // ------------------------------------------------------------------ legend, status, controls
  function buildLegend() {
    clear(legend);
    const mode = model.get("color_by");
    const classes = model.get("classes");
    const swatch = (color, text, shape = "circle") =>
      el("span", { class: "dw-legend-item" }, [
        el("span", { class: `dw-swatch dw-${shape}`, style: { background: shape === "circle" ? color : "transparent", color } }),
        el("span", { class: "dw-legend-label", text }),
      ]);
    if (mode === "class" || mode === "predicted") {
      classes.forEach((name, i) => legend.appendChild(swatch(categorical(i), name)));
      legend.appendChild(
        el("span", {
          class: "dw-legend-note",
          text: mode === "class" ? "fill = true class, ring = predicted · ● correct ✕ wrong" : "colour = predicted class · ● correct ✕ wrong",
        }),
      );
    } else if (mode === "correct") {
      legend.append(swatch(BINARY[1], "correct"), swatch(BINARY[0], "wrong"));
    } else if (mode === "split") {
      SPLIT_NAMES.forEach((s, i) => legend.appendChild(swatch(SPLITS[i], s)));
    } else if (mode === "aligned") {
      legend.append(swatch("#7570b3", "bias-aligned"), swatch("#e6ab02", "bias-conflicting"));
    } else if (mode === "loss") {
      const hi = quantile(data.loss, 0.98);
      legend.append(swatch("#440154", "loss 0"), swatch("#21918c", `loss ${(hi / 2).toFixed(2)}`), swatch("#fde725", `loss ≥ ${hi.toFixed(2)}`));
    }
  }

  function buildControls() {
    clear(colorSelect);
    for (const opt of model.get("color_options")) colorSelect.appendChild(el("option", { text: opt, attrs: { value: opt } }));
    colorSelect.value = model.get("color_by");
    clear(splitBoxes);
    const present = [0, 0, 0];
    for (let i = 0; i < data.n; i++) present[data.split[i]] = 1;
    const shown = model.get("visible_splits");
    SPLIT_NAMES.forEach((name, s) => {
      visibleSplit[s] = shown.includes(name);
      if (!present[s]) return;
      const box = el("input", { attrs: { type: "checkbox", "data-split": name } });
      box.checked = visibleSplit[s];
      box.addEventListener("change", () => {
        const next = SPLIT_NAMES.filter((n2, k) => (k === s ? box.checked : model.get("visible_splits").includes(n2)));
        model.set("visible_splits", next);
        model.save_changes();
      });
      splitBoxes.appendChild(el("label", { class: "dw-split", style: { color: SPLITS[s] } }, [box, el("span", { text: ` ${name}` })]));
    });
  }

  function setTool(t) {
    tool = t;
    for (const [name, b] of Object.entries(tools)) b.setAttribute("aria-pressed", String(name === t));
    overlay.style.cursor = t === "pan" ? "grab" : "crosshair";
  }

  function updateStatus() {
    const sel = model.get("selection").length;
    const status = model.get("status");
    statusLine.textContent =
      (status ? `${status} · ` : "") +
      `${model.get("version")} · ${data.n.toLocaleString()} points · ${sel.toLocaleString()} selected`;
  }

  function applySelection() {
    selected = new Uint8Array(data.n);
    for (const i of model.get("selection")) if (i >= 0 && i < data.n) selected[i] = 1;
    pointColors();
    updateStatus();
    schedule();
  }

  function commitSelection(hits, mode) {
    const next = combine(model.get("selection"), hits, mode);
    model.set("selection", next);
    model.save_changes();
  }

  // ------------------------------------------------------------------ interaction
  function localPoint(ev) {
    const r = overlay.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  }

  overlay.addEventListener("pointerdown", (ev) => {
    overlay.setPointerCapture(ev.pointerId);
    const p = localPoint(ev);
    const pan = tool === "pan" || ev.button === 1;
    drag = { kind: pan ? "pan" : tool, start: p, last: p, points: [p], mode: modeFromEvent(ev), moved: 0 };
    tooltip.style.display = "none";
    if (pan) overlay.style.cursor = "grabbing";
    ev.preventDefault();
  });

  overlay.addEventListener("pointermove", (ev) => {
    const p = localPoint(ev);
    if (!drag) {
      hover(p);
      return;
    }
    drag.moved += Math.hypot(p[0] - drag.last[0], p[1] - drag.last[1]);
    if (drag.kind === "pan") {
      userMoved = true;
      view.panBy(p[0] - drag.last[0], p[1] - drag.last[1]);
      grid = null;
      syncViewBox();
    } else if (drag.kind === "lasso") {
      drag.points.push(p);
    } else if (drag.kind === "box") {
      drag.current = p;
    }
    drag.last = p;
    schedule();
  });

  function finishDrag(ev) {
    if (!drag) return;
    root.setAttribute("data-pointerup-epoch", String(Date.now()));
    const d = drag;
    drag = null;
    setTool(tool);
    if (d.kind === "pan") return schedule();
    if (d.moved < 4) {
      // a click: pick the point under the cursor, or clear on empty space
      const hit = nearest(d.start);
      if (hit >= 0) commitSelection([hit], d.mode);
      else if (d.mode === "replace") commitSelection([], "replace");
      return schedule();
    }
    if (d.kind === "lasso") {
      const poly = d.points.map(([x, y]) => view.toData(x, y));
      commitSelection(selectInPolygon(data.xs, data.ys, poly, isVisible), d.mode);
    } else if (d.kind === "box" && d.current) {
      commitSelection(selectInBox(data.xs, data.ys, view.toData(...d.start), view.toData(...d.current), isVisible), d.mode);
    }
    schedule();
    if (ev) ev.preventDefault();
  }
  overlay.addEventListener("pointerup", finishDrag);
  overlay.addEventListener("pointercancel", () => {
    drag = null;
    schedule();
  });

  overlay.addEventListener(
    "wheel",
    (ev) => {
      ev.preventDefault();
      const [x, y] = localPoint(ev);
      userMoved = true;
      view.zoomAt(x, y, Math.exp(-ev.deltaY * 0.0015));
      grid = null;
      syncViewBox();
      schedule();
    },
    { passive: false },
  );
  overlay.addEventListener("dblclick", () => {
    userMoved = false;
    fit();
  });
  overlay.addEventListener("pointerleave", () => (tooltip.style.display = "none"));

  function nearest(p) {
    if (!grid) {
      const sx = new Float32Array(data.n), sy = new Float32Array(data.n);
      for (let i = 0; i < data.n; i++) {
        if (!isVisible(i)) {
          sx[i] = sy[i] = NaN;
          continue;
        }
        const s = view.toScreen(data.xs[i], data.ys[i]);
        sx[i] = s[0];
        sy[i] = s[1];
      }
      grid = new GridIndex(sx, sy, 16);
    }
    return grid.nearest(p[0], p[1], Math.max(6, pointSize()));
  }

  function hover(p) {
    const i = data.n ? nearest(p) : -1;
    if (i < 0) {
      tooltip.style.display = "none";
      return;
    }
    const classes = model.get("classes");
    clear(tooltip);
    const t = thumbs.get(i);
    if (t) {
      const c = el("canvas", { class: "dw-tooltip-thumb" });
      c.width = c.height = 64;
      c.getContext("2d").drawImage(t.bitmap, t.sx, t.sy, t.size, t.size, 0, 0, 64, 64);
      tooltip.appendChild(c);
    } else {
      thumbs.want([i]);
    }
    const lines = [
      `#${i} · ${SPLIT_NAMES[data.split[i]] || ""}`,
      `label: ${classes[data.label[i]]}`,
      `predicted: ${classes[data.pred[i]]} (${(100 * data.confidence[i]).toFixed(1)} %)`,
      `loss: ${data.loss[i].toFixed(3)} · ${data.correct[i] ? "correct" : "wrong"}`,
    ];
    tooltip.appendChild(el("div", {}, lines.map((text) => el("div", { text }))));
    tooltip.style.display = "block";
    tooltip.style.left = `${Math.min(p[0] + 14, view.width - 190)}px`;
    tooltip.style.top = `${Math.min(p[1] + 14, view.height - 120)}px`;
    tooltip.setAttribute("data-index", String(i));
  }

  for (const [name, b] of Object.entries(tools)) b.addEventListener("click", () => setTool(name));
  resetBtn.addEventListener("click", () => {
    userMoved = false;
    fit();
  });
  clearBtn.addEventListener("click", () => commitSelection([], "replace"));
  colorSelect.addEventListener("change", () => {
    model.set("color_by", colorSelect.value);
    model.save_changes();
  });

  // ------------------------------------------------------------------ model events
  function onData() {
    const old = data;
    data = loadData(model);
    grid = null;
    thumbs.clear();
    buildControls();
    buildContours();
    if (old.n === data.n && old.n > 0 && fitted) animateFrom(old.xy);
    else {
      renderer.setPositions(data.xy);
      if (data.n && view.width >= 100) {
        fitted = true;
        fit();
      }
    }
    applySelection();
    buildLegend();
  }

  function animateFrom(from) {
    const to = data.xy;
    const start = performance.now();
    const buf = new Float32Array(to.length);
    if (animation) cancelAnimationFrame(animation);
    const step = (now) => {
      const t = Math.min(1, (now - start) / 500);
      const e = t * t * (3 - 2 * t);
      for (let k = 0; k < to.length; k++) buf[k] = from[k] + (to[k] - from[k]) * e;
      renderer.setPositions(buf);
      draw();
      animation = t < 1 ? requestAnimationFrame(step) : null;
      if (!animation) renderer.setPositions(to);
    };
    animation = requestAnimationFrame(step);
  }

  const dataTraits = ["xy", "label", "pred", "correct", "split_code", "aligned", "loss", "confidence", "density"];
  let dataTimer = 0;
  const onDataChange = () => {
    // one reload for a batch of trait updates sent together
    clearTimeout(dataTimer);
    dataTimer = setTimeout(onData, 0);
  };
  for (const t of dataTraits) model.on(`change:${t}`, onDataChange);
  model.on("change:selection", applySelection);
  model.on("change:color_by", () => {
    colorSelect.value = model.get("color_by");
    pointColors();
    buildLegend();
    schedule();
  });
  model.on("change:visible_splits", () => {
    buildControls();
    grid = null;
    pointColors();
    schedule();
  });
  model.on("change:error", () => showError(errorBanner, model.get("error")));
  model.on("change:status", updateStatus);
  model.on("change:version", updateStatus);
  model.on("change:height", resize);
  const onCustom = (msg, buffers) => thumbs.receive(msg, buffers);
  model.on("msg:custom", onCustom);

  // ------------------------------------------------------------------ start
  showError(errorBanner, model.get("error"));
  setTool("lasso");
  buildControls();
  buildContours();
  renderer.setPositions(data.xy);
  applySelection();
  buildLegend();
  const observer = new ResizeObserver(() => resize());
  observer.observe(plot);
  resize();

  return () => {
    observer.disconnect();
    if (frame) cancelAnimationFrame(frame);
    if (animation) cancelAnimationFrame(animation);
    clearTimeout(viewBoxTimer);
    clearTimeout(dataTimer);
    for (const t of dataTraits) model.off(`change:${t}`, onDataChange);
    model.off("msg:custom", onCustom);
    model.off("change:selection", applySelection);
    renderer.destroy();
  };
}

export default { render };
