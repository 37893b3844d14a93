// Copies what the browser needs from npm packages into public/vendor/, so it is loaded
// from Solace itself instead of a CDN: the ONNX runtime's WebAssembly files that
// transformers.js needs (public/vendor/ort/), and Swagger UI for the API documentation
// page at /api/docs (public/vendor/swagger-ui/). Runs before `next build` and
// `next dev`; the copies are not committed.
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const vendor = join(dirname(fileURLToPath(import.meta.url)), "..", "public", "vendor");

function copy(from, pattern, name) {
  const target = join(vendor, name);
  mkdirSync(target, { recursive: true });
  const files = readdirSync(from).filter((f) => pattern.test(f));
  if (files.length === 0) throw new Error(`no ${name} files in ${from}`);
  for (const file of files) copyFileSync(join(from, file), join(target, file));
  console.log(`copy-vendor: ${files.join(", ")} → public/vendor/${name}/`);
}

// The package's main entry lives in its dist/ folder, beside the runtime files.
copy(dirname(require.resolve("@huggingface/transformers")), /^ort-wasm.*\.(wasm|mjs)$/, "ort");
copy(
  dirname(require.resolve("swagger-ui-dist/package.json")),
  /^swagger-ui(-bundle\.js|\.css)$/,
  "swagger-ui",
);
