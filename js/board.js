// ClassifierBoard: hyper-parameter form, progress and cancel; loss and accuracy curves of every
// version (one colour each, train solid, val dashed, a toggle per version) and of the live run
// (a point every few batches); version list with switch, compare picks, discard (with
// confirmation) and an Export CSV of the hyper-parameter table.

import { bind, disposer, clear, downloadText, el, showError } from "./lib/dom.js";
import { boardSeries, hparamsTable, lineChart, toCsv, versionColor } from "./lib/chart.js";
import { onThemeChange, themeColors } from "./lib/theme.js";
import { addStyle, ensureStyle } from "./lib/style.js";

const CSS = `
.dw-board-charts { display: flex; flex-wrap: wrap; gap: 8px; }
.dw-board-chart svg.dw-line-chart { display: block; background: var(--dw-bg); }
.dw-board-legend { max-width: 780px; }
.dw-curve-toggle { cursor: pointer; }
`;

const SVG = "http://www.w3.org/2000/svg";

function pct(v) {
  return v === null || v === undefined ? "–" : `${(100 * v).toFixed(1)} %`;
}

function hparamText(h) {
  if (!h) return "";
  const parts = [`${h.epochs} ep`, h.optimizer, `lr ${h.lr}`, `bs ${h.batch_size}`];
  if (h.weight_decay) parts.push(`wd ${h.weight_decay}`);
  return parts.join(" · ");
}

function render({ model, el: host }) {
  ensureStyle();
  addStyle("dw-board-style", CSS);
  const scope = disposer();
  const root = el("div", { class: "dw-root dw-board" });
  host.appendChild(root);

  const send = (content) => model.send(content);
  const setAndSave = (name, value) => {
    model.set(name, value);
    model.save_changes();
  };

  // ---------------------------------------------------------------- form
  const field = (label, input) => el("label", { class: "dw-field" }, [el("span", { text: label }), input]);
  const epochs = el("input", { class: "dw-epochs", attrs: { type: "number", min: 1, step: 1 } });
  const lr = el("input", { class: "dw-lr", attrs: { type: "number", min: 0, step: "any" } });
  const batch = el("input", { class: "dw-batch", attrs: { type: "number", min: 1, step: 1 } });
  const optimizer = el("select", { class: "dw-optimizer" });
  const wd = el("input", { class: "dw-wd", attrs: { type: "number", min: 0, step: "any" } });
  const parent = el("select", { class: "dw-parent" });
  const augBox = el("span", { class: "dw-aug-choices" });
  const trainBtn = el("button", { class: "dw-train", text: "Train", attrs: { type: "button" } });
  const cancelBtn = el("button", { class: "dw-cancel", text: "Cancel", attrs: { type: "button" } });
  const bar = el("div", { class: "dw-progress-bar" });
  const progress = el("div", { class: "dw-progress dw-progress-wide" }, [bar]);
  const status = el("span", { class: "dw-job-status" });
  const form = el("div", { class: "dw-toolbar dw-board-form" }, [
    field("epochs", epochs),
    field("learning rate", lr),
    field("batch size", batch),
    field("optimizer", optimizer),
    field("weight decay", wd),
    field("start from", parent),
    field("augmentations", augBox),
    trainBtn,
    cancelBtn,
    progress,
    status,
  ]);
  const errorBanner = el("div", { class: "dw-error" });

  // ---------------------------------------------------------------- charts + versions
  const lossHost = el("div", { class: "dw-chart-host dw-loss-host" });
  const accHost = el("div", { class: "dw-chart-host dw-acc-host" });
  const chartTitle = el("div", { class: "dw-chart-title" });
  const legend = el("div", { class: "dw-legend dw-board-legend" });
  const exportBtn = el("button", { class: "dw-export-csv", text: "Export CSV", attrs: { type: "button", title: "download the hyper-parameter table (CSV)" } });
  const table = el("table", { class: "dw-versions" });
  const body = el("div", { class: "dw-board-body" }, [
    el("div", { class: "dw-board-chart" }, [chartTitle, el("div", { class: "dw-board-charts" }, [lossHost, accHost]), legend]),
    el("div", { class: "dw-board-versions" }, [el("div", { class: "dw-toolbar" }, [exportBtn]), table]),
  ]);
  root.append(form, errorBanner, body);

  const hidden = new Set(); // curves the user switched off (version ids, "live")
  let confirming = null; // version id whose discard awaits confirmation

  function readForm() {
    const num = (input, name, int) => {
      const v = Number(input.value);
      if (input.value === "" || !Number.isFinite(v)) return;
      setAndSave(name, int ? Math.round(v) : v);
    };
    num(epochs, "epochs", true);
    num(lr, "lr", false);
    num(batch, "batch_size", true);
    num(wd, "weight_decay", false);
  }

  function syncForm() {
    epochs.value = String(model.get("epochs"));
    lr.value = String(model.get("lr"));
    batch.value = String(model.get("batch_size"));
    wd.value = String(model.get("weight_decay"));
    clear(optimizer);
    for (const o of model.get("optimizers")) optimizer.appendChild(el("option", { text: o, attrs: { value: o } }));
    optimizer.value = model.get("optimizer");
    clear(parent);
    parent.appendChild(el("option", { text: "scratch (initial weights)", attrs: { value: "" } }));
    for (const v of model.get("versions")) parent.appendChild(el("option", { text: v.name === v.id ? v.id : `${v.id} (${v.name})`, attrs: { value: v.id } }));
    parent.value = model.get("parent");
    clear(augBox);
    const use = new Set(model.get("use_augmentations"));
    const opts = model.get("augmentation_options");
    if (!opts.length) augBox.appendChild(el("span", { class: "dw-legend-note", text: "none yet" }));
    for (const a of opts) {
      const box = el("input", { class: "dw-use-aug", attrs: { type: "checkbox", "data-augmentation": a.id } });
      box.checked = use.has(a.id);
      bind(box, { change: () => {
        const now = model.get("use_augmentations").filter((x) => x !== a.id);
        setAndSave("use_augmentations", box.checked ? [...now, a.id] : now);
      } });
      augBox.appendChild(el("label", { class: "dw-aug-choice", title: `${a.method}, ${a.accepted} of ${a.images} accepted` }, [box, el("span", { text: ` ${a.id} (${a.accepted})` })]));
    }
  }

  function syncJob() {
    const state = model.get("state");
    const running = state === "running";
    trainBtn.disabled = running;
    cancelBtn.disabled = !running;
    bar.style.width = `${Math.round(100 * model.get("progress"))}%`;
    progress.style.visibility = running ? "visible" : "hidden";
    status.textContent = model.get("message");
    root.setAttribute("data-state", state);
    root.setAttribute("data-progress", String(model.get("progress")));
  }

  function liveRun() {
    const state = model.get("state");
    const label = { running: "live run", cancelled: "cancelled run", failed: "failed run" }[state];
    if (!label) return null; // idle, or done: the finished run is its version's curve
    return { label, train: model.get("train_loss"), val: model.get("val_loss"), valAcc: model.get("val_accuracy"), batch: model.get("batch_loss") };
  }

  function drawLegend(rows, live, colors) {
    clear(legend);
    const toggle = (key, color, text, dashNote) => {
      const box = el("input", { class: "dw-show-curve", attrs: { type: "checkbox", "data-version": key, title: `show ${text}` } });
      box.checked = !hidden.has(key);
      bind(box, { change: () => {
        if (box.checked) hidden.delete(key);
        else hidden.add(key);
        drawChart();
      } });
      return el("label", { class: "dw-legend-item dw-curve-toggle", attrs: { "data-version": key } }, [
        box, el("span", { class: "dw-swatch", style: { background: color } }), el("span", { text }), dashNote ? el("span", { class: "dw-legend-note", text: dashNote }) : null,
      ]);
    };
    for (const [i, r] of rows.entries()) legend.appendChild(toggle(r.id, versionColor(r.id, i), r.name === r.id ? r.id : `${r.id} · ${r.name}`));
    if (live) legend.appendChild(toggle("live", colors.fg, live.label, live.label === "live run" ? "(no version yet)" : "(made no version)"));
    const key = (dash, text) => {
      const svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("width", "22");
      svg.setAttribute("height", "8");
      const line = document.createElementNS(SVG, "line");
      for (const [k, v] of Object.entries({ x1: 1, y1: 4, x2: 21, y2: 4, stroke: colors.fg, "stroke-width": 2, "stroke-dasharray": dash ? "5 3" : "none" })) line.setAttribute(k, String(v));
      svg.appendChild(line);
      return el("span", { class: "dw-legend-item dw-line-key" }, [svg, el("span", { text })]);
    };
    legend.append(key(false, "solid: train"), key(true, "dashed: val"));
  }

  let drawnColors = "";
  function drawChart() {
    const colors = themeColors(root);
    drawnColors = JSON.stringify(colors);
    const rows = model.get("versions");
    const live = liveRun();
    const { loss, accuracy } = boardSeries(rows, live, hidden, colors.fg);
    const n = rows.length;
    chartTitle.textContent = `${n} version(s)${live ? ` and the ${live.label}` : ""}: loss and accuracy per epoch`;
    clear(lossHost);
    clear(accHost);
    lossHost.appendChild(lineChart(SVG, loss, { width: 380, height: 220, xTitle: "epoch", yTitle: "loss", colors, yFloor: 0, cls: "dw-loss-chart" }));
    accHost.appendChild(lineChart(SVG, accuracy, {
      width: 380, height: 220, xTitle: "epoch", yTitle: "val accuracy (%)", colors, yCeil: 100, format: (v) => `${v.toFixed(1)} %`, cls: "dw-acc-chart",
    }));
    drawLegend(rows, live, colors);
    const train = model.get("train_loss"), val = model.get("val_loss");
    root.setAttribute("data-points", `${train.length},${val.filter((x) => x !== null).length}`);
    root.setAttribute("data-live-points", String(live && !hidden.has("live") ? live.batch.length : 0));
    root.setAttribute("data-curves", [...new Set(loss.map((s) => s.version))].join(","));
  }

  function drawVersions() {
    clear(table);
    const rows = model.get("versions");
    const active = model.get("active");
    const compare = model.get("compare");
    table.appendChild(
      el("tr", {}, ["active", "version", "parent", "val acc", "test acc", "hyper-parameters", "lineage", "compare", ""].map((t) => el("th", { text: t }))),
    );
    if (!rows.length) {
      table.appendChild(el("tr", {}, [el("td", { class: "dw-empty", text: "No version yet: set the form and press Train.", attrs: { colspan: 9 } })]));
    }
    for (const r of rows) {
      const radio = el("input", { class: "dw-activate", attrs: { type: "radio", name: `dw-active-${model.cid || "board"}`, title: "make active: linked views show it" } });
      radio.checked = r.id === active;
      bind(radio, { change: () => setAndSave("active", r.id) });
      const pick = el("input", { class: "dw-compare", attrs: { type: "checkbox", title: "compare (two versions)" } });
      pick.checked = compare.includes(r.id);
      bind(pick, { change: () => {
        const now = model.get("compare").filter((c) => c !== r.id);
        setAndSave("compare", pick.checked ? [...now, r.id] : now);
      } });
      const isConfirm = confirming === r.id;
      const discard = el("button", {
        class: isConfirm ? "dw-discard dw-discard-confirm" : "dw-discard",
        text: isConfirm ? `Discard ${r.id}? Yes` : "Discard",
        attrs: { type: "button" },
      });
      bind(discard, { click: () => {
        if (confirming === r.id) {
          confirming = null;
          send({ action: "discard", version: r.id });
        } else {
          confirming = r.id;
        }
        drawVersions();
      } });
      const lineage = r.augmentations.length ? `${r.augmentations.length} augmentation(s)` : "train split";
      table.appendChild(
        el("tr", { class: `dw-version-row${r.id === active ? " dw-active" : ""}`, attrs: { "data-version": r.id } }, [
          el("td", {}, [radio]),
          el("td", { class: "dw-version-name", text: r.name === r.id ? r.id : `${r.id} · ${r.name}` }),
          el("td", { text: r.parent || "scratch" }),
          el("td", { class: "dw-val-acc", text: pct(r.val_accuracy) }),
          el("td", { class: "dw-test-acc", text: pct(r.test_accuracy) }),
          el("td", { text: hparamText(r.hparams) }),
          el("td", { text: lineage }),
          el("td", {}, [pick]),
          el("td", {}, [discard]),
        ]),
      );
    }
    root.setAttribute("data-versions", rows.map((r) => r.id).join(","));
    root.setAttribute("data-active", active);
  }

  // ---------------------------------------------------------------- events
  for (const input of [epochs, lr, batch, wd]) scope.bind(input, { change: readForm });
  scope.bind(optimizer, { change: () => setAndSave("optimizer", optimizer.value) });
  scope.bind(parent, { change: () => setAndSave("parent", parent.value) });
  scope.bind(trainBtn, { click: () => {
    readForm();
    // The form travels with the request: ipywidgets may hold back a state update while an
    // earlier one is pending, and a custom message would then overtake it.
    const form = {
      epochs: Math.round(Number(epochs.value)),
      lr: Number(lr.value),
      batch_size: Math.round(Number(batch.value)),
      weight_decay: Number(wd.value),
      optimizer: optimizer.value,
      parent: parent.value,
      use_augmentations: model.get("use_augmentations"),
    };
    send({ action: "train", form });
  } });
  scope.bind(cancelBtn, { click: () => send({ action: "cancel" }) });
  // the hyper-parameter table, built here from the versions the board shows: no kernel round trip
  scope.bind(exportBtn, { click: () => {
    const { header, rows } = hparamsTable(model.get("versions"));
    downloadText(root, "hparams.csv", toCsv(header, rows));
  } });
  scope.add(onThemeChange(() => drawChart()));
  // the first render may come before the host is in the page (no theme variables to read yet):
  // draw again once it is laid out, if the theme's colours differ from those drawn
  const observer = new ResizeObserver(() => {
    if (JSON.stringify(themeColors(root)) !== drawnColors) drawChart();
  });
  observer.observe(root);
  scope.add(() => observer.disconnect());

  const handlers = {
    "change:versions": () => (syncForm(), drawVersions(), drawChart()),
    "change:active": () => (drawVersions(), drawChart()),
    "change:compare": () => drawVersions(),
    "change:state": () => (syncJob(), drawChart()),
    "change:progress": () => syncJob(),
    "change:message": () => syncJob(),
    "change:train_loss": () => drawChart(),
    "change:val_loss": () => drawChart(),
    "change:val_accuracy": () => drawChart(),
    "change:batch_loss": () => drawChart(),
    "change:epochs": () => syncForm(),
    "change:lr": () => syncForm(),
    "change:batch_size": () => syncForm(),
    "change:weight_decay": () => syncForm(),
    "change:optimizer": () => syncForm(),
    "change:parent": () => syncForm(),
    "change:augmentation_options": () => syncForm(),
    "change:use_augmentations": () => syncForm(),
    "change:error": () => showError(errorBanner, model.get("error")),
  };
  scope.bind(model, handlers);
  syncForm();
  syncJob();
  drawVersions();
  drawChart();
  showError(errorBanner, model.get("error"));
  root.setAttribute("data-ready", "1");

  return scope.dispose;
}

export default { render };
