// The widget manager of an exported page (`dashwidgets export`, dashwidgets/runtime/export.py):
// @jupyter-widgets/html-manager with the anywidget front end built in, so a page renders every
// saved view with no kernel and no network. Each view's own module travels in its model's `_esm`
// state; this bundle only has to create the models and views. It replaces nbconvert's CDN loader
// of embed-amd.js (and require.js), and runs once the page has been parsed.
import * as base from "@jupyter-widgets/base";
import { HTMLManager } from "@jupyter-widgets/html-manager/lib/htmlmanager";
import anywidgetFactory from "anywidget";
import { bind } from "./lib/dom.js";

const STATE = 'script[type="application/vnd.jupyter.widget-state+json"]';
const VIEW = 'script[type="application/vnd.jupyter.widget-view+json"]';

const anywidget = anywidgetFactory(base);

function loader(moduleName, moduleVersion) {
  if (moduleName === "anywidget") return Promise.resolve(anywidget);
  return Promise.reject(
    new Error(`this page carries no front end for widget module ${moduleName}@${moduleVersion}`),
  );
}

function showError(where, error) {
  const box = document.createElement("pre");
  box.className = "dw-embed-error";
  box.style.color = "var(--jp-error-color1, #d32f2f)";
  box.textContent = `dashwidgets: this view could not be shown: ${error?.message ?? error}`;
  where.appendChild(box);
  console.error(error);
}

async function renderState(tag) {
  const state = JSON.parse(tag.textContent);
  const manager = new HTMLManager({ loader });
  const models = await manager.set_state(state);
  const byId = new Map(models.map((m) => [m.model_id, m]));
  const views = Array.from(document.querySelectorAll(VIEW));
  await Promise.all(
    views.map(async (viewTag) => {
      const parent = viewTag.parentElement;
      if (parent === null) return;
      const host = document.createElement("div");
      host.className = "widget-subarea";
      parent.insertBefore(host, viewTag);
      try {
        const { model_id: modelId } = JSON.parse(viewTag.textContent);
        const model = byId.get(modelId);
        if (model === undefined) throw new Error(`no saved state for widget ${modelId}`);
        const view = await manager.create_view(model);
        await manager.display_view(view, host);
      } catch (error) {
        showError(host, error);
      }
    }),
  );
  return manager;
}

async function renderAll() {
  const tags = Array.from(document.querySelectorAll(STATE));
  const managers = await Promise.all(
    tags.map((tag) =>
      renderState(tag).catch((error) => {
        // a state the manager cannot read: say so at the top of the page, not only in the console
        const where = document.createElement("div");
        document.body.prepend(where);
        showError(where, error);
        return null;
      }),
    ),
  );
  // Browser tests (tests/browser/test_browser_export.py) wait on this flag and read the models.
  window.__dashwidgets_embed = { managers, ready: true };
  document.documentElement.dataset.dwWidgetsRendered = "true";
}

if (document.readyState === "loading") {
  bind(document, { DOMContentLoaded: renderAll }, { once: true });
} else {
  renderAll();
}
