// Bundle one ES module per view into ../dashwidgets/static (run by the Python build hook).
// views.json is the one list of views: each Python view's `_bundle` names an entry of it, and
// tests/widgets/test_bundles.py checks that no widget names a bundle this build does not make.
// A second target, embed.js, is the widget manager of exported pages (dashwidgets export): the
// html-manager of ipywidgets and anywidget's front end in one classic script that a page inlines.
import * as esbuild from "esbuild";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.join(here, "..", "dashwidgets", "static");
const views = JSON.parse(readFileSync(path.join(here, "views.json"), "utf8"));
const options = {
  entryPoints: views.map((v) => path.join(here, `${v}.js`)),
  bundle: true,
  format: "esm",
  minify: true,
  sourcemap: false,
  target: ["es2020"],
  outdir,
  logLevel: "info",
};

// anywidget's npm package is the AMD module the classic notebook loads: its last statement is
// `define(["@jupyter-widgets/base"], factory)`. The embed bundle imports the factory instead.
const AMD_DEFINE = 'define(["@jupyter-widgets/base"], widget_default);';
const anywidgetAsEsm = {
  name: "anywidget-as-esm",
  setup(build) {
    const require = createRequire(import.meta.url);
    const file = require.resolve("anywidget");
    build.onResolve({ filter: /^anywidget$/ }, () => ({ path: file }));
    build.onLoad({ filter: /[\\/]anywidget[\\/]dist[\\/]index\.js$/ }, () => {
      const source = readFileSync(file, "utf8");
      if (!source.includes(AMD_DEFINE)) {
        throw new Error(`${file} no longer ends with ${AMD_DEFINE}: update js/build.mjs`);
      }
      return { contents: source.replace(AMD_DEFINE, "export default widget_default;"), loader: "js" };
    });
  },
};

// The page is one file: stylesheets the widget manager imports become <style> tags at load.
const cssAsStyleTag = {
  name: "css-as-style-tag",
  setup(build) {
    build.onLoad({ filter: /\.css$/, namespace: "file" }, async (args) => {
      // esbuild bundles the sheet itself (its @imports inlined, comments gone) ...
      const out = await esbuild.build({ entryPoints: [args.path], bundle: true, minify: true, write: false });
      const css = out.outputFiles[0].text;
      // ... and a sheet that still fetches files (fonts, images) would break "no network"
      if (/url\(\s*(?!['"]?data:)/.test(css)) {
        throw new Error(`${args.path} loads files by url(): the embed bundle cannot carry them`);
      }
      return {
        contents: `const s = document.createElement("style"); s.textContent = ${JSON.stringify(css)}; document.head.appendChild(s);`,
        loader: "js",
      };
    });
  },
};

// ipywidgets 7 models (state version_major 1) are not ours to show: leave their copies out.
const noWidgets7 = {
  name: "no-widgets-7",
  setup(build) {
    build.onResolve({ filter: /^@jupyter-widgets\/(base7|controls7)(\/|$)/ }, (args) => ({
      path: args.path,
      namespace: "widgets7",
    }));
    build.onLoad({ filter: /.*/, namespace: "widgets7" }, (args) => ({
      contents: `throw new Error("ipywidgets 7 widget state is not supported by this page (${args.path})");`,
      loader: "js",
    }));
  },
};

const embed = {
  entryPoints: [path.join(here, "embed.js")],
  bundle: true,
  format: "iife",
  minify: true,
  sourcemap: false,
  target: ["es2020"],
  outdir,
  logLevel: "info",
  define: { "process.env.NODE_ENV": '"production"' },
  loader: { ".svg": "text" },
  plugins: [anywidgetAsEsm, cssAsStyleTag, noWidgets7],
};

if (process.argv.includes("--watch")) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
  await esbuild.build(embed);
}
