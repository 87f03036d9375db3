import { describe, expect, it } from "vitest";
import { hintRows, hintText, isTyping, pageShortcuts, shortcutFor } from "../lib/keys.js";
import { projectionShortcuts } from "../projection/shortcuts.js";
import { readSelection } from "../lib/selection.js";

const key = (k, extra = {}) => ({ key: k, target: { tagName: "DIV" }, ...extra });

function fakeModel(state) {
  const saved = [];
  return {
    get: (name) => state[name],
    set: (name, value) => (state[name] = value),
    save_changes: () => saved.push({ ...state }),
    saved,
  };
}

describe("shortcutFor", () => {
  const calls = [];
  const shortcuts = projectionShortcuts({
    setTool: (t) => calls.push(`tool:${t}`),
    reset: () => calls.push("reset"),
    clear: () => calls.push("clear"),
  });

  it("maps l / b / p / r / Esc to the projection's actions, letters in either case", () => {
    for (const k of ["l", "B", "p", "r", "Escape"]) shortcutFor(shortcuts, key(k)).run();
    expect(calls).toEqual(["tool:lasso", "tool:box", "tool:pan", "reset", "clear"]);
  });

  it("leaves other keys, modified keys and keys typed into controls to their owners", () => {
    expect(shortcutFor(shortcuts, key("x"))).toBeNull();
    expect(shortcutFor(shortcuts, key("Enter"))).toBeNull();
    expect(shortcutFor(shortcuts, key("l", { ctrlKey: true }))).toBeNull();
    expect(shortcutFor(shortcuts, key("b", { metaKey: true }))).toBeNull();
    expect(shortcutFor(shortcuts, key("p", { altKey: true }))).toBeNull();
    expect(shortcutFor(shortcuts, key("l", { isComposing: true }))).toBeNull();
    for (const tagName of ["INPUT", "TEXTAREA", "SELECT", "input"]) {
      expect(shortcutFor(shortcuts, key("l", { target: { tagName } }))).toBeNull();
    }
    expect(shortcutFor(shortcuts, key("Escape", { target: { tagName: "DIV", isContentEditable: true } }))).toBeNull();
    // typed inside a shadow root: the window sees its host as the target, the path's first node is the field
    expect(shortcutFor(shortcuts, key("l", { target: { tagName: "MARIMO-ANYWIDGET" } }), { tagName: "INPUT" })).toBeNull();
    expect(shortcutFor(shortcuts, key("l", { target: { tagName: "MARIMO-ANYWIDGET" } }), { tagName: "CANVAS" })).not.toBeNull();
    expect(isTyping({ tagName: "CANVAS" })).toBe(false);
    expect(isTyping(null)).toBe(false);
  });

  it("documents every shortcut in the hint, with readable key names", () => {
    const rows = hintRows(shortcuts);
    expect(rows.map((r) => r[0])).toEqual(["l", "b", "p", "r", "Esc"]);
    expect(rows[0][1]).toBe("lasso tool");
    const text = hintText(pageShortcuts(fakeModel({ page: 0, selection: [] }), () => 1));
    expect(text).toContain("→ / n next page");
    expect(text).toContain("← / p previous page");
    expect(text).toContain("Esc clear the selection");
  });
});

describe("pageShortcuts", () => {
  it("steps pages within [0, pages) and saves each change", () => {
    const model = fakeModel({ page: 0, selection: [3, 4] });
    const s = pageShortcuts(model, () => 3);
    const press = (k) => shortcutFor(s, key(k)).run();
    press("ArrowRight");
    press("n");
    press("n"); // already on the last page: no change, nothing saved
    expect(model.get("page")).toBe(2);
    expect(model.saved.length).toBe(2);
    press("ArrowLeft");
    press("P");
    press("p");
    expect(model.get("page")).toBe(0);
    expect(model.saved.length).toBe(4);
  });

  it("clears the selection on Esc, and has no Esc when told not to", () => {
    const model = fakeModel({ page: 0, selection: [3, 4] });
    shortcutFor(pageShortcuts(model, () => 1), key("Escape")).run();
    expect(Array.from(readSelection(model))).toEqual([]); // the binary trait (lib/selection.js)
    expect(model.get("selection").count).toBe(0);
    expect(model.saved.length).toBe(1);
    shortcutFor(pageShortcuts(model, () => 1), key("Escape")).run(); // empty already: nothing saved
    expect(model.saved.length).toBe(1);
    expect(shortcutFor(pageShortcuts(model, () => 1, { clearSelection: false }), key("Escape"))).toBeNull();
  });
});
