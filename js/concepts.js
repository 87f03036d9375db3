// Placeholder: the concepts view is being written (issue 14). Replaced by the real module.
import { el } from "./lib/dom.js";

function render({ el: host }) {
  host.appendChild(el("div", { class: "dw-root", text: "concepts view: not built yet" }));
}

export default { render };
