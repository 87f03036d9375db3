// ProjectionView: the t-SNE map of one model version (DASH's projection view).
// Circle = correct, cross = wrong; fill = true class, ring = predicted class; density contours per
// split; zoomed in, points become their images. Drag: lasso / box / pan; shift adds, alt removes;
// keys l / b / p / r / Esc while focused. A lasso selects only in the splits ticked under "lasso
// selects" that are also shown. The pieces live in ./projection/; this module wires them to the
// model through one disposer, so the returned cleanup releases every listener.

import { disposer, el, showError } from "./lib/dom.js";
import { GridIndex } from "./lib/grid-index.js";
import { bindShortcuts } from "./lib/keys.js";
import { createPointRenderer } from "./lib/points-gl.js";
import { combine, readSelection, selectionCount, writeSelection } from "./lib/selection.js";
import { addStyle, ensureStyle } from "./lib/style.js";
import { onThemeChange, themeColors } from "./lib/theme.js";
import { followSnapshot, kernelLive } from "./lib/snapshot.js";
import { ThumbnailCache } from "./lib/thumbnails.js";
import { ViewTransform, bounds } from "./lib/view.js";
import { pointColors } from "./projection/colors.js";
import { contourSegments, drawContours } from "./projection/contours.js";
import { buildToolbar, fillColorOptions, fillLegend, fillSplitChecks, presentSplits } from "./projection/controls.js";
import { SPLIT_NAMES, countBySplit, emptyData, loadData, loadStats, selectableSplits, selectionText } from "./projection/data.js";
import { drawDragShape, drawThumbnails, pointsInView } from "./projection/draw.js";
import { bindPointer } from "./projection/interaction.js";
import { projectionShortcuts } from "./projection/shortcuts.js";
import { CSS } from "./projection/style.js";
import { hideTooltip, showPointTooltip } from "./projection/tooltip.js";

const POINT_SIZE = 7;
const THUMB_ZOOM = 4; // points become images at this multiple of the fitted scale
const ANIMATION_MS = 500;

// performance marks of the first frame's stages (read by benchmarks/projection.py): render start,
// arrays decoded, colours uploaded, first fitted draw issued, first frame with points on screen
const mark = (name) => performance.mark && performance.mark(`dw-projection:${name}`);

function render({ model, el: host }) {
  mark("render");
  ensureStyle();
  addStyle("dw-projection-style", CSS);
  const scope = disposer();
  const root = el("div", { class: "dw-root dw-projection" });
  host.appendChild(root);
  scope.add(() => root.remove());

  // ------------------------------------------------------------------ layout
  const { toolbar, tools, colorSelect, splitBoxes, selectBoxes, resetBtn, clearBtn } = buildToolbar();
  const errorBanner = el("div", { class: "dw-error" });
  const plot = el("div", { class: "dw-plot" });
  const glCanvas = el("canvas", { class: "dw-points" });
  const overlay = el("canvas", { class: "dw-plot dw-overlay" });
  const tooltip = el("div", { class: "dw-tooltip" });
  const axisX = el("span", { class: "dw-axis-title dw-axis-x", text: "t-SNE 1 →" });
  const axisY = el("span", { class: "dw-axis-title dw-axis-y", text: "t-SNE 2 →" });
  plot.append(glCanvas, overlay, axisX, axisY, tooltip);
  const legend = el("div", { class: "dw-legend" });
  const statusLine = el("div", { class: "dw-status" });
  root.append(toolbar, errorBanner, plot, legend, statusLine);

  const renderer = createPointRenderer(glCanvas);
  scope.add(() => renderer.destroy());
  const pointsCanvas = renderer.canvas; // a fresh canvas when WebGL2 failed
  root.setAttribute("data-renderer", renderer.kind);
  const octx = overlay.getContext("2d");
  const view = new ViewTransform(1, 1);

  // ------------------------------------------------------------------ state
  const state = { tool: "lasso", drag: null, userMoved: false };
  let data = emptyData();
  let selected = new Uint8Array(0);
  const visibleSplit = [true, true, true];
  let selectSplit = [true, true, true]; // shown and ticked under "lasso selects"
  let hovered = -1; // the point whose tooltip is open
  let hoverAt = [0, 0];
  let colors = themeColors(root);
  let contours = [];
  let grid = null; // spatial index of the points in data coordinates, built lazily once per data set
  let dpr = window.devicePixelRatio || 1;
  let fitted = false;
  let fitScale = 0;
  let pointsDirty = true; // the WebGL points need drawing again (not for overlay-only changes)
  let pointsReady = false; // data-points-ready: set once, after the first full-size frame with points
  let laidOut = false; // the plot has a size on the page (a view renders before it is attached)
  let frame = 0;
  let animation = 0;
  let viewBoxTimer = 0;
  let dataTimer = 0; // a reload of every array is pending while set
  let selectionTimer = 0;
  const thumbs = new ThumbnailCache((content) => model.send(content), () => {
    schedule(false);
    refreshTooltip(); // the hovered point's image may just have arrived
  });
  // zoomed-in images come from the engine's image snapshot when there is one (no kernel request)
  scope.add(
    followSnapshot(model, (snap, smodel) => {
      thumbs.useSnapshot(snap, () => smodel !== null && !kernelLive(smodel));
      root.setAttribute("data-snapshot", snap ? String(snap.m) : "0");
      schedule();
    }),
  );
  scope.add(() => {
    cancelAnimationFrame(frame);
    cancelAnimationFrame(animation);
    clearTimeout(viewBoxTimer);
    clearTimeout(dataTimer);
    clearTimeout(selectionTimer);
  });

  const isVisible = (i) => visibleSplit[data.split[i]] !== false;
  const isSelectable = (i) => selectSplit[data.split[i]] === true;
  const anySelected = () => selectionCount(model) > 0;

  // ------------------------------------------------------------------ drawing
  function pointSize() {
    // smaller marks for dense maps (less overplotting, fewer fragments), growing as you zoom in
    const base = data.n > 50000 ? 4 : data.n > 20000 ? 5 : POINT_SIZE;
    const zoom = fitScale > 0 ? view.scale / fitScale : 1;
    return Math.min(14, base * Math.sqrt(Math.max(1, zoom)));
  }

  // `points` false: only the overlay changed (the lasso being drawn, thumbnails arriving): the
  // points canvas keeps its frame (preserveDrawingBuffer), which at 10^6 points saves a full
  // software rasterisation per pointer move
  function schedule(points = true) {
    if (points) pointsDirty = true;
    if (!frame) frame = requestAnimationFrame(draw);
  }

  function draw() {
    frame = 0;
    const t0 = performance.now();
    // read every frame: the view may render before it is attached (the theme's variables unset)
    colors = themeColors(root);
    // no points before the plot has a layout: a draw of a detached 50 px canvas costs a full pass
    // over every point (at 10^6 with software GL, hundreds of ms before the first real frame)
    if (pointsDirty && (laidOut || !data.n)) {
      if (!pointsReady) mark(fitted ? "draw-fitted" : "draw-unfitted");
      renderer.draw(view, pointSize(), dpr);
      pointsDirty = false;
    }
    octx.setTransform(1, 0, 0, 1, 0, 0);
    octx.clearRect(0, 0, overlay.width, overlay.height);
    octx.setTransform(dpr, 0, 0, dpr, 0, 0);
    drawContours(octx, contours, view, visibleSplit, colors);
    let drawn = 0;
    const zoomedIn = fitScale > 0 && view.scale >= THUMB_ZOOM * fitScale;
    const few = data.n && zoomedIn ? pointsInView(pointIndex(), view, isVisible, model.get("max_thumbnails")) : null;
    if (few && few.length) {
      thumbs.want(few);
      const zoom = view.scale / (fitScale || view.scale);
      drawn = drawThumbnails(octx, { data, view, thumbs, indices: few, zoom, selected, anySelected: anySelected(), colors });
    }
    drawDragShape(octx, state.drag, colors);
    root.setAttribute("data-thumbnails", String(drawn));
    root.setAttribute("data-frame-ms", (performance.now() - t0).toFixed(2));
    root.setAttribute("data-ready", "1");
    if (!pointsReady && fitted && data.n > 0) {
      mark("first-draw");
      markPointsReady();
    }
  }

  // `data-ready` fires on the first draw, which may be a 50 px canvas before layout or an empty
  // map. `data-points-ready` (epoch ms) marks the first frame at the plot's fitted size with
  // points in it, stamped one animation frame later, once that frame has gone to the screen;
  // `data-points-ready-size` is that frame's CSS size.
  function markPointsReady() {
    pointsReady = true;
    root.setAttribute("data-points-ready-size", `${view.width},${view.height}`);
    const stamp = () => {
      mark("points-ready");
      root.setAttribute("data-points-ready", (performance.timeOrigin + performance.now()).toFixed(1));
    };
    requestAnimationFrame(stamp);
  }

  function recolor() {
    const { fill, stroke } = pointColors(data, { mode: model.get("color_by"), selected, anySelected: anySelected(), visibleSplit });
    renderer.setColors(fill, stroke);
    pointsDirty = true;
  }

  // ------------------------------------------------------------------ view transform
  function syncViewBox() {
    clearTimeout(viewBoxTimer);
    viewBoxTimer = setTimeout(() => {
      model.set("view_box", view.dataBox());
      model.save_changes();
    }, 120);
  }

  function fit() {
    view.fit(bounds(data.xs, data.ys));
    fitScale = view.scale;
    syncViewBox();
    schedule();
  }

  function resize() {
    const rect = plot.getBoundingClientRect();
    laidOut = rect.width > 0;
    if (!pointsReady) mark(`resize-${Math.round(rect.width)}`);
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
    if (data.n && rect.width >= 100 && (!fitted || (changed && !state.userMoved))) {
      // fit once the plot has its real size, and again on resizes until the user zooms or pans
      fitted = true;
      fit();
    } else if (changed) {
      syncViewBox();
    }
    schedule();
  }

  // ------------------------------------------------------------------ selection
  // one index in data coordinates serves hover, click, lasso, box and the visible thumbnails at
  // any zoom: the view's transform only changes the query, so zooming never rebuilds it
  function pointIndex() {
    if (!grid) grid = new GridIndex(data.xs, data.ys);
    return grid;
  }

  function nearest(p) {
    if (!data.n) return -1;
    const [x, y] = view.toData(p[0], p[1]);
    return pointIndex().nearest(x, y, Math.max(6, pointSize()) / view.scale, isVisible);
  }

  function commitSelection(hits, mode) {
    writeSelection(model, combine(readSelection(model), hits, mode));
    model.save_changes();
    mark("selection-sent");
  }

  // a selection change recolours every point (at 10^6, ~0.1 s): done in the next task, so a
  // lasso's own selection leaves for the kernel first (model.set fires the change event before
  // save_changes sends it)
  function selectionChanged() {
    clearTimeout(selectionTimer);
    selectionTimer = setTimeout(applySelection, 0);
  }

  function applySelection() {
    clearTimeout(selectionTimer);
    selected = new Uint8Array(data.n);
    for (const i of readSelection(model)) if (i < data.n) selected[i] = 1;
    recolor();
    mark("selection-drawn");
    updateStatus();
    schedule();
  }

  // ------------------------------------------------------------------ controls
  function setTool(t) {
    state.tool = t;
    for (const [name, b] of Object.entries(tools)) b.setAttribute("aria-pressed", String(name === t));
    overlay.style.cursor = t === "pan" ? "grab" : "crosshair";
  }

  let unbindSplits = () => {};
  function buildControls() {
    fillColorOptions(colorSelect, model.get("color_options"), model.get("color_by"));
    unbindSplits();
    const shown = model.get("visible_splits");
    SPLIT_NAMES.forEach((name, s) => (visibleSplit[s] = shown.includes(name)));
    const select = model.get("select_splits");
    selectSplit = selectableSplits(visibleSplit, select);
    const present = presentSplits(data);
    const toggle = (trait, s, on) => {
      const now = model.get(trait);
      model.set(trait, SPLIT_NAMES.filter((name, k) => (k === Number(s) ? on : now.includes(name))));
      model.save_changes();
    };
    const showBoxes = fillSplitChecks(splitBoxes, present, shown, { kind: "split" });
    const selBoxes = fillSplitChecks(selectBoxes, present, select, { kind: "select-split", disabled: visibleSplit.map((v) => !v) });
    const unbinders = [
      ...Object.entries(showBoxes).map(([s, box]) => scope.bind(box, { change: () => toggle("visible_splits", s, box.checked) })),
      ...Object.entries(selBoxes).map(([s, box]) => scope.bind(box, { change: () => toggle("select_splits", s, box.checked) })),
    ];
    unbindSplits = () => unbinders.forEach((f) => f());
    root.setAttribute("data-select-splits", SPLIT_NAMES.filter((_, s) => selectSplit[s]).join(","));
  }

  function updateStatus() {
    const status = model.get("status");
    const counts = countBySplit(data.split, readSelection(model));
    const limited = SPLIT_NAMES.filter((_, s) => selectSplit[s]);
    const scopeNote = limited.length < SPLIT_NAMES.length ? ` · lasso selects ${limited.join(" + ") || "nothing (tick a split)"}` : "";
    statusLine.textContent =
      (status ? `${status} · ` : "") + `${model.get("version")} · ${data.n.toLocaleString()} points · ${selectionText(counts)}${scopeNote}`;
    root.setAttribute("data-selected-splits", counts.join(","));
  }

  function refreshTooltip() {
    if (hovered < 0 || hovered >= data.n || tooltip.style.display !== "block") return;
    if (tooltip.querySelector("canvas") || !thumbs.get(hovered)) return;
    showPointTooltip(tooltip, { data, classes: model.get("classes"), thumbs, view }, hovered, hoverAt);
  }

  const buildLegend = () => fillLegend(legend, model.get("color_by"), model.get("classes"), data);

  // ------------------------------------------------------------------ data
  function animateFrom(from) {
    const to = data.xy;
    const start = performance.now();
    const buf = new Float32Array(to.length);
    cancelAnimationFrame(animation);
    const step = (now) => {
      const t = Math.min(1, (now - start) / ANIMATION_MS);
      const e = t * t * (3 - 2 * t);
      for (let k = 0; k < to.length; k++) buf[k] = from[k] + (to[k] - from[k]) * e;
      renderer.setPositions(buf);
      pointsDirty = true;
      draw();
      animation = t < 1 ? requestAnimationFrame(step) : 0;
      if (!animation) renderer.setPositions(to);
    };
    animation = requestAnimationFrame(step);
  }

  /** Decode the arrays; a malformed update is shown in the banner and leaves the old map. */
  function reload() {
    try {
      const next = loadData(model);
      contours = contourSegments(model);
      return next;
    } catch (e) {
      showError(errorBanner, e.message);
      return null;
    }
  }

  function onData() {
    dataTimer = 0;
    const old = data;
    const next = reload();
    if (!next) return;
    data = next;
    grid = null;
    thumbs.clear();
    buildControls();
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

  // ------------------------------------------------------------------ listeners
  bindPointer(scope, overlay, {
    state,
    view,
    schedule,
    viewChanged: syncViewBox,
    refit: fit,
    hover: (p) => {
      const i = nearest(p);
      hovered = i;
      hoverAt = p;
      if (i < 0) return hideTooltip(tooltip);
      showPointTooltip(tooltip, { data, classes: model.get("classes"), thumbs, view }, i, p);
    },
    hideTooltip: () => {
      hovered = -1;
      hideTooltip(tooltip);
    },
    pick: (p) => {
      const i = nearest(p);
      return i >= 0 && isSelectable(i) ? i : -1;
    },
    commit: commitSelection,
    inPolygon: (poly) => {
      const hits = pointIndex().inPolygon(poly, isSelectable);
      mark("lasso-hits");
      return hits;
    },
    inBox: ([ax, ay], [bx, by]) => pointIndex().inBox(Math.min(ax, bx), Math.max(ax, bx), Math.min(ay, by), Math.max(ay, by), isSelectable),
    toolChanged: () => setTool(state.tool),
    markPointerUp: () => {
      mark("pointer-up");
      root.setAttribute("data-pointerup-epoch", String(Date.now()));
    },
  });
  for (const [name, b] of Object.entries(tools)) scope.bind(b, { click: () => setTool(name) });
  const reset = () => ((state.userMoved = false), fit());
  scope.bind(resetBtn, { click: reset });
  const clearSelection = () => commitSelection([], "replace");
  scope.bind(clearBtn, { click: clearSelection });
  bindShortcuts(scope, root, projectionShortcuts({ setTool, reset, clear: clearSelection }), toolbar);
  scope.bind(colorSelect, {
    change: () => {
      model.set("color_by", colorSelect.value);
      model.save_changes();
    },
  });

  const onDataChange = () => {
    // one reload for a batch of trait updates sent together
    clearTimeout(dataTimer);
    dataTimer = setTimeout(onData, 0);
  };
  const dataTraits = ["xy", "label", "pred", "correct", "split_code", "aligned", "density"];
  scope.bind(model, Object.fromEntries(dataTraits.map((t) => [`change:${t}`, onDataChange])));
  // loss and confidence follow the first frame (and may change alone): no reload of the points
  const onStatsChange = () => {
    if (dataTimer) return; // they came with new points: the pending reload reads them
    try {
      Object.assign(data, loadStats(model, data.n));
    } catch (e) {
      showError(errorBanner, e.message);
      return;
    }
    if (model.get("color_by") === "loss") {
      recolor();
      buildLegend();
      schedule();
    }
    refreshTooltip();
  };
  scope.bind(model, { "change:loss": onStatsChange, "change:confidence": onStatsChange });
  scope.bind(model, {
    "change:selection": selectionChanged,
    "change:color_by": () => {
      colorSelect.value = model.get("color_by");
      recolor();
      buildLegend();
      schedule();
    },
    "change:visible_splits": () => {
      buildControls();
      recolor();
      updateStatus();
      schedule();
    },
    "change:select_splits": () => {
      buildControls();
      updateStatus();
    },
    "change:error": () => showError(errorBanner, model.get("error")),
    "change:status": updateStatus,
    "change:version": updateStatus,
    "change:height": resize,
    "msg:custom": (msg, buffers) => thumbs.receive(msg, buffers),
  });

  // ------------------------------------------------------------------ start
  showError(errorBanner, model.get("error"));
  setTool("lasso");
  data = reload() || data;
  mark("decoded");
  buildControls();
  renderer.setPositions(data.xy);
  mark("positions");
  applySelection();
  mark("colors");
  buildLegend();
  scope.add(
    onThemeChange(() => {
      colors = themeColors(root);
      schedule();
    }),
  );
  const observer = new ResizeObserver(() => resize());
  observer.observe(plot);
  scope.add(() => observer.disconnect());
  resize();

  return scope.dispose;
}

export default { render };
