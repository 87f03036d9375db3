// AuditReport (issue 16 §3): the ranked suspected biases of Engine.report. Per finding: rank,
// kind, plain-language title, an effect bar (accuracy points) against the 10-point margin, p
// against its threshold and the test, the numbers behind it, evidence thumbnails (originals and
// the probed copies the model got wrong), the fix, and "Apply fix" (Engine.augment(**fix)).

import { atlasRedraw, drawCell } from "./lib/atlas.js";
import { CATEGORICAL } from "./lib/colors.js";
import { canvasOf, clear, disposer, el, showError } from "./lib/dom.js";
import { addStyle } from "./lib/style.js";
import { jobStatus } from "./lib/job.js";

const IMAGE_PX = 48;
const SIG = CATEGORICAL[3];
const NOT_SIG = CATEGORICAL[7];
const MAX_POINTS = 100;

const CSS = `
.dw-report { max-width: 100%; box-sizing: border-box; }
.dw-report-head { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin-bottom: 4px; }
.dw-report-title { font-weight: 600; font-size: 13px; }
.dw-report-status { color: var(--dw-fg-muted); }
.dw-report-verdict { font-weight: 600; margin: 4px 0; color: var(--dw-fg); }
.dw-report-finding { border: 1px solid var(--dw-border-faint); border-left-width: 5px; border-radius: 4px; padding: 4px 8px; margin: 6px 0; background: var(--dw-bg-alt); }
.dw-report-finding h4 { margin: 0 0 3px 0; font-size: 12.5px; font-weight: 600; color: var(--dw-fg); }
.dw-report-kind { display: inline-block; padding: 0 5px; margin-right: 6px; border-radius: 3px; background: var(--dw-bg-raised); color: var(--dw-fg); font-size: 11px; }
.dw-report-line { color: var(--dw-fg-muted); font-size: 11px; margin: 2px 0; font-variant-numeric: tabular-nums; }
.dw-report-bar { display: grid; grid-template-columns: 260px max-content; gap: 8px; align-items: center; margin: 3px 0; }
.dw-report-track { position: relative; height: 10px; background: var(--dw-bg-raised); border-left: 1px solid var(--dw-fg-muted); }
.dw-report-fill { position: absolute; left: 0; top: 0; bottom: 0; }
.dw-report-margin { position: absolute; top: -2px; bottom: -2px; width: 0; border-left: 2px dashed var(--dw-accent); }
.dw-report-images { display: flex; flex-wrap: wrap; gap: 3px; align-items: center; }
.dw-report-images > span { color: var(--dw-fg-muted); font-size: 11px; width: 56px; flex: none; }
.dw-report-thumb { border: 2px solid transparent; border-radius: 3px; cursor: pointer; line-height: 0; }
.dw-report-thumb.dw-focus { border-color: var(--dw-accent); }
.dw-report-thumb canvas { image-rendering: pixelated; }
.dw-report-fix { display: flex; gap: 8px; align-items: center; margin-top: 3px; font-size: 11px; color: var(--dw-fg); }
.dw-report-fix button { white-space: nowrap; }
.dw-report-fix code { font-size: 11px; background: var(--dw-bg-raised); padding: 1px 4px; border-radius: 3px; color: var(--dw-fg); }
.dw-report-axis { display: grid; grid-template-columns: 260px max-content; gap: 8px; margin-top: 6px; }
.dw-report-ticks { position: relative; height: 14px; border-top: 1px solid var(--dw-fg-muted); }
.dw-report-tick { position: absolute; top: 0; transform: translateX(-50%); color: var(--dw-fg-muted); font-size: 10.5px; }
.dw-report-axis-title { color: var(--dw-fg-muted); font-size: 11px; }
.dw-report-note { color: var(--dw-fg-muted); font-size: 11px; }
`;

/** "p = 3.1e-6 < 0.0014" (or ≥) for a finding. */
export function pText(f) {
  const p = f.p_value === null || f.p_value === undefined ? NaN : f.p_value;
  const fmt = (x) => (x < 1e-3 ? x.toExponential(1) : x.toPrecision(2));
  return `p = ${Number.isNaN(p) ? "n/a" : fmt(p)} ${f.significant ? "<" : "≥"} ${fmt(f.alpha)}`;
}

/** Bar width (percent of the track) of an effect given as a fraction: 0–100 points. */
export function effectWidth(effect) {
  const pts = 100 * (effect || 0);
  return Math.max(0, Math.min(MAX_POINTS, pts)) / MAX_POINTS * 100;
}

function render({ model, el: host }) {
  addStyle("dw-report-style", CSS);
  const scope = disposer();
  const root = el("div", { class: "dw-root dw-report" });
  host.appendChild(root);

  const bar = el("div", { class: "dw-progress-bar" });
  const progress = el("div", { class: "dw-progress", title: "auditing" }, [bar]);
  const cancelBtn = el("button", { class: "dw-cancel", text: "Cancel", attrs: { type: "button", title: "stop the report" } });
  const runBtn = el("button", { class: "dw-report-run", text: "Report", attrs: { type: "button", title: "run the report again" } });
  const status = el("span", { class: "dw-report-status" });
  const errorBanner = el("div", { class: "dw-error" });
  const verdict = el("div", { class: "dw-report-verdict" });
  const list = el("div", { class: "dw-report-findings" });
  const notes = el("div", { class: "dw-report-notes" });
  root.append(
    el("div", { class: "dw-report-head" }, [
      el("span", { class: "dw-report-title", text: "Suspected biases" }), progress, cancelBtn, runBtn, status,
    ]),
    errorBanner, verdict, list, notes,
    el("div", { class: "dw-legend" }, [
      el("span", { class: "dw-legend-item" }, [el("span", { class: "dw-swatch", style: { background: SIG, borderRadius: "2px" } }), el("span", { text: "significant" })]),
      el("span", { class: "dw-legend-item" }, [el("span", { class: "dw-swatch", style: { background: NOT_SIG, borderRadius: "2px" } }), el("span", { text: "not significant" })]),
      el("span", { class: "dw-legend-item" }, [el("span", { class: "dw-swatch", style: { borderLeft: "2px dashed var(--dw-accent)", width: "0" } }), el("span", { text: "10-point margin each effect is tested against" })]),
      el("span", { class: "dw-legend-note", text: "evidence: the images behind a finding; probed: their edited copies the model gets wrong · click an image to focus it in linked views" }),
    ]),
  );

  let atlas = null;

  const syncJob = jobStatus(model, { root, bar, progress, status, cancelBtn, runBtn });

  function thumbs(label, items, focus, what) {
    const box = el("div", { class: `dw-report-images dw-report-${what}` }, [el("span", { text: label })]);
    const cell = model.get("cell"), cols = model.get("atlas_cols");
    for (const it of items) {
      const c = canvasOf(IMAGE_PX);
      if (atlas) drawCell(c.getContext("2d"), atlas, it.cell, cols, cell, IMAGE_PX, IMAGE_PX);
      box.appendChild(el("div", {
        class: `dw-report-thumb${it.index === focus ? " dw-focus" : ""}`,
        attrs: { "data-index": it.index }, title: `image #${it.index}${what === "probed" ? " (probed copy)" : ""}`,
        on: { click: () => { model.set("focus", it.index); model.save_changes(); } },
      }, [c]));
    }
    return box;
  }

  function drawFinding(f, focus) {
    const colour = f.significant ? SIG : NOT_SIG;
    const nums = Object.entries(f.numbers).map(([k, v]) => `${k} ${typeof v === "number" && !Number.isInteger(v) ? v.toPrecision(3) : v}`).join(" · ");
    const node = el("div", {
      class: "dw-report-finding", style: { borderLeftColor: colour },
      attrs: { "data-rank": f.rank, "data-kind": f.kind, "data-significant": String(f.significant) },
    }, [
      el("h4", {}, [el("span", { class: "dw-report-kind", text: f.kind }), el("span", { text: `${f.rank}. ${f.title}` })]),
      el("div", { class: "dw-report-bar" }, [
        el("div", { class: "dw-report-track", title: `effect ${(100 * f.effect).toFixed(1)} points` }, [
          el("div", { class: "dw-report-fill", style: { width: `${effectWidth(f.effect).toFixed(2)}%`, background: colour } }),
          el("span", { class: "dw-report-margin", style: { left: `${effectWidth(0.1)}%` } }),
        ]),
        el("span", { class: "dw-report-line", text: `${(100 * f.effect).toFixed(1)} points · ${pText(f)} · ${f.significant ? "significant" : "not significant"}` }),
      ]),
      el("div", { class: "dw-report-line", text: `test: ${f.test}` }),
      el("div", { class: "dw-report-line", text: nums }),
    ]);
    if (f.evidence.length) node.appendChild(thumbs("evidence", f.evidence, focus, "evidence"));
    if (f.probed.length) node.appendChild(thumbs("probed", f.probed, focus, "probed"));
    const fix = el("div", { class: "dw-report-fix" }, [el("span", { text: "fix:" }), el("code", { text: f.fix || "none suggested" })]);
    if (f.fix) {
      fix.appendChild(el("button", {
        class: "dw-report-apply", text: "Apply fix", attrs: { type: "button", title: "make this augmentation now (Engine.augment)" },
        on: { click: () => model.send({ action: "apply", rank: f.rank }) },
      }));
    }
    node.appendChild(fix);
    return node;
  }

  function drawAll() {
    syncJob();
    clear(list);
    const focus = model.get("focus");
    const findings = model.get("findings");
    verdict.textContent = model.get("verdict");
    for (const f of findings) list.appendChild(drawFinding(f, focus));
    if (findings.length) {
      list.appendChild(el("div", { class: "dw-report-axis" }, [
        el("div", { class: "dw-report-ticks" }, [0, 25, 50, 75, 100].map((t) => el("span", { class: "dw-report-tick", style: { left: `${t}%` }, text: String(t) }))),
        el("span", { class: "dw-report-axis-title", text: "effect (accuracy points)" }),
      ]));
    }
    clear(notes);
    for (const n of model.get("notes")) notes.appendChild(el("div", { class: "dw-report-note", text: `note: ${n}` }));
    root.setAttribute("data-rendered", model.get("rendered"));
    root.setAttribute("data-findings", String(findings.length));
    root.setAttribute("data-applied", String(model.get("applied").length));
  }

  const schedule = atlasRedraw(model, (bitmap) => {
    atlas = bitmap;
    drawAll();
  });

  scope.bind(cancelBtn, { click: () => model.send({ action: "cancel" }) });
  scope.bind(runBtn, { click: () => model.send({ action: "run" }) });
  scope.bind(model, {
    "change:atlas": () => schedule(true),
    "change:findings": () => schedule(),
    "change:rendered": () => schedule(),
    "change:focus": () => schedule(),
    "change:applied": () => schedule(),
    "change:notes": () => schedule(),
    "change:state": syncJob,
    "change:progress": syncJob,
    "change:message": syncJob,
    "change:error": () => showError(errorBanner, model.get("error")),
  });
  showError(errorBanner, model.get("error"));
  schedule();
  return scope.dispose;
}

export default { render };
