// Bundle one ES module per view into ../dashwidgets/static (run by the Python build hook).
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const views = ["projection", "gallery", "attribution", "board", "mosaic", "trace", "clusters", "augmented"];
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
