import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/**"] },
  js.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser, ...globals.node },
    },
    rules: {
      "no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      // Data strings must never be parsed as HTML.
      "no-restricted-properties": [
        "error",
        { property: "innerHTML", message: "Build DOM nodes and set textContent instead." },
        { property: "outerHTML", message: "Build DOM nodes and set textContent instead." },
        { property: "addEventListener", message: "Listen through bind() / disposer() (lib/dom.js) so teardown releases it." },
      ],
      "no-restricted-syntax": [
        "error",
        {
          selector: "AssignmentExpression[left.property.name='innerHTML']",
          message: "Build DOM nodes and set textContent instead.",
        },
        {
          selector: "CallExpression[callee.property.name='insertAdjacentHTML']",
          message: "Build DOM nodes and set textContent instead.",
        },
      ],
    },
  },
  {
    // the one place listeners are registered
    files: ["lib/dom.js", "tests/**"],
    rules: {
      "no-restricted-properties": [
        "error",
        { property: "innerHTML", message: "Build DOM nodes and set textContent instead." },
        { property: "outerHTML", message: "Build DOM nodes and set textContent instead." },
      ],
    },
  },
];
