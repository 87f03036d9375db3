// Theme colours for what CSS cannot paint (canvas, WebGL, SVG attributes) and a hook that redraws
// when the host's theme changes. The colours are the --dw-* tokens of lib/style.js, which follow
// JupyterLab's --jp-* variables (light or dark) and fall back to a light theme elsewhere.

/** The theme tokens a drawing needs, read from `node` (a `.dw-root` element or inside one). */
export function themeColors(node) {
  const css = getComputedStyle(node);
  const get = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  const bg = get("--dw-bg", "#fff");
  return {
    fg: get("--dw-fg", "#222"),
    muted: get("--dw-fg-muted", "#555"),
    faint: get("--dw-fg-faint", "#777"),
    bg,
    bgAlt: get("--dw-bg-alt", "#fafafa"),
    border: get("--dw-border", "#bbb"),
    grid: get("--dw-border-faint", "#e0e0e0"),
    accent: get("--dw-accent", "#4c78a8"),
    dark: isDark(bg),
  };
}

/** True when a CSS colour ("#rrggbb", "#rgb", "rgb(...)") is dark (relative luminance < 0.4). */
export function isDark(color) {
  const rgb = parseColor(color);
  if (!rgb) return false;
  const lin = rgb.map((c) => {
    const v = c / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2] < 0.4;
}

/** [r, g, b] (0..255) of "#rgb", "#rrggbb" or "rgb(a)(r, g, b[, a])"; null for anything else. */
export function parseColor(color) {
  const s = String(color).trim();
  let m = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/i.exec(s);
  if (m) return [1, 2, 3].map((k) => parseInt(m[k] + m[k], 16));
  m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})/i.exec(s);
  if (m) return [1, 2, 3].map((k) => parseInt(m[k], 16));
  m = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)/i.exec(s);
  if (m) return [1, 2, 3].map((k) => Math.round(Number(m[k])));
  return null;
}

/**
 * Call `redraw()` whenever the host switches theme (JupyterLab sets `data-jp-theme-name` and
 * `data-jp-theme-light` on <body>). Returns the function that stops listening.
 */
export function onThemeChange(redraw) {
  if (typeof MutationObserver === "undefined" || !document.body) return () => {};
  const observer = new MutationObserver(() => redraw());
  observer.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-name", "data-jp-theme-light", "class"] });
  return () => observer.disconnect();
}

