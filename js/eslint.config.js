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
];
