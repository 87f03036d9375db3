// The detail of the focused image: large, its bias mask, its attribution map with a colour bar,
// its prediction under every version. Shared by the ImageGallery's detail panel and the
// SubgroupPanel's Grad-CAM window; it reads the `detail*` traits of dashwidgets/widgets/_detail.py.
// Class names and tags reach the DOM as text only.

import { getArray } from "./binary.js";
import { colormapLut, paintHeat } from "./colors.js";
import { clear, el } from "./dom.js";
import { heatLevels } from "./gallery-format.js";
import { addStyle } from "./style.js";

export const DETAIL_CSS = `
.dw-detail-head { font-weight: 600; margin-bottom: 4px; }
.dw-detail-imgs { display: flex; flex-wrap: wrap; gap: 6px; }
.dw-detail-fig { display: flex; flex-direction: column; gap: 2px; }
.dw-detail-fig canvas { width: 168px; height: 168px; image-rendering: pixelated; display: block; background: var(--dw-bg); }
.dw-detail-cap { color: var(--dw-fg-muted); font-size: 11px; max-width: 168px; }
.dw-cbar { display: flex; flex-direction: column; gap: 1px; margin: 4px 0; }
.dw-cbar canvas { width: 168px; height: 10px; display: block; }
.dw-cbar-ticks { display: flex; justify-content: space-between; width: 168px; color: var(--dw-fg-muted); font-size: 11px; font-variant-numeric: tabular-nums; }
.dw-detail-section { margin-top: 8px; }
table.dw-history { border-collapse: collapse; margin-top: 2px; font-size: 12px; }
table.dw-history th, table.dw-history td { border-bottom: 1px solid var(--dw-border-faint); padding: 2px 6px; text-align: left; white-space: nowrap; }
tr.dw-history-row.dw-current { background: var(--dw-accent-bg); }
/* wrong predictions: a red dot beside neutral text (red text misses WCAG contrast in dark themes) */
.dw-history td.dw-wrong { color: var(--dw-fg); }
.dw-history td.dw-wrong::before { content: ""; display: inline-block; width: 7px; height: 7px; border-radius: 50%; background: var(--dw-wrong); margin-right: 4px; vertical-align: middle; }
`;

export const METHOD_NAMES = { gradcam: "Grad-CAM", scorecam: "Score-CAM", ig: "Integrated Gradients", lrp: "ε-LRP" };
const COLORMAP = "jet";

function canvasOf(w, h, paint) {
  const c = el("canvas");
  c.width = w;
  c.height = h;
  const ctx = c.getContext("2d");
  const img = ctx.createImageData(w, h);
  paint(img.data);
  ctx.putImageData(img, 0, 0);
  return c;
}

function figure(canvas, caption, cls) {
  return el("div", { class: `dw-detail-fig ${cls}` }, [canvas, el("span", { class: "dw-detail-cap", text: caption })]);
}

/**
 * Fill `panel` with the detail of `model`'s focused image (its `detail`, `detail_image`,
 * `detail_mask`, `detail_heat` traits); returns the image's index, or null when none is focused
 * (the panel is then left empty).
 */
export function renderDetail(panel, model) {
  addStyle("dw-detail-style", DETAIL_CSS);
  clear(panel);
  const d = model.get("detail");
  if (!d || d.index === undefined) return null;
  const { data: rgb, shape } = getArray(model, "detail_image", "uint8", [null, null, 3]);
  const [h, w] = shape;
  const { data: mask, shape: mshape } = getArray(model, "detail_mask", "uint8", [null, null]);
  const { data: heat, shape: hshape } = getArray(model, "detail_heat", "float32", [null, null]);
  const head = el("div", { class: "dw-detail-head", text: `#${d.index} · label ${d.label} · ${d.split}` });
  const figs = el("div", { class: "dw-detail-imgs" });
  const base = (out) => {
    for (let p = 0; p < h * w; p++) {
      out[4 * p] = rgb[3 * p];
      out[4 * p + 1] = rgb[3 * p + 1];
      out[4 * p + 2] = rgb[3 * p + 2];
      out[4 * p + 3] = 255;
    }
  };
  figs.appendChild(figure(canvasOf(w, h, base), `image, ${w}×${h} px`, "dw-detail-image"));
  if (mshape[0] === h && mshape[1] === w && h > 0) {
    const masked = (out) => {
      base(out);
      for (let p = 0; p < h * w; p++) {
        if (!mask[p]) for (let c = 0; c < 3; c++) out[4 * p + c] = Math.round(out[4 * p + c] * 0.2);
      }
    };
    figs.appendChild(figure(canvasOf(w, h, masked), "bias mask: the bias region at full brightness, the rest dimmed", "dw-detail-mask"));
  } else {
    figs.appendChild(el("span", { class: "dw-detail-cap dw-detail-nomask", text: "no bias mask in this dataset" }));
  }
  const method = METHOD_NAMES[d.method] || d.method;
  const lut = colormapLut(COLORMAP);
  if (hshape[0] === h && hshape[1] === w) {
    const levels = heatLevels(heat, d.heat_min, d.heat_max);
    const ramp = new Uint8Array(256).map((_, k) => k);
    figs.appendChild(
      el("div", { class: "dw-detail-fig dw-detail-heat" }, [
        canvasOf(w, h, (out) => paintHeat(levels, lut, out)),
        el("div", { class: "dw-cbar", title: `colour bar: ${method} relevance from its lowest to its highest value in this map` }, [
          canvasOf(256, 1, (out) => paintHeat(ramp, lut, out)),
          el("div", { class: "dw-cbar-ticks" }, [
            el("span", { text: `${Number(d.heat_min).toPrecision(2)} low` }),
            el("span", { text: `high ${Number(d.heat_max).toPrecision(2)}` }),
          ]),
        ]),
        el("span", { class: "dw-detail-cap", text: `${method} relevance for the predicted class under ${d.version} (blue low → red high)` }),
      ]),
    );
  }
  const rows = d.history.map((r) =>
    el("tr", { class: `dw-history-row${r.version === d.version ? " dw-current" : ""}`, attrs: { "data-version": r.version } }, [
      el("td", { text: r.version }),
      el("td", { text: r.prediction }),
      el("td", { text: `${(100 * r.confidence).toFixed(1)} %` }),
      el("td", { class: r.correct ? "" : "dw-wrong", text: r.correct ? "✓ yes" : "✗ no" }),
    ]),
  );
  const table = el("table", { class: "dw-history" }, [
    el("thead", {}, [el("tr", {}, ["version", "prediction", "confidence", "correct"].map((t) => el("th", { text: t })))]),
    el("tbody", {}, rows),
  ]);
  const tags = d.tags.length ? el("div", { class: "dw-detail-cap dw-detail-tags", text: `tags: ${d.tags.join(", ")}` }) : null;
  panel.append(head, figs, el("div", { class: "dw-detail-cap dw-detail-section", text: "prediction under every version" }), table);
  if (tags) panel.appendChild(tags);
  return d.index;
}

/**
 * `schedule()` re-renders the detail once per microtask however many of its traits changed at
 * once; `after(index)` runs after each render (index null: no image focused).
 */
export function detailScheduler(panel, model, after) {
  let scheduled = false;
  const now = () => after(renderDetail(panel, model));
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      now();
    });
  };
  return { schedule, now };
}
