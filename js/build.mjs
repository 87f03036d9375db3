// Bundle one ES module per view into ../dashwidgets/static (run by the Python build hook).
// views.json is the one list of views: each Python view's `_bundle` names an entry of it, and
// tests/widgets/test_bundles.py checks that no widget names a bundle this build does not make.
import * as esbuild from "esbuild";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const views = JSON.parse(readFileSync(path.join(here, "views.json"), "utf8"));
const options = {
  entryPoints: views.map((v) => path.join(here, `${v}.js`)),
  bundle: true,
  format: "esm",
  minify: true,
  sourcemap: false,
  target: ["es2020"],
  outdir: path.join(here, "..", "dashwidgets", "static"),
  logLevel: "info",
};

if (process.argv.includes("--watch")) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
