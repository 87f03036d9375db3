// ConceptWindow (VisCUIT Figure 3): one neuron's name, its activation scores for the picked
// under-performing subgroup and its well-performing pair (two bars on a 0-1 axis), the images that
// activate it most (with the box of each one's best concept patch) and its concept patches,
// upscaled with hard pixel edges. Clicking an image or a patch focuses its source image.

import { drawCell, latestAtlas } from "./lib/atlas.js";
import { BINARY } from "./lib/colors.js";
import { boxStyle, formatValue, scoreLabel } from "./lib/concept-format.js";
import { canvasOf, clear, disposer, el, showError } from "./lib/dom.js";
import { addStyle } from "./lib/style.js";

const IMAGE_PX = 96; // shown side of a top image
const PATCH_PX = 64; // shown side of a concept patch
const TICKS = [0, 0.25, 0.5, 0.75, 1];
// bar colours (data colours; their labels are neutral text beside a swatch)
const GROUP_COLOR = { under: BINARY[0], well: BINARY[1] };

const CSS = `
/* the patch box is drawn on image pixels, not on the theme: a cyan line with a black outline
   reads on dark and light images alike and differs from the red/orange marks images often carry */
.dw-concepts { max-width: 100%; box-sizing: border-box; --dw-concepts-box: #00e5ff; }
.dw-concepts-head { display: flex; flex-wrap: wrap; gap: 10px; align-items: baseline; margin-bottom: 4px; }
.dw-concepts-name { font-weight: 600; font-size: 13px; }
.dw-concepts-status { color: var(--dw-fg-muted); }
.dw-concepts-section { margin: 6px 0; }
.dw-concepts-section h4 { margin: 0 0 3px 0; font-size: 12px; font-weight: 600; color: var(--dw-fg); }
.dw-concepts-note { color: var(--dw-fg-muted); }
.dw-concepts-grid { display: flex; flex-wrap: wrap; gap: 6px; align-items: flex-start; }
.dw-concepts-item { border: 2px solid transparent; border-radius: 3px; padding: 2px; background: var(--dw-bg-alt); cursor: pointer; font-size: 11px; font-variant-numeric: tabular-nums; }
.dw-concepts-item.dw-focus { border-color: var(--dw-accent); }
.dw-concepts-item canvas { display: block; image-rendering: pixelated; }
.dw-concepts-item span { display: block; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.dw-concepts-frame { position: relative; }
.dw-concepts-box, .dw-concepts-legend-box { box-sizing: border-box; border: 2px solid var(--dw-concepts-box); outline: 1px solid #000; }
.dw-concepts-box { position: absolute; pointer-events: none; }
.dw-concepts-legend-box { display: inline-block; width: 11px; height: 11px; }
.dw-concepts-item button.dw-concepts-source { font: inherit; font-size: 11px; padding: 0; border: 0; background: none; color: var(--dw-fg); text-decoration: underline; cursor: pointer; }
.dw-concepts-bars { display: grid; grid-template-columns: max-content 200px max-content; column-gap: 8px; row-gap: 4px; align-items: center; }
.dw-concepts-track { position: relative; height: 14px; background: var(--dw-bg-raised); border-left: 1px solid var(--dw-fg-muted); }
.dw-concepts-fill { position: absolute; left: 0; top: 0; bottom: 0; }
.dw-concepts-gridline { position: absolute; top: 0; bottom: 0; width: 0; border-left: 1px dotted var(--dw-border); }
.dw-concepts-axis { position: relative; height: 16px; border-top: 1px solid var(--dw-fg-muted); }
.dw-concepts-tick { position: absolute; top: 0; transform: translateX(-50%); color: var(--dw-fg-muted); font-size: 10.5px; }
.dw-concepts-tick::before { content: ""; position: absolute; left: 50%; top: -1px; height: 4px; border-left: 1px solid var(--dw-fg-muted); }
.dw-concepts-axis-title { color: var(--dw-fg-muted); font-size: 11px; }
.dw-concepts-value { font-variant-numeric: tabular-nums; }
`;

function render({ model, el: host }) {
  addStyle("dw-concepts-style", CSS);
  const scope = disposer();
  const root = el("div", { class: "dw-root dw-concepts" });
  host.appendChild(root);

  const name = el("span", { class: "dw-concepts-name" });
  const status = el("span", { class: "dw-concepts-status" });
  const errorBanner = el("div", { class: "dw-error" });
  const empty = el("div", {
    class: "dw-empty",
    text: "No neuron picked: click a neuron in a linked NeuronPanel, or set view.neuron = {'layer': ..., 'neuron': ...}.",
  });
  const scores = el("div", { class: "dw-concepts-section dw-concepts-scores" });
  const images = el("div", { class: "dw-concepts-grid dw-concepts-images" });
  const patches = el("div", { class: "dw-concepts-grid dw-concepts-patches" });
  const imagesNote = el("span", { class: "dw-concepts-note" });
  const patchesNote = el("span", { class: "dw-concepts-note" });
  const body = el("div", { class: "dw-concepts-body" }, [
    scores,
    el("div", { class: "dw-concepts-section" }, [el("h4", { text: "Top images (whole dataset, most activating first)" }), imagesNote, images]),
    el("div", { class: "dw-concepts-section" }, [el("h4", { text: "Concept patches (most activating first)" }), patchesNote, patches]),
    el("div", { class: "dw-legend" }, [
      el("span", { class: "dw-legend-item" }, [
        el("span", { class: "dw-concepts-legend-box" }),
        el("span", { text: "cyan box: where the image's best concept patch was cut" }),
      ]),
      el("span", { class: "dw-legend-note", text: "values: the neuron's activation (spatial maximum) · accent border: focused image · click an image or a patch to focus its source image" }),
    ]),
  ]);
  root.append(el("div", { class: "dw-concepts-head" }, [name, status]), errorBanner, empty, body);

  const decodeImages = latestAtlas();
  const decodePatches = latestAtlas();
  let imageAtlas = null, patchAtlas = null;
  let loads = 0;

  const setFocus = (index) => {
    model.set("focus", index);
    model.save_changes();
  };

  function showStatus() {
    const computing = model.get("computing");
    const shown = model.get("shown");
    status.textContent = computing ? "computing concepts…" : "";
    root.setAttribute("data-computing", computing ? "1" : "0");
    const n = model.get("neuron");
    const has = n && n.layer !== undefined;
    empty.style.display = has || computing ? "none" : "";
    body.style.display = has && shown && shown.layer !== undefined ? "" : "none";
    if (shown && shown.layer !== undefined) {
      const of = shown.channels ? ` of ${shown.channels}` : "";
      name.textContent = `Neuron ${shown.layer} #${shown.neuron}${of} · ${shown.version}`;
    } else {
      name.textContent = has ? `Neuron ${n.layer} #${n.neuron}` : "Neuron concepts";
    }
  }

  function drawScores() {
    clear(scores);
    scores.appendChild(el("h4", { text: "Activation scores" }));
    const rows = model.get("scores");
    const note = model.get("scores_note");
    if (note) scores.appendChild(el("div", { class: "dw-concepts-note dw-concepts-scores-note", text: note }));
    root.setAttribute("data-scores", String(rows.length));
    if (!rows.length) return;
    const bars = el("div", { class: "dw-concepts-bars" });
    const legend = el("div", { class: "dw-legend" });
    for (const s of rows) {
      const color = GROUP_COLOR[s.group] || GROUP_COLOR.under;
      const track = el("div", { class: "dw-concepts-track", title: `${scoreLabel(s)}: score ${formatValue(s.score)}` }, [
        ...TICKS.slice(1).map((t) => el("span", { class: "dw-concepts-gridline", style: { left: `${100 * t}%` } })),
        el("div", { class: "dw-concepts-fill", style: { width: `${(100 * Math.min(1, Math.max(0, s.score))).toFixed(2)}%`, background: color } }),
      ]);
      bars.append(
        el("span", { text: `${s.under ? "under" : "well"} #${s.subgroup}` }),
        track,
        el("span", { class: "dw-concepts-value", attrs: { "data-group": s.group, "data-score": s.score }, text: formatValue(s.score) }),
      );
      legend.appendChild(
        el("span", { class: "dw-legend-item" }, [el("span", { class: "dw-swatch", style: { background: color, borderRadius: "2px" } }), el("span", { text: scoreLabel(s) })]),
      );
    }
    const axis = el("div", { class: "dw-concepts-axis" }, TICKS.map((t) => el("span", { class: "dw-concepts-tick", style: { left: `${100 * t}%` }, text: String(t) })));
    bars.append(el("span"), axis, el("span"));
    bars.append(el("span"), el("span", { class: "dw-concepts-axis-title", text: "activation score (0–1)" }), el("span"));
    scores.append(
      bars,
      legend,
      el("div", { class: "dw-concepts-note", text: "score: share of the subgroup's images for which this neuron is among the most activated of its layer" }),
    );
  }

  function drawImages() {
    clear(images);
    const items = model.get("images");
    const focus = model.get("focus");
    const cell = model.get("cell"), cols = model.get("image_cols");
    imagesNote.textContent = items.length ? "" : "no images";
    items.forEach((it, k) => {
      const c = canvasOf(IMAGE_PX);
      if (imageAtlas) drawCell(c.getContext("2d"), imageAtlas, k, cols, cell, IMAGE_PX, IMAGE_PX);
      const frame = el("div", { class: "dw-concepts-frame" }, [c]);
      if (it.box) frame.appendChild(el("div", { class: "dw-concepts-box", style: boxStyle(it.box) }));
      images.appendChild(
        el(
          "div",
          {
            class: `dw-concepts-item dw-concepts-image${it.index === focus ? " dw-focus" : ""}`,
            attrs: { "data-index": it.index, "data-activation": it.activation },
            style: { width: `${IMAGE_PX}px` },
            title: `image #${it.index} (${it.label}): activation ${formatValue(it.activation)}`,
            on: { click: () => setFocus(it.index) },
          },
          [frame, el("span", { text: `#${it.index} ${it.label}` }), el("span", { text: `act ${formatValue(it.activation)}` })],
        ),
      );
    });
    root.setAttribute("data-images", String(items.length));
  }

  function drawPatches() {
    clear(patches);
    const items = model.get("patches");
    const focus = model.get("focus");
    const shown = model.get("shown") || {};
    const side = shown.patch_side || 1, cols = model.get("patch_cols");
    patchesNote.textContent = items.length ? "" : "no patches";
    items.forEach((p, k) => {
      const c = canvasOf(PATCH_PX);
      if (patchAtlas) drawCell(c.getContext("2d"), patchAtlas, k, cols, side, PATCH_PX, PATCH_PX);
      const [y0, x0, y1, x1] = p.box;
      const source = el("button", { class: "dw-concepts-source", text: `from #${p.source}`, attrs: { type: "button" } });
      patches.appendChild(
        el(
          "div",
          {
            class: `dw-concepts-item dw-concepts-patch${p.source === focus ? " dw-focus" : ""}`,
            attrs: { "data-source": p.source, "data-activation": p.activation },
            style: { width: `${PATCH_PX}px` },
            title: `patch rows ${y0}–${y1}, columns ${x0}–${x1} of image #${p.source}: activation ${formatValue(p.activation)}`,
            on: { click: () => setFocus(p.source) },
          },
          [c, el("span", { text: `act ${formatValue(p.activation)}` }), source],
        ),
      );
    });
    root.setAttribute("data-patches", String(items.length));
  }

  function drawAll() {
    showStatus();
    drawScores();
    drawImages();
    drawPatches();
    root.setAttribute("data-rendered", model.get("rendered"));
    root.setAttribute("data-focus", String(model.get("focus")));
  }

  // one kernel message changes several traits: redraw once after the burst
  let imagesDirty = true, patchesDirty = true, scheduled = false;
  function schedule(which = "") {
    if (which === "images") imagesDirty = true;
    if (which === "patches") patchesDirty = true;
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(refresh);
  }

  async function refresh() {
    scheduled = false;
    if (imagesDirty) {
      imagesDirty = false;
      const bitmap = await decodeImages(model.get("image_atlas"));
      if (bitmap === undefined) return; // a newer atlas took over
      imageAtlas = bitmap;
    }
    if (patchesDirty) {
      patchesDirty = false;
      const bitmap = await decodePatches(model.get("patch_atlas"));
      if (bitmap === undefined) return;
      patchAtlas = bitmap;
    }
    root.setAttribute("data-loaded", String(++loads));
    drawAll();
  }

  scope.bind(model, {
    "change:image_atlas": () => schedule("images"),
    "change:patch_atlas": () => schedule("patches"),
    "change:images": () => schedule(),
    "change:patches": () => schedule(),
    "change:scores": () => schedule(),
    "change:scores_note": () => schedule(),
    "change:shown": () => schedule(),
    "change:rendered": () => schedule(),
    "change:focus": () => schedule(),
    "change:neuron": () => showStatus(),
    "change:computing": () => showStatus(),
    "change:error": () => showError(errorBanner, model.get("error")),
  });
  showError(errorBanner, model.get("error"));
  showStatus();
  schedule();
  return scope.dispose;
}

export default { render };
