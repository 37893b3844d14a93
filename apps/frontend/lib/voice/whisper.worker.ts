/// <reference lib="webworker" />
/**
 * In-browser speech-to-text: Whisper through transformers.js, off the main thread.
 * Model files come from Solace's own server (`/models/…`), the ONNX runtime from
 * `/vendor/ort/`; nothing is fetched from a third party and the voice never leaves
 * the device. WebGPU when the browser has it, WebAssembly otherwise.
 */
import { env, pipeline, type AutomaticSpeechRecognitionPipeline } from "@huggingface/transformers";

export type WorkerRequest =
  | { type: "load"; model: string; dtype: string; modelsUrl: string; runtimeUrl: string }
  | { type: "transcribe"; id: number; audio: Float32Array };

export type WorkerReply =
  | { type: "progress"; loaded: number; total: number }
  | { type: "ready"; device: "webgpu" | "wasm" }
  | { type: "text"; id: number; text: string }
  | { type: "error"; id?: number; message: string };

const scope = self as unknown as DedicatedWorkerGlobalScope;
// transformers.js types every task's pipeline in one union too large for the compiler.
const createAsr = pipeline as unknown as (
  task: "automatic-speech-recognition",
  model: string,
  options: Record<string, unknown>,
) => Promise<AutomaticSpeechRecognitionPipeline>;
let asr: Promise<AutomaticSpeechRecognitionPipeline> | null = null;

const post = (reply: WorkerReply) => scope.postMessage(reply);

async function hasWebGpu(): Promise<boolean> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

async function load(request: Extract<WorkerRequest, { type: "load" }>) {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = request.modelsUrl;
  env.useBrowserCache = false;
  if (env.backends.onnx.wasm) env.backends.onnx.wasm.wasmPaths = request.runtimeUrl;
  const device = (await hasWebGpu()) ? "webgpu" : "wasm";
  const files = new Map<string, { loaded: number; total: number }>();
  const loaded = await createAsr("automatic-speech-recognition", request.model, {
    device,
    dtype: request.dtype,
    progress_callback: (event: {
      status: string;
      file?: string;
      loaded?: number;
      total?: number;
    }) => {
      if (event.status !== "progress" || !event.file) return;
      files.set(event.file, { loaded: event.loaded ?? 0, total: event.total ?? 0 });
      let loaded = 0;
      let total = 0;
      for (const f of files.values()) {
        loaded += f.loaded;
        total += f.total;
      }
      post({ type: "progress", loaded, total });
    },
  });
  post({ type: "ready", device });
  return loaded;
}

scope.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  if (request.type === "load") {
    asr ??= load(request);
    asr.catch((error: unknown) => {
      asr = null;
      post({ type: "error", message: String(error instanceof Error ? error.message : error) });
    });
    return;
  }
  try {
    if (!asr) throw new Error("The speech model is not loaded.");
    const output = await (await asr)(request.audio);
    const text = (Array.isArray(output) ? output.map((o) => o.text).join(" ") : output.text).trim();
    post({ type: "text", id: request.id, text });
  } catch (error) {
    post({
      type: "error",
      id: request.id,
      message: String(error instanceof Error ? error.message : error),
    });
  }
};
