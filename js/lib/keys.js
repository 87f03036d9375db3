// Keyboard shortcuts of a view, active while the view has focus (click it, or Tab to it).
// The view's root gets tabindex="0"; a keydown from inside it (never from a text field, select or
// editor) that a shortcut handles is acted on and stopped, so the notebook's command mode
// (JupyterLab, Notebook 7) or marimo does not act on the same key; every other key passes through
// untouched. The listener sits on the window in the capture phase, because Notebook 7 (unlike
// JupyterLab 4) reads keys on the document in the capture phase, before any view could stop them;
// it ignores every key whose event path does not pass through the view, so keys typed in notebook
// cells never reach a view. A "⌨" button in the view's toolbar lists the shortcuts (its tooltip,
// and a panel it toggles), so they are documented where they work.

import { el } from "./dom.js";
import { selectionCount, writeSelection } from "./selection.js";
import { addStyle } from "./style.js";

const CSS = `
.dw-root.dw-keys:focus { outline: none; }
.dw-root.dw-keys:focus-visible, .dw-root.dw-keys.dw-keys-active { outline: 1px solid var(--dw-accent); outline-offset: 1px; }
.dw-root button.dw-keys-btn { font: inherit; padding: 2px 6px; border: 1px solid var(--dw-border); background: var(--dw-bg-alt); color: var(--dw-fg-muted); border-radius: 3px; cursor: pointer; margin-left: auto; }
.dw-root button.dw-keys-btn[aria-expanded="true"] { background: var(--dw-accent-bg); border-color: var(--dw-accent); color: var(--dw-fg); }
.dw-keys-panel { display: none; border: 1px solid var(--dw-border-faint); background: var(--dw-bg-alt); border-radius: 3px; padding: 4px 8px; margin: 2px 0 4px; color: var(--dw-fg); }
.dw-keys-panel table { border-collapse: collapse; }
.dw-keys-panel td { padding: 1px 8px 1px 0; }
.dw-keys-panel kbd { font: inherit; font-family: var(--jp-code-font-family, monospace); border: 1px solid var(--dw-border); border-bottom-width: 2px; border-radius: 3px; padding: 0 4px; background: var(--dw-bg); color: var(--dw-fg); }
.dw-keys-note { color: var(--dw-fg-muted); margin-top: 2px; }
`;

// Keys typed into these never trigger a shortcut (they belong to the control).
const TYPING = new Set(["INPUT", "TEXTAREA", "SELECT"]);

/** Names the hint shows for keys whose `key` value reads badly. */
const KEY_NAMES = { ArrowLeft: "←", ArrowRight: "→", ArrowUp: "↑", ArrowDown: "↓", Escape: "Esc", " ": "Space" };

/** True when a keydown from `target` belongs to a text field, select or editor, not the view. */
export function isTyping(target) {
  if (!target) return false;
  if (target.isContentEditable) return true;
  return TYPING.has(String(target.tagName || "").toUpperCase());
}

/**
 * The shortcut `event` triggers among `shortcuts` ([{keys: ["l", "L"], label, run}, ...]), or
 * null: none for a key with Ctrl / Meta / Alt held (those are the host's, e.g. Ctrl+S), for a key
 * typed into a text field, select or editor (`target`: where the key was typed, inside a shadow
 * root too), or for a key no shortcut lists. Letters match in
 * either case (Shift+L is l: caps lock must not disable a shortcut).
 */
export function shortcutFor(shortcuts, event, target = event && event.target) {
  if (!event || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return null;
  if (isTyping(target)) return null;
  const key = event.key && event.key.length === 1 ? event.key.toLowerCase() : event.key;
  return shortcuts.find((s) => s.keys.some((k) => (k.length === 1 ? k.toLowerCase() : k) === key)) || null;
}

/** The rows of the hint: [keys as shown, what they do] for each shortcut. */
export function hintRows(shortcuts) {
  return shortcuts.map((s) => [s.keys.map((k) => KEY_NAMES[k] || k).join(" / "), s.label]);
}

/** One line listing every shortcut (the ⌨ button's tooltip). */
export function hintText(shortcuts) {
  return "Keyboard shortcuts (click the view first): " + hintRows(shortcuts).map(([k, what]) => `${k} ${what}`).join(" · ");
}

/**
 * Make `root` focusable and act on `shortcuts` while it has focus. The "⌨" button goes at the end
 * of `toolbar` and the panel it opens right after the toolbar (its rows are text, never HTML);
 * both are returned. A key a shortcut
 * lists is the view's even where it changes nothing (next page on the last page): it never falls
 * through to the notebook. Every listener goes through `scope` (the view's disposer).
 */
export function bindShortcuts(scope, root, shortcuts, toolbar) {
  addStyle("dw-keys-style", CSS);
  root.setAttribute("tabindex", "0");
  root.classList.add("dw-keys");
  root.setAttribute("aria-keyshortcuts", shortcuts.flatMap((s) => s.keys).join(" "));
  const button = el("button", {
    class: "dw-keys-btn",
    text: "⌨ ?",
    title: hintText(shortcuts),
    attrs: { type: "button", "aria-expanded": "false", "aria-label": "keyboard shortcuts" },
  });
  const rows = hintRows(shortcuts).map(([k, what]) =>
    el("tr", {}, [el("td", {}, [el("kbd", { text: k })]), el("td", { text: what })]),
  );
  const panel = el("div", { class: "dw-keys-panel", attrs: { role: "note" } }, [
    el("table", {}, [el("tbody", {}, rows)]),
    el("div", { class: "dw-keys-note", text: "Active while the view has focus (click it or Tab to it); the notebook keeps every other key." }),
  ]);
  const toggle = (open) => {
    button.setAttribute("aria-expanded", String(open));
    panel.style.display = open ? "block" : "none";
  };
  scope.bind(button, { click: () => toggle(button.getAttribute("aria-expanded") !== "true") });
  scope.bind(
    window,
    {
      keydown: (ev) => {
        const path = ev.composedPath ? ev.composedPath() : [];
        if (!path.includes(root)) return; // not typed in this view
        const s = shortcutFor(shortcuts, ev, path[0]);
        if (!s) return;
        s.run(ev);
        ev.preventDefault();
        ev.stopImmediatePropagation(); // the notebook's command mode must not also act on it
        root.setAttribute("data-last-key", ev.key);
      },
    },
    { capture: true },
  );
  scope.bind(root, {
    // a click anywhere in the view (a canvas, an image) gives it the keys; controls keep their own focus
    pointerdown: (ev) => {
      if (!isTyping(ev.target) && !root.contains(document.activeElement)) root.focus({ preventScroll: true });
    },
    focusin: () => root.classList.add("dw-keys-active"),
    focusout: (ev) => {
      if (!root.contains(ev.relatedTarget)) root.classList.remove("dw-keys-active");
    },
  });
  toolbar.append(button);
  toolbar.after(panel);
  return { button, panel };
}

/** The paged views' shortcuts: → / n next page, ← / p previous page (and Esc, when given). */
export function pageShortcuts(model, pages, { clearSelection = true } = {}) {
  const go = (delta) => {
    const page = model.get("page");
    const to = Math.max(0, Math.min(pages() - 1, page + delta));
    if (to === page) return;
    model.set("page", to);
    model.save_changes();
  };
  const shortcuts = [
    { keys: ["ArrowRight", "n"], label: "next page", run: () => go(1) },
    { keys: ["ArrowLeft", "p"], label: "previous page", run: () => go(-1) },
  ];
  if (clearSelection) {
    shortcuts.push({
      keys: ["Escape"],
      label: "clear the selection (every linked view)",
      run: () => {
        if (!selectionCount(model)) return;
        writeSelection(model, []);
        model.save_changes();
      },
    });
  }
  return shortcuts;
}
