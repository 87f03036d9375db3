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
  // listeners of a node the view owns die with the node; views pass `on` only for such nodes
  if (props.on) bind(node, props.on);
  for (const child of children) if (child) node.appendChild(child);
  return node;
}

/** Remove every child of a node. */
/** A square canvas of ``size`` pixels, drawn 1:1 (thumbnails and patches). */
export function canvasOf(size) {
  const c = el("canvas");
  c.width = c.height = size;
  c.style.width = c.style.height = `${size}px`;
  return c;
}

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
 * (as text, never HTML); hidden where it returns null and when the pointer leaves. Returns the
 * function that removes its listeners.
 */
export function hoverTooltip(target, tooltip, lines) {
  const hide = () => (tooltip.style.display = "none");
  return bind(target, {
    mousemove: (ev) => {
      const text = lines(ev);
      if (!text) return hide();
      clear(tooltip);
      for (const line of text) tooltip.appendChild(el("div", { text: line }));
      const r = target.getBoundingClientRect();
      tooltip.style.left = `${ev.clientX - r.left + 12}px`;
      tooltip.style.top = `${ev.clientY - r.top + 12}px`;
      tooltip.style.display = "block";
    },
    mouseleave: hide,
  });
}

/**
 * The one way views listen: `handlers` ({"change:x": fn} on a widget model, {click: fn} on a DOM
 * node or window) are registered on `target`; returns the function that removes them all.
 * `options` (e.g. {passive: false}) go to addEventListener for DOM targets.
 */
export function bind(target, handlers, options) {
  const entries = Object.entries(handlers);
  if (typeof target.addEventListener === "function") {
    for (const [event, fn] of entries) target.addEventListener(event, fn, options);
    return () => {
      for (const [event, fn] of entries) target.removeEventListener(event, fn, options);
    };
  }
  for (const [event, fn] of entries) target.on(event, fn);
  return () => {
    for (const [event, fn] of entries) target.off(event, fn);
  };
}

/**
 * Collects cleanup functions (what `bind` returns, timers' clears, observers' disconnects) and
 * runs them all once on teardown: `const scope = disposer(); scope.bind(...); return scope.dispose`.
 */
export function disposer() {
  const cleanups = [];
  const scope = {
    add(fn) {
      cleanups.push(fn);
      return fn;
    },
    bind(target, handlers, options) {
      return scope.add(bind(target, handlers, options));
    },
    dispose() {
      while (cleanups.length) cleanups.pop()();
    },
  };
  return scope;
}

/**
 * Download `text` as a file called `name` (a Blob URL: built in the page, no network), through a
 * hidden link appended to `host` for the click and removed after it.
 */
export function downloadText(host, name, text, type = "text/csv") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = el("a", { attrs: { href: url, download: name }, style: { display: "none" } });
  host.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
