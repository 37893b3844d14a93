// Copies the ONNX runtime's WebAssembly files that transformers.js needs into public/,
// so the browser loads them from Solace itself instead of a CDN. Runs before
// `next build` and `next dev`; the copies are not committed.
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
// The package's main entry lives in its dist/ folder, beside the runtime files.
const dist = dirname(require.resolve("@huggingface/transformers"));
const target = join(dirname(fileURLToPath(import.meta.url)), "..", "public", "vendor", "ort");
mkdirSync(target, { recursive: true });
const files = readdirSync(dist).filter((f) => /^ort-wasm.*\.(wasm|mjs)$/.test(f));
if (files.length === 0) throw new Error(`no ONNX runtime files in ${dist}`);
for (const file of files) copyFileSync(join(dist, file), join(target, file));
console.log(`copy-ort: ${files.join(", ")} → public/vendor/ort/`);
