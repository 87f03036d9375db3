// DOM building that never parses data as HTML.

/**
 * Create an element. `props.text` becomes textContent (never HTML); `props.class`, `props.style`
 * (object), `props.attrs` (object of attributes), `props.on` (object of listeners).
 */
export function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  if (props.class) node.className = props.class;
  if (props.text !== undefined && props.text !== null) node.textContent = String(props.text);
  if (props.title !== undefined) node.title = String(props.title);
  if (props.style) Object.assign(node.style, props.style);
  for (const [k, v] of Object.entries(props.attrs || {})) node.setAttribute(k, String(v));
  for (const [k, v] of Object.entries(props.on || {})) node.addEventListener(k, v);
  for (const child of children) if (child) node.appendChild(child);
  return node;
}

/** Remove every child of a node. */
export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

/** Show a message in an error banner (or hide it when the message is empty). */
export function showError(banner, message) {
  banner.textContent = message || "";
  banner.style.display = message ? "block" : "none";
}

/**
 * Show `tooltip` beside the pointer over `target`, one line per string `lines(event)` returns
 * (as text, never HTML); hidden where it returns null and when the pointer leaves.
 */
export function hoverTooltip(target, tooltip, lines) {
  const hide = () => (tooltip.style.display = "none");
  target.addEventListener("mousemove", (ev) => {
    const text = lines(ev);
    if (!text) return hide();
    clear(tooltip);
    for (const line of text) tooltip.appendChild(el("div", { text: line }));
    const r = target.getBoundingClientRect();
    tooltip.style.left = `${ev.clientX - r.left + 12}px`;
    tooltip.style.top = `${ev.clientY - r.top + 12}px`;
    tooltip.style.display = "block";
  });
  target.addEventListener("mouseleave", hide);
}

/** Listen to `handlers` ({"change:x": fn}) on a widget model; returns the function that stops. */
export function bind(model, handlers) {
  for (const [event, fn] of Object.entries(handlers)) model.on(event, fn);
  return () => {
    for (const [event, fn] of Object.entries(handlers)) model.off(event, fn);
  };
}
